"""The Beacon API boundary: the only package that knows URLs and JSON shapes.

``BeaconClient`` (the composition root: multi-node failover, retries, health, the genesis check,
and the query parts ``node``, ``state``, ``blocks``, ``duties``, ``rewards``, ``op_pool``),
``EventStream`` (SSE with a polling fallback), the typed errors, and the wire models in
``stakepool.beacon.models``.

The rooms, from the wire up: ``transport`` (one node over HTTP, retries) → ``health`` and
``status`` (what an answer means) → ``failover`` (the node pool) → ``parsing`` and ``requester``
(typed GET/POST, chunking via ``batching``) → ``queries/`` (one part per API area; the stand-in
rule of ``state_fallback``) → ``client``. The event stream: ``sse``, ``topics``, ``polling``,
``dedupe`` → ``stream``.

How to add an endpoint: its URL goes in ``routes.py`` (one ``Route``; ``data_404=True`` where a
404 means "no such data"), the shape of its answer in ``models/`` (a frozen ``WireModel``), and
one async function in the part of ``queries/`` whose API area it belongs to, which does the rest:
request, batching, fallbacks. Callers then use ``client.<part>.<function>(...)``; nothing else
changes (no pass-through on ``BeaconClient``).

No re-exports here: the wire models (``beacon.models``) are read by pure modules (the monitor's
trackers, the rewards maths), which must import without the HTTP client.
"""
