"""Per-validator, per-epoch rewards: balance-based settlement, endpoint explanation, residual.

No re-exports here: importing a pure module (``maths``, ``window``, ``explaining``, ``settling``)
must not load the fetcher and, through it, the network stack. Import from the module that holds
the name (``rewards.fetcher.RewardsFetcher``, ``rewards.tracker.RewardsTracker`` …).
"""
