"""Plots of elementwise entries: the function, its derivative, and the kinks between pieces.

Matplotlib is optional (the ``plot`` extra) and imported only when a figure is drawn; a
missing one raises an ``ImportError`` that names the extra. Figures are made with
``matplotlib.figure.Figure`` on an Agg canvas: nothing here imports ``pyplot``, opens a
window, or changes the backend a user has chosen. In a notebook a returned Figure is shown
as the cell's output.

Kinks are found from the formula, not from the samples: where a ``Piecewise`` condition,
or the argument of ``Abs``, ``Max``, ``Min``, ``sign`` or ``Heaviside``, switches at the
current parameter values. The curves are drawn piece by piece between kinks, so a jump
(the derivative of ReLU at 0, hard shrink itself at ``±lambd``) is never joined by a
steep line that is not part of the function.

Examples:
    >>> from mathforge import MathForge
    >>> forge = MathForge()
    >>> kink_points(forge.get("relu6"), -10, 10)
    [0.0, 6.0]
    >>> kink_points(forge.get("hard_shrink", {"lambd": 2.0}), -5, 5)
    [-2.0, 2.0]
    >>> kink_points(forge.get("gelu"), -5, 5)
    []

    Drawing and saving (run by ``tests/test_plotting.py``, which needs the extra):

    >>> fig = forge.get("relu").plot((-3, 3))  # doctest: +SKIP
    >>> save_figure(fig, "relu.png", width_px=640, height_px=480)  # doctest: +SKIP
    PosixPath('relu.png')
"""

from __future__ import annotations

import math
import numbers
import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sympy
from sympy.printing.str import StrPrinter

from .expression import Expression

#: The message of the ``ImportError`` raised when matplotlib is missing.
MISSING_MATPLOTLIB = 'plotting needs matplotlib: pip install "mathforge[plot]"'

#: Suffixes :func:`save_figure` writes.
FORMATS = (".png", ".svg")

FUNCTION_COLOR = "#1f77b4"  # matplotlib's tab:blue
DERIVATIVE_COLOR = "#d62728"  # matplotlib's tab:red
KINK_COLOR = "black"

#: Nodes whose argument switches sign at a kink (``Max``/``Min``: where two arguments tie).
_SWITCHES = (sympy.Abs, sympy.sign, sympy.Heaviside)
_EXTREMA = (sympy.Max, sympy.Min)


def require_matplotlib():
    """Import matplotlib, or explain how to install it.

    Only the package is imported; figures are drawn on an Agg canvas
    (``matplotlib.backends.backend_agg``), so no GUI is ever started and the user's
    backend is left alone.

    Returns:
        The ``matplotlib`` module.

    Raises:
        ImportError: matplotlib is not installed; the message names the ``plot`` extra.
    """
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(MISSING_MATPLOTLIB) from exc
    return matplotlib


# --- kinks ------------------------------------------------------------------------------------


