"""The network's withdrawal delays and the pool's share of the active stake, from the beacon state.

``network_figures`` is the formula (pure: documented in docs/web.md#withdrawal-delays), over the
head state's validator records (``GET /eth/v1/beacon/states/head/validators`` without ids: the
whole set, one large answer on mainnet). ``NetworkView`` refreshes it at most every
``[web] network_refresh_seconds`` in the background, so a page request never waits on that read
for more than ``FIRST_WAIT_SECONDS`` and shows "unknown" until a first snapshot exists.

Inputs and constants (consensus specs, Electra):
* exit churn per epoch = min(256 ETH, max(128 ETH, total active balance / 65536)), floored to the
  effective-balance increment;
* a new exit lands at max(the last exit epoch already assigned, current + 1 + MAX_SEED_LOOKAHEAD),
  one epoch later when the queued exits at that epoch already use its churn;
* it becomes withdrawable 256 epochs (MIN_VALIDATOR_WITHDRAWABILITY_DELAY) after its exit epoch;
* the withdrawal sweep pays at most 16 withdrawals per block (MAX_WITHDRAWALS_PER_PAYLOAD) and
  scans at most 16384 validators per block (MAX_VALIDATORS_PER_WITHDRAWALS_SWEEP), so one full
  round takes max(⌈N / 16384⌉, ⌈due / 16⌉) slots: the worst-case wait once withdrawable.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import structlog

from stakepool.beacon import routes
from stakepool.beacon.client import BeaconClient
from stakepool.beacon.models.state import ValidatorInfo
from stakepool.beacon.models.wire import Envelope
from stakepool.beacon.parsing import envelope_parser
from stakepool.chain.spec import ChainSpec

log = structlog.get_logger(__name__)

FAR_FUTURE_EPOCH = 2**64 - 1
GWEI_PER_ETH = 10**9
MIN_PER_EPOCH_CHURN_LIMIT = 128 * GWEI_PER_ETH
MAX_PER_EPOCH_EXIT_CHURN_LIMIT = 256 * GWEI_PER_ETH
CHURN_LIMIT_QUOTIENT = 65_536
MIN_VALIDATOR_WITHDRAWABILITY_DELAY = 256
MAX_WITHDRAWALS_PER_PAYLOAD = 16
MAX_VALIDATORS_PER_WITHDRAWALS_SWEEP = 16_384
COMPOUNDING_MAX_EFFECTIVE_BALANCE = 2048 * GWEI_PER_ETH
FIRST_WAIT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class NetworkFigures:
    epoch: int
    validators: int
    active_validators: int
    total_active_gwei: int
    pool_active_gwei: int
    exit_churn_gwei: int
    queued_exits: int
    exit_epoch: int
    exit_queue_epochs: int
    """Epochs from now until a request made now reaches its exit epoch."""
    withdrawable_epochs: int
    """… plus the withdrawability delay: epochs until the balance may be swept."""
    withdrawals_due: int
    sweep_slots: int
    """Worst-case wait for the sweep once withdrawable."""
    slot_seconds: float
    slots_per_epoch: int

    @property
    def pool_share_ppm(self) -> int:
        """The pool's share of the active stake in parts per million (integers: no float money)."""
        return (
            0
            if self.total_active_gwei == 0
            else self.pool_active_gwei * 1_000_000 // self.total_active_gwei
        )

    @property
    def exit_queue_hours(self) -> float:
        return self.exit_queue_epochs * self.slots_per_epoch * self.slot_seconds / 3600

    @property
    def withdrawable_hours(self) -> float:
        return self.withdrawable_epochs * self.slots_per_epoch * self.slot_seconds / 3600

    @property
    def sweep_hours(self) -> float:
        return self.sweep_slots * self.slot_seconds / 3600


def _due(info: ValidatorInfo, epoch: int, max_effective: int) -> bool:
    """Would the sweep pay this validator now (full or partial withdrawal)?"""
    record = info.validator
    prefix = record.withdrawal_credentials[:4].lower()
    if prefix not in {"0x01", "0x02"} or int(info.balance) == 0:
        return False
    if int(record.withdrawable_epoch) <= epoch:
        return True
    cap = COMPOUNDING_MAX_EFFECTIVE_BALANCE if prefix == "0x02" else max_effective
    return int(record.effective_balance) == cap and int(info.balance) > cap


