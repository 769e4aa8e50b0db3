"""Fast JSON for the big registry answers (validators, balances): string joins, no models.

100k entries must serialise in well under a second, so the arrays are turned into Python lists
once and each entry is one f-string.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from stakepool.sim import ids
from stakepool.sim.state import BeaconState

STATUSES = (
    "pending_initialized",
    "pending_queued",
    "active_ongoing",
    "active_exiting",
    "active_slashed",
    "exited_unslashed",
    "exited_slashed",
    "withdrawal_possible",
    "withdrawal_done",
)
STATUS_GROUPS = {
    "pending": {"pending_initialized", "pending_queued"},
    "active": {"active_ongoing", "active_exiting", "active_slashed"},
    "exited": {"exited_unslashed", "exited_slashed"},
    "withdrawal": {"withdrawal_possible", "withdrawal_done"},
}


def status_codes(
    s: BeaconState, epoch: int, idx: npt.NDArray[np.int64], far_future: int
) -> npt.NDArray[np.int64]:
    """Index into ``STATUSES`` per validator, by the Beacon API decision tree."""
    e = np.uint64(epoch)
    far = np.uint64(far_future)
    act = s.activation_epoch[idx]
    exit_ = s.exit_epoch[idx]
    wd = s.withdrawable_epoch[idx]
    slashed = s.slashed[idx]
    code = np.full(len(idx), 8, dtype=np.int64)
    code = np.where(s.balance[idx] > 0, 7, code)
    code = np.where(e < wd, np.where(slashed, 6, 5), code)
    active = (act <= e) & (e < exit_)
    code = np.where(active, np.where(slashed, 4, np.where(exit_ == far, 2, 3)), code)
    pending = act > e
    pending_code = np.where(s.activation_eligibility_epoch[idx] == far, 0, 1)
    out: npt.NDArray[np.int64] = np.where(pending, pending_code, code)
    return out


def filter_statuses(codes: npt.NDArray[np.int64], wanted: list[str]) -> npt.NDArray[np.bool_]:
    names: set[str] = set()
    for w in wanted:
        if w in STATUS_GROUPS:
            names |= STATUS_GROUPS[w]
        elif w in STATUSES:
            names.add(w)
        else:
            raise ValueError(f"Invalid validator status: {w}")
    allowed = np.array([STATUSES.index(n) for n in sorted(names)], dtype=np.int64)
    return np.isin(codes, allowed)


def validators_json(
    s: BeaconState, idx: npt.NDArray[np.int64], codes: npt.NDArray[np.int64]
) -> str:
    """The ``data`` array of ``states/{id}/validators``."""
    bal = s.balance[idx].tolist()
    eb = s.effective_balance[idx].tolist()
    slashed = s.slashed[idx].tolist()
    elig = s.activation_eligibility_epoch[idx].tolist()
    act = s.activation_epoch[idx].tolist()
    exit_ = s.exit_epoch[idx].tolist()
    wd = s.withdrawable_epoch[idx].tolist()
    prefix = s.credential_prefix[idx].tolist()
    status = [STATUSES[c] for c in codes.tolist()]
    parts = []
    for k, i in enumerate(idx.tolist()):
        parts.append(
            f'{{"index":"{i}","balance":"{bal[k]}","status":"{status[k]}","validator":'
            f'{{"pubkey":"{ids.pubkey(i)}","withdrawal_credentials":'
            f'"{ids.withdrawal_credentials(i, prefix[k])}","effective_balance":"{eb[k]}",'
            f'"slashed":{"true" if slashed[k] else "false"},'
            f'"activation_eligibility_epoch":"{elig[k]}","activation_epoch":"{act[k]}",'
            f'"exit_epoch":"{exit_[k]}","withdrawable_epoch":"{wd[k]}"}}}}'
        )
    return "[" + ",".join(parts) + "]"


def identities_json(s: BeaconState, idx: npt.NDArray[np.int64]) -> str:
    act = s.activation_epoch[idx].tolist()
    return (
        "["
        + ",".join(
            f'{{"index":"{i}","pubkey":"{ids.pubkey(i)}","activation_epoch":"{a}"}}'
            for i, a in zip(idx.tolist(), act, strict=True)
        )
        + "]"
    )


def balances_json(s: BeaconState, idx: npt.NDArray[np.int64]) -> str:
    bal = s.balance[idx].tolist()
    return (
        "["
        + ",".join(
            f'{{"index":"{i}","balance":"{b}"}}' for i, b in zip(idx.tolist(), bal, strict=True)
        )
        + "]"
    )
