"""What the daemon tells as it goes: start-up facts, the head, each closed epoch.

``Observer`` is the seam between the supervisor and whoever shows the story: the structured log
always, and the demo's console. Amounts are ``int`` Gwei; ``format_gwei`` prints them as ETH
without ever going through a float.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, TextIO

from stakepool.chain.spec import ChainSpec
from stakepool.chain.types import Epoch, Gwei, Slot, ValidatorIndex
from stakepool.monitor.head import HeadView
from stakepool.monitor.pool import PoolMember


@dataclass(frozen=True, slots=True)
class EpochReport:
    epoch: Epoch
    state_slot: Slot
    """The last slot of the epoch: balances are those of the state there."""
    balances: Mapping[ValidatorIndex, Gwei]
    previous: Mapping[ValidatorIndex, Gwei] | None
    """The balances at the end of the epoch before, when this run saw them."""
    head: HeadView

    @property
    def total(self) -> Gwei:
        return Gwei(sum(self.balances.values()))

    @property
    def change(self) -> int | None:
        """Σ balance change over the epoch (not yet a reward: withdrawals are not added back)."""
        if self.previous is None:
            return None
        common = self.balances.keys() & self.previous.keys()
        return sum(self.balances[i] - self.previous[i] for i in common)


class Observer(Protocol):
    def started(
        self, spec: ChainSpec, members: tuple[PoolMember, ...], nodes: list[str]
    ) -> None: ...

    def head(self, view: HeadView) -> None: ...

    def epoch(self, report: EpochReport) -> None: ...


def format_gwei(amount: int) -> str:
    """``32001234567`` → ``"32.001234567 ETH"`` exactly (integer arithmetic only)."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**9)
    return f"{sign}{whole}.{frac:09d} ETH"


def format_signed_gwei(amount: int) -> str:
    return f"{amount:+,d} Gwei"


class ConsoleObserver:
    """The demo's live view: one line per head, a small table per closed epoch."""

    def __init__(self, out: TextIO, *, show_validators: int = 8) -> None:
        self._out = out
        self._show = show_validators

    def _print(self, text: str) -> None:
        print(text, file=self._out, flush=True)

    def started(self, spec: ChainSpec, members: tuple[PoolMember, ...], nodes: list[str]) -> None:
        self._print(
            f"stakepool following {', '.join(nodes)}: {spec.config_name or spec.preset_base} "
            f"chain, {spec.slots_per_epoch} slots/epoch, {spec.slot_duration_ms} ms slots, "
            f"genesis root {spec.genesis_validators_root[:10]}…"
        )
        indices = ", ".join(str(m.index) for m in members[:12])
        more = f" … (+{len(members) - 12})" if len(members) > 12 else ""
        self._print(f"pool: {len(members)} validators [{indices}{more}]")

    def head(self, view: HeadView) -> None:
        self._print(
            f"  head slot {view.slot:>5} epoch {view.epoch:>4}  root {view.root[:10]}…  "
            f"justified {view.justified_epoch}  finalized {view.finalized_epoch}"
        )

    def epoch(self, report: EpochReport) -> None:
        change = report.change
        delta = "" if change is None else f"  ({format_signed_gwei(change)} over the epoch)"
        self._print(
            f"epoch {report.epoch} closed at slot {report.state_slot}: pool balance "
            f"{format_gwei(report.total)}{delta}; finalized epoch {report.head.finalized_epoch}"
        )
        for index in sorted(report.balances)[: self._show]:
            balance = report.balances[index]
            previous = None if report.previous is None else report.previous.get(index)
            moved = "" if previous is None else f"  {format_signed_gwei(balance - previous)}"
            self._print(f"    validator {index:>6}  {format_gwei(balance)}{moved}")
        hidden = len(report.balances) - self._show
        if hidden > 0:
            self._print(f"    … and {hidden} more")
