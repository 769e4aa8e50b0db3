"""Producing and applying one block: withdrawals, slashings, exits, attestations, deposits, sync.

The operations run in ``process_block`` order on a copy of the pre-state, and every reward the
block pays is recorded beside it so the rewards endpoints replay nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from stakepool.sim import ids
from stakepool.sim.bits import bitlist_hex, bitvector_hex
from stakepool.sim.block_json import ChainView, assemble_block
from stakepool.sim.operations import initiate_exit, is_slashable, own_registry, slash_validator
from stakepool.sim.params import SimParams
from stakepool.sim.records import BlockRecord, BlockRewards, SyncRecord
from stakepool.sim.rewards import (
    FLAG_BITS,
    base_reward_per_increment,
    base_rewards,
    next_sweep_index,
    participation_flags,
    proposer_attestation_reward,
    sweep_withdrawals,
    sync_rewards,
)
from stakepool.sim.state import BeaconState, PendingDeposit


def _encode_aggregate(
    p: SimParams, committees: list[npt.NDArray[np.int64]], voted: npt.NDArray[np.bool_]
) -> tuple[str, str]:
    """(aggregation_bits, committee_bits): only committees with a participant are selected.

    ``voted`` is a registry-sized mask of this aggregate's attesters (one gather per committee
    instead of a set intersection, which matters at 64 committees of ~500).
    """
    chosen: list[npt.NDArray[np.bool_]] = []
    selected = np.zeros(p.max_committees_per_slot, dtype=np.bool_)
    for ci, members in enumerate(committees):
        bits = voted[members]
        if bits.any():
            selected[ci] = True
            chosen.append(bits)
    agg = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.bool_)
    return bitlist_hex(agg), bitvector_hex(selected)


def _attestations(view: ChainView, s: BeaconState) -> tuple[list[dict[str, Any]], int]:
    """Include pooled aggregates; set participation flags; return (JSON, proposer reward)."""
    p = view.params
    slot = s.slot
    epoch = p.epoch_of(slot)
    includable = [
        a
        for a in s.attestation_pool
        if a.ready_slot <= slot and a.target.epoch in (epoch, epoch - 1) and a.slot < slot
    ]
    # Fresh votes first (they still carry the head flag), then the oldest (they expire first).
    includable.sort(key=lambda a: (a.slot != slot - 1, a.slot))
    chosen = includable[: p.max_attestations]
    chosen_ids = {id(a) for a in chosen}
    s.attestation_pool = tuple(
        a for a in s.attestation_pool if id(a) not in chosen_ids and a.target.epoch >= epoch - 1
    )
    if not chosen:
        return [], 0
    brpi = base_reward_per_increment(p, s.total_active_balance)
    base = base_rewards(p, s.effective_balance, brpi)
    cur = s.current_participation.copy()
    prev = s.previous_participation.copy()
    out: list[dict[str, Any]] = []
    reward = 0
    voted = np.zeros(s.n, dtype=np.bool_)
    for agg in sorted(chosen, key=lambda a: a.slot):
        target_epoch = agg.target.epoch
        justified = s.current_justified if target_epoch == epoch else s.previous_justified
        if agg.source != justified:
            continue  # invalid in this chain; a real node would not include it either
        flags = participation_flags(
            p,
            source_ok=True,
            target_ok=agg.target.root == view.block_root_at_epoch(target_epoch),
            head_ok=agg.beacon_block_root == view.block_root_at_slot(agg.slot),
            delay=slot - agg.slot,
        )
        part = cur if target_epoch == epoch else prev
        idx = agg.attesters
        numerator = 0
        for flag, weight in enumerate(p.flag_weights):
            bit = FLAG_BITS[flag]
            if not flags & bit:
                continue
            new = idx[(part[idx] & bit) == 0]
            numerator += int(base[new].sum()) * weight
            part[new] |= np.uint8(bit)
        reward += proposer_attestation_reward(p, numerator)
        committees = view.committees(target_epoch).slot_committees(agg.slot % p.slots_per_epoch)
        voted[idx] = True
        aggregation_bits, committee_bits = _encode_aggregate(p, committees, voted)
        voted[idx] = False
        out.append(
            {
                "aggregation_bits": aggregation_bits,
                "data": agg.data_json(),
                "signature": ids.signature("att", agg.slot, agg.beacon_block_root, len(idx)),
                "committee_bits": committee_bits,
            }
        )
    s.current_participation = cur
    s.previous_participation = prev
    return out, reward


def produce_block(
    view: ChainView, pre: BeaconState, proposer: int, branch: str = ""
) -> tuple[BeaconState, BlockRecord]:
    """Apply a block proposed by ``proposer`` at ``pre.slot`` (``pre`` has had its slots processed)."""
    p = view.params
    s = pre.copy()
    slot = s.slot
    epoch = p.epoch_of(slot)
    parent_root = pre.latest_block_root
    balance = s.balance.copy()

    # process_withdrawals comes first, on the balances before this block's rewards.
    sweep = sweep_withdrawals(
        p,
        epoch=epoch,
        start_index=s.next_withdrawal_validator_index,
        balance=balance,
        effective_balance=s.effective_balance,
        credential_prefix=s.credential_prefix,
        withdrawable_epoch=s.withdrawable_epoch,
    )
    withdrawals_json = []
    for i, (v, amount) in enumerate(sweep):
        balance[v] -= amount
        withdrawals_json.append(
            {
                "index": str(s.next_withdrawal_index + i),
                "validator_index": str(v),
                "address": ids.address(v),
                "amount": str(amount),
            }
        )
    s.next_withdrawal_index += len(sweep)
    s.next_withdrawal_validator_index = next_sweep_index(
        p, s.n, s.next_withdrawal_validator_index, sweep
    )

    # Slashings from the operation pool.
    ready = [op for op in s.operation_pool if op.include_slot <= slot]
    proposer_ops = [op for op in ready if op.kind == "proposer"][: p.max_proposer_slashings]
    attester_ops = [op for op in ready if op.kind == "attester"][: p.max_attester_slashings]
    exit_ops = [op for op in ready if op.kind == "voluntary_exit"][: p.max_voluntary_exits]
    taken = {id(op) for op in (*proposer_ops, *attester_ops, *exit_ops)}
    s.operation_pool = tuple(op for op in s.operation_pool if id(op) not in taken)
    slashed: list[int] = []
    penalties: dict[int, int] = {}
    wb = {"proposer": 0, "attester": 0}
    included: dict[str, list[dict[str, Any]]] = {"proposer": [], "attester": []}
    for op in (*proposer_ops, *attester_ops):
        victims = [v for v in op.validators if is_slashable(s, v, epoch)]
        if not victims:
            continue
        if not slashed:
            own_registry(s)
        for v in victims:
            penalty, reward = slash_validator(p, s, balance, v, epoch=epoch, proposer=proposer)
            penalties[v] = penalty
            wb[op.kind] += reward
            slashed.append(v)
        included[op.kind].append(op.body)
    exits_json: list[dict[str, Any]] = []
    for op in exit_ops:
        v = op.validators[0]
        active = int(s.activation_epoch[v]) <= epoch < int(s.exit_epoch[v])
        if not active or int(s.exit_epoch[v]) != p.far_future_epoch:
            continue
        if not slashed and not exits_json:
            own_registry(s)
        initiate_exit(p, s, v, epoch)
        exits_json.append(op.body)

    s.balance = balance
    attestations, att_reward = _attestations(view, s)
    balance = s.balance
    balance[proposer] += att_reward

    # Deposit requests (EIP-6110): queued now, credited by a later epoch transition.
    deposits_json = []
    scheduled = sorted(view.scenario.deposits, key=lambda d: d.slot)
    pending = list(s.pending_deposits)
    while s.next_deposit_request_index < len(scheduled):
        dep = scheduled[s.next_deposit_request_index]
        if dep.slot > slot:
            break
        v = dep.validator
        creds = ids.withdrawal_credentials(v, int(s.credential_prefix[v]))
        sig = ids.signature("deposit", v, dep.amount_gwei, dep.slot)
        deposits_json.append(
            {
                "pubkey": ids.pubkey(v),
                "withdrawal_credentials": creds,
                "amount": str(dep.amount_gwei),
                "signature": sig,
                "index": str(s.next_deposit_request_index),
            }
        )
        pending.append(PendingDeposit(ids.pubkey(v), creds, dep.amount_gwei, sig, slot, v))
        s.next_deposit_request_index += 1
    s.pending_deposits = tuple(pending)

    # Sync aggregate: the committee signs the previous slot's head; paid per seat.
    seats = s.current_sync_committee
    bits = ~view.sync_offline(epoch)[seats]
    participant_reward, proposer_per_bit = sync_rewards(p, s.total_active_balance)
    net = np.where(bits, participant_reward, -participant_reward).astype(np.int64)
    delta = np.zeros_like(balance)
    np.add.at(delta, seats, net)
    np.maximum(balance + delta, 0, out=balance)
    sync_reward = proposer_per_bit * int(bits.sum())
    balance[proposer] += sync_reward
    s.balance = balance

    record = assemble_block(
        view,
        s,
        proposer=proposer,
        parent_root=parent_root,
        branch=branch,
        withdrawals_json=withdrawals_json,
        included=included,
        exits=exits_json,
        attestations=attestations,
        deposits_json=deposits_json,
        bits=bits,
        rewards=BlockRewards(proposer, att_reward, sync_reward, wb["proposer"], wb["attester"]),
        sync=SyncRecord(participant_reward, seats, bits),
    )
    record.slashed = tuple(slashed)
    record.initial_penalties = penalties
    return s, record
