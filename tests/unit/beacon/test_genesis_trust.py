"""Which root the nodes are trusted on: never one answer over another without a majority."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from stakepool.beacon.genesis_trust import choose_reference

ROOTS = st.sampled_from(["0x" + c * 64 for c in "abc"])


@st.composite
def answers(draw: st.DrawFn) -> tuple[dict[str, str], int]:
    nodes = draw(st.integers(1, 6))
    said = draw(st.lists(st.one_of(st.none(), ROOTS), min_size=nodes, max_size=nodes))
    return {f"http://n{i}": r for i, r in enumerate(said) if r is not None}, nodes


@given(answers(), ROOTS)
def test_a_configured_root_is_the_truth(case: tuple[dict[str, str], int], root: str) -> None:
    said, nodes = case
    ref = choose_reference(said, configured=root, nodes=nodes)
    assert (ref.root, ref.backed, ref.conflict) == (root, True, None)
    assert set(ref.outliers) == {u for u, r in said.items() if r != root}


@given(answers())
def test_without_a_configured_root(case: tuple[dict[str, str], int]) -> None:
    said, nodes = case
    ref = choose_reference(said, configured=None, nodes=nodes)
    counts = Counter(said.values())
    if not counts:
        assert ref.root is None
        assert ref.conflict is None
        return
    top, votes = counts.most_common(1)[0]
    if 2 * votes > nodes:  # a strict majority of all configured nodes: backed, minority out
        assert (ref.root, ref.backed) == (top, True)
        assert set(ref.outliers) == {u for u, r in said.items() if r != top}
    elif len(counts) == 1:  # the answering nodes agree, the rest are silent: provisional
        assert (ref.root, ref.backed, ref.outliers) == (top, False, ())
    else:  # disagreement without a majority: nobody wins, nobody is excluded
        assert ref.root is None
        assert ref.outliers == ()
        assert ref.conflict is not None
        assert "genesis_root" in ref.conflict
    # Never: a node excluded on the word of no more than half of the nodes.
    if ref.outliers:
        assert ref.backed
        assert 2 * sum(r == ref.root for r in said.values()) > nodes


def test_the_first_of_two_disagreeing_answers_does_not_win() -> None:
    ref = choose_reference({"a": "0x" + "7" * 64, "b": "0x" + "4" * 64}, configured=None, nodes=2)
    assert ref.root is None
    assert ref.outliers == ()
