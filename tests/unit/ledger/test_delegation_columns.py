"""A big delegations file's columns: the shortcuts a first load takes must mean what they say."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stakepool.ledger.delegations import DelegationColumns, parse_csv
from stakepool.ledger.store.delegations_applied import digest

_row = st.tuples(
    st.sampled_from(["a", "b", "c", "d", "0x1", "0x10", "B"]),
    st.integers(-1, 5),
    st.integers(0, 6),
    st.one_of(st.none(), st.integers(0, 7)),
)


@given(st.lists(_row, max_size=8))
def test_simple_and_ascending_mean_what_a_first_load_relies_on(
    rows: list[tuple[str, int, int, int | None]],
) -> None:
    """``simple``: each delegator once, every amount positive, every range non-empty (then each
    entry is its own schedule); ``ascending``: strictly sorted ids, which alone proves each once."""
    ids = [r[0] for r in rows]
    columns = DelegationColumns(
        ids, [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows]
    )
    once = len(set(ids)) == len(ids)
    positive = all(r[1] > 0 for r in rows)
    non_empty = all(r[3] is None or r[3] > r[2] for r in rows)
    assert columns.simple() == (once and positive and non_empty)
    assert columns.ascending() == (ids == sorted(set(ids)))


def test_the_digest_of_a_set_is_the_one_earlier_releases_remembered() -> None:
    """The daemon remembers the digest of the last whole set applied, so that the same file at
    the next start changes nothing without reading a million schedules: a release that hashed
    the same set differently would make every operator's first restart after an upgrade pay the
    whole comparison. The value below is what the release before this hashing change gave."""
    text = (
        "delegator,amount_gwei,from_epoch,to_epoch\n"
        "alice,5,1,9\nbob,7,3,\n0x52908400098527886E0F7030069857D2E4169EE7,2,0,\n"
    )
    delegations = parse_csv(text, "f.csv")
    assert (
        digest(delegations, replace_all=True, spare_source="api")
        == "d406ff938087cd5ac2ccc722526997e81986f2188cd0d4be29487162ca34fc4e"
    )
