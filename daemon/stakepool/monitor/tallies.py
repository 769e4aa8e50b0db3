"""The monitor's own tallies of duty outcomes, kept per key (a validator, or an operator's group).

The monitor counts here as it judges (attestations, proposals, sync signatures, slashing evidence,
doppelgangers, unexpected operations), saves ``snapshot()`` with its state in the same transaction
as the events those counts belong to, and ``restore``s it after a restart, so the totals go on
exactly from what was already told. The faces read them: ``publish/duty_metrics`` exports them as
Prometheus families at scrape time. Counting per key (``TallyKeys``: per validator up to the
per-validator limit, per group above it) keeps a 100,000-validator pool's tallies and their
snapshot small.

Pure: plain integers, no I/O.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from stakepool.monitor.tally_keys import TallyKeys
from stakepool.monitor.verdicts import (
    COUNTED_PROPOSAL_VERDICTS,
    AttestationFlag,
    AttestationVerdict,
    ProposalVerdict,
    SyncVerdict,
    UnexpectedOperation,
)

INCLUSION_DELAY_BUCKETS: tuple[float, ...] = (1, 2, 3, 4, 5, 8, 16, 32)


@dataclass(frozen=True, slots=True)
class FamilyShape:
    """A tallied family: its second label (besides the key) and that label's values."""

    second: str | None
    values: tuple[str, ...]


FAMILIES: dict[str, FamilyShape] = {
    "attestations": FamilyShape("outcome", tuple(v.value for v in AttestationVerdict)),
    "attestation_misses": FamilyShape("flag", tuple(f.value for f in AttestationFlag)),
    "proposals": FamilyShape("outcome", tuple(v.value for v in COUNTED_PROPOSAL_VERDICTS)),
    "sync_signatures": FamilyShape("outcome", tuple(v.value for v in SyncVerdict)),
    "slashing_evidence": FamilyShape(None, ()),
    "doppelgangers": FamilyShape(None, ()),
    "unexpected_operations": FamilyShape("operation", tuple(o.value for o in UnexpectedOperation)),
}
"""In the order the families are exported; the names are the snapshot's keys."""

Key = tuple[str, ...]
"""``(key,)`` or ``(key, second label value)``."""


class DelayTallies:
    """Inclusion delays per key as integer bucket counts (delays are whole slots).

    Per key: the counts per bucket (not cumulative; the last one is +Inf), then the sum."""

    def __init__(self) -> None:
        self.series: dict[str, list[int]] = {}

    def add_series(self, value: str) -> None:
        self.series.setdefault(value, [0] * (len(INCLUSION_DELAY_BUCKETS) + 2))

    def observe(self, value: str, delay: int) -> None:
        tally = self.series[value]
        tally[bisect_left(INCLUSION_DELAY_BUCKETS, delay)] += 1
        tally[-1] += delay

    def snapshot(self) -> dict[str, list[int]]:
        return {value: list(tally) for value, tally in self.series.items() if any(tally)}

    def restore(self, saved: Mapping[str, list[int]]) -> None:
        for value, tally in saved.items():
            if value in self.series and len(tally) == len(self.series[value]):
                self.series[value] = [int(n) for n in tally]