def kink_points(expr: Any, lo: float, hi: float) -> list[float]:
    """Where the formula switches pieces, at the current parameters, within ``[lo, hi]``.

    The candidates are the roots of every relation in a ``Piecewise`` condition and the
    zeros of the arguments of ``Abs``, ``sign`` and ``Heaviside`` (for ``Max``/``Min``:
    where two arguments tie). ``Abs`` inside a condition counts only through the
    condition: hard shrink's ``lambd < |x|`` switches at ``±lambd``, not at 0. A candidate
    is kept where the switch really happens, i.e. the branches taken just left and right
    of it differ (a condition shadowed by an earlier one does not count). Roots are
    solved exactly with ``sympy.solveset`` where it can, and bracketed numerically
    (``scipy.optimize.brentq``) where it cannot.

    Args:
        expr: A one-variable elementwise :class:`~mathforge.expression.Expression`.
        lo: Left end of the interval.
        hi: Right end of the interval.

    Returns:
        The kinks as sorted Python floats (an empty list for a smooth formula).

    Raises:
        TypeError: ``expr`` is vector-valued or not a function of one variable.
        ValueError: ``lo`` and ``hi`` are not finite with ``lo < hi``.

    Examples:
        >>> from mathforge import MathForge
        >>> forge = MathForge()
        >>> kink_points(forge.get("hard_tanh"), -5, 5)
        [-1.0, 1.0]
        >>> kink_points(forge.get("relu6"), -5, 5)  # 6 is outside the interval
        [0.0]
        >>> kink_points(forge.get("softsign"), -5, 5)  # |x|: f'(x) = 1/(1 + |x|)**2 has a cusp
        [0.0]
    """
    _check_curve(expr)
    lo, hi = _check_range((lo, hi))
    from .properties import switch_points  # one finder of candidate points for the library

    x = sympy.Symbol(expr.variables[0], real=True)
    f = _at_current_params(expr)
    candidates = [float(p) + 0.0 for p in switch_points(f, x)]  # + 0.0 turns -0.0 into 0.0
    candidates = [p for p in candidates if lo <= p <= hi]
    kinks: list[float] = []
    for point in sorted(candidates):
        if kinks and abs(point - kinks[-1]) <= 1e-9 * max(1.0, abs(point)):
            continue  # the same point found twice
        delta = _nudge(point, lo, hi)
        left, right = _branches(f, x, point - delta), _branches(f, x, point + delta)
        if left != right or None in left or None in right:  # undecidable: keep it
            kinks.append(point)
    return kinks


def _at_current_params(expr: Any) -> sympy.Expr:
    """The SymPy expression with every parameter replaced by its current value."""
    values = {}
    for name, value in expr.params.items():
        value = float(value)
        values[sympy.Symbol(name, real=True)] = sympy.Rational(value) if math.isfinite(value) else sympy.sympify(value)
    return expr.symbolic_expr.xreplace(values)


def _nudge(point: float, lo: float, hi: float) -> float:
    """A step off a kink: far below a pixel, yet many rounding errors of the kink itself."""
    return max((hi - lo) * 1e-7, 1e-9 * abs(point), 4 * float(np.spacing(abs(point))))


def _branches(e: sympy.Basic, x: sympy.Symbol, at: float) -> tuple:
    """Which branch each switching node takes at ``x = at`` (``None`` where undecidable).

    Only the branch a ``Piecewise`` takes is looked into: a switch inside a branch not
    taken does not change the function.
    """
    if not e.has(x):
        return ()
    if isinstance(e, sympy.Piecewise):
        for index, (value, condition) in enumerate(e.args):
            truth = condition.subs(x, sympy.Float(at)) if isinstance(condition, sympy.Basic) else condition
            if truth is sympy.true or truth is True:
                return (("piece", index), *_branches(value, x, at))
            if not (truth is sympy.false or truth is False):
                return (None,)
        return (("piece", None),)
    own: tuple = ()
    if isinstance(e, _SWITCHES):
        value = _number(e.args[0], x, at)
        own = (None if value is None else ("sign", int(np.sign(value))),)
    elif isinstance(e, _EXTREMA):
        values = [_number(a, x, at) for a in e.args]
        if None in values:
            own = (None,)
        else:
            pick = max if isinstance(e, sympy.Max) else min
            own = (("extreme", values.index(pick(values))),)
    for arg in e.args:
        own += _branches(arg, x, at)
    return own


def _number(e: sympy.Expr, x: sympy.Symbol, at: float) -> float | None:
    try:
        value = complex(sympy.N(e.subs(x, sympy.Float(at))))
    except (TypeError, ValueError):
        return None
    return value.real if value.imag == 0 else None


# --- drawing ------------------------------------------------------------------------------------


