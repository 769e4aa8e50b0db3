"""Every event name the code logs is snake_case, like ``epoch_closed``: one style a log query
(``event == "beacon_node_down"``), an alert on journald or a reader can rely on.

Read from the source (every structlog call on a ``…log`` logger), not from a run, so a line that
only an outage writes is checked too. Names chosen at run time come from known sets, checked
here as well: the monitor's event kinds, and the MQTT publisher's two connection states.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import stakepool
from stakepool.monitor.eventbase import EventKind

SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
METHODS = {"debug", "info", "warning", "warn", "error", "critical", "exception", "msg", "fatal"}
SOURCE = Path(stakepool.__file__).parent
# (file, the expression's source) → why its names are checked elsewhere in this test.
DYNAMIC = {
    ("publish/log_lines.py", "kind"): "a monitor event's kind (EventKind, checked below)",
}


def _logged_names() -> tuple[list[tuple[str, int, str]], list[tuple[str, str]]]:
    literal: list[tuple[str, int, str]] = []
    dynamic: list[tuple[str, str]] = []
    for path in sorted(SOURCE.rglob("*.py")):
        where = str(path.relative_to(SOURCE))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            receiver = node.func.value
            name = receiver.id if isinstance(receiver, ast.Name) else None
            if node.func.attr not in METHODS or name is None or not name.endswith("log"):
                continue
            first = node.args[0] if node.args else None
            if isinstance(first, ast.IfExp):  # "a" if connected else "b": both are names
                branches = [first.body, first.orelse]
            else:
                branches = [first] if first is not None else []
            for branch in branches:
                if isinstance(branch, ast.Constant) and isinstance(branch.value, str):
                    literal.append((where, node.lineno, branch.value))
                else:
                    dynamic.append((where, ast.unparse(branch) if branch else "<none>"))
    return literal, dynamic


def test_every_logged_event_name_is_snake_case() -> None:
    literal, dynamic = _logged_names()
    assert len(literal) > 60  # the scan found the code's log calls
    bad = [f"{where}:{line}: {name!r}" for where, line, name in literal if not SNAKE.match(name)]
    assert not bad, bad
    unknown = [d for d in dynamic if d not in DYNAMIC]
    assert not unknown, f"log names chosen at run time, not checked here: {unknown}"


def test_every_monitor_event_kind_is_snake_case() -> None:
    bad = [kind.value for kind in EventKind if not SNAKE.match(kind.value)]
    assert not bad, bad
