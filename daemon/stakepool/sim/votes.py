"""Attestation votes of one slot, grouped into pool aggregates by data and inclusion delay."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from stakepool.sim import ids
from stakepool.sim.params import SimParams
from stakepool.sim.state import Checkpoint, PendingAggregate


def cast_votes(
    p: SimParams,
    *,
    slot: int,
    members: npt.NDArray[np.int64],
    offline: npt.NDArray[np.bool_],
    delay: npt.NDArray[np.int64],
    wrong: npt.NDArray[np.int8],
    head_root: str,
    target_root: str,
    source: Checkpoint,
) -> tuple[PendingAggregate, ...]:
    """One aggregate per (data, delay): correct, wrong-head and wrong-target voters differ in data."""
    voters = members[~offline[members]]
    if len(voters) == 0:
        return ()
    epoch = p.epoch_of(slot)
    kinds = wrong[voters].astype(np.int64)
    delays = delay[voters]
    key = kinds * 1_000_000 + delays
    out: list[PendingAggregate] = []
    for k in np.unique(key).tolist():
        kind, d = divmod(int(k), 1_000_000)
        attesters = np.sort(voters[key == k])
        head = head_root
        target = Checkpoint(epoch, target_root)
        if kind == 1:
            head = ids.digest("wrong-head", slot)
        elif kind == 2:
            head = ids.digest("wrong-head", slot)
            target = Checkpoint(epoch, ids.digest("wrong-target", epoch))
        out.append(PendingAggregate(slot, slot + d, head, source, target, attesters))
    return tuple(out)