class DutyTallies:
    """``configure`` sets the keys for a pool (all series start at 0); ``record_*`` count."""

    def __init__(self) -> None:
        self.configure(TallyKeys.for_pool((), 0))

    def configure(self, keys: TallyKeys) -> None:
        self.keys = keys
        self.counts: dict[str, dict[Key, int]] = {name: {} for name in FAMILIES}
        self.inclusion_delay = DelayTallies()
        self.streaks: dict[int, int] = {
            i: 0 for members in keys.members_by_value().values() for i in members
        }
        self.sync_last_epoch: dict[int, tuple[int, int]] = {}
        self.doppelgangers_detected = 0
        """Pool validators currently detected live elsewhere (a level, not a count)."""
        for value in keys.all_values():
            self.inclusion_delay.add_series(value)
        # Value-major, family by family: the order the series are exported in.
        for name, shape in FAMILIES.items():
            family = self.counts[name]
            for value in keys.all_values():
                if shape.second is None:
                    family[(value,)] = 0
                for second in shape.values:
                    family[(value, second)] = 0

    # --- counting (by the monitor, as it judges) ---------------------------------------------

    def record_attestation(
        self,
        index: int,
        outcome: AttestationVerdict,
        *,
        inclusion_delay: int | None = None,
        missed_flags: Iterable[AttestationFlag] = (),
    ) -> None:
        """One attester duty's outcome; a miss lengthens the streak, an inclusion resets it.

        ``missed_flags`` count only for included attestations (a missed one misses everything
        and is counted once, as ``outcome="missed"``).
        """
        value = self.keys.value(index)
        if value is None:
            return
        self.counts["attestations"][value, outcome.value] += 1
        if outcome is AttestationVerdict.MISSED:
            self.streaks[index] = self.streaks.get(index, 0) + 1
            return
        self.streaks[index] = 0
        if inclusion_delay is not None:
            self.inclusion_delay.observe(value, inclusion_delay)
        misses = self.counts["attestation_misses"]
        for flag in set(missed_flags):
            key = (value, flag.value)
            misses[key] = misses.get(key, 0) + 1

    def set_missed_attestation_streak(self, index: int, streak: int) -> None:
        """Restore a streak (after a restart, from persisted state)."""
        if self.keys.value(index) is not None:
            self.streaks[index] = streak

    def record_proposal(self, index: int, outcome: ProposalVerdict) -> None:
        self._add("proposals", index, outcome.value)

    def record_sync_signatures(self, index: int, *, signed: int, missed: int) -> None:
        value = self.keys.value(index)
        if value is None:
            return
        family = self.counts["sync_signatures"]
        if signed:
            family[value, SyncVerdict.SIGNED.value] += signed
        if missed:
            family[value, SyncVerdict.MISSED.value] += missed

    def set_sync_participation(self, last_epoch: Mapping[int, tuple[int, int]]) -> None:
        """The last epoch's ``index → (signed, expected)`` for sync-committee members only.

        Validators without seats get no ratio: a 0 there would read as "signed nothing".
        """
        self.sync_last_epoch = {
            i: counts
            for i, counts in last_epoch.items()
            if counts[1] > 0 and self.keys.value(i) is not None
        }

    def record_slashing_evidence(self, index: int) -> None:
        self._add("slashing_evidence", index)

    def record_doppelganger(self, index: int) -> None:
        self._add("doppelgangers", index)

    def record_unexpected_operation(self, index: int, operation: UnexpectedOperation) -> None:
        self._add("unexpected_operations", index, operation.value)

    def set_doppelgangers_detected(self, detected: int) -> None:
        self.doppelgangers_detected = detected

    def _add(self, name: str, index: int, second: str | None = None) -> None:
        value = self.keys.value(index)
        if value is None:
            return
        key = (value,) if second is None else (value, second)
        family = self.counts[name]
        family[key] = family.get(key, 0) + 1

    # --- persistence (a restart continues the counts) ----------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Every non-zero count, the delay tallies and the last sync ratio, JSON-ready.

        Saved with the monitor's state in one transaction, so after a restart the counts go on
        from exactly the totals that match the events already told.
        """
        label = self.keys.label_name
        counters: dict[str, list[list[Any]]] = {}
        for name, shape in FAMILIES.items():
            rows: list[list[Any]] = []
            for key, amount in self.counts[name].items():
                if not amount:
                    continue
                labels = {label: key[0]}
                if shape.second is not None:
                    labels[shape.second] = key[1]
                rows.append([labels, amount])
            counters[name] = rows
        return {
            "label": label,
            "counters": counters,
            "inclusion_delay": self.inclusion_delay.snapshot(),
            "sync_last_epoch": [[i, s, e] for i, (s, e) in sorted(self.sync_last_epoch.items())],
        }

    def restore(self, saved: Mapping[str, Any]) -> None:
        """Add saved totals to fresh counts. Keys the pool no longer has (the pool or the
        per-validator limit changed) are dropped: they cannot be told apart."""
        label = self.keys.label_name
        if saved.get("label") != label:
            return
        known = set(self.keys.all_values())
        for name, rows in saved.get("counters", {}).items():
            shape = FAMILIES.get(name)
            if shape is None:
                continue
            family = self.counts[name]
            for labels, amount in rows:
                value = labels.get(label)
                if value not in known:
                    continue
                key = (value,) if shape.second is None else (value, labels[shape.second])
                family[key] = family.get(key, 0) + int(amount)
        self.inclusion_delay.restore(saved.get("inclusion_delay", {}))
        last = saved.get("sync_last_epoch", [])
        self.set_sync_participation({int(i): (int(s), int(e)) for i, s, e in last})
