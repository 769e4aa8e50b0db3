"""The last whole set applied, remembered so that applying it again can be known to change nothing.

The daemon's watcher applies its delegations file at every start, from the ledger's next epoch. A
set applied with ``replace_all`` leaves every schedule, from its boundary on, equal to what the set
gives (or as the spared source left it); nothing but a journaled change moves a schedule (every
write of ``delegator_weights`` journals a line). So the same set, with the same options, applied
again from a boundary no earlier, while the journal has not grown since, would find every tail
equal and change nothing: it is answered from one ``kept_state`` document instead of reading a
million stored schedules twice (preview, then apply).
"""

from __future__ import annotations

import hashlib
import json
from array import array

from stakepool.ledger.delegations import DelegationSet
from stakepool.store import kept_state
from stakepool.store.engine import Connection

KEY = "delegations_applied"
"""The ``kept_state`` key: the daemon's own bookkeeping, not a ledger row (the ledger's row-for-row
comparisons leave it out, as they leave out the journal's ids it names)."""


def digest(delegations: DelegationSet, *, replace_all: bool, spare_source: str | None) -> str:
    """A SHA-256 over the set's columns, its source and the options (every value is below 2^63,
    so each column packs into signed 64-bit words; ``None`` as -1)."""
    columns = delegations.columns
    h = hashlib.sha256()
    for text in (delegations.source, str(replace_all), str(spare_source)):
        h.update(text.encode() + b"\x00")
    # One join, then one encode: the same bytes as joining each id's UTF-8 (NUL is one byte in
    # UTF-8), without a million small ``bytes``.
    h.update("\x00".join(columns.delegators).encode())
    h.update(array("q", columns.amounts).tobytes())
    h.update(array("q", columns.from_epochs).tobytes())
    h.update(array("q", [-1 if t is None else t for t in columns.to_epochs]).tobytes())
    return h.hexdigest()


def journal_id(conn: Connection) -> int:
    return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM delegation_journal").fetchone()[0])


def unchanged(conn: Connection, mark: str, boundary: int) -> bool:
    """Whether the set whose digest is ``mark``, applied from ``boundary``, would change nothing:
    it was the last whole set applied, from no later a boundary, and nothing was journaled since."""
    text = kept_state.load(conn, KEY)
    if text is None:
        return False
    stored = json.loads(text)
    return (
        stored.get("digest") == mark
        and boundary >= int(stored["boundary"])
        and journal_id(conn) == int(stored["journal_id"])
    )


def remember(conn: Connection, mark: str, boundary: int) -> None:
    """After a ``replace_all`` apply, inside its transaction."""
    value = {"digest": mark, "journal_id": journal_id(conn), "boundary": boundary}
    kept_state.save(conn, KEY, json.dumps(value, sort_keys=True))
