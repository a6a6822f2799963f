"""Comparison tables: values and derivatives of several Expressions at chosen points.

A table is data first (``rows``, ``to_dict()``); ``str()`` renders it as aligned text.

Examples:
    >>> from mathforge import MathForge
    >>> forge = MathForge()
    >>> table = compare_expressions([forge.get("relu"), forge.get("sigmoid")], [0.0, 1.0], cost=False)
    >>> table.columns[:5]
    ('name', 'f(0)', 'f(1)', "f'(0)", "f'(1)")
    >>> table.rows[1]["f(0)"], table.rows[1]["max |f'|"]
    (0.5, 0.25)
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ComparisonTable:
    """Rows of data with named columns; ``str()`` renders aligned text."""

    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        """``{"columns": [...], "rows": [{column: value}, ...]}`` for JSON."""
        return {"columns": list(self.columns), "rows": [dict(r) for r in self.rows]}

    def __str__(self) -> str:
        cells = [list(self.columns)] + [[_format(row[c]) for c in self.columns] for row in self.rows]
        widths = [max(len(line[i]) for line in cells) for i in range(len(self.columns))]
        return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in cells)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{c}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{_format(r[c])}</td>" for c in self.columns) + "</tr>"
                       for r in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def compare_expressions(expressions: Sequence[Any], at: Sequence[float], *, cost: bool = True) -> ComparisonTable:
    """Tabulate ``f`` and ``f'`` at each point of ``at`` plus properties computed from each formula.

    Columns: values and derivatives at the points, the computed range, monotonic,
    zero-centred, smoothness, max |f'|, |f'(±10)| (saturation) and, with ``cost``, the
    measured evaluation cost in ns per element on 1e6 float64 values (best of 3 runs).
    """
    points = [float(p) for p in at]
    labels = [_point(p) for p in points]
    columns = ("name", *(f"f({p})" for p in labels), *(f"f'({p})" for p in labels), "range", "monotonic",
               "zero-centred", "smoothness", "max |f'|", "|f'(-10)|", "|f'(10)|", *(("ns/elem",) if cost else ()))
    rows = []
    for expr in expressions:
        if expr.kind != "elementwise":
            raise TypeError(f"{expr.name} is vector-valued; compare elementwise functions only")
        gradient = expr.gradient()
        props = expr.properties()
        row: dict[str, Any] = {"name": expr.name}
        row.update({f"f({label})": expr.eval(p) for label, p in zip(labels, points)})
        row.update({f"f'({label})": gradient.eval(p) for label, p in zip(labels, points)})
        row.update({"range": props.range, "monotonic": props.monotonic, "zero-centred": props.zero_centered,
                    "smoothness": props.smoothness, "max |f'|": props.max_abs_gradient,
                    "|f'(-10)|": props.saturation[-10.0], "|f'(10)|": props.saturation[10.0]})
        if cost:
            row["ns/elem"] = _cost_ns_per_element(expr)
        rows.append(row)
    return ComparisonTable(columns, tuple(rows))


def _cost_ns_per_element(expr: Any, size: int = 10**6) -> float:
    values = np.linspace(-5.0, 5.0, size)
    expr.eval(x=values[:10])  # compile first
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        expr.eval(x=values)
        best = min(best, time.perf_counter() - start)
    return best / size * 1e9


def _point(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value == 0:
            return "0"
        if value.is_integer() and abs(value) < 1e6:
            return str(int(value))
        return f"{value:.4g}"
    return str(value)
