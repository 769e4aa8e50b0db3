"""The query parts ``BeaconClient`` is composed of, one per area of the Beacon API.

Each part owns its endpoints completely: the route, the request (ids normalised and chunked, the
timeout chosen), the parsing into the model, and the endpoint's fallbacks. Grouped as the API's
own namespaces group them, so a caller finds an endpoint where the spec lists it:

* ``node`` (``NodeQueries``): genesis, config spec, syncing, version, health;
* ``state`` (``StateQueries``): ``/beacon/states/{state_id}/…``, with the stand-in fallback for a
  slot's state the node cannot serve;
* ``blocks`` (``BlockQueries``): headers, blocks, blinded blocks, a block's attestations;
* ``duties`` (``DutyQueries``): ``/validator/…``: proposer, attester and sync duties, liveness;
* ``rewards`` (``RewardQueries``): ``/beacon/rewards/…``;
* ``op_pool`` (``OpPoolQueries``): ``/beacon/pool/…`` slashings and voluntary exits.

The parts share one ``Requester`` (the node pool plus batch sizes and the bulk timeout). Where a
part needs another's answer, it holds that part: ``state`` and ``duties`` read ``SLOTS_PER_EPOCH``
from ``node``; the stand-in fallback of ``state`` asks ``blocks`` for headers.
"""

from stakepool.beacon.queries.blocks import BlockQueries
from stakepool.beacon.queries.duties import DutyQueries
from stakepool.beacon.queries.node import NodeQueries
from stakepool.beacon.queries.op_pool import OpPoolQueries
from stakepool.beacon.queries.rewards import RewardQueries
from stakepool.beacon.queries.state import StateQueries

__all__ = [
    "BlockQueries",
    "DutyQueries",
    "NodeQueries",
    "OpPoolQueries",
    "RewardQueries",
    "StateQueries",
]
