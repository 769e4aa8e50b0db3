"""Events about the daemon's sources rather than the validators' duties (pure).

A validator client's keymanager that stops answering, a witness node that disagrees with the
primary about an epoch, a node whose balances the protocol cannot explain: each was a log line and
a metric; as typed events like the monitor's own they also travel the outbox to MQTT
(``events/<kind>``, ``alerts/warning``), are logged with their ``event_id`` and show among the web
page's warnings. They are raised by the service layer (``service/event_sink``) in the transaction
that saves the state they describe.

Amounts are decimal strings of Gwei (the MQTT payloads' rule); nodes are named by their URL (the
MQTT publisher and the log redact any credential in it).
"""

from __future__ import annotations

from dataclasses import dataclass

from stakepool.chain.types import Epoch
from stakepool.monitor.eventbase import EventKind, MonitorEvent, Severity


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidatorClientUnreachable(MonitorEvent):
    """A ``[[validator_client]]`` keymanager stopped answering; its last known keys are kept.

    Raised once per outage (the outage is kept across restarts), at the epoch it was noticed."""

    kind = EventKind.VALIDATOR_CLIENT_UNREACHABLE
    severity = Severity.WARNING
    vc: str
    epoch: Epoch
    """The head epoch when the outage was noticed."""
    error: str
    keys_kept: int | None
    """Keys still counted in the pool for it (None: none ever known)."""
    identity = ("vc", "epoch")


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidatorClientReachable(MonitorEvent):
    """The keymanager answers again after an outage."""

    kind = EventKind.VALIDATOR_CLIENT_REACHABLE
    severity = Severity.INFO
    vc: str
    epoch: Epoch
    unreachable_since_epoch: Epoch
    keys: int
    identity = ("vc", "epoch", "unreachable_since_epoch")


@dataclass(frozen=True, slots=True, kw_only=True)
class CrossCheckDisagreed(MonitorEvent):
    """The witness node saw another balance change (or attestation verdict) than the primary for
    pool validators in one settled epoch; the ledger keeps the primary's answer until finality.

    ``validators``, ``primary_delta_gwei`` and ``witness_delta_gwei`` run in step (None: that node
    did not report the validator at both ends of the epoch); ``vote_validators`` are those whose
    attestation rewards (head, target, source) differ."""

    kind = EventKind.CROSS_CHECK_DISAGREEMENT
    severity = Severity.WARNING
    epoch: Epoch
    primary: str
    witness: str
    validators: tuple[int, ...]
    primary_delta_gwei: tuple[str | None, ...]
    witness_delta_gwei: tuple[str | None, ...]
    vote_validators: tuple[int, ...] = ()
    primary_votes: tuple[tuple[int, int, int] | None, ...] = ()
    witness_votes: tuple[tuple[int, int, int] | None, ...] = ()
    identity = ("epoch", "primary", "witness", "validators", "vote_validators")


@dataclass(frozen=True, slots=True, kw_only=True)
class RewardsImplausible(MonitorEvent):
    """A node's balances gave pool validators a change the protocol cannot make in one epoch; the
    window was refused (read again from another node, or ``held``: the ledger waits for the next
    close). ``validators``, ``settlement_gwei``, ``low_gwei``, ``high_gwei`` run in step (a bound
    None: unbounded)."""

    kind = EventKind.REWARDS_IMPLAUSIBLE
    severity = Severity.WARNING
    epoch: Epoch
    node: str | None
    """The node set aside for an epoch; None when there was no other to ask."""
    held: bool
    validators: tuple[int, ...]
    settlement_gwei: tuple[str, ...]
    low_gwei: tuple[str | None, ...]
    high_gwei: tuple[str | None, ...]
    error: str
    identity = ("epoch", "node", "validators", "settlement_gwei")


@dataclass(frozen=True, slots=True, kw_only=True)
class CrossCheckCorrected(MonitorEvent):
    """At finality the witness was shown right about an epoch it disagreed about (the primary's
    state contradicts the block it claims to follow, or the nodes now agree on another answer):
    the epoch's provisional rows were settled again from the right node before becoming final.
    ``validators`` run in step with the figures: what the ledger had, what it has now."""

    kind = EventKind.CROSS_CHECK_CORRECTED
    severity = Severity.WARNING
    epoch: Epoch
    right: str
    """The node whose answer the ledger now holds."""
    wrong: str
    validators: tuple[int, ...]
    provisional_delta_gwei: tuple[str | None, ...]
    final_delta_gwei: tuple[str | None, ...]
    identity = ("epoch", "right", "wrong", "validators")


@dataclass(frozen=True, slots=True, kw_only=True)
class CrossCheckConfirmed(MonitorEvent):
    """At finality the primary was shown right: the ledger's rows stand as written."""

    kind = EventKind.CROSS_CHECK_CONFIRMED
    severity = Severity.INFO
    epoch: Epoch
    primary: str
    witness: str
    validators: tuple[int, ...]
    identity = ("epoch", "primary", "witness")


@dataclass(frozen=True, slots=True, kw_only=True)
class CrossCheckUnresolved(MonitorEvent):
    """At finality the disagreement could not be settled in the ledger: the nodes still disagree
    and neither state contradicts its chain, or the rows were final already (the ledger keeps the
    primary's answer; an operator decides)."""

    kind = EventKind.CROSS_CHECK_UNRESOLVED
    severity = Severity.CRITICAL
    epoch: Epoch
    primary: str
    witness: str
    validators: tuple[int, ...]
    reason: str
    identity = ("epoch", "primary", "witness")


DAEMON_EVENT_TYPES: tuple[type[MonitorEvent], ...] = (
    ValidatorClientUnreachable,
    ValidatorClientReachable,
    CrossCheckDisagreed,
    CrossCheckCorrected,
    CrossCheckConfirmed,
    CrossCheckUnresolved,
    RewardsImplausible,
)
