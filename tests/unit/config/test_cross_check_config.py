"""``[beacon] cross_check`` needs a witness: a second node in ``urls``."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stakepool.config import BeaconSettings


def test_a_witness_is_the_second_url() -> None:
    beacon = BeaconSettings(urls=["http://a:5052", "http://b:5052"], cross_check=True)
    assert beacon.cross_check


def test_cross_check_without_a_second_node_is_refused() -> None:
    with pytest.raises(ValidationError, match="cross_check needs a second beacon node"):
        BeaconSettings(urls=["http://a:5052"], cross_check=True)
