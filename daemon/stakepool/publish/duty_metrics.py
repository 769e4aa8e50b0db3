"""Duty outcomes of the pool's validators as Prometheus families, labelled through one resolver.

The monitor calls the ``record_*``/``set_*`` methods with plain ints and the enums below; every
family is labelled by ``LabelResolver`` (``validator`` up to the per-validator limit, ``group``
above it), so the cardinality rule lives in one place. Counters add up naturally when aggregated;
the two gauges that do not (a streak, a ratio) are computed at scrape time from per-validator
values: the worst streak of a group, and the group's signed / expected signatures.
"""

from __future__ import annotations

import enum
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric

from stakepool.publish.labels import LabelResolver

INCLUSION_DELAY_BUCKETS: tuple[float, ...] = (1, 2, 3, 4, 5, 8, 16, 32)


class AttestationOutcome(enum.StrEnum):
    INCLUDED = "included"
    MISSED = "missed"


class AttestationFlag(enum.StrEnum):
    """A vote part that was wrong or too late to earn its reward."""

    HEAD = "head"
    TARGET = "target"
    SOURCE = "source"


class ProposalOutcome(enum.StrEnum):
    PROPOSED = "proposed"
    MISSED = "missed"
    ORPHANED = "orphaned"


class SyncOutcome(enum.StrEnum):
    SIGNED = "signed"
    MISSED = "missed"


class UnexpectedOperation(enum.StrEnum):
    VOLUNTARY_EXIT = "voluntary_exit"
    BLS_TO_EXECUTION_CHANGE = "bls_to_execution_change"


