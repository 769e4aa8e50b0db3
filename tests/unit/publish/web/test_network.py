"""The withdrawal-delay formula (docs/web.md#withdrawal-delays) on hand-built validator sets."""

from __future__ import annotations

from typing import Any

from stakepool.beacon.models.state import ValidatorInfo
from stakepool.chain.spec import ChainSpec
from stakepool.publish.web.network import FAR_FUTURE_EPOCH, network_figures
from stakepool.sim.presets import spec_for

ETH = 10**9
EPOCH = 1000
SPEC = ChainSpec.from_api(spec_for("minimal"), 1_600_000_000, "0x" + "11" * 32)


def _validator(
    index: int,
    *,
    effective: int = 32 * ETH,
    balance: int | None = None,
    credentials: str = "0x01",
    exit_epoch: int = FAR_FUTURE_EPOCH,
    withdrawable_epoch: int = FAR_FUTURE_EPOCH,
) -> ValidatorInfo:
    doc: dict[str, Any] = {
        "index": str(index),
        "balance": str(effective if balance is None else balance),
        "status": "active_ongoing",
        "validator": {
            "pubkey": "0x" + f"{index:02x}" * 48,
            "withdrawal_credentials": credentials + "00" * 31,
            "effective_balance": str(effective),
            "slashed": False,
            "activation_eligibility_epoch": "0",
            "activation_epoch": "0",
            "exit_epoch": str(exit_epoch),
            "withdrawable_epoch": str(withdrawable_epoch),
        },
    }
    return ValidatorInfo.model_validate(doc)


def test_an_idle_network_exits_after_the_seed_lookahead_and_the_withdrawability_delay() -> None:
    figures = network_figures(
        [_validator(i) for i in range(64)], epoch=EPOCH, pool=frozenset(range(16)), spec=SPEC
    )
    assert figures.total_active_gwei == 64 * 32 * ETH
    assert figures.exit_churn_gwei == 128 * ETH  # the floor: 2048 ETH / 65536 is far below
    assert figures.exit_queue_epochs == 1 + SPEC.max_seed_lookahead
    assert figures.withdrawable_epochs == figures.exit_queue_epochs + 256
    assert figures.sweep_slots == 1  # 64 validators fit in one block's scan, nobody is due
    assert figures.pool_share_ppm == 250_000  # 16 of 64 equal validators


def test_a_queued_exit_pushes_a_new_request_behind_it() -> None:
    queued = [_validator(i, exit_epoch=EPOCH + 20) for i in range(4)]  # 128 ETH: that epoch is full
    others = [_validator(i) for i in range(4, 64)]
    figures = network_figures(queued + others, epoch=EPOCH, pool=frozenset(), spec=SPEC)
    assert figures.queued_exits == 4
    assert figures.exit_epoch == EPOCH + 21
    assert figures.exit_queue_epochs == 21
    assert figures.pool_share_ppm == 0


def test_the_churn_is_capped_at_256_eth_per_epoch() -> None:
    whales = [_validator(i, effective=200_000 * ETH, credentials="0x02") for i in range(100)]
    figures = network_figures(whales, epoch=EPOCH, pool=frozenset(), spec=SPEC)
    assert figures.exit_churn_gwei == 256 * ETH


def test_the_sweep_waits_for_every_due_withdrawal_at_16_per_block() -> None:
    done = EPOCH - 1
    due_full = [_validator(i, withdrawable_epoch=done, exit_epoch=done - 256) for i in range(40)]
    bls = [_validator(40 + i, credentials="0x00", withdrawable_epoch=done) for i in range(5)]
    partial = [_validator(50, balance=33 * ETH)]  # 0x01 above 32 ETH: the excess is swept
    compounding = [_validator(51, balance=33 * ETH, credentials="0x02")]  # below its 2048 ETH cap
    figures = network_figures(
        due_full + bls + partial + compounding, epoch=EPOCH, pool=frozenset(), spec=SPEC
    )
    assert figures.withdrawals_due == 41
    assert figures.sweep_slots == 3  # ⌈41 / 16⌉
