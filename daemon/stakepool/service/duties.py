"""Where the duty forecast's inputs come from: the running daemon, or the configuration alone.

The daemon answers ``GET /api/v1/duties/next`` with the pool it resolved (``daemon_source``).
``stakepool duties next`` must work while the daemon is down or being restarted itself, so it
asks the configured beacon nodes directly for the configured pool and the keys the
``[[validator_client]]`` keymanagers hold now (``forecast_from_settings``); one that does not
answer makes the forecast unknowable (``ValidatorClientUnknown``), never silently smaller.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stakepool.beacon.client import BeaconClient
from stakepool.beacon.keymanager import KeymanagerClient, KeymanagerError
from stakepool.chain.spec import ChainSpec
from stakepool.config import Settings
from stakepool.monitor.forecast import DutyForecast
from stakepool.monitor.forecast_reader import read_forecast
from stakepool.monitor.pool import ValidatorRef, resolve_pool
from stakepool.publish.api.duties import ForecastSource
from stakepool.service.clients import beacon_client


class ValidatorClientUnknown(Exception):
    """A ``[[validator_client]]`` keymanager did not answer: the pool's keys are not all known,
    so no window can be promised free."""


@dataclass(frozen=True, slots=True)
class _KeyRef:
    pubkey: str
    label: str | None = None
    index: int | None = None

    @property
    def key(self) -> str:
        return self.pubkey


async def _validator_client_keys(settings: Settings) -> set[str]:
    keys: set[str] = set()
    for vc in settings.validator_client:
        client = KeymanagerClient(vc.url, vc.read_token, timeout=vc.timeout_seconds)
        try:
            keys |= await client.keys()
        except KeymanagerError as exc:
            raise ValidatorClientUnknown(f"validator client {vc.name}: {exc}") from exc
        finally:
            await client.close()
    return keys


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def daemon_source(
    client: BeaconClient,
    spec: Callable[[], ChainSpec | None],
    pool: Callable[[], Sequence[int] | None],
    *,
    now_ms: Callable[[], int] = _now_ms,
) -> ForecastSource:
    """``spec()`` and ``pool()`` are None until the daemon has connected and resolved its pool;
    ``now_ms``: the wall clock (a test's chain stepped by hand has its own)."""

    async def read() -> DutyForecast | None:
        chain, members = spec(), pool()
        if chain is None or members is None:
            return None
        return await read_forecast(client, chain, members, now_ms=now_ms())

    return read


async def forecast_from_settings(settings: Settings) -> tuple[DutyForecast, tuple[str, ...]]:
    """The forecast for the configured pool, and the configured ids the chain does not know.

    One attempt on each configured node (no start-up retry loop: a gate must answer promptly);
    ``BeaconError`` / ``WrongChain`` when no node can tell."""
    beacon = settings.beacon
    client = beacon_client(settings, beacon.urls, retries=min(beacon.retries, 1))
    try:
        genesis = await client.check_genesis(beacon.genesis_root)
        spec = ChainSpec.from_api(
            await client.node.spec(), genesis.genesis_time, genesis.genesis_validators_root
        )
        refs: list[ValidatorRef] = [*settings.pool.all_validators()]
        refs += [_KeyRef(key) for key in await _validator_client_keys(settings)]
        indices: list[int] = []
        unknown: tuple[str, ...] = ()
        if refs:
            answer = await client.state.validators("head", [ref.key for ref in refs])
            resolution = resolve_pool(refs, ((v.index, v.validator.pubkey) for v in answer.data))
            indices = [int(m.index) for m in resolution.members]
            unknown = resolution.unknown
        return await read_forecast(client, spec, indices, now_ms=_now_ms()), unknown
    finally:
        await client.close()
