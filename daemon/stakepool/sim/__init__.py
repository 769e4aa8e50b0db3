"""A simulated beacon node: a spec-faithful small chain behind the standard REST API and SSE.

Layers, from pure to served:

* ``presets`` / ``params``: spec dictionaries (``spec_for``) and the numbers parsed from them.
* ``rewards``, ``epoch``, ``block``, ``votes``, ``shuffling``: the consensus maths (numpy, no I/O).
* ``chain.SimChain``: the chain in memory; ``advance_slot()`` moves time by one slot.
* ``history.ChainHistory``: the blocks and states it keeps, and what it prunes like a real node.
* ``scenario.SimScenario``: what goes wrong and when (offline, late, wrong votes, missed and
  orphaned blocks, slashings, exits, deposits, finality stalls, compounding validators).
* ``server.SimServer``: the aiohttp app (``routes_*``), SSE (``routes_events``), ``faults``.
* ``main.run_sim`` / ``cli.run_sim_command`` (``stakepool sim``), ``demo.demo_chain_server``.
"""