def plot_expression(expr: Any, x_range: Sequence[float] = (-5.0, 5.0), *, points: int = 1001, ax: Any = None,
                    title: str | None = None, show_derivative: bool = True, mark_kinks: bool = True):
    """Draw a function (blue) and its derivative (red), with its kinks marked.

    Each curve is drawn piece by piece between the kinks (:func:`kink_points`), so a jump
    is shown as a jump. Every kink gets a small black dot on the function at its value
    there and a dashed vertical line.

    Args:
        expr: A one-variable elementwise :class:`~mathforge.expression.Expression`.
        x_range: ``(lo, hi)``, finite with ``lo < hi``.
        points: Samples across ``x_range`` (at least 2; kinks add a few).
        ax: A matplotlib ``Axes`` to draw on; a new figure (8 x 5 inches) if ``None``.
        title: The axes title; by default the name, formula and parameter values.
        show_derivative: Also draw ``f'`` (``expr.gradient()``).
        mark_kinks: Mark the kinks.

    Returns:
        The matplotlib ``Figure`` (save it with :func:`save_figure`).

    Raises:
        ImportError: matplotlib is missing (``pip install "mathforge[plot]"``).
        TypeError: ``expr`` is vector-valued or not a function of one variable.
        ValueError: A bad ``x_range`` or ``points``.

    Examples:
        >>> from mathforge import MathForge
        >>> fig = plot_expression(MathForge().get("relu"), (-3, 3))  # doctest: +SKIP
        >>> [line.get_label() for line in fig.axes[0].lines][:2]  # doctest: +SKIP
        ['f(x)', "f'(x)"]
    """
    _check_curve(expr)
    lo, hi = _check_range(x_range)
    points = _check_points(points)
    require_matplotlib()
    if ax is None:
        fig = _new_figure()
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    kinks = kink_points(expr, lo, hi)
    xs, ys = _pieces(expr.eval, lo, hi, points, kinks)
    ax.plot(xs, ys, color=FUNCTION_COLOR, linewidth=2.6, label="f(x)", zorder=2)
    if show_derivative:  # thinner and on top, so where f' = f (ReLU left of 0) both show
        gradient = expr.gradient()
        xs, ys = _pieces(gradient.eval, lo, hi, points, kinks)
        ax.plot(xs, ys, color=DERIVATIVE_COLOR, linewidth=1.4, label="f'(x)", zorder=3)
    if mark_kinks and kinks:
        for kink in kinks:
            ax.axvline(kink, color="0.45", linestyle="--", linewidth=0.9, zorder=1)
        at = np.asarray(kinks, dtype=np.float64)
        ax.plot(at, _values(expr.eval, at), linestyle="none", marker="o", markersize=4.5,
                color=KINK_COLOR, label="kink", zorder=4)
    ax.axhline(0.0, color="0.75", linewidth=0.8, zorder=0)
    ax.set_xlim(lo, hi)
    ax.grid(True, alpha=0.3)
    ax.set_xlabel(expr.variables[0])
    ax.set_ylabel("f(x), f'(x)" if show_derivative else "f(x)")
    ax.legend(loc="best")
    ax.set_title(_default_title(expr) if title is None else title, fontsize=10)
    return fig


