"""Every Beacon API route the daemon calls: the only place that knows URLs.

A route's ``name`` identifies it in errors, in the per-node "unsupported" memory and (via
``template``) in request metrics. ``data_404`` says whether a 404 can be a *data* answer (no such
state / block / data yet) rather than "this route does not exist here".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    method: Literal["GET", "POST"]
    template: str
    data_404: bool = False
    typed: bool = False
    """A success is handed to its parser undecoded (``HttpAnswer.raw``): the big answers are
    decoded once, into columns, not first into generic Python objects."""

    def path(self, **params: object) -> str:
        return self.template.format(**{k: quote(str(v), safe="") for k, v in params.items()})

    @property
    def label(self) -> str:
        """``GET /eth/v1/...{state_id}...`` for metrics and messages."""
        return f"{self.method} {self.template}"


def _get(name: str, template: str, *, data_404: bool = False, typed: bool = False) -> Route:
    return Route(name, "GET", template, data_404, typed)


def _post(name: str, template: str, *, data_404: bool = False, typed: bool = False) -> Route:
    return Route(name, "POST", template, data_404, typed)


_STATE = "/eth/v1/beacon/states/{state_id}"

GENESIS = _get("genesis", "/eth/v1/beacon/genesis", data_404=True)
SPEC = _get("spec", "/eth/v1/config/spec")
SYNCING = _get("syncing", "/eth/v1/node/syncing")
HEALTH = _get("health", "/eth/v1/node/health")
VERSION = _get("version", "/eth/v1/node/version")

VALIDATORS_POST = _post("validators", f"{_STATE}/validators", data_404=True, typed=True)
VALIDATORS_GET = _get("validators_get", f"{_STATE}/validators", data_404=True, typed=True)
BALANCES_POST = _post(
    "validator_balances", f"{_STATE}/validator_balances", data_404=True, typed=True
)
BALANCES_GET = _get(
    "validator_balances_get", f"{_STATE}/validator_balances", data_404=True, typed=True
)
FINALITY = _get("finality_checkpoints", f"{_STATE}/finality_checkpoints", data_404=True)
STATE_ROOT = _get("state_root", f"{_STATE}/root", data_404=True)
COMMITTEES = _get("committees", f"{_STATE}/committees", data_404=True)
SYNC_COMMITTEES = _get("sync_committees", f"{_STATE}/sync_committees", data_404=True)
PENDING_DEPOSITS = _get("pending_deposits", f"{_STATE}/pending_deposits", data_404=True)
PENDING_CONSOLIDATIONS = _get(
    "pending_consolidations", f"{_STATE}/pending_consolidations", data_404=True
)

HEADER = _get("header", "/eth/v1/beacon/headers/{block_id}", data_404=True)
HEADERS = _get("headers", "/eth/v1/beacon/headers", data_404=True)
BLOCK = _get("block", "/eth/v2/beacon/blocks/{block_id}", data_404=True)
BLINDED_BLOCK = _get("blinded_block", "/eth/v1/beacon/blinded_blocks/{block_id}", data_404=True)
BLOCK_ATTESTATIONS = _get(
    "block_attestations", "/eth/v2/beacon/blocks/{block_id}/attestations", data_404=True
)
BLOCK_ATTESTATIONS_V1 = _get(
    "block_attestations_v1", "/eth/v1/beacon/blocks/{block_id}/attestations", data_404=True
)

PROPOSER_DUTIES = _get("proposer_duties", "/eth/v1/validator/duties/proposer/{epoch}")
ATTESTER_DUTIES = _post("attester_duties", "/eth/v1/validator/duties/attester/{epoch}", typed=True)
SYNC_DUTIES = _post("sync_duties", "/eth/v1/validator/duties/sync/{epoch}")
LIVENESS = _post("liveness", "/eth/v1/validator/liveness/{epoch}")
LIVENESS_LEGACY = _get("liveness_legacy", "/eth/v1/validator/liveness")

ATTESTATION_REWARDS = _post(
    "attestation_rewards", "/eth/v1/beacon/rewards/attestations/{epoch}", data_404=True, typed=True
)
BLOCK_REWARDS = _get("block_rewards", "/eth/v1/beacon/rewards/blocks/{block_id}", data_404=True)
SYNC_REWARDS = _post(
    "sync_committee_rewards", "/eth/v1/beacon/rewards/sync_committee/{block_id}", data_404=True
)

POOL_ATTESTER_SLASHINGS = _get("pool_attester_slashings", "/eth/v2/beacon/pool/attester_slashings")
POOL_ATTESTER_SLASHINGS_V1 = _get(
    "pool_attester_slashings_v1", "/eth/v1/beacon/pool/attester_slashings"
)
POOL_PROPOSER_SLASHINGS = _get("pool_proposer_slashings", "/eth/v1/beacon/pool/proposer_slashings")
POOL_VOLUNTARY_EXITS = _get("pool_voluntary_exits", "/eth/v1/beacon/pool/voluntary_exits")

EVENTS = _get("events", "/eth/v1/events")
