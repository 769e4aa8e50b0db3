"""Which metrics a PromQL expression reads: a small PromQL scanner (no regex soup).

It walks the expression token by token: string literals, label matchers ``{…}``, ranges ``[…]``,
Grafana variables (``$__rate_interval``, ``${pool}``), numbers and durations, and identifiers.
An identifier followed by ``(`` must be a known function or aggregation; ``by``/``without``/
``on``/``ignoring``/``group_left``/``group_right`` skip their label list; keywords are dropped;
every other identifier is a metric name, returned with its label matchers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FUNCTIONS = frozenset((
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
    "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh",
    "count_over_time", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "deg",
    "delta", "deriv", "double_exponential_smoothing", "end", "exp", "floor", "histogram_avg",
    "histogram_count", "histogram_fraction", "histogram_quantile", "histogram_stddev",
    "histogram_stdvar", "histogram_sum", "holt_winters", "hour", "idelta", "increase", "info",
    "irate", "label_join", "label_replace", "last_over_time", "ln", "log10", "log2",
    "mad_over_time", "max_over_time", "min_over_time", "minute", "month", "pi",
    "predict_linear", "present_over_time", "quantile_over_time", "rad", "rate", "resets",
    "round", "scalar", "sgn", "sin", "sinh", "sort", "sort_by_label", "sort_by_label_desc",
    "sort_desc", "sqrt", "start", "stddev_over_time", "stdvar_over_time", "sum_over_time",
    "tan", "tanh", "time", "timestamp", "vector", "year",
))  # fmt: skip
AGGREGATIONS = frozenset((
    "avg", "bottomk", "count", "count_values", "group", "limit_ratio", "limitk", "max", "min",
    "quantile", "stddev", "stdvar", "sum", "topk",
))  # fmt: skip
GROUPING = frozenset((
    "by", "group_left", "group_right", "ignoring", "on", "without",
))  # fmt: skip
KEYWORDS = frozenset((
    "and", "atan2", "bool", "inf", "nan", "offset", "or", "unless",
))  # fmt: skip

_DURATION_OR_NUMBER = re.compile(
    r"(?:\d+(?:ms|s|m|h|d|w|y))+(?![A-Za-z0-9_:])"
    r"|0[xX][0-9a-fA-F]+"
    r"|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
)
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_GRAFANA_VAR = re.compile(r"\$\{[^}]*\}|\$[A-Za-z0-9_]+|\[\[[A-Za-z0-9_]+\]\]")


class PromQLError(ValueError):
    """The expression cannot be read (unterminated string or bracket, unknown function)."""


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: str | None  # the text between { and }, or None for a bare name


@dataclass(frozen=True)
class _Token:
    kind: str  # ident, string, matchers, range, number, var, punct
    text: str


def _closing(expr: str, start: int, close: str) -> int:
    """Index of the ``close`` that ends the bracket at ``start``, skipping string literals."""
    i = start + 1
    while i < len(expr):
        c = expr[i]
        if c in "\"'`":
            i = _string_end(expr, i)
        elif c == close:
            return i
        i += 1
    raise PromQLError(f"unterminated {expr[start]!r} at {start} in {expr!r}")


def _string_end(expr: str, start: int) -> int:
    quote = expr[start]
    i = start + 1
    while i < len(expr):
        if expr[i] == "\\" and quote != "`":
            i += 2
            continue
        if expr[i] == quote:
            return i
        i += 1
    raise PromQLError(f"unterminated string at {start} in {expr!r}")


def _tokens(expr: str) -> list[_Token]:
    out: list[_Token] = []
    i = 0
    while i < len(expr):
        c = expr[i]
        if c.isspace():
            i += 1
        elif c in "\"'`":
            end = _string_end(expr, i)
            out.append(_Token("string", expr[i : end + 1]))
            i = end + 1
        elif c == "{":
            end = _closing(expr, i, "}")
            out.append(_Token("matchers", expr[i + 1 : end]))
            i = end + 1
        elif c == "[" and not expr.startswith("[[", i):
            end = _closing(expr, i, "]")
            out.append(_Token("range", expr[i + 1 : end]))
            i = end + 1
        elif var := _GRAFANA_VAR.match(expr, i):
            out.append(_Token("var", var.group()))
            i = var.end()
        elif (c.isdigit() or c == ".") and (num := _DURATION_OR_NUMBER.match(expr, i)):
            out.append(_Token("number", num.group()))
            i = num.end()
        elif ident := _IDENT.match(expr, i):
            out.append(_Token("ident", ident.group()))
            i = ident.end()
        else:
            out.append(_Token("punct", c))
            i += 1
    return out


def selectors(expr: str) -> list[Selector]:
    """Every metric the expression reads, in order, with its matchers."""
    tokens = _tokens(expr)
    depth = 0
    for token in tokens:
        depth += {"(": 1, ")": -1}.get(token.text, 0) if token.kind == "punct" else 0
        if depth < 0:
            break
    if depth != 0:
        raise PromQLError(f"unbalanced parentheses in {expr!r}")
    found: list[Selector] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        if token.kind == "matchers" and "__name__" in token.text:
            raise PromQLError(f"{expr!r}: select metrics by name, not with __name__")
        if token.kind != "ident":
            i += 1
            continue
        word = token.text
        opens = following is not None and following.text == "("
        if word in GROUPING:
            if opens:  # skip the label list
                depth, i = 0, i + 1
                while i < len(tokens):
                    depth += {"(": 1, ")": -1}.get(tokens[i].text, 0)
                    if depth == 0:
                        break
                    i += 1
            i += 1
            continue
        if word in AGGREGATIONS and following is not None and following.text in GROUPING:
            i += 1  # `sum by (…) (…)`: the clause comes before the operand
            continue
        if opens:
            if word not in FUNCTIONS and word not in AGGREGATIONS:
                raise PromQLError(f"{expr!r}: unknown function {word!r}")
        elif word.lower() not in KEYWORDS:
            has_matchers = following is not None and following.kind == "matchers"
            found.append(Selector(word, following.text if has_matchers and following else None))
        i += 1
    return found


def metric_names(expr: str) -> set[str]:
    return {s.metric for s in selectors(expr)}


_LABEL_VALUES = re.compile(r"^\s*label_values\((?P<body>.*)\)\s*$", re.DOTALL)
_QUERY_RESULT = re.compile(r"^\s*query_result\((?P<body>.*)\)\s*$", re.DOTALL)


def grafana_variable_expr(query: str) -> str | None:
    """The PromQL inside a Grafana Prometheus variable query (None for ``label_values(label)``)."""
    if m := _QUERY_RESULT.match(query):
        return m.group("body")
    if m := _LABEL_VALUES.match(query):
        body = m.group("body")
        depth = 0
        for i in range(len(body) - 1, -1, -1):  # the label is after the last top-level comma
            ch = body[i]
            depth += {")": 1, "(": -1, "}": 1, "{": -1}.get(ch, 0)
            if ch == "," and depth == 0:
                return body[:i]
        return None
    raise PromQLError(f"unsupported Grafana variable query {query!r}")
