"""``mathforge tour``: the learner's first walk-through, computed live from the catalog.

Examples:
    >>> text = tour_text()
    >>> "largest at x = 1" in text
    True
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np

from .forge import MathForge
from .table import ComparisonTable

TOUR_POINTS = (-2.0, -1.0, 0.0, 1.0, 2.0)
FAVOURITES = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "swish", "gelu", "softplus")

#: (rule, entries, (metadata field, words that field must contain)) — checked against the catalog.
RULES = (
    ("hidden layers: start with relu", ("relu",), ("best_for", "hidden")),
    ("dead neurons: leaky_relu or elu", ("leaky_relu", "elu"), ("pros", "die")),
    ("deep fully-connected nets: selu with LeCun-normal init", ("selu",), ("initialization", "lecun")),
    ("binary output: sigmoid", ("sigmoid",), ("best_for", "binary")),
    ("multi-class output: softmax", ("softmax",), ("best_for", "multi-class")),
    ("transformers: gelu", ("gelu",), ("best_for", "transformer")),
)
GRADIENT_EXAMPLES = ("relu", "sigmoid", "tanh", "swish")


def tour_text(forge: MathForge | None = None, plot_dir: str | os.PathLike[str] | None = None) -> str:
    """The whole tour as text; with ``plot_dir``, also write the favourites' plots there (PNG)."""
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

    say("7. The common favourites compared (every cell computed from the formula):")
    say(_indent(str(favourites_table(forge))) + "\n")

    sigmoid_factor = forge.get("sigmoid").properties().vanishing_factor
    relu_factor = forge.get("relu").properties().vanishing_factor
    say("8. Vanishing gradients: backpropagation multiplies one f' per layer. The best case over")
    say(f"   10 layers is max|f'|**10: sigmoid {sigmoid_factor:.2g} (max|f'| = 1/4 at 0), "
        f"relu {relu_factor:g}.")
    say("   That is why deep networks moved from sigmoid to the ReLU family.\n")

    say("9. Rules of thumb, each pointing at the catalog text that supports it:")
    for rule, names, evidence in rules_of_thumb(forge):
        say(f"   - {rule}: {', '.join(names)}")
        for name, text in evidence:
            say(f"       {name}: {text}")
    if plot_dir is not None:
        say("")
        for path in write_plots(forge, plot_dir):
            say(f"   wrote {path}")
    say("")

    say("Next: `mathforge list`, `mathforge show gelu`, and the README for the Python API.")
    return "\n".join(out)


def favourites_table(forge: MathForge) -> ComparisonTable:
    """Range, shape and gradient facts of the common favourites, computed from their formulas."""
    columns = ("name", "range", "zero-centred", "monotonic", "smoothness", "max |f'|", "10-layer factor")
    rows = []
    for name in FAVOURITES:
        p = forge.get(name).properties()
        rows.append({"name": name, "range": p.range, "zero-centred": _yes(p.zero_centered),
                     "monotonic": _yes(p.monotonic), "smoothness": p.smoothness,
                     "max |f'|": p.max_abs_gradient, "10-layer factor": p.vanishing_factor})
    return ComparisonTable(columns, tuple(rows))


def rules_of_thumb(forge: MathForge) -> list[tuple[str, tuple[str, ...], list[tuple[str, str]]]]:
    """Each rule with the catalog text that supports it; a rule the catalog does not support is an error.

    Raises:
        ValueError: An entry's metadata does not say what the rule claims.
    """
    result = []
    for rule, names, (field, words) in RULES:
        evidence = []
        for name in names:
            value = forge.metadata(name).get(field, "")
            texts = list(value) if isinstance(value, tuple) else [str(value)]
            match = next((text for text in texts if words in text.lower()), None)
            if match is None:
                raise ValueError(f"rule {rule!r}: {name}'s {field} does not mention {words!r}")
            evidence.append((name, f"{field}: {match}"))
        result.append((rule, names, evidence))
    return result


def write_plots(forge: MathForge, directory: str | os.PathLike[str]) -> list[Path]:
    """Plots of the favourites (function and derivative) and one overlay, as PNG files."""
    from .plotting import save_figure

    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [save_figure(forge.get(name).plot(), folder / f"{name}.png") for name in FAVOURITES]
    paths.append(save_figure(forge.plot(list(FAVOURITES)), folder / "favourites.png"))
    return [Path(p) for p in paths]


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _indent(text: str, prefix: str = "   ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())