def network_figures(
    infos: Iterable[ValidatorInfo],
    *,
    epoch: int,
    pool: frozenset[int],
    spec: ChainSpec,
) -> NetworkFigures:
    validators = active = total = pool_active = queued = 0
    due = 0
    exits: dict[int, int] = {}
    max_effective = spec.min_activation_balance
    for info in infos:
        validators += 1
        record = info.validator
        effective = int(record.effective_balance)
        exit_epoch = int(record.exit_epoch)
        if int(record.activation_epoch) <= epoch < exit_epoch:
            active += 1
            total += effective
            if int(info.index) in pool:
                pool_active += effective
        if exit_epoch != FAR_FUTURE_EPOCH and exit_epoch > epoch:
            queued += 1
            exits[exit_epoch] = exits.get(exit_epoch, 0) + effective
        if _due(info, epoch, max_effective):
            due += 1
    increment = spec.effective_balance_increment
    churn = min(
        MAX_PER_EPOCH_EXIT_CHURN_LIMIT,
        max(MIN_PER_EPOCH_CHURN_LIMIT, total // CHURN_LIMIT_QUOTIENT),
    )
    churn -= churn % increment
    earliest = epoch + 1 + spec.max_seed_lookahead
    exit_at = max([earliest, *exits])
    if exits.get(exit_at, 0) + max_effective > churn:
        exit_at += 1
    sweep = max(
        -(-validators // MAX_VALIDATORS_PER_WITHDRAWALS_SWEEP),
        -(-due // MAX_WITHDRAWALS_PER_PAYLOAD),
    )
    return NetworkFigures(
        epoch=epoch,
        validators=validators,
        active_validators=active,
        total_active_gwei=total,
        pool_active_gwei=pool_active,
        exit_churn_gwei=churn,
        queued_exits=queued,
        exit_epoch=exit_at,
        exit_queue_epochs=exit_at - epoch,
        withdrawable_epochs=exit_at - epoch + MIN_VALIDATOR_WITHDRAWABILITY_DELAY,
        withdrawals_due=due,
        sweep_slots=sweep,
        slot_seconds=spec.slot_duration_ms / 1000,
        slots_per_epoch=spec.slots_per_epoch,
    )


class NetworkView:
    """``spec``/``pool``: callables, because the daemon learns both only after connecting."""

    def __init__(
        self,
        client: BeaconClient | None,
        spec: Callable[[], ChainSpec | None],
        pool: Callable[[], frozenset[int]],
        *,
        refresh_seconds: float,
    ) -> None:
        self._client = client
        self._spec = spec
        self._pool = pool
        self._refresh = refresh_seconds
        self._figures: NetworkFigures | None = None
        self._at = 0.0
        self._task: asyncio.Task[None] | None = None

    async def figures(self) -> NetworkFigures | None:
        if self._client is None or self._refresh <= 0:
            return None
        stale = self._figures is None or time.monotonic() - self._at >= self._refresh
        if stale and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._read(), name="web-network-figures")
        if self._figures is None and self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), FIRST_WAIT_SECONDS)
        return self._figures

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _read(self) -> None:
        spec = self._spec()
        if spec is None or self._client is None:
            return
        route = routes.VALIDATORS_GET
        model = Envelope[tuple[ValidatorInfo, ...]]
        try:
            answer = await self._client.pool.call(
                route,
                envelope_parser(route, model),
                params={"state_id": "head"},
                request_timeout=self._client.bulk_timeout,
            )
        except Exception as exc:  # a failed read leaves the last figures; the page says how old
            log.warning("web_network_read_failed", error=str(exc))
            return
        epoch = spec.clock().epoch_at(int(time.time() * 1000))
        self._figures = network_figures(answer.data, epoch=epoch, pool=self._pool(), spec=spec)
        self._at = time.monotonic()