class DelayHistogram:
    """The inclusion-delay histogram as plain integer tallies (delays are whole slots).

    prometheus_client's ``Histogram`` cannot be set back to saved values after a restart; these
    tallies can (``snapshot``/``restore``), and the scrape builds the family from them.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self._series: dict[str, list[int]] = {}
        """value → per-bucket counts (not cumulative; the last one is +Inf), then the sum."""

    def add_series(self, value: str) -> None:
        self._series.setdefault(value, [0] * (len(INCLUSION_DELAY_BUCKETS) + 2))

    def observe(self, value: str, delay: int) -> None:
        tally = self._series[value]
        tally[bisect_left(INCLUSION_DELAY_BUCKETS, delay)] += 1
        tally[-1] += delay

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            "stakepool_attestation_inclusion_delay_slots",
            "Slots between an attestation's slot and the block that included it.",
            labels=[self.label],
        )
        bounds = [*(str(float(b)) for b in INCLUSION_DELAY_BUCKETS), "+Inf"]
        for value, tally in sorted(self._series.items()):
            running, buckets = 0, []
            for bound, n in zip(bounds, tally[:-1], strict=True):
                running += n
                buckets.append((bound, running))
            family.add_metric([value], buckets, tally[-1])
        yield family

    def snapshot(self) -> dict[str, list[int]]:
        return {value: list(tally) for value, tally in self._series.items() if any(tally)}

    def restore(self, saved: Mapping[str, list[int]]) -> None:
        for value, tally in saved.items():
            if value in self._series and len(tally) == len(self._series[value]):
                self._series[value] = [int(n) for n in tally]


class DutyMetrics:
    """A collector (register it once); ``configure`` swaps in the families for a new pool."""

    def __init__(self) -> None:
        self.configure(LabelResolver.for_pool((), 0))

    def configure(self, resolver: LabelResolver) -> None:
        """(Re)build every family for ``resolver`` and initialise all known series to 0."""
        self.resolver = resolver
        label = resolver.label_name
        self.attestations = Counter(
            "stakepool_attestations",
            "Attestation duties by outcome (included on chain or missed).",
            [label, "outcome"],
            registry=None,
        )
        self.inclusion_delay = DelayHistogram(label)
        self.attestation_misses = Counter(
            "stakepool_attestation_misses",
            "Included attestations whose head, target or source vote was wrong or late.",
            [label, "flag"],
            registry=None,
        )
        self.proposals = Counter(
            "stakepool_proposals",
            "Block proposal duties by outcome (proposed, missed, orphaned).",
            [label, "outcome"],
            registry=None,
        )
        self.sync_signatures = Counter(
            "stakepool_sync_committee_signatures",
            "Sync-committee signature duties by outcome (one per slot and committee seat).",
            [label, "outcome"],
            registry=None,
        )
        self.slashing_evidence = Counter(
            "stakepool_slashing_evidence",
            "Slashing evidence against a pool validator seen before or in a block.",
            [label],
            registry=None,
        )
        self.doppelgangers = Counter(
            "stakepool_doppelganger_detections",
            "Pool validators seen live while our own validator client should be silent.",
            [label],
            registry=None,
        )
        self.unexpected_operations = Counter(
            "stakepool_unexpected_operations",
            "Voluntary exits or credential changes for pool validators the operator did not plan.",
            [label, "operation"],
            registry=None,
        )
        self._streaks: dict[int, int] = {
            i: 0 for members in resolver.members_by_value().values() for i in members
        }
        self._sync_last_epoch: dict[int, tuple[int, int]] = {}
        # Attestations arrive once per validator and epoch (100,000 a time for a large pool):
        # their children are looked up in plain dicts, not through ``labels()`` each time.
        self._attestation_children = {
            (value, outcome): self.attestations.labels(value, outcome.value)
            for value in resolver.all_values()
            for outcome in AttestationOutcome
        }
        for value in resolver.all_values():
            self.inclusion_delay.add_series(value)
        for value in resolver.all_values():
            for flag in AttestationFlag:
                self.attestation_misses.labels(value, flag.value)
            for proposal in ProposalOutcome:
                self.proposals.labels(value, proposal.value)
            for sync in SyncOutcome:
                self.sync_signatures.labels(value, sync.value)
            self.slashing_evidence.labels(value)
            self.doppelgangers.labels(value)
            for operation in UnexpectedOperation:
                self.unexpected_operations.labels(value, operation.value)

    # --- updates (from the monitor) --------------------------------------------------------

    def record_attestation(
        self,
        index: int,
        outcome: AttestationOutcome,
        *,
        inclusion_delay: int | None = None,
        missed_flags: Iterable[AttestationFlag] = (),
    ) -> None:
        """One attester duty's outcome; a miss lengthens the streak, an inclusion resets it.

        ``missed_flags`` count only for included attestations (a missed one misses everything
        and is counted once, as ``outcome="missed"``).
        """
        value = self.resolver.value(index)
        if value is None:
            return
        self._attestation_children[value, outcome].inc()
        if outcome is AttestationOutcome.MISSED:
            self._streaks[index] = self._streaks.get(index, 0) + 1
            return
        self._streaks[index] = 0
        if inclusion_delay is not None:
            self.inclusion_delay.observe(value, inclusion_delay)
        for flag in set(missed_flags):
            self.attestation_misses.labels(value, flag.value).inc()

    def set_missed_attestation_streak(self, index: int, streak: int) -> None:
        """Restore a streak (after a restart, from persisted state)."""
        if self.resolver.value(index) is not None:
            self._streaks[index] = streak

    def record_proposal(self, index: int, outcome: ProposalOutcome) -> None:
        value = self.resolver.value(index)
        if value is not None:
            self.proposals.labels(value, outcome.value).inc()

    def record_sync_signatures(self, index: int, *, signed: int, missed: int) -> None:
        value = self.resolver.value(index)
        if value is None:
            return
        if signed:
            self.sync_signatures.labels(value, SyncOutcome.SIGNED.value).inc(signed)
        if missed:
            self.sync_signatures.labels(value, SyncOutcome.MISSED.value).inc(missed)

    def set_sync_participation(self, last_epoch: Mapping[int, tuple[int, int]]) -> None:
        """The last epoch's ``index → (signed, expected)`` for sync-committee members only.

        Validators without seats get no ratio series: a 0 there would read as "signed nothing".
        """
        self._sync_last_epoch = {
            i: counts
            for i, counts in last_epoch.items()
            if counts[1] > 0 and self.resolver.value(i) is not None
        }

    def record_slashing_evidence(self, index: int) -> None:
        value = self.resolver.value(index)
        if value is not None:
            self.slashing_evidence.labels(value).inc()

    def record_doppelganger(self, index: int) -> None:
        value = self.resolver.value(index)
        if value is not None:
            self.doppelgangers.labels(value).inc()

    def record_unexpected_operation(self, index: int, operation: UnexpectedOperation) -> None:
        value = self.resolver.value(index)
        if value is not None:
            self.unexpected_operations.labels(value, operation.value).inc()

    # --- persistence (a restart continues the counters) -------------------------------------

    def _counters(self) -> dict[str, Counter]:
        return {
            "attestations": self.attestations,
            "attestation_misses": self.attestation_misses,
            "proposals": self.proposals,
            "sync_signatures": self.sync_signatures,
            "slashing_evidence": self.slashing_evidence,
            "doppelgangers": self.doppelgangers,
            "unexpected_operations": self.unexpected_operations,
        }

    def snapshot(self) -> dict[str, Any]:
        """Every non-zero counter, the delay histogram and the last sync ratio, JSON-ready.

        Saved with the monitor's state in one transaction, so after a restart the counters go on
        from exactly the totals that match the events already told.
        """
        counters: dict[str, list[list[Any]]] = {}
        for name, family in self._counters().items():
            rows: list[list[Any]] = []
            for metric in family.collect():
                for sample in metric.samples:
                    if sample.name.endswith("_total") and sample.value:
                        rows.append([dict(sample.labels), int(sample.value)])
            counters[name] = rows
        return {
            "label": self.resolver.label_name,
            "counters": counters,
            "inclusion_delay": self.inclusion_delay.snapshot(),
            "sync_last_epoch": [[i, s, e] for i, (s, e) in sorted(self._sync_last_epoch.items())],
        }

    def restore(self, saved: Mapping[str, Any]) -> None:
        """Add saved totals to fresh counters. Series of a label the pool no longer has (the
        pool or the per-validator limit changed) are dropped: they cannot be told apart."""
        if saved.get("label") != self.resolver.label_name:
            return
        known = set(self.resolver.all_values())
        families = self._counters()
        for name, rows in saved.get("counters", {}).items():
            family = families.get(name)
            if family is None:
                continue
            for labels, amount in rows:
                if labels.get(self.resolver.label_name) in known:
                    family.labels(**labels).inc(int(amount))
        self.inclusion_delay.restore(saved.get("inclusion_delay", {}))
        last = saved.get("sync_last_epoch", [])
        self.set_sync_participation({int(i): (int(s), int(e)) for i, s, e in last})

    # --- scrape ------------------------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        for family in (
            self.attestations,
            self.inclusion_delay,
            self.attestation_misses,
            self.proposals,
            self.sync_signatures,
            self.slashing_evidence,
            self.doppelgangers,
            self.unexpected_operations,
        ):
            yield from family.collect()
        yield self._streak_family()
        yield self._sync_ratio_family()

    def _streak_family(self) -> GaugeMetricFamily:
        label = self.resolver.label_name
        family = GaugeMetricFamily(
            "stakepool_attestation_missed_streak",
            "Consecutive missed attestations (per group: the longest streak of its members).",
            labels=[label],
        )
        for value, members in sorted(self.resolver.members_by_value().items()):
            family.add_metric([value], max(self._streaks.get(i, 0) for i in members))
        return family

    def _sync_ratio_family(self) -> GaugeMetricFamily:
        label = self.resolver.label_name
        family = GaugeMetricFamily(
            "stakepool_sync_committee_participation_ratio",
            "Signed / expected sync-committee signatures in the last processed epoch (members only).",
            labels=[label],
        )
        sums: dict[str, list[int]] = {}
        for index, (signed, expected) in self._sync_last_epoch.items():
            value = self.resolver.value(index)
            assert value is not None
            acc = sums.setdefault(value, [0, 0])
            acc[0] += signed
            acc[1] += expected
        for value, (signed, expected) in sorted(sums.items()):
            family.add_metric([value], signed / expected)
        return family