def plot_many(exprs: Sequence[Any], x_range: Sequence[float] = (-5.0, 5.0), *, points: int = 1001,
              derivative: bool = False):
    """Overlay several functions on one axes (and their derivatives on a second one below).

    Args:
        exprs: One-variable elementwise Expressions; each gets its own colour (the same
            on both axes), and the legend shows their names.
        x_range: ``(lo, hi)``, finite with ``lo < hi``.
        points: Samples across ``x_range``.
        derivative: Also draw the derivatives, on a second axes sharing the x axis.

    Returns:
        The matplotlib ``Figure``.

    Raises:
        ImportError: matplotlib is missing (``pip install "mathforge[plot]"``).
        TypeError: An entry is vector-valued or not a function of one variable.
        ValueError: No expressions, a bad ``x_range`` or ``points``.
    """
    exprs = list(exprs)
    if not exprs:
        raise ValueError("plot_many needs at least one expression")
    for expr in exprs:
        _check_curve(expr)
    lo, hi = _check_range(x_range)
    points = _check_points(points)
    matplotlib = require_matplotlib()
    colors = matplotlib.rcParams["axes.prop_cycle"].by_key().get("color") or [FUNCTION_COLOR]
    fig = _new_figure(height=7.5 if derivative else 5.0)
    if derivative:
        top, bottom = fig.subplots(2, 1, sharex=True)
    else:
        top, bottom = fig.add_subplot(), None
    for i, expr in enumerate(exprs):
        color = colors[i % len(colors)]
        kinks = kink_points(expr, lo, hi)
        xs, ys = _pieces(expr.eval, lo, hi, points, kinks)
        top.plot(xs, ys, color=color, linewidth=1.8, label=expr.name)
        if bottom is not None:
            xs, ys = _pieces(expr.gradient().eval, lo, hi, points, kinks)
            bottom.plot(xs, ys, color=color, linewidth=1.5, label=f"{expr.name}'")
    for ax, ylabel in ((top, "f(x)"), (bottom, "f'(x)")):
        if ax is None:
            continue
        ax.axhline(0.0, color="0.75", linewidth=0.8, zorder=0)
        ax.set_xlim(lo, hi)
        ax.grid(True, alpha=0.3)
        ax.set_ylabel(ylabel)
        ax.legend(loc="best")
    (bottom if bottom is not None else top).set_xlabel(_shared_variable(exprs))
    return fig


def save_figure(fig: Any, path: str | os.PathLike[str], *, width_px: int | None = None,
                height_px: int | None = None, dpi: float = 100) -> Path:
    """Save a figure as PNG or SVG (by the file name's suffix), then close it.

    Args:
        fig: A matplotlib ``Figure``.
        path: Where to write; must end in ``.png`` or ``.svg`` (any case).
        width_px: Width in pixels; with ``height_px`` alone, the aspect ratio is kept.
        height_px: Height in pixels; with ``width_px`` alone, the aspect ratio is kept.
        dpi: Pixels per inch; sets the size of text and lines relative to the image.

    Returns:
        The path written, as a ``pathlib.Path``.

    Raises:
        ValueError: Another suffix, or a size or ``dpi`` that is not positive.
        ImportError: matplotlib is missing (``pip install "mathforge[plot]"``).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"cannot save a figure as {str(path)!r}: the file name must end in "
                         f"{' or '.join(FORMATS)} (got {path.suffix or 'no suffix'!r})")
    if isinstance(dpi, bool) or not isinstance(dpi, numbers.Real) or not math.isfinite(dpi) or dpi <= 0:
        raise ValueError(f"dpi must be a positive number, got {dpi!r}")
    for name, value in (("width_px", width_px), ("height_px", height_px)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    require_matplotlib()
    if width_px is not None or height_px is not None:
        width_in, height_in = fig.get_size_inches()
        if width_px is None:
            width_px = max(1, round(height_px * width_in / height_in))
        if height_px is None:
            height_px = max(1, round(width_px * height_in / width_in))
        # Agg truncates width*dpi to an int: aim a hair above so 640 never becomes 639.
        fig.set_size_inches((int(width_px) + 1e-3) / dpi, (int(height_px) + 1e-3) / dpi)
    fig.savefig(path, format=suffix[1:], dpi=dpi)
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:  # a figure made with pyplot is released; ours were never registered
        pyplot.close(fig)
    return path


# --- helpers --------------------------------------------------------------------------------


def _check_curve(expr: Any) -> None:
    name = getattr(expr, "name", type(expr).__name__)
    if getattr(expr, "kind", None) == "vector":
        raise TypeError(f"{name} is vector-valued (it maps a whole vector along an axis, each output depending "
                        f"on every input), so it is not plotted as a curve y = f(x); plot an elementwise entry")
    if not isinstance(expr, Expression):
        raise TypeError(f"can only plot an Expression, not {type(expr).__name__}")
    if len(expr.variables) != 1:
        raise TypeError(f"{name} has variables ({', '.join(expr.variables) or 'none'}): only functions of "
                        f"one variable are plotted as curves")


def _check_range(x_range: Sequence[float]) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in x_range)
    except (TypeError, ValueError):
        raise ValueError(f"x_range must be two numbers (lo, hi), got {x_range!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"x_range must be finite with lo < hi, got {x_range!r}")
    return lo, hi


def _check_points(points: int) -> int:
    if isinstance(points, bool) or not isinstance(points, numbers.Integral) or points < 2:
        raise ValueError(f"points must be an integer >= 2, got {points!r}")
    return int(points)


def _new_figure(width: float = 8.0, height: float = 5.0):
    """A Figure on an Agg canvas: no pyplot, no GUI, no change to the user's backend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _values(function: Callable[[np.ndarray], Any], xs: np.ndarray) -> np.ndarray:
    """``function(xs)`` as float64, with inf and NaN (off the chart) as NaN gaps."""
    with np.errstate(all="ignore"):
        ys = np.asarray(function(xs), dtype=np.float64)
    return np.where(np.isfinite(ys), ys, np.nan)


