"""``mathforge tour``: the learner's first walk-through, computed live from the catalog.

Examples:
    >>> text = tour_text()
    >>> "largest at x = 1" in text
    True
"""

from __future__ import annotations

import textwrap

import numpy as np

from .forge import MathForge
from .table import ComparisonTable

TOUR_POINTS = (-2.0, -1.0, 0.0, 1.0, 2.0)
GRADIENT_EXAMPLES = ("relu", "sigmoid", "tanh", "swish")


def tour_text(forge: MathForge | None = None) -> str:
    """The whole tour as text."""
    forge = forge or MathForge()
    everything = forge.list_all(category="activation")
    names = [n for n in everything if forge.get(n).kind == "elementwise"]
    vectors = [n for n in everything if n not in names]
    out: list[str] = []
    say = out.append

    say("mathforge tour: every number below is computed from the catalog's formulas.\n")
    say(f"1. The activation catalog ({len(everything)} entries):")
    say(_indent(textwrap.fill(", ".join(names), 85)))
    if vectors:
        say(f"   and vector-valued, along an axis: {', '.join(vectors)}")
    say("")

    say("2. Each activation at x = -2, -1, 0, 1, 2:")
    columns = ("name", *(f"x={p:g}" for p in TOUR_POINTS))
    rows = tuple({"name": n, **{f"x={p:g}": forge.get(n).eval(x=p) for p in TOUR_POINTS}} for n in names)
    say(_indent(str(ComparisonTable(columns, rows))) + "\n")

    at_one = {n: forge.get(n).eval(x=1.0) for n in names}
    slope_at_zero = {n: forge.get(n).gradient("x").eval(x=0.0) for n in names}
    top = max(at_one, key=at_one.get)
    steepest = max(slope_at_zero, key=slope_at_zero.get)
    say(f"3. The largest at x = 1 is {top} ({at_one[top]:.6g}); "
        f"the largest gradient at x = 0 is {steepest}'s ({slope_at_zero[steepest]:.6g}).\n")

    say("4. Symbolic gradients (SymPy), and their value at x = 1.0:")
    for name in GRADIENT_EXAMPLES:
        gradient = forge.get(name).gradient("x")
        say(f"   d/dx {name}(x) = {gradient.symbolic_expr}")
        say(f"      at x = 1.0: {gradient.eval(x=1.0):.10g}")
    say("   (relu's derivative at the kink x = 0 is 0, as in PyTorch: the formula is a Piecewise")
    say("    with a strict condition, not Max, whose SymPy derivative would be 1/2 there.)\n")

    x = forge.symbol("x")
    custom = x * forge.get("sigmoid")(2 * x)
    gradient = custom.gradient("x")
    say("5. A custom activation, built by composition: f(x) = x*sigmoid(2*x)")
    say(f"   f(x)  = {custom.symbolic_expr}")
    say(f"   f'(x) = {gradient.symbolic_expr}")
    say(f"   f(1.0) = {custom.eval(x=1.0):.10g}, f'(1.0) = {gradient.eval(x=1.0):.10g}")
    say(f"   symbolic vs finite-difference gradient, worst error: {custom.check_gradient():.1e}")
    say("   (It is swish with beta = 2: forge.get('swish', params={'beta': 2.0}) gives "
        f"{forge.get('swish', params={'beta': 2.0}).eval(x=1.0):.10g} at 1.0.)\n")

    if "softmax" in vectors:
        softmax = forge.get("softmax")
        logits = np.array([1000.0, 0.0, -1000.0])
        say("6. Vector-valued: softmax along an axis, max-shifted so large logits do not overflow:")
        say(f"   softmax(x)_j = {softmax.symbolic_expr}")
        say(f"   softmax([1000, 0, -1000]) = {softmax.eval(logits)}; Jacobian: {softmax.jacobian()}\n")

    say("Next: `mathforge list`, `mathforge show gelu`, and the README for the Python API.")
    return "\n".join(out)


def _indent(text: str, prefix: str = "   ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())
