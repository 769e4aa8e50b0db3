"""The plausibility bounds hold every reward and penalty the spec can produce in one window.

A small reference model restates the Altair+ formulas (accounting.md §2.1–2.4, 2.6): attestation
flags of ``k − 2`` with network participation, sync seats per slot with a block, the initial
slashing penalty. Whatever the chain does within the stated TAB range, the settlement lies inside
the bounds; and a change the protocol cannot make (a stray gwei million on a quiet validator of a
big chain) lies outside.
"""

from __future__ import annotations

from math import isqrt

from hypothesis import given
from hypothesis import strategies as st

from stakepool.rewards.plausible import ChainScale, settlement_bounds

EBI = 10**9
WEIGHTS = (14, 26, 14)


@st.composite
def chains(draw: st.DrawFn) -> tuple[ChainScale, int]:
    lo = draw(st.integers(EBI, 2**27 * EBI))
    tab = draw(st.integers(lo, 2**27 * EBI))
    hi = draw(st.integers(tab, 2**27 * EBI))
    spe = draw(st.sampled_from([8, 32]))
    size = draw(st.sampled_from([32, 512]))
    quotient = draw(st.sampled_from([128, 64, 32, 4096]))  # phase0, Altair, Bellatrix+, Electra
    return ChainScale(spe, EBI, 64, size, lo, hi, quotient), tab


def spec_settlement(
    scale: ChainScale,
    tab: int,
    eb: int,
    flags: tuple[bool, bool, bool],
    participation: tuple[int, int, int],
    seats: int,
    sync_bits: list[tuple[bool, bool]],
    slashed_now: bool,
) -> int:
    """One window of a validator that does not propose, outside a leak (reference model)."""
    brpi = EBI * scale.base_reward_factor // isqrt(max(EBI, tab))
    base = eb // EBI * brpi
    active_inc = max(EBI, tab) // EBI
    total = 0
    for hit, weight, part in zip(flags, WEIGHTS, participation, strict=True):
        if hit and not slashed_now:
            total += base * weight * min(part, active_inc) // (active_inc * 64)
    if not flags[0]:
        total -= base * 14 // 64
    if not flags[1]:
        total -= base * 26 // 64
    participant = brpi * active_inc * 2 // 64 // scale.slots_per_epoch // scale.sync_committee_size
    for block, bit in sync_bits[: scale.slots_per_epoch]:
        if block:
            total += seats * participant if bit else -seats * participant
    if slashed_now:
        total -= eb // scale.slashing_quotient
    return total


@given(
    chains(),
    st.integers(0, 2048).map(lambda e: e * EBI),
    st.tuples(st.booleans(), st.booleans(), st.booleans()),
    st.tuples(st.integers(0, 2**27), st.integers(0, 2**27), st.integers(0, 2**27)),
    st.integers(0, 4),
    st.lists(st.tuples(st.booleans(), st.booleans()), min_size=32, max_size=32),
    st.booleans(),
)
def test_every_spec_outcome_is_within_the_bounds(
    chain: tuple[ChainScale, int],
    eb: int,
    flags: tuple[bool, bool, bool],
    participation: tuple[int, int, int],
    seats: int,
    sync_bits: list[tuple[bool, bool]],
    slashed_now: bool,
) -> None:
    scale, tab = chain
    actual = spec_settlement(scale, tab, eb, flags, participation, seats, sync_bits, slashed_now)
    bounds = settlement_bounds(
        scale,
        effective_balance=eb,
        sync_seats=seats,
        proposed=False,
        slashed=False,  # slashed during the window: only the initial penalty, which is allowed for
        leak_possible=False,
    )
    assert bounds.admits(actual), (actual, bounds)


@given(chains(), st.integers(1, 2048), st.integers(0, 4), st.booleans(), st.booleans())
def test_the_bounds_only_widen_with_what_is_unknown(
    chain: tuple[ChainScale, int], increments: int, seats: int, slashed: bool, leak: bool
) -> None:
    scale, _tab = chain
    eb = increments * EBI
    plain = settlement_bounds(
        scale,
        effective_balance=eb,
        sync_seats=seats,
        proposed=False,
        slashed=False,
        leak_possible=False,
    )
    wider = settlement_bounds(
        scale,
        effective_balance=eb,
        sync_seats=seats + 1,
        proposed=True,
        slashed=slashed,
        leak_possible=leak,
    )
    assert plain.low is not None
    assert plain.high is not None
    assert plain.low <= 0 <= plain.high
    assert wider.high is None  # a proposer's block may pay anything whistleblowing brings
    assert wider.low is None or wider.low <= plain.low


def test_a_stray_million_gwei_on_a_quiet_mainnet_validator_is_refused() -> None:
    # 34 M ETH staked (accounting.md's reference), a 32-ETH validator outside the sync committee:
    # a perfect epoch pays ~9,261 Gwei; the bound is a little above the base reward.
    scale = ChainScale(32, EBI, 64, 512, 30_000_000 * EBI, 2**27 * EBI, 4096)
    bounds = settlement_bounds(
        scale,
        effective_balance=32 * EBI,
        sync_seats=0,
        proposed=False,
        slashed=False,
        leak_possible=False,
    )
    assert bounds.admits(9_261)
    assert bounds.admits(-6_940 - 7_812_500)  # missed everything and slashed in the window
    assert not bounds.admits(9_261 + 1_000_000)
    assert not bounds.admits(-10_000_000)


def test_a_slashing_before_electra_is_admitted_at_its_forks_size() -> None:
    # Altair slashes 32 ETH // 64 = 0.5 ETH at once: a window with it is the protocol's doing.
    altair = ChainScale(8, EBI, 64, 32, 56 * 32 * EBI, 2**27 * EBI, 64)
    electra = ChainScale(8, EBI, 64, 32, 56 * 32 * EBI, 2**27 * EBI, 4096)
    quiet = {
        "effective_balance": 32 * EBI,
        "sync_seats": 0,
        "proposed": False,
        "slashed": False,
        "leak_possible": False,
    }
    assert settlement_bounds(altair, **quiet).admits(-500_894_420)  # seen on Lodestar v1.5.1
    assert not settlement_bounds(electra, **quiet).admits(-500_894_420)
