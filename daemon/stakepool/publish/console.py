"""The demo's live console: one line per head, a small table per closed epoch, the monitor's
events that stand out, the duties and the ledger of each epoch.

A face like the others: it subscribes to the event bus (``ConsoleView.subscribe``). Amounts are
``int`` Gwei; ``format_gwei`` prints them as ETH without ever going through a float.
"""

from __future__ import annotations

import enum
from typing import TextIO

from stakepool.chain.bus import EventBus
from stakepool.ledger.facts import LedgerReport
from stakepool.monitor.digest import EpochDuties
from stakepool.monitor.eventbase import MonitorEvent, Severity
from stakepool.monitor.facts import EpochReport, Started
from stakepool.monitor.head import HeadView

_NOT_SHOWN = ("kind", "severity", "event_id", "epoch")


def format_gwei(amount: int) -> str:
    """``32001234567`` → ``"32.001234567 ETH"`` exactly (integer arithmetic only)."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**9)
    return f"{sign}{whole}.{frac:09d} ETH"


def format_signed_gwei(amount: int) -> str:
    return f"{amount:+,d} Gwei"


class ConsoleView:
    """The demo's live view: one line per head, a small table per closed epoch."""

    def __init__(self, out: TextIO, *, show_validators: int = 8, show_heads: bool = True) -> None:
        self._out = out
        self._show = show_validators
        self._show_heads = show_heads

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(Started, self.started)
        if self._show_heads:  # one line a slot: only when debugging
            bus.subscribe(HeadView, self.head)
        bus.subscribe(EpochReport, self.epoch)
        bus.subscribe(MonitorEvent, self.monitor_event)
        bus.subscribe(EpochDuties, self.duties)
        bus.subscribe(LedgerReport, self.ledger)

    def _print(self, text: str) -> None:
        print(text, file=self._out, flush=True)

    def started(self, fact: Started) -> None:
        spec, members, nodes = fact.spec, fact.members, fact.nodes
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

    def monitor_event(self, event: MonitorEvent) -> None:
        if event.severity is Severity.INFO and event.kind.value.startswith(
            ("attestation_missed", "block_proposed", "effective_balance")
        ):
            return  # the per-epoch digest already says it; only what stands out is shown live
        fields = {k: v for k, v in event.to_dict().items() if k not in _NOT_SHOWN}
        stage = getattr(event, "stage", None)
        if isinstance(stage, enum.Enum):
            fields["stage"] = stage.name.lower()  # "included", not its ordinal
        detail = ", ".join(f"{k} {v}" for k, v in fields.items())
        marker = {Severity.CRITICAL: "!!", Severity.WARNING: " !"}.get(event.severity, "  ")
        self._print(f"  {marker} {event.severity.value.upper()} {event.kind.value}: {detail}")

    def duties(self, report: EpochDuties) -> None:
        for line in duty_lines(report):
            self._print(f"    {line}")

    def ledger(self, report: LedgerReport) -> None:
        for row in report.epochs:
            el = "EL unknown" if row.reward_el_gwei is None else f"EL {row.reward_el_gwei:,} Gwei"
            self._print(
                f"  ledger epoch {row.epoch} ({row.status}): pool reward "
                f"{format_signed_gwei(row.reward_gwei)} (CL {format_signed_gwei(row.reward_cl_gwei)}, "
                f"{el}); fee {row.fee_gwei:,} Gwei; to {row.delegators} delegators "
                f"{format_signed_gwei(row.distributed_gwei)}"
            )
        t = report.totals
        self._print(
            f"    pool totals (final / with provisional): rewards {format_signed_gwei(t.rewards_gwei.final)}"
            f" / {format_signed_gwei(t.rewards_gwei.total)}; fees {t.fees_gwei.final:,} / "
            f"{t.fees_gwei.total:,} Gwei; dust {t.dust_gwei.total} Gwei"
        )
        for rank, d in enumerate(report.top, start=1):
            self._print(
                f"    #{rank} {d.id:<12} principal {format_gwei(d.principal_gwei)}  accrued "
                f"{format_signed_gwei(d.accrued_gwei.total)} (final {format_signed_gwei(d.accrued_gwei.final)})"
            )


def _ids(indices: tuple[int, ...], limit: int = 8) -> str:
    shown = ", ".join(str(i) for i in indices[:limit])
    return shown + (f", … (+{len(indices) - limit})" if len(indices) > limit else "")


def duty_lines(report: EpochDuties) -> list[str]:
    """The console's few lines for one epoch's duties."""
    lines: list[str] = []
    a = report.attestations
    if a is not None:
        s = a.summary
        text = f"epoch {a.epoch} attestations: {s.included} included, {s.missed} missed"
        if a.missed:
            text += f" (validators {_ids(a.missed)})"
        if a.head_misses:
            text += f"; head misses: {_ids(a.head_misses)}"
        if a.late:
            text += f"; late: {_ids(a.late)}"
        lines.append(text)
    if report.proposals:
        told = ", ".join(
            f"slot {slot} {verdict} (validator {v})" for slot, v, verdict in report.proposals
        )
        lines.append(f"epoch {report.epoch} proposals: {told}")
    y = report.sync
    if y is not None:
        text = (
            f"epoch {y.epoch} sync committee: {len(y.members)} pool members signed "
            f"{y.signed}/{y.expected}"
        )
        if y.low:
            text += f"; low participation: {_ids(y.low)}"
        lines.append(text)
    if report.failed:
        lines.append(
            f"epoch {report.epoch}: skipped ({', '.join(report.failed)}): beacon node errors"
        )
    return lines
