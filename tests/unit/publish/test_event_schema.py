"""``deploy/mqtt/event.schema.json`` accepts every payload the daemon can publish and refuses the
mistakes a consumer would trip over (a missing field, a float amount, another schema version)."""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import typing
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # a dev dependency's dependency; no stubs
import pytest

from stakepool.ledger.outbox_events import (
    finalized_hook,
    merged_event,
    reversed_hook,
    settled_hook,
)
from stakepool.ledger.settlement import EpochSettlement
from stakepool.monitor.events import EVENT_TYPES, MonitorEvent
from stakepool.monitor.keeper import to_outbox

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((ROOT / "deploy" / "mqtt" / "event.schema.json").read_text(encoding="utf-8"))
NOW = 1_764_000_000.123


def _errors(payload: str | dict[str, Any]) -> list[str]:
    doc = json.loads(payload) if isinstance(payload, str) else payload
    checker = jsonschema.Draft202012Validator(SCHEMA)
    return sorted(f"{list(e.absolute_path)}: {e.message}" for e in checker.iter_errors(doc))


def _value(hint: Any, name: str) -> Any:
    """A plausible value of a field's type (amounts, named ``*_gwei``, as decimal strings)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is tuple:  # tuple[X, ...] (one item) or a fixed tuple
        if len(args) == 2 and args[1] is Ellipsis:
            return (_value(args[0], name),)
        return tuple(_value(a, name) for a in args)
    if args and typing.get_origin(hint) is not None:  # X | None: an X
        return _value(args[0], name)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return next(iter(hint))
    if hint is bool:
        return True
    if hint is str:
        return "-12" if name.endswith("_gwei") else "0x" + "ab" * 32
    return 12  # int and its NewTypes: Epoch, Slot, ValidatorIndex, Gwei


def _sample(event_type: type[MonitorEvent]) -> MonitorEvent:
    """An instance with plausible values for every field (by the field's type)."""
    hints = typing.get_type_hints(event_type)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(event_type):  # type: ignore[arg-type]
        values[field.name] = _value(hints[field.name], field.name)
    return event_type(**values)


def _settlement(**changes: int | None) -> EpochSettlement:
    base = EpochSettlement(
        epoch=12,
        reward_cl_gwei=31_000_512,
        reward_el_gwei=None,
        reward_gwei=31_000_512,
        fee_gwei=3_100_051,
        bond_delta_gwei=-5,
        unassigned_gwei=0,
        distributed_gwei=27_900_461,
        total_weight_gwei=64_000_000_000,
        delegators=3,
        acc_increment_scaled=1,
        dust_delta_scaled=0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda t: t.kind.value)
def test_every_monitor_event_kind_validates(event_type: type[MonitorEvent]) -> None:
    payload = to_outbox(_sample(event_type), "alpha", timestamp=NOW).payload
    assert _errors(payload) == []


def test_every_ledger_event_validates() -> None:
    settled = settled_hook("alpha", lambda: NOW)
    payloads = [
        *(e.payload for e in settled(_settlement())),
        *(e.payload for e in settled(_settlement(reward_el_gwei=1_000))),
        *(e.payload for e in finalized_hook("alpha", lambda: NOW)([10, 11])),
        *(e.payload for e in reversed_hook("alpha", lambda: NOW, "reorg")([10, 11])),
        merged_event("alpha", lambda: NOW, 4, 10, "no node serves the states").payload,
    ]
    for payload in payloads:
        assert _errors(payload) == [], payload


def test_the_documented_example_validates() -> None:
    """The example payload of docs/mqtt.md (section "Payloads")."""
    page = (ROOT / "docs" / "mqtt.md").read_text(encoding="utf-8")
    section = page[page.index("## Payloads") :]
    example = re.search(r"```json\n(.*?)```", section, re.S)
    assert example is not None
    assert _errors(example.group(1)) == []


def _settled_doc() -> dict[str, Any]:
    (event,) = settled_hook("alpha", lambda: NOW)(_settlement())
    doc: dict[str, Any] = json.loads(event.payload)
    return doc


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda d: d.pop("event_id"), "'event_id' is a required property"),
        (lambda d: d.update(schema_version=2), "1 was expected"),
        (lambda d: d["data"].update(fee_gwei=0.1), "0.1 is not of type 'string'"),
        (lambda d: d["data"].update(reward_gwei="1e9"), "does not match"),
        (lambda d: d["chain"].pop("slot"), "'slot' is a required property"),
        (lambda d: d.update(severity="error"), "is not one of"),
        (lambda d: d.update(kind="epoch/settled"), "does not match"),
        (lambda d: d.update(timestamp="2025-11-24 16:00:00"), "does not match"),
        (lambda d: d.update(extra=True), "Additional properties are not allowed"),
    ],
)
def test_the_schema_refuses_broken_payloads(change: Any, complaint: str) -> None:
    doc = _settled_doc()
    assert _errors(doc) == []
    change(doc)
    errors = _errors(doc)
    assert errors, doc
    assert any(complaint in e for e in errors), errors
