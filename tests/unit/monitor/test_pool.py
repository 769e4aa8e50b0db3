"""Configured validators are matched to the chain by index or pubkey."""

from __future__ import annotations

from stakepool.config import parse_validator_ref
from stakepool.monitor.pool import resolve_pool


def _pk(i: int) -> str:
    return "0x" + f"{i:02x}" * 48


def test_indices_and_pubkeys_resolve_with_labels() -> None:
    refs = [parse_validator_ref(r) for r in (5, f"{_pk(7).upper()[:2]}{_pk(7)[2:]},vc-2", "9,g")]
    known = [(5, _pk(5)), (7, _pk(7)), (9, _pk(9))]
    res = resolve_pool(refs, known)
    assert [(m.index, m.pubkey, m.label) for m in res.members] == [
        (5, _pk(5), None),
        (7, _pk(7), "vc-2"),
        (9, _pk(9), "g"),
    ]
    assert res.unknown == ()


def test_unknown_ids_are_reported_not_invented() -> None:
    refs = [parse_validator_ref(r) for r in (1, 99, _pk(42))]
    res = resolve_pool(refs, [(1, _pk(1))])
    assert [m.index for m in res.members] == [1]
    assert res.unknown == ("99", _pk(42))


def test_same_validator_by_index_and_pubkey_counts_once() -> None:
    refs = [parse_validator_ref(r) for r in (3, _pk(3))]
    res = resolve_pool(refs, [(3, _pk(3))])
    assert len(res.members) == 1
