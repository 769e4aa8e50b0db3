"""Delegations files and API bodies: whole-or-nothing validation with errors that name the place."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stakepool.ledger import delegations
from stakepool.ledger.delegations import (
    Delegation,
    DelegationError,
    DelegationSet,
    load_file,
    parse_csv,
    parse_json,
    parse_toml,
    schedule_of,
    weight_at,
)

TOML = """
# two entries of one delegator add up; to_epoch is exclusive
[[delegation]]
delegator = "alice"
amount_gwei = 32000000000
from_epoch = 10

[[delegation]]
delegator = "alice"
amount_gwei = 8000000000
from_epoch = 12
to_epoch = 20

[[delegation]]
delegator = "bob"
amount_gwei = "1000"
from_epoch = 11
"""


def test_toml_entries_of_one_delegator_add_up_and_to_epoch_is_exclusive() -> None:
    schedules = parse_toml(TOML, "d.toml").schedules()
    alice = schedules["alice"]
    assert [weight_at(alice, e) for e in (9, 10, 12, 19, 20)] == [
        0,
        32 * 10**9,
        40 * 10**9,
        40 * 10**9,
        32 * 10**9,
    ]
    assert schedules["bob"] == [(11, 1000)]


def test_csv_with_header_and_optional_to_epoch(tmp_path: Path) -> None:
    path = tmp_path / "delegations.csv"
    path.write_text(
        "delegator,amount_gwei,from_epoch,to_epoch\n# comment\nalice,5,1,\nalice,5,2,4\nbob,7,0,1\n"
    )
    schedules = load_file(path).schedules()
    assert schedules == {"alice": [(1, 5), (2, 10), (4, 5)], "bob": [(0, 7), (1, 0)]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "delegator,amount_gwei,from_epoch,to_epoch\nalice,5,1,\nbob,-3,1,\n",
            "d.csv:3: amount_gwei",
        ),
        ("delegator,amount_gwei,from_epoch,to_epoch\nalice,5,4,4\n", "d.csv:2: to_epoch (4)"),
        ("delegator,amount_gwei,from_epoch,to_epoch\nal ice,5,4,\n", "d.csv:2: delegator"),
        ("delegator,amount_gwei,from_epoch,to_epoch\nalice,5\n", "d.csv:2: expected 3 or 4"),
        ("who,what\nalice,5,1\n", "d.csv:1: expected the header"),
        ("delegator,amount_gwei,from_epoch,to_epoch\nalice,1.5,1,\n", "d.csv:2: amount_gwei"),
        ("", "d.csv: empty file"),
    ],
)
def test_a_bad_csv_is_rejected_whole_naming_file_and_line(text: str, message: str) -> None:
    with pytest.raises(DelegationError) as info:
        parse_csv(text, "d.csv")
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            TOML + '\n[[delegation]]\ndelegator = "carol"\nfrom_epoch = 1\n',
            "d.toml:19 (delegation #4): amount_gwei is missing",
        ),
        (
            '[[delegation]]\ndelegator = "x"\namount_gwei = 1\nfrom_epoch = 1\nto = 3\n',
            "unknown key(s) to",
        ),
        ("[delegations]\n", "unknown top-level key(s) delegations"),
        ("[[delegation]\n", "not valid TOML"),
        (
            '[[delegation]]\ndelegator = "x"\namount_gwei = true\nfrom_epoch = 1\n',
            "amount_gwei must be an integer",
        ),
    ],
)
def test_a_bad_toml_is_rejected_whole_naming_the_entry(text: str, message: str) -> None:
    with pytest.raises(DelegationError) as info:
        parse_toml(text, "d.toml")
    assert message in str(info.value)


def test_api_body_accepts_decimal_strings_and_names_the_bad_entry() -> None:
    body = {"delegations": [{"delegator": "a", "amount_gwei": "10", "from_epoch": 3}]}
    assert parse_json(body).schedules() == {"a": [(3, 10)]}
    with pytest.raises(DelegationError, match=r"delegations\[1\]: from_epoch is missing"):
        parse_json({"delegations": [body["delegations"][0], {"delegator": "b", "amount_gwei": 1}]})


def test_schedule_of_drops_points_that_change_nothing() -> None:

    entries = [Delegation("a", 5, 1, 3), Delegation("a", 5, 3)]
    assert schedule_of(entries) == [(1, 5)]


_cell = st.one_of(
    st.from_regex(r"[0-9]{0,21}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9_.:@+\-]{0,130}", fullmatch=True),
    st.sampled_from(["", " 7 ", "-1", "0", "00000000000000000000001", "1e9", "#x", "٣", "x y"]),
)


@given(st.lists(_cell, min_size=3, max_size=4))
def test_the_quick_path_for_plain_rows_reads_them_as_the_full_path_does(cells: list[str]) -> None:
    """A big file's rows take a shorter path: whatever it accepts, the full path accepts as the
    same delegation; whatever it declines goes to the full path (and its worded refusal)."""
    plain = delegations._plain_row(cells)
    try:
        full: Delegation | None = delegations._entry(
            dict(zip(delegations.CSV_HEADER, cells, strict=False)), "f.csv:2"
        )
    except DelegationError:
        full = None
    if plain is not None:
        assert plain == full
    text = "delegator,amount_gwei,from_epoch,to_epoch\n" + ",".join(cells) + "\n"
    if full is not None:
        assert parse_csv(text, "f.csv").entries == (full,)


@given(
    st.lists(
        st.builds(
            Delegation,
            st.sampled_from(["a", "b", "c"]),
            st.integers(0, 10**12),
            st.integers(0, 20),
            st.none() | st.integers(0, 25),
        ),
        max_size=6,
    )
)
def test_the_schedules_of_a_set_are_those_of_its_entries_summed(entries: list[Delegation]) -> None:
    """One-entry delegators take a shortcut; every delegator's schedule is still exactly the
    change points of its summed entries, in delegator order."""
    got = DelegationSet(tuple(entries), "t").schedules()
    expected = {
        d: schedule_of([e for e in entries if e.delegator == d])
        for d in sorted({e.delegator for e in entries})
    }
    assert got == expected
    assert list(got) == sorted(got)


_line = st.lists(_cell, min_size=3, max_size=4).map(",".join)


@given(st.lists(_line, max_size=8), st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_a_file_read_in_bulk_reads_as_row_by_row(
    lines: list[str], newline: str, three_columns: bool
) -> None:
    """A big file's plain form is read as columns in one pass; whatever it accepts, the row-by-row
    path (here forced by a comment line) reads as the same delegations; whatever it declines
    takes that path and its worded refusal."""
    header = ",".join(delegations.CSV_HEADER[:3] if three_columns else delegations.CSV_HEADER)
    text = newline.join([header, *lines]) + newline
    by_row = newline.join([header, "# forces the row-by-row path", *lines]) + newline
    try:
        expected: DelegationSet | None = parse_csv(by_row, "f.csv")
    except DelegationError:
        expected = None
    bulk = delegations._plain_file(text, "f.csv")
    if bulk is not None:
        assert expected is not None
        assert bulk.entries == expected.entries
        assert bulk.schedules() == expected.schedules()
    if expected is None:
        with pytest.raises(DelegationError):
            parse_csv(text, "f.csv")
    else:
        assert parse_csv(text, "f.csv") == expected


def test_a_plain_file_is_read_in_bulk_and_sums_are_still_bounded() -> None:
    header = ",".join(delegations.CSV_HEADER)
    plain = f"{header}\nbob,7,3,\nalice,5,1,9\n"
    read = delegations._plain_file(plain, "f.csv")
    assert read is not None
    assert read.entries == (Delegation("bob", 7, 3), Delegation("alice", 5, 1, 9))
    assert read.schedules() == {"alice": [(1, 5), (9, 0)], "bob": [(3, 7)]}
    # Each amount fits, the sum does not: the row-by-row path sums it and names the epoch.
    big = 10**18 - 1
    too_much = f"{header}\n" + "".join(f"d{i},{big},0,\n" for i in range(10))
    assert delegations._plain_file(too_much, "f.csv") is None
    with pytest.raises(DelegationError, match="add up to"):
        parse_csv(too_much, "f.csv")
