"""Successive delegation files applied at epoch boundaries, through the real store: the weights the
ledger settles with, its delegator counts, every share and the dust all match a model computed
from scratch (file j governs the epochs from its boundary until the next file's)."""

from __future__ import annotations

import tempfile
from fractions import Fraction
from functools import partial

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stakepool.ledger.delegations import Delegation, DelegationSet, weight_at
from stakepool.ledger.policy import LedgerPolicy
from stakepool.ledger.settlement import EpochSettlementInput
from stakepool.ledger.store import delegations_sql, ledger_read, ledger_write
from tests.integration.conftest import NewTarget
from tests.integration.store.ledgerkit import open_db

EPOCHS = 12
entry = st.builds(
    Delegation,
    st.sampled_from(["a", "b", "c", "d"]),
    st.integers(1, 10**12),
    st.integers(0, EPOCHS),
    st.none() | st.integers(EPOCHS + 1, EPOCHS + 3),
)
# Each step: (epochs to settle before applying the next file, the file's entries).
steps = st.lists(
    st.tuples(st.integers(0, 4), st.lists(entry, max_size=6), st.booleans()), min_size=1, max_size=4
)
results = st.lists(st.integers(-(10**8), 10**10), min_size=EPOCHS, max_size=EPOCHS)


def _fix(e: Delegation) -> Delegation:
    # to_epoch must be after from_epoch; the strategy draws them independently.
    return (
        e
        if e.to_epoch is None or e.to_epoch > e.from_epoch
        else Delegation(e.delegator, e.amount_gwei, e.from_epoch)
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps, results)
def test_files_at_boundaries_settle_with_exactly_the_expected_weights(
    new_target: NewTarget, plan: list[tuple[int, list[Delegation], bool]], rewards: list[int]
) -> None:
    """``replace`` True: a file (unlisted delegators drop to 0); False: an API call (only the
    listed delegators' schedules change)."""
    policy = LedgerPolicy(fee_bps=300, fee_mode="per_epoch_positive")
    names = ["a", "b", "c", "d"]
    governing: dict[str, list[tuple[int, list[tuple[int, int]]]]] = {d: [] for d in names}
    with tempfile.TemporaryDirectory():
        db = open_db(new_target())
        epoch = 0
        for settle_first, entries, replace in plan:
            for _ in range(settle_first):
                if epoch < EPOCHS:
                    inp = EpochSettlementInput(epoch, rewards[epoch], None)
                    db.write_sync(partial(ledger_write.settle, inp=inp, policy=policy))
                    epoch += 1
            dset = DelegationSet(tuple(_fix(e) for e in entries), "file")
            result = db.write_sync(
                partial(delegations_sql.apply_delegations, delegations=dset, replace_all=replace)
            )
            schedules = dset.schedules()
            for d in names:
                if replace or d in schedules:
                    governing[d].append((result.effective_epoch, schedules.get(d, [])))
        while epoch < EPOCHS:
            inp = EpochSettlementInput(epoch, rewards[epoch], None)
            db.write_sync(partial(ledger_write.settle, inp=inp, policy=policy))
            epoch += 1

        def expected(delegator: str, k: int) -> int:
            in_force = [sched for b, sched in governing[delegator] if b <= k]
            return weight_at(in_force[-1], k) if in_force else 0

        rows = db.read_sync(
            lambda c: list(
                c.execute(
                    "SELECT epoch, distributed_gwei, total_weight_gwei, delegators"
                    " FROM ledger_epochs ORDER BY epoch"
                )
            )
        )
        exact = dict.fromkeys(names, Fraction(0))
        for k, distributed, total_weight, count in rows:
            weights = {d: expected(d, k) for d in names}
            assert total_weight == sum(weights.values()), k
            assert count == sum(1 for w in weights.values() if w > 0), k
            for d in names:
                if total_weight:
                    exact[d] += Fraction(distributed * weights[d], total_weight)
        credited = 0
        for d in names:
            detail = db.read_sync(partial(ledger_read.delegator, delegator_id=d))
            accrued = 0 if detail is None else detail.accrued_gwei.total
            assert abs(accrued - exact[d]) <= 1, d
            credited += accrued
        distributed_total = sum(r[1] for r in rows)
        known = db.read_sync(lambda c: c.execute("SELECT COUNT(*) FROM delegators").fetchone()[0])
        assert 0 <= distributed_total - credited < max(known, 1)  # the dust
        db.close()
