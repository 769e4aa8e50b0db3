"""The pool ledger: delegations, fee and loss policy, the reward-per-weight accumulator, the store."""
