"""Which chain the beacon nodes are on, when they do not all say the same (pure).

A configured ``[beacon] genesis_root`` is the truth: a node that disagrees is excluded. Without
one, no single answer is trusted over another: a root becomes the reference for good only when a
strict majority of the configured nodes report it (the minority is then excluded). Nodes that
agree while the others have not answered yet give a provisional reference: usable, but a node
that later disagrees puts the pool in conflict instead of being excluded. Disagreement without a
majority is a conflict: nobody is excluded, nothing is used, and the operator is told to set
``genesis_root``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

HINT = "set [beacon] genesis_root to the chain you mean"


@dataclass(frozen=True, slots=True)
class Reference:
    root: str | None
    """The reference root, or None when the answers conflict."""
    backed: bool
    """Configured, or reported by a strict majority of the configured nodes."""
    outliers: tuple[str, ...] = ()
    """Nodes (URLs) that disagree with a backed reference: to exclude."""
    conflict: str | None = None
    """Why no reference could be chosen (names every node's root and the remedy)."""


def choose_reference(
    answers: Mapping[str, str], *, configured: str | None, nodes: int
) -> Reference:
    """``answers``: URL → reported root (answering nodes only); ``nodes``: how many are
    configured and not excluded. An empty ``answers`` gives ``Reference(None, False)``."""
    if configured is not None:
        outliers = tuple(url for url, root in answers.items() if root != configured)
        return Reference(configured, True, outliers)
    counts = Counter(answers.values())
    if not counts:
        return Reference(None, False)
    (top, votes), *rest = counts.most_common()
    if 2 * votes > nodes:
        return Reference(top, True, tuple(u for u, r in answers.items() if r != top))
    if not rest:
        return Reference(top, False)
    return Reference(None, False, conflict=conflict_message(answers))


def conflict_message(answers: Mapping[str, str]) -> str:
    said = "; ".join(f"{url}: {root}" for url, root in sorted(answers.items()))
    return f"beacon nodes disagree on genesis_validators_root ({said}) and no majority; {HINT}"


def backed_by(agreeing: int, nodes: int) -> bool:
    """A strict majority of the configured nodes reported the reference."""
    return 2 * agreeing > nodes
