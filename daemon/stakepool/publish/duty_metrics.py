"""The monitor's duty tallies as Prometheus families, built at scrape time.

The monitor counts in ``monitor.tallies.DutyTallies`` (per validator up to the per-validator
limit, per operator group above it: ``TallyKeys``); this collector only reads them, so the
cardinality rule lives in one place and a restart restores the counters with the monitor's state.
Counters add up naturally when aggregated; the two gauges that do not (a streak, a ratio) are
computed here from per-validator values: the worst streak of a group, and the group's signed /
expected signatures.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from stakepool.monitor.tallies import FAMILIES, INCLUSION_DELAY_BUCKETS, DutyTallies

_HELP: dict[str, tuple[str, str]] = {
    "attestations": (
        "stakepool_attestations",
        "Attestation duties by outcome (included on chain or missed).",
    ),
    "attestation_misses": (
        "stakepool_attestation_misses",
        "Included attestations whose head, target or source vote was wrong or late.",
    ),
    "proposals": (
        "stakepool_proposals",
        "Block proposal duties by outcome (proposed, missed, orphaned).",
    ),
    "sync_signatures": (
        "stakepool_sync_committee_signatures",
        "Sync-committee signature duties by outcome (one per slot and committee seat).",
    ),
    "slashing_evidence": (
        "stakepool_slashing_evidence",
        "Slashing evidence against a pool validator seen before or in a block.",
    ),
    "doppelgangers": (
        "stakepool_doppelganger_detections",
        "Pool validators seen live while our own validator client should be silent.",
    ),
    "unexpected_operations": (
        "stakepool_unexpected_operations",
        "Voluntary exits or credential changes for pool validators the operator did not plan.",
    ),
}
# The exported order: the inclusion-delay histogram right after the attestation counters.
_ORDER = (
    "attestations",
    "inclusion_delay",
    "attestation_misses",
    "proposals",
    "sync_signatures",
    "slashing_evidence",
    "doppelgangers",
    "unexpected_operations",
)


class DutyMetrics:
    """A collector over the monitor's tallies (register it once)."""

    def __init__(self, tallies: DutyTallies) -> None:
        self.tallies = tallies

    def collect(self) -> Iterator[Metric]:
        for name in _ORDER:
            yield self._delays() if name == "inclusion_delay" else self._counter(name)
        yield self._streaks()
        yield self._sync_ratio()
        yield self._doppelgangers_detected()

    def _counter(self, name: str) -> CounterMetricFamily:
        shape = FAMILIES[name]
        metric, doc = _HELP[name]
        label = self.tallies.keys.label_name
        labels = [label] if shape.second is None else [label, shape.second]
        family = CounterMetricFamily(metric, doc, labels=labels)
        for key, amount in self.tallies.counts[name].items():
            family.add_metric(list(key), float(amount))
        return family

    def _delays(self) -> HistogramMetricFamily:
        family = HistogramMetricFamily(
            "stakepool_attestation_inclusion_delay_slots",
            "Slots between an attestation's slot and the block that included it.",
            labels=[self.tallies.keys.label_name],
        )
        bounds = [*(str(float(b)) for b in INCLUSION_DELAY_BUCKETS), "+Inf"]
        for value, tally in sorted(self.tallies.inclusion_delay.series.items()):
            running, buckets = 0, []
            for bound, n in zip(bounds, tally[:-1], strict=True):
                running += n
                buckets.append((bound, running))
            family.add_metric([value], buckets, tally[-1])
        return family

    def _streaks(self) -> GaugeMetricFamily:
        t = self.tallies
        family = GaugeMetricFamily(
            "stakepool_attestation_missed_streak",
            "Consecutive missed attestations (per group: the longest streak of its members).",
            labels=[t.keys.label_name],
        )
        # One pass over the streaks, not one lookup per member per group: the longest per value.
        longest = dict.fromkeys(t.keys.members_by_value(), 0)
        for index, streak in t.streaks.items():
            value = t.keys.value(index)
            if value is not None and streak > longest[value]:
                longest[value] = streak
        for value in sorted(longest):
            family.add_metric([value], longest[value])
        return family

    def _sync_ratio(self) -> GaugeMetricFamily:
        t = self.tallies
        family = GaugeMetricFamily(
            "stakepool_sync_committee_participation_ratio",
            "Signed / expected sync-committee signatures in the last processed epoch (members only).",
            labels=[t.keys.label_name],
        )
        sums: dict[str, list[int]] = {}
        for index, (signed, expected) in t.sync_last_epoch.items():
            value = t.keys.value(index)
            assert value is not None
            acc = sums.setdefault(value, [0, 0])
            acc[0] += signed
            acc[1] += expected
        for value, (signed, expected) in sorted(sums.items()):
            family.add_metric([value], signed / expected)
        return family

    def _doppelgangers_detected(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "stakepool_doppelganger_detected",
            "Pool validators currently detected live elsewhere while ours must be silent.",
            value=self.tallies.doppelgangers_detected,
        )
