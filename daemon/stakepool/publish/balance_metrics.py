"""The pool's balances and operator groups as Prometheus families, built at scrape time.

Same cardinality rule as the duty families (``TallyKeys``): one series per validator up to the
per-validator limit, one per operator group above it. Above the limit a group's series carries
its members' *summed* balance (its stake), with ``stakepool_group_validators`` beside it, so
``sum()`` over either family gives the pool's figure and a group's mean balance or its share of
the pool's stake is one division. Below the limit ``stakepool_validator_info`` maps each validator
to its operator group (``vc-1``), so ``sum by (group)`` works there too (join on ``validator``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import cast

from prometheus_client.core import GaugeMetricFamily, Metric

from stakepool.chain.balance_view import BalanceView
from stakepool.chain.types import Gwei, ValidatorIndex
from stakepool.monitor.tally_keys import TallyKeys


class BalanceMetrics:
    """A collector over the last processed epoch's balances (``update`` once per epoch)."""

    def __init__(self, keys: Callable[[], TallyKeys]) -> None:
        self._keys = keys
        self._balances: Mapping[int, int] = {}
        self._sums: tuple[TallyKeys, Mapping[int, int], list[tuple[str, int]]] | None = None
        """The per-value sums of the last scrape, for the keys and balances they were made of:
        the balances change once an epoch, the scrapes come every few seconds."""

    def update(self, balances: Mapping[ValidatorIndex, Gwei]) -> None:
        if isinstance(balances, BalanceView):
            # Never changed once read: no copy of 100,000 entries. cast: NewTypes of int.
            self._balances = cast(Mapping[int, int], balances)
            return
        # ints already (NewTypes of int): a copy in C rather than two calls per validator
        self._balances = cast(dict[int, int], dict(balances))

    def _value_sums(self, keys: TallyKeys) -> list[tuple[str, int]]:
        cached = self._sums
        if cached is None or cached[0] is not keys or cached[1] is not self._balances:
            cached = self._sums = (keys, self._balances, _sums(keys, self._balances))
        return cached[2]

    def collect(self) -> Iterator[Metric]:
        keys = self._keys()
        label = keys.label_name
        pool = GaugeMetricFamily(
            "stakepool_pool_balance_gwei",
            "Sum of the pool validators' balances at the last processed epoch, Gwei.",
            value=_total(self._balances),
        )
        balance = GaugeMetricFamily(
            "stakepool_validator_balance_gwei",
            "Balance at the last processed epoch, Gwei (per group: its members' sum).",
            labels=[label],
        )
        for value, total in self._value_sums(keys):
            balance.add_metric([value], total)
        yield pool
        yield balance
        if keys.per_validator:
            info = GaugeMetricFamily(
                "stakepool_validator_info",
                "Always 1; maps a validator to its operator group (its configured label).",
                labels=["validator", "group"],
            )
            for index, group in sorted(keys.groups.items()):
                info.add_metric([str(index), group], 1)
            yield info
        else:
            count = GaugeMetricFamily(
                "stakepool_group_validators",
                "Pool validators in each operator group (above the per-validator limit).",
                labels=["group"],
            )
            for value, members in sorted(keys.members_by_value().items()):
                count.add_metric([value], len(members))
            yield count


def _total(balances: Mapping[int, int]) -> int:
    if isinstance(balances, BalanceView):
        return balances.total()
    return sum(balances.values())


def _sums(keys: TallyKeys, balances: Mapping[int, int]) -> list[tuple[str, int]]:
    if isinstance(balances, BalanceView):
        # Looked up by member: a dict for this pass only (the view would keep its row index).
        balances = dict(zip(balances.index, balances.balance, strict=True))
    out = []
    for value, members in sorted(keys.members_by_value().items(), key=_numeric_first):
        known = [balances[i] for i in members if i in balances]
        if known:
            out.append((value, sum(known)))
    return out


def _numeric_first(item: tuple[str, list[int]]) -> tuple[int, str]:
    value = item[0]
    return (int(value), "") if value.isdigit() else (1 << 62, value)
