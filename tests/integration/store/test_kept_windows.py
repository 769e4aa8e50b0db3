"""Kept rewards windows are stored packed (migration 0012), on both engines: a window takes a
fraction of its JSON's room and reads back exactly; a window an earlier release kept as plain JSON
still reads back after the upgrade; a damaged one is reported and read again, never guessed at."""

from __future__ import annotations

import structlog

from stakepool.ledger.store.windows_sql import KeptWindows
from stakepool.ledger.windows import keep_packed, read_kept
from stakepool.rewards import codec
from stakepool.rewards.types import (
    BalanceMoves,
    EpochRewards,
    RewardExplanation,
    ValidatorEpochReward,
)
from stakepool.store.database import Database, bundled_migrations


def _window(epoch: int, validators: int) -> EpochRewards:
    rows = tuple(
        ValidatorEpochReward(
            validator=v,
            epoch=epoch,
            settlement_gwei=6_000 + v % 97,
            balance_start_gwei=32_000_000_000 + 13 * v,
            balance_end_gwei=32_000_006_000 + 13 * v + v % 97,
            moves=BalanceMoves(0, 0, 0, 0, 0, 0),
            effective_balance_gwei=32_000_000_000,
            explanation=RewardExplanation(epoch - 2, 1764, 3276, 1764, 0, 0, 0, 0, None),
            residual_gwei=0,
            missed_gwei=0,
        )
        for v in range(validators)
    )
    return EpochRewards(
        epoch=epoch,
        validators=rows,
        proposals=(),
        start_slot_state=32 * epoch - 1,
        end_slot_state=32 * epoch + 31,
        start_state_id=str(32 * epoch - 1),
        end_state_id="0x" + "ab" * 32,
        block_roots=("0x" + "cd" * 32,),
        finalized=False,
        explanation_available=True,
        explanation_reason=None,
    )


def _engine(target: str) -> str:
    return "postgresql" if target.startswith("postgres") else "sqlite"


async def test_a_window_is_kept_packed_in_a_fraction_of_its_json(db_target: str) -> None:
    window = _window(7, 5_000)
    db = Database.open(db_target)
    try:
        await keep_packed(KeptWindows(db), window)
        size, encoding = db.read_sync(
            lambda c: c.execute(
                "SELECT length(body), encoding FROM ledger_windows WHERE epoch = 7"
            ).fetchone()
        )
        assert encoding == "json+zlib"
        assert size * 5 < len(codec.encode([window]))
        assert await read_kept(KeptWindows(db), 7) == window
    finally:
        db.close()


async def test_a_window_kept_as_json_before_the_upgrade_reads_the_same_after(
    db_target: str,
) -> None:
    window = _window(9, 300)
    old = Database.open(db_target, migrations=bundled_migrations(_engine(db_target))[:11])
    try:
        assert old.schema_version == 11
        old.write_sync(
            lambda c: c.execute(
                "INSERT INTO ledger_windows (epoch, block_roots, body_json) VALUES (?, ?, ?)",
                (9, '["0x' + "cd" * 32 + '"]', codec.encode([window])),
            )
        )
    finally:
        old.close()
    db = Database.open(db_target)
    try:
        assert db.schema_version == bundled_migrations(_engine(db_target))[-1].version
        assert await read_kept(KeptWindows(db), 9) == window
        await keep_packed(KeptWindows(db), _window(10, 300))  # and the next one is packed
        encodings = db.read_sync(
            lambda c: c.execute(
                "SELECT epoch, encoding FROM ledger_windows ORDER BY epoch"
            ).fetchall()
        )
        assert [tuple(r) for r in encodings] == [(9, "json"), (10, "json+zlib")]
    finally:
        db.close()


async def test_a_damaged_kept_window_is_reported_and_not_used(db_target: str) -> None:
    db = Database.open(db_target)
    try:
        await keep_packed(KeptWindows(db), _window(4, 200))
        db.write_sync(
            lambda c: c.execute(
                "UPDATE ledger_windows SET body = ? WHERE epoch = 4", (b"\x78\x01garbage",)
            )
        )
        with structlog.testing.capture_logs() as logs:
            assert await read_kept(KeptWindows(db), 4) is None
        (warning,) = [e for e in logs if e["event"] == "ledger_kept_window_unreadable"]
        assert warning["epoch"] == 4
        assert "unpack" in warning["error"]
    finally:
        db.close()
