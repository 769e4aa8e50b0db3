"""``stakepool verify``: recompute a final period from public data and check the operator's root.

    stakepool verify --period P --beacon URL --delegations FILE --policy fee_bps=1000,...
                     [--api URL | --root HEX] [--proof FILE | --delegator ID]

Reads the beacon node (``verify_chain``), the delegations file and the policy, recomputes every
epoch from the ledger's first to the period's last (``verify_maths``), and compares with what the
operator published through the daemon's API (``verify_api``): the period's root, each validator's
settlement per epoch, the pool's epoch rows and, given one, a delegator's proof. It never opens
the ledger's database. Exit 0: everything agrees; 1: a mismatch (the first differing epoch and
validator are named); 2: it could not verify (bad arguments, a node or API that did not answer).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import aiohttp

from stakepool.cli.verify_api import ApiError, PublishedApi
from stakepool.cli.verify_chain import ChainError, ChainReader
from stakepool.cli.verify_maths import (
    Recomputed,
    first_pool_difference,
    first_validator_difference,
    recompute,
)
from stakepool.ledger.commitments import CommitmentError, leaf_hash, root_from_proof
from stakepool.ledger.delegations import DelegationError, load_file
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.statement_format import leaf_from_json, leaf_json

EXIT_AGREES, EXIT_MISMATCH, EXIT_UNVERIFIED = 0, 1, 2
DEFAULT_PERIOD_EPOCHS = 225
_INT_KEYS = ("fee_bps", "operator_bond_gwei", "fee_period_epochs")
_TEXT_KEYS = ("fee_mode", "loss_policy")


class UsageError(Exception):
    pass


def parse_policy(text: str) -> LedgerPolicy:
    """``fee_bps=1000,fee_mode=high_water_mark,...`` (the daemon's ``[pool]`` keys)."""
    values: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key not in _INT_KEYS + _TEXT_KEYS:
            raise UsageError(
                f"--policy: {part!r} is not one of {', '.join(_INT_KEYS + _TEXT_KEYS)}=VALUE"
            )
        if key in _INT_KEYS:
            if not value.isdigit():
                raise UsageError(f"--policy: {key} must be a non-negative integer, got {value!r}")
            values[key] = int(value)
        else:
            values[key] = value
    try:
        return LedgerPolicy(**values)
    except ValueError as exc:
        raise UsageError(f"--policy: {exc}") from exc


def _validators(text: str) -> list[int]:
    out: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        lo, _, hi = part.partition("..")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise UsageError(f"--validators: {part!r} is not an index or a range A..B")
        out.update(range(int(lo), int(hi or lo) + 1))
    return sorted(out)


class Report:
    def __init__(self) -> None:
        self.mismatch = False

    def say(self, text: str) -> None:
        print(text)

    def differs(self, text: str) -> None:
        self.mismatch = True
        print(f"MISMATCH {text}")


def _read_proof(path: str) -> dict[str, Any]:
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(doc, dict):
        raise UsageError(f"--proof {path}: not a proof document")
    inner = doc.get("data", doc)
    if not isinstance(inner, dict):
        raise UsageError(f"--proof {path}: not a proof document")
    return inner


async def _proof_doc(
    args: argparse.Namespace,
    api: PublishedApi | None,
    given: dict[str, Any] | None,
    report: Report,
) -> dict[str, Any] | None:
    if given is not None:
        return given
    if args.delegator is not None:
        if api is None:
            raise UsageError("--delegator needs --api (or give --proof FILE)")
        try:
            found = await api.proof(args.delegator, args.period)
        except ApiError as exc:
            # The daemon refusing a proof (409: its rows no longer give the committed leaf) is
            # itself a finding, not a failure to verify.
            report.differs(f"proof of {args.delegator!r}: the daemon refused it: {exc}")
            return None
        if found is None:
            raise UsageError(f"the API has no proof of {args.delegator!r} for period {args.period}")
        return found
    return None


def _check_proof(doc: dict[str, Any], root: str, mine: Recomputed, report: Report) -> None:
    leaf = leaf_from_json(doc["leaf"])
    try:
        proven = root_from_proof(
            leaf_hash(leaf.encode()),
            int(doc["index"]),
            int(doc["tree_size"]),
            [bytes.fromhex(h) for h in doc["proof"]],
        )
    except (CommitmentError, ValueError) as exc:
        report.differs(f"proof of {leaf.delegator!r}: not a valid proof ({exc})")
        return
    if proven.hex() != root:
        report.differs(f"proof of {leaf.delegator!r}: leads to {proven.hex()}, not to root {root}")
    else:
        report.say(f"proof of {leaf.delegator!r}: its leaf is in root {root}")
    index = mine.tree.index_of(leaf.delegator)
    if index is None:
        report.differs(f"leaf of {leaf.delegator!r}: the chain gives no statement for it")
    elif mine.tree.leaves[index] != leaf:
        report.differs(
            f"leaf of {leaf.delegator!r}: published {leaf_json(leaf)},"
            f" the chain gives {leaf_json(mine.tree.leaves[index])}"
        )
    else:
        report.say(f"leaf of {leaf.delegator!r}: equals the one recomputed from the chain")


async def run(
    args: argparse.Namespace,
    policy: LedgerPolicy,
    schedules: dict[str, list[tuple[int, int]]],
    proof: dict[str, Any] | None,
) -> int:
    report = Report()
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        api = None if args.api is None else PublishedApi(session, args.api)
        published = None if api is None else await api.commitment(args.period)
        if api is not None and published is None and args.root is None:
            raise UsageError(f"the API has no commitment for period {args.period} (not final?)")
        root = args.root or (published or {}).get("root")
        if root is None:
            raise UsageError("give --api URL (the daemon) or --root HEX (the published root)")
        period_epochs = args.period_epochs or int(
            (published or {}).get("period_epochs", DEFAULT_PERIOD_EPOCHS)
        )
        first = args.first_epoch
        if first is None and api is not None:
            first = await api.first_epoch()
        if first is None:
            raise UsageError("give --first-epoch (the ledger's first settled epoch) or --api")
        last = args.period * period_epochs + period_epochs - 1
        if args.validators is not None:
            validators = _validators(args.validators)
        elif api is not None:
            validators = await api.validators()
        else:
            raise UsageError("give --validators (the pool's validator indices) or --api")
        chain = ChainReader(session, args.beacon)
        await chain.start()
        settlements: dict[int, dict[int, int]] = {}
        for k in range(first, last + 1):
            moves = await chain.window(k, validators)
            settlements[k] = {v: m.reward for v, m in moves.items()}
        pool_rows = {} if api is None else await api.pool_epochs(first, last)
        el = {k: r.get("reward_el_gwei") for k, r in pool_rows.items()}
        mine = recompute(
            first_epoch=first,
            period=args.period,
            period_epochs=period_epochs,
            rewards=settlements,
            el_wei={k: None if g is None else g * 10**9 for k, g in el.items()},
            schedules=schedules,
            policy=policy,
        )
        report.say(
            f"period {args.period}: epochs {max(first, last - period_epochs + 1)}..{last},"
            f" {len(validators)} validators read from the chain since epoch {first},"
            f" {len(mine.statements)} delegator statements"
        )
        if api is not None:
            theirs = await api.settlements(validators, first, last)
            diff = first_validator_difference(settlements, theirs)
            if diff is not None:
                report.differs(diff.describe())
            diff = first_pool_difference(mine.rows, pool_rows)
            if diff is not None:
                report.differs(diff.describe())
        if mine.tree.root.hex() == root:
            report.say(f"root {root}: AGREES with the chain")
        else:
            report.differs(f"root: the chain gives {mine.tree.root.hex()}, published {root}")
        doc = await _proof_doc(args, api, proof, report)
        if doc is not None:
            _check_proof(doc, root, mine, report)
    # The EL reward needs an execution node; this version takes the published figure.
    report.say("note: EL rewards are taken as published, not checked (docs/verify.md)")
    report.say("MISMATCH: see above" if report.mismatch else "VERIFIED")
    return EXIT_MISMATCH if report.mismatch else EXIT_AGREES


def main(args: argparse.Namespace) -> int:
    try:
        policy = parse_policy(args.policy or "")
        try:
            schedules = load_file(Path(args.delegations)).schedules()
        except (DelegationError, OSError) as exc:
            raise UsageError(f"--delegations: {exc}") from exc
        proof = None if args.proof is None else _read_proof(args.proof)
        return asyncio.run(run(args, policy, schedules, proof))
    except (UsageError, ChainError, ApiError, OSError, ValueError, KeyError) as exc:
        print(f"stakepool verify: {exc}", file=sys.stderr)
        return EXIT_UNVERIFIED
