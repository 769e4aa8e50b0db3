"""``[monitor] not_started`` as the validator indices the doppelganger watch protects."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from stakepool.chain.types import ValidatorIndex
from stakepool.config.sections import MonitorSettings
from stakepool.monitor.doppelganger_watch import DoppelgangerKeys
from stakepool.monitor.pool import PoolMember

log = structlog.get_logger("stakepool")


def doppelganger_keys(settings: MonitorSettings, members: Sequence[PoolMember]) -> DoppelgangerKeys:
    """Indices as given; pubkeys through the resolved pool (an unknown one is logged)."""
    by_pubkey = {m.pubkey.lower(): m.index for m in members}
    indices: set[ValidatorIndex] = set()
    for ref in settings.not_started:
        if ref.index is not None:
            indices.add(ValidatorIndex(ref.index))
        elif ref.pubkey is not None and ref.pubkey in by_pubkey:
            indices.add(by_pubkey[ref.pubkey])
        else:
            log.warning("not_started_key_unknown", pubkey=ref.pubkey, hint="not a pool key")
    return DoppelgangerKeys(tuple(sorted(indices)), vc_wait=settings.vc_doppelganger_wait)
