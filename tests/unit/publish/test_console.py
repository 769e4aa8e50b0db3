"""Amounts are shown exactly, never through a float."""

from __future__ import annotations

import io

from stakepool.chain.types import Epoch, Gwei, Root, Slot, ValidatorIndex
from stakepool.monitor.facts import EpochReport
from stakepool.monitor.head import HeadView
from stakepool.publish.console import ConsoleView, format_gwei


def test_format_gwei_is_exact() -> None:
    assert format_gwei(32_001_234_567) == "32.001234567 ETH"
    assert format_gwei(-7_812_500) == "-0.007812500 ETH"
    assert format_gwei(2**63 - 1) == "9223372036.854775807 ETH"


def test_epoch_report_change_and_console() -> None:
    v = ValidatorIndex
    head = HeadView(Slot(41), Root("0x" + "ab" * 32), Epoch(5), Epoch(4), Epoch(3))
    report = EpochReport(
        Epoch(4),
        Slot(39),
        {v(1): Gwei(32_000_009_261), v(2): Gwei(31_999_993_060)},
        {v(1): Gwei(32_000_000_000), v(2): Gwei(32_000_000_000)},
        head,
    )
    assert report.total == 64_000_002_321
    assert report.change == 9_261 - 6_940
    out = io.StringIO()
    ConsoleView(out).epoch(report)
    text = out.getvalue()
    assert "epoch 4 closed at slot 39" in text
    assert "64.000002321 ETH" in text
    assert "+2,321 Gwei" in text
    assert "-6,940 Gwei" in text
