"""The live console on a terminal (``stakepool demo`` and ``stakepool run`` on a TTY), with rich.

A face like the others: it subscribes to the event bus (``LiveView.subscribe``), keeps what it
shows in ``LiveState`` and redraws one screen in place: the head and finality, the current
epoch's duties (misses, proposals, sync), the monitor's latest events (warnings in yellow,
critical in red), the last settled epochs with rewards and fees, and the top delegators. The
head moves the screen, it prints no line: per-slot lines belong to the debug log. Off a terminal
none of this runs (the JSON log, or the demo's plain ``ConsoleView`` lines).

Amounts are ``int`` Gwei, printed as ETH by ``format_gwei`` (integer arithmetic, never a float).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from stakepool.chain.bus import EventBus
from stakepool.ledger.facts import LedgerReport
from stakepool.ledger.queries import DelegatorSummary, PoolEpoch, PoolTotals
from stakepool.monitor.digest import EpochDuties
from stakepool.monitor.eventbase import MonitorEvent, Severity
from stakepool.monitor.facts import EpochReport, Started
from stakepool.monitor.head import HeadView
from stakepool.publish.console import duty_lines, format_gwei, format_signed_gwei

_STYLE = {Severity.CRITICAL: "bold white on red", Severity.WARNING: "bold yellow"}
_NOT_SHOWN = ("kind", "severity", "event_id")
_NOTABLE = ("(validators", "missed (validator", "orphaned", "low participation", "skipped")
"""A duty line with any of these tells a miss: shown in yellow."""
HEAD_REDRAW_SECONDS = 0.1
"""The head alone redraws at most this often (fast demo slots); every other fact at once."""


@dataclass(slots=True)
class LiveState:
    """What the screen shows; every handler only updates it."""

    title: str = "stakepool: waiting for a beacon node"
    head: HeadView | None = None
    report: EpochReport | None = None
    duties: EpochDuties | None = None
    events: deque[MonitorEvent] = field(default_factory=lambda: deque(maxlen=8))
    settled: dict[int, PoolEpoch] = field(default_factory=dict)
    totals: PoolTotals | None = None
    top: tuple[DelegatorSummary, ...] = ()
    counts: dict[Severity, int] = field(default_factory=lambda: dict.fromkeys(Severity, 0))


class LiveView:
    """``with LiveView(console) as view: … run_daemon(listeners=[view.subscribe])``."""

    def __init__(self, console: Console, *, settled_rows: int = 5) -> None:
        self.console = console
        self.state = LiveState()
        self._settled_rows = settled_rows
        self._live: Live | None = None
        self._last_head_draw = 0.0

    # --- the terminal ----------------------------------------------------------------------------

    def __enter__(self) -> LiveView:
        # stdout/stderr written while the view runs (the log's warnings) go above the screen.
        self._live = Live(
            self.render(),
            console=self.console,
            auto_refresh=False,
            redirect_stdout=True,
            redirect_stderr=True,
        )
        self._live.__enter__()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.update(self.render(), refresh=True)  # the final state stays on screen
            self._live.__exit__(et, e, tb)
            self._live = None

    def _draw(self) -> None:
        if self._live is not None:
            self._live.update(self.render(), refresh=True)

    # --- the bus ---------------------------------------------------------------------------------

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(Started, self.started)
        bus.subscribe(HeadView, self.on_head)
        bus.subscribe(EpochReport, self.epoch)
        bus.subscribe(MonitorEvent, self.monitor_event)
        bus.subscribe(EpochDuties, self.on_duties)
        bus.subscribe(LedgerReport, self.ledger)

    def started(self, fact: Started) -> None:
        spec = fact.spec
        self.state.title = (
            f"stakepool · {spec.config_name or spec.preset_base} · {len(fact.members)} pool "
            f"validators · {spec.slots_per_epoch} slots/epoch · via {', '.join(fact.nodes)}"
        )
        self._draw()

    def on_head(self, view: HeadView) -> None:
        self.state.head = view
        now = time.monotonic()
        if now - self._last_head_draw >= HEAD_REDRAW_SECONDS:
            self._last_head_draw = now
            self._draw()

    def epoch(self, report: EpochReport) -> None:
        self.state.report = report
        self._draw()

    def monitor_event(self, event: MonitorEvent) -> None:
        self.state.events.append(event)
        self.state.counts[event.severity] += 1
        self._draw()

    def on_duties(self, duties: EpochDuties) -> None:
        self.state.duties = duties
        self._draw()

    def ledger(self, report: LedgerReport) -> None:
        for row in report.epochs:
            self.state.settled[row.epoch] = row  # settled again after a reorg: replaced
        for old in sorted(self.state.settled)[: -self._settled_rows]:
            del self.state.settled[old]
        self.state.totals = report.totals
        self.state.top = report.top
        self._draw()

    # --- the screen ------------------------------------------------------------------------------

    def render(self) -> RenderableType:
        s = self.state
        return Group(
            Text(s.title, style="bold"),
            self._chain(),
            self._duties(),
            self._events(),
            self._ledger(),
            self._delegators(),
        )

    def _chain(self) -> RenderableType:
        s = self.state
        table = Table.grid(padding=(0, 2))
        h = s.head
        if h is None:
            table.add_row("head", "—")
        else:
            distance = h.epoch - h.finalized_epoch
            table.add_row(
                "head",
                f"slot {h.slot}  epoch {h.epoch}  root {h.root[:12]}…",
            )
            table.add_row(
                "finality",
                Text(
                    f"justified {h.justified_epoch}  finalized {h.finalized_epoch}"
                    f"  ({distance} epochs behind the head)",
                    style="yellow" if distance > 3 else "",
                ),
            )
        r = s.report
        if r is not None:
            change = "" if r.change is None else f"  {format_signed_gwei(r.change)} over the epoch"
            table.add_row("pool balance", f"{format_gwei(r.total)} at epoch {r.epoch}{change}")
        counts = s.counts
        table.add_row(
            "events",
            Text.assemble(
                (f"{counts[Severity.CRITICAL]} critical", _STYLE[Severity.CRITICAL])
                if counts[Severity.CRITICAL]
                else "0 critical",
                "  ",
                (f"{counts[Severity.WARNING]} warnings", _STYLE[Severity.WARNING])
                if counts[Severity.WARNING]
                else "0 warnings",
                f"  {counts[Severity.INFO]} info",
            ),
        )
        return Panel(table, title="chain", title_align="left")

    def _duties(self) -> RenderableType:
        d = self.state.duties
        if d is None:
            return Panel(
                Text("no epoch closed yet", style="dim"), title="duties", title_align="left"
            )
        lines = Text("\n").join(
            Text(line, style="yellow" if any(w in line for w in _NOTABLE) else "")
            for line in duty_lines(d)
        )
        return Panel(
            lines or Text("no duties"), title=f"duties · epoch {d.epoch}", title_align="left"
        )

    def _events(self) -> RenderableType:
        events = list(self.state.events)
        if not events:
            return Panel(Text("none yet", style="dim"), title="monitor events", title_align="left")
        table = Table.grid(padding=(0, 1))
        for event in reversed(events):  # newest first
            fields = {k: v for k, v in event.to_dict().items() if k not in _NOT_SHOWN}
            detail = ", ".join(f"{k} {v}" for k, v in fields.items())
            style = _STYLE.get(event.severity, "dim")
            table.add_row(
                Text(event.severity.value.upper(), style=style),
                Text(event.kind.value, style=style),
                Text(detail, overflow="ellipsis", no_wrap=True),
            )
        return Panel(table, title="monitor events (newest first)", title_align="left")

    def _ledger(self) -> RenderableType:
        rows = [self.state.settled[e] for e in sorted(self.state.settled)]
        if not rows:
            return Panel(
                Text("nothing settled yet", style="dim"), title="ledger", title_align="left"
            )
        table = Table(box=None, padding=(0, 1), show_edge=False)
        for name in ("epoch", "status", "reward", "CL", "EL", "fee", "to delegators"):
            table.add_column(name, justify="left" if name in ("epoch", "status") else "right")
        t = self.state.totals
        # Finality moves no row, the totals say how far it reached.
        final_up_to = -1 if t is None or t.last_final_epoch is None else t.last_final_epoch
        for row in rows:
            el = "unknown" if row.reward_el_gwei is None else f"{row.reward_el_gwei:,}"
            status = "final" if row.epoch <= final_up_to else row.status
            table.add_row(
                str(row.epoch),
                Text(status, style="green" if status == "final" else ""),
                f"{row.reward_gwei:+,}",
                f"{row.reward_cl_gwei:+,}",
                el,
                f"{row.fee_gwei:,}",
                f"{row.distributed_gwei:+,}",
            )
        caption = (
            ""
            if t is None
            else f"totals, final / with provisional: rewards {t.rewards_gwei.final:+,} / "
            f"{t.rewards_gwei.total:+,} Gwei; fees {t.fees_gwei.final:,} / {t.fees_gwei.total:,} Gwei"
        )
        return Panel(
            Group(table, Text(caption, style="dim")),
            title="last settled epochs (Gwei)",
            title_align="left",
        )

    def _delegators(self) -> RenderableType:
        top = self.state.top
        if not top:
            return Panel(Text("none yet", style="dim"), title="top delegators", title_align="left")
        table = Table(box=None, padding=(0, 1), show_edge=False)
        for name in ("#", "delegator", "principal", "accrued", "of which final"):
            table.add_column(name, justify="left" if name in ("#", "delegator") else "right")
        for rank, d in enumerate(top, start=1):
            table.add_row(
                str(rank),
                d.id,
                format_gwei(d.principal_gwei),
                format_signed_gwei(d.accrued_gwei.total),
                format_signed_gwei(d.accrued_gwei.final),
            )
        return Panel(table, title="top delegators", title_align="left")
