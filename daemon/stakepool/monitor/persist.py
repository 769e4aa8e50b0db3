"""JSON round-trip of the trackers' state, so a restart neither repeats nor loses events (pure).

Every tracker exposes ``state`` and accepts ``state=`` (``MissedStreaks``, ``ProposalTracker``,
``StatusTracker``, ``SlashingWatch``, ``FinalityWatch``; ``DoppelgangerCheck`` takes ``alerted``).
``to_json(state)`` turns such a value into JSON-ready data; ``from_json(type, data)`` rebuilds it.

The codec covers the types those states use: ints (and their ``NewType``s), str, bool, float,
None, enums (stored by value), frozen dataclasses and ``msgspec`` structs (by field name), ``tuple[X, ...]``,
``frozenset[X]`` (stored sorted) and ``Mapping[K, V]`` (stored as a list of ``[key, value]``
pairs: JSON object keys would be strings). Anything else raises ``TypeError`` rather than
guessing.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, Union, get_args, get_origin

import msgspec

T = TypeVar("T")


_FIELDS: dict[type, tuple[str, ...]] = {}
"""Init field names per dataclass: ``dataclasses.fields`` is too slow to ask 100,000 times."""


def _field_names(cls: Any) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        if issubclass(cls, msgspec.Struct):
            names = _FIELDS[cls] = cls.__struct_fields__
        else:
            names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.init)
    return names


def to_json(value: Any) -> Any:
    # The plain types first, by exact type: a pool's state is mostly ints and strings.
    t = type(value)
    if t is int or t is str or t is bool or t is float or value is None:
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, msgspec.Struct) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type)
    ):
        return {name: to_json(getattr(value, name)) for name in _field_names(t)}
    if isinstance(value, Mapping):
        return [[to_json(k), to_json(v)] for k, v in sorted(value.items())]
    if isinstance(value, frozenset | set):
        return [to_json(v) for v in sorted(value)]
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def from_json(tp: Any, data: Any) -> Any:
    """Rebuild a value of type ``tp`` (a class or a typing form) from ``to_json`` output."""
    supertype = getattr(tp, "__supertype__", None)
    if supertype is not None:  # a NewType: free at run time
        return from_json(supertype, data)
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if data is None and type(None) in args:
            return None
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1:
            raise TypeError(f"cannot rebuild the union {tp}")
        return from_json(rest[0], data)
    if origin is tuple:
        item = get_args(tp)[0]
        return tuple(from_json(item, v) for v in data)
    if origin is frozenset:
        return frozenset(from_json(get_args(tp)[0], v) for v in data)
    if origin in (Mapping, dict, typing.Mapping):
        key_tp, value_tp = get_args(tp)
        return {from_json(key_tp, k): from_json(value_tp, v) for k, v in data}
    if isinstance(tp, type):
        if issubclass(tp, enum.Enum):
            return tp(data)
        if dataclasses.is_dataclass(tp) or issubclass(tp, msgspec.Struct):
            hints = typing.get_type_hints(tp)
            return tp(**{name: from_json(hints[name], data[name]) for name in _field_names(tp)})
        if tp is bool or tp is str:
            if not isinstance(data, tp):
                raise TypeError(f"expected {tp.__name__}, got {data!r}")
            return data
        if tp is int:
            if isinstance(data, bool) or not isinstance(data, int):
                raise TypeError(f"expected an int, got {data!r}")
            return data
        if tp is float:
            return float(data)
    raise TypeError(f"cannot rebuild {tp}")


def load(tp: type[T], data: Any) -> T:
    """``from_json`` for a class, typed."""
    value: T = from_json(tp, data)
    return value
