"""Which bucket a validator's duties are tallied in: the validator itself, or the operator's group.

Per-validator series are only affordable for small pools (Lighthouse's 64-validator threshold):
above ``per_validator_limit`` every per-validator family is aggregated by the label the operator
gave the validator in the configuration (``group``), or ``"unlabelled"``. One resolver answers for
all families, so no family can forget the rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

UNLABELLED = "unlabelled"


@dataclass(frozen=True, slots=True)
class TallyKeys:
    """Maps a validator index to the key (the metrics' label value) its duties count under."""

    label_name: str
    """``validator`` (one series per validator) or ``group`` (aggregated)."""
    _values: dict[int, str]
    groups: dict[int, str] = field(default_factory=dict)
    """Each validator's operator group (its configured label, or ``unlabelled``), whatever the
    mode: below the limit it is exported beside the per-validator series
    (``stakepool_validator_info``), so a dashboard can still sum by operator."""
    _by_value: dict[str, list[int]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def for_pool(cls, members: Iterable[tuple[int, str | None]], limit: int) -> TallyKeys:
        """``members``: ``(index, configured label or None)``; ``limit``: the per-validator limit."""
        pairs = list(members)
        groups = {index: label or UNLABELLED for index, label in pairs}
        if len(pairs) <= limit:
            return cls("validator", {index: str(index) for index, _ in pairs}, groups)
        return cls("group", dict(groups), groups)

    @property
    def per_validator(self) -> bool:
        return self.label_name == "validator"

    def value(self, index: int) -> str | None:
        """The label value for ``index``; None for a validator outside the pool (never exported)."""
        return self._values.get(index)

    def all_values(self) -> list[str]:
        """Every label value the pool can produce, sorted, to initialise series to 0."""
        if self.per_validator:
            return [str(i) for i in sorted(self._values)]
        return sorted(set(self._values.values()))

    def members_by_value(self) -> dict[str, list[int]]:
        """The pool's indices under each label value (computed once: every scrape asks, and the
        keys never change; a new pool gets new keys). Read it, never change it."""
        if not self._by_value:
            for index, value in self._values.items():
                self._by_value.setdefault(value, []).append(index)
        return self._by_value
