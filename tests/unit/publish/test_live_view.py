"""The live screen: what an operator reads on it after a few facts, and what stands out."""

from __future__ import annotations

import io

from rich.console import Console

from stakepool.chain.bus import EventBus
from stakepool.chain.spec import ChainSpec
from stakepool.chain.types import BLSPubkey, Epoch, Gwei, Root, Slot, ValidatorIndex
from stakepool.ledger.facts import LedgerReport
from stakepool.ledger.queries import DelegatorSummary, FinalTotal, PoolEpoch, PoolTotals
from stakepool.monitor.digest import AttestationDigest, EpochDuties
from stakepool.monitor.eventbase import SlashingSource
from stakepool.monitor.events import AttestationMissed, SlashingEvidence, SyncParticipationLow
from stakepool.monitor.facts import EpochReport, Started
from stakepool.monitor.head import HeadView
from stakepool.monitor.pool import PoolMember
from stakepool.monitor.summary import AttestationSummary
from stakepool.publish.live import LiveView
from stakepool.sim.presets import spec_for

V = ValidatorIndex


def _pair(final: int, total: int) -> FinalTotal:
    return FinalTotal(final, total)


def _totals(last_final: int | None) -> PoolTotals:
    z = _pair(0, 0)
    return PoolTotals("p", 2, _pair(1, 1), _pair(100, 300), _pair(10, 30), z, z, 6, last_final,
                      _pair(100, 300), z, z, z)  # fmt: skip


def _epoch_row(epoch: int, reward: int) -> PoolEpoch:
    return PoolEpoch(epoch, "provisional", reward, None, reward, reward // 10, reward - reward // 10,
                     1, 2, 0, 0)  # fmt: skip


def _screen(view: LiveView) -> str:
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(view.render())
    return out.getvalue()


def _fed_view() -> tuple[LiveView, EventBus]:
    bus = EventBus()
    view = LiveView(Console(file=io.StringIO()))  # not started: nothing drawn, state only
    view.subscribe(bus)
    spec = ChainSpec.from_api(spec_for("minimal"), 1_600_000_000, "0x" + "11" * 32)
    members = (PoolMember(V(1), BLSPubkey("0x" + "aa" * 48), "vc-1"),)
    bus.publish(Started(spec, members, ("http://127.0.0.1:5052",)))
    head = HeadView(Slot(41), Root("0x" + "ab" * 32), Epoch(5), Epoch(4), Epoch(0))
    bus.publish(head)
    bus.publish(EpochReport(Epoch(4), Slot(39), {V(1): Gwei(32_000_009_261)}, None, head))
    summary = AttestationSummary(duties=1, included=0)
    digest = AttestationDigest(Epoch(3), summary, (V(1),), (), ())
    bus.publish(EpochDuties(Epoch(4), attestations=digest))
    bus.publish(AttestationMissed(validator_index=V(1), epoch=Epoch(3), slot=Slot(26), streak=1))
    bus.publish(SyncParticipationLow(validator_index=V(1), epoch=Epoch(4), signed=0, total=8))
    bus.publish(
        SlashingEvidence(
            validator_index=V(1), epoch=Epoch(4), source=SlashingSource.SSE, offence="attester"
        )
    )
    rows = tuple(_epoch_row(e, 1000 * e) for e in range(1, 8))
    top = (DelegatorSummary("alice", 96_000_000_000, _pair(7, 200)),)
    bus.publish(LedgerReport(rows, _totals(last_final=5), top))
    return view, bus


def test_the_screen_shows_head_finality_duties_events_ledger_and_delegators() -> None:
    view, _ = _fed_view()
    text = _screen(view)
    assert "32 pool" not in text  # the title counts the pool given, not a fixed number
    assert "1 pool validators" in text
    assert "slot 41  epoch 5" in text
    assert "finalized 0  (5 epochs behind the head)" in text
    assert "32.000009261 ETH at epoch 4" in text
    assert "duties · epoch 4" in text
    assert "1 missed (validators 1)" in text
    assert "1 critical  1 warnings  1 info" in text
    # Newest first: the slashing evidence tops the list.
    events = text[text.index("monitor events") :]
    assert events.index("slashing_evidence") < events.index("attestation_missed")
    # The last five settled epochs; those the totals say are final are shown final.
    ledger = text[text.index("last settled epochs") : text.index("top delegators")]
    assert "│  1 " not in ledger
    assert "│  2 " not in ledger
    assert "│  3      final" in ledger
    assert "│  5      final" in ledger
    assert "│  6      provisional" in ledger
    assert "alice" in text
    assert "96.000000000 ETH" in text


def test_warnings_and_critical_events_stand_out() -> None:
    view, _ = _fed_view()
    out = io.StringIO()
    Console(file=out, width=120, color_system="truecolor", force_terminal=True).print(view.render())
    styled = out.getvalue()
    line = next(li for li in styled.splitlines() if "slashing_evidence" in li)
    assert "\x1b[" in line.split("slashing_evidence")[0]  # styled, not plain
    plain = next(li for li in styled.splitlines() if "attestation_missed" in li)
    assert plain != line


def test_before_anything_happened_the_screen_says_so() -> None:
    text = _screen(LiveView(Console(file=io.StringIO())))
    assert "waiting for a beacon node" in text
    assert "no epoch closed yet" in text
    assert "nothing settled yet" in text
