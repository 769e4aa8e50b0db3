"""Per-epoch attestation counts for metrics and reports (pure).

``summarize_attestations(outcomes)`` folds one epoch's ``AttestationOutcome``s (optionally grouped
by an operator label) into counts: duties, included, missed, the three timely flags and their
misses, and a histogram of inclusion delays (delay → count). Counts are ints; nothing here is
money.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from stakepool.chain.types import ValidatorIndex
from stakepool.monitor.attestations import AttestationOutcome


@dataclass(frozen=True, slots=True)
class AttestationSummary:
    duties: int = 0
    included: int = 0
    timely_source: int = 0
    timely_target: int = 0
    timely_head: int = 0
    delays: Mapping[int, int] = field(default_factory=dict)
    """Inclusion delay (slots) → number of included duties."""

    @property
    def missed(self) -> int:
        return self.duties - self.included

    @property
    def source_misses(self) -> int:
        return self.duties - self.timely_source

    @property
    def target_misses(self) -> int:
        return self.duties - self.timely_target

    @property
    def head_misses(self) -> int:
        return self.duties - self.timely_head


def summarize_attestations(outcomes: Iterable[AttestationOutcome]) -> AttestationSummary:
    duties = included = source = target = head = 0
    delays: Counter[int] = Counter()
    for o in outcomes:
        duties += 1
        source += o.timely_source
        target += o.timely_target
        head += o.timely_head
        if o.inclusion_delay is not None:
            included += 1
            delays[o.inclusion_delay] += 1
    return AttestationSummary(duties, included, source, target, head, dict(sorted(delays.items())))


def summarize_by(
    outcomes: Iterable[AttestationOutcome], group_of: Callable[[ValidatorIndex], str]
) -> dict[str, AttestationSummary]:
    """One summary per group (e.g. the operator's ``group`` label), for aggregated metrics."""
    grouped: dict[str, list[AttestationOutcome]] = {}
    for o in outcomes:
        grouped.setdefault(group_of(o.validator_index), []).append(o)
    return {g: summarize_attestations(os) for g, os in sorted(grouped.items())}