def _pieces(function: Callable[[np.ndarray], Any], lo: float, hi: float, points: int,
            kinks: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Samples of ``function`` on ``[lo, hi]``, one piece per interval between kinks.

    Each piece runs up to just short of its kinks, and pieces are separated by NaN (a gap
    in the line), so each side shows its own limit and a jump is not drawn as a line.
    """
    grid = np.linspace(lo, hi, points)
    edges = [lo, *(k for k in kinks if lo < k < hi), hi]
    xs_parts: list[np.ndarray] = []
    ys_parts: list[np.ndarray] = []
    for a, b in zip(edges[:-1], edges[1:]):
        start = a if a == lo else a + _nudge(a, lo, hi)
        stop = b if b == hi else b - _nudge(b, lo, hi)
        if not start < stop:
            continue
        xs = np.concatenate(([start], grid[(grid > start) & (grid < stop)], [stop]))
        if xs_parts:
            xs_parts.append(np.array([np.nan]))
            ys_parts.append(np.array([np.nan]))
        xs_parts.append(xs)
        ys_parts.append(_values(function, xs))
    return np.concatenate(xs_parts), np.concatenate(ys_parts)


class _TitlePrinter(StrPrinter):
    """SymPy's ``str``, with ``Piecewise`` as ``{x if x > 0; 0 otherwise}``."""

    def _print_Piecewise(self, expr: sympy.Piecewise) -> str:
        parts = [f"{self._print(value)} otherwise" if condition == sympy.true
                 else f"{self._print(value)} if {self._print(condition)}" for value, condition in expr.args]
        return "{" + "; ".join(parts) + "}"


def _formula_text(e: sympy.Expr) -> str:
    """The formula for a title: floats to 5 digits, pieces spelled out."""
    return _TitlePrinter().doprint(e.xreplace({f: sympy.Float(f, 5) for f in e.atoms(sympy.Float)}))


def _default_title(expr: Any) -> str:
    variable = expr.variables[0]
    text = f"{expr.name}({variable}) = {_formula_text(expr.symbolic_expr)}"
    lines = textwrap.wrap(text, width=90, subsequent_indent="    ") or [text]
    if len(lines) > 3:
        lines = lines[:3]
        lines[-1] = lines[-1][:86] + " ..."
    if expr.params:
        lines.append(", ".join(f"{k} = {v:g}" for k, v in expr.params.items()))
    return "\n".join(lines)


def _shared_variable(exprs: Sequence[Any]) -> str:
    names = list(dict.fromkeys(e.variables[0] for e in exprs))
    return names[0] if len(names) == 1 else ", ".join(names)
