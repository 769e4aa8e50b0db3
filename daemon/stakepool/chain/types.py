"""Typed identifiers of the consensus layer.

They are ``NewType``s over ``int``/``str``: free at run time, distinct for mypy, so a slot is never
passed where an epoch is expected. Money is ``Gwei`` (consensus layer) or ``Wei`` (execution layer),
always ``int``.
"""

from typing import NewType

Slot = NewType("Slot", int)
Epoch = NewType("Epoch", int)
ValidatorIndex = NewType("ValidatorIndex", int)
CommitteeIndex = NewType("CommitteeIndex", int)
Gwei = NewType("Gwei", int)
Wei = NewType("Wei", int)
Root = NewType("Root", str)
"""A 32-byte root as ``0x`` + 64 lowercase hex characters."""
BLSPubkey = NewType("BLSPubkey", str)
"""A 48-byte BLS public key as ``0x`` + 96 lowercase hex characters."""

FAR_FUTURE_EPOCH = Epoch(2**64 - 1)
VALIDATOR_REGISTRY_LIMIT = 2**40
"""The spec's bound on the registry: no validator index reaches it."""
"""The protocol's "never" epoch (``FAR_FUTURE_EPOCH``); a node's spec may restate it."""
ZERO_ROOT = Root("0x" + "00" * 32)
