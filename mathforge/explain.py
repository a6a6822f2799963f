"""Plain-text explanations of an entry at three levels, computed from its formula and metadata.

Examples:
    >>> from mathforge import MathForge
    >>> text = MathForge().explain("relu", level="intermediate")
    >>> print(text.splitlines()[0])
    relu: f(x) = Piecewise((x, x > 0), (0, True))
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

LEVELS = ("beginner", "intermediate", "advanced")


def explain_expression(expr: Any, level: str, aliases: Sequence[str] = ()) -> str:
    """Explain ``expr`` for a reader at ``level`` (beginner, intermediate, advanced)."""
    meta = expr.metadata
    args = ", ".join(expr.variables)
    head = f"{expr.name}: {expr.name}(x)_j" if expr.kind == "vector" else f"{expr.name}: f({args})"
    lines = [f"{head} = {expr.symbolic_expr}"]
    if aliases:
        lines.append(f"also called: {', '.join(aliases)}")
    lines += ["", _wrap(meta.get("description", "(no description)"))]
    if meta.get("best_for"):
        lines += ["", "Best for: " + _wrap(meta["best_for"])]
    lines += ["", "Pros:", *[f"  + {p}" for p in meta.get("pros", ())]]
    lines += ["Cons:", *[f"  - {c}" for c in meta.get("cons", ())]]
    if level in ("intermediate", "advanced"):
        if expr.kind == "vector":
            lines += ["", f"Jacobian: d y_j / d x_k = {expr.jacobian()}"]
        elif expr.kind == "classes":
            lines += ["", f"Gradient by logit k: {expr.gradient()}"]
        else:
            lines += ["", f"Derivative: f'({args}) = {expr.gradient().symbolic_expr}"]
        lines.append(f"Range: {meta.get('range', 'unknown')}")
        if expr.params:
            lines.append("Parameters: " + ", ".join(f"{k} = {v:g}" for k, v in expr.params.items()))
        if meta.get("usage"):
            lines += ["Usage: " + _wrap(meta["usage"])]
    if level == "advanced":
        lines += ["", f"LaTeX: {expr.latex}"]
        frameworks = meta.get("frameworks", {})
        if frameworks:
            lines.append("Frameworks: " + "; ".join(f"{k}: {v}" for k, v in frameworks.items()))
        if meta.get("notes"):
            lines += ["Notes: " + _wrap(meta["notes"])]
        for ref in meta.get("references", ()):
            url = f" {ref['url']}" if ref.get("url") else ""
            lines.append(f"Reference: {ref['authors']} ({ref['year']}). {ref['title']}.{url}")
    return "\n".join(lines)


def _wrap(text: str) -> str:
    return textwrap.fill(" ".join(str(text).split()), width=88, subsequent_indent="  ")
