"""Assembling a window's explanation from endpoint figures (pure)."""

from __future__ import annotations

from stakepool.rewards.explaining import AttestationFigures, EndpointFigures, Record, explained_rows
from stakepool.rewards.maths import AttestationComponents, settle
from stakepool.rewards.types import BalanceMoves, ValidatorEpochReward

GWEI_32 = 32 * 10**9
GWEI_64 = 64 * 10**9
PERFECT_32 = AttestationComponents(2_404, 4_465, 2_392)
PERFECT_64 = AttestationComponents(4_809, 8_931, 4_785)


def _record(eb: int, **kw: object) -> Record:
    fields: dict[str, object] = {
        "balance": eb,
        "effective_balance": eb,
        "slashed": False,
        "activation_epoch": 0,
        "exit_epoch": 2**64 - 1,
        "withdrawable_epoch": 2**64 - 1,
        "pubkey": "0x" + "ab" * 48,
    }
    fields.update(kw)
    return Record(**fields)  # type: ignore[arg-type]


def _row(v: int, eb: int, reward: int) -> ValidatorEpochReward:
    return ValidatorEpochReward(
        validator=v,
        epoch=1002,
        settlement_gwei=settle(eb, eb + reward, BalanceMoves()),
        balance_start_gwei=eb,
        balance_end_gwei=eb + reward,
        moves=BalanceMoves(),
        effective_balance_gwei=eb,
    )


def _explain(
    rows: list[ValidatorEpochReward],
    start: dict[int, Record],
    ideal: dict[int, AttestationComponents],
    totals: dict[int, AttestationComponents],
    **figures: object,
) -> tuple[ValidatorEpochReward, ...]:
    f = EndpointFigures(
        attestations=AttestationFigures(totals=totals, ideal=ideal),
        block_rewards=figures.get("block_rewards", {}),  # type: ignore[arg-type]
        sync_rewards=figures.get("sync_rewards", {}),  # type: ignore[arg-type]
        slashed_effective_balance=figures.get("slashed", {}),  # type: ignore[arg-type]
    )
    return explained_rows(rows, f, start, slashing_quotient=4096, slashings_vector=8192)


def test_ideal_rewards_are_looked_up_by_effective_balance_not_position() -> None:
    """A 64-ETH validator that earned half the 64-ETH ideal missed half of it, whatever order
    (or subset) of buckets the node lists."""
    half = AttestationComponents(2_404, 4_466, 2_392)
    rows = [_row(1, GWEI_32, 9_261), _row(2, GWEI_64, half.total)]
    start = {1: _record(GWEI_32), 2: _record(GWEI_64)}
    totals = {1: PERFECT_32, 2: half}
    for ideal in (
        {GWEI_64: PERFECT_64, GWEI_32: PERFECT_32},
        {GWEI_32: PERFECT_32, GWEI_64: PERFECT_64},
    ):
        one, two = _explain(rows, start, ideal, totals)
        assert one.missed_gwei == 0
        assert two.missed_gwei == PERFECT_64.total - half.total
        assert one.residual_gwei == two.residual_gwei == 0
    # Prysm before PR #17076 omitted buckets above 32 ETH: unknown, not a made-up figure.
    one, two = _explain(rows, start, {GWEI_32: PERFECT_32}, totals)
    assert one.missed_gwei == 0
    assert two.missed_gwei is None
    assert two.residual_gwei == 0


def test_validators_without_a_duty_or_a_row() -> None:
    exited = _record(GWEI_32, exit_epoch=900, withdrawable_epoch=1156)
    slashed = _record(GWEI_32, slashed=True, exit_epoch=990, withdrawable_epoch=9_000)
    rows = [_row(1, GWEI_32, 0), _row(2, GWEI_32, -6_940), _row(3, 0, 0)]
    penalty = AttestationComponents(-2_429, -4_511, 0)
    one, two, three = _explain(
        rows,
        {1: exited, 2: slashed},
        {GWEI_32: PERFECT_32},
        {1: AttestationComponents(0, 0, 0), 2: penalty},
    )
    assert one.missed_gwei is None  # exited before duty epoch 1000: nothing to miss
    assert one.residual_gwei == 0
    assert two.missed_gwei == PERFECT_32.total - penalty.total  # slashed but still eligible
    assert two.residual_gwei == 0
    assert three.explanation is not None
    assert three.explanation.total == 0
    assert three.missed_gwei is None  # unknown to the chain at the window's start


def test_proposals_sync_and_slashing_add_up() -> None:
    reward = 9_261 + 45_494_274 + 3 * 22_502 - 7_812_500
    (row,) = _explain(
        [_row(1, GWEI_32, reward)],
        {1: _record(GWEI_32)},
        {GWEI_32: PERFECT_32},
        {1: PERFECT_32},
        block_rewards={1: [45_494_274]},
        sync_rewards={1: [22_502, 22_502, 22_502]},
        slashed={1: GWEI_32},
    )
    assert row.explanation is not None
    assert row.explanation.slashing_penalty == 7_812_500
    assert row.residual_gwei == 0


def test_the_correlation_epoch_leaves_the_residual_unknown() -> None:
    record = _record(GWEI_32, slashed=True, exit_epoch=1_000, withdrawable_epoch=1_001 + 4_096)
    (row,) = _explain(
        [_row(1, GWEI_32, -6_940 - 90_336)],
        {1: record},
        {GWEI_32: PERFECT_32},
        {1: AttestationComponents(-2_429, -4_511, 0)},
    )
    assert row.explanation is not None
    assert row.explanation.correlation_penalty is None
    assert row.residual_gwei is None
