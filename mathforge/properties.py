"""Properties of an elementwise function, computed from its formula (never copied from YAML).

:func:`compute_properties` takes an :class:`~mathforge.expression.Expression` of one
variable and returns a frozen :class:`Properties`: the range in interval notation, whether
the function is bounded, monotonic, zero-centered, self-gated or sparse, its smoothness
class, ``f(0)``, ``f'(0)``, the largest ``|f'|`` and where it is reached, ``|f'|`` at
``x = +-10`` and the best-case gradient factor through ten layers. Everything is computed
at the expression's *current* parameter values, from its own ``eval``, ``gradient()`` and
``symbolic_expr``; formula text is never evaluated.

How each property is found
--------------------------

The formula, with parameters and float literals replaced by the rationals of their
decimal text, is split at its **breakpoints**: the real zeros of ``lhs - rhs`` of every
relational in a ``Piecewise`` condition, of the arguments of ``Abs``/``sign``/``Heaviside``
and of pairwise differences of ``Max``/``Min`` arguments, in ``f`` and its first three
derivatives (``solveset``; a numeric sign-change search refined by exact bisection when
SymPy cannot answer). Between two breakpoints every switch is fixed, so ``f`` is one
analytic **branch** there, found by resolving each switch at a point of the piece.

The sample is ``[-50, 50]`` in steps of 1/2000, log-spaced tails to ``+-1e6``, log-spaced
magnitudes down to ``1e-300``, the half-integers of ``[-10, 10]``, 0, and every breakpoint
with its two float neighbours; ``f`` and ``f'`` are evaluated on it with the compiled
kernels.

range
    The union of the images of the pieces and of the values at the breakpoints. On a
    piece the infimum (supremum) is the smallest (largest) of: the limits at the piece's
    ends (SymPy ``limit`` of the branch at ``+-oo``, primitives rewritten with exp; the
    exact branch value at a breakpoint), and an interior extremum -- the sampled extremum refined by
    ``scipy.optimize.minimize_scalar`` between its grid neighbours and polished at 40
    digits (an exact root of ``f'`` for a rational branch, ``mpmath.findroot`` otherwise).
    An interior extremum is attained; a limit is attained only if the branch equals it
    exactly at a sampled point of the piece (a plateau such as relu's 0; ``tanh(20)``
    rounds to 1.0 in float64 but is below 1, so ``(-1, 1)`` stays open). Touching or
    overlapping parts are merged; what is left is written like ``"[0, oo)"`` or
    ``"(-oo, -0.5) U {0} U (0.5, oo)"``. Terminating decimals are written exactly, other
    numbers with 17 significant digits rounded outward (a lower end down, an upper end
    up), so the stated interval always contains the range.
bounded_below / bounded_above
    The range has a finite lower (upper) end.
monotonic
    ``f' >= -1e-300`` on the sample and no sampled value drops by more than 4 ulps (or the
    mirror image: non-increasing). The value check catches downward jumps ``f'`` cannot see.
zero_centered
    ``f(0) == 0`` and the sample holds strictly negative and strictly positive values.
smoothness
    At each breakpoint the ``k``-th derivatives of the branches on either side are
    evaluated exactly (60 digits); they *jump* if they differ by more than ``1e-12`` (for
    ``k = 0`` the value at the breakpoint is compared too). The first order that jumps
    anywhere gives the class: 0 ``"discontinuous"``, 1 ``"C0"``, 2 ``"C1"``, 3 ``"C2"``
    (order ``k`` in 4..6 gives ``"C{k-1}"``, which no catalog entry has); no breakpoint, or
    no jump up to order 6, ``"Cinf"``.
self_gated
    ``f = x*g(x)`` with ``g = piecewise_fold(f/x)`` keeping no ``x**-n``, ``0 <= g <= 1`` on
    the sample (1e-12), ``g`` taking at least 16 distinct values strictly inside ``(0, 1)``
    (not a constant or a step: relu, leaky_relu, linear are not gated), and the gate
    opening from ``g -> 0`` at ``-oo`` to ``g -> 1`` at ``+oo`` (SymPy limits; the sampled
    ``g(-1e6) <= 1e-3``, ``g(1e6) >= 1 - 1e-3`` if SymPy cannot say). Softsign,
    ``x*1/(1 + |x|)``, fails the last rule: its factor falls back to 0 on both sides.
f0, df0, saturation
    ``f(0)``, ``f'(0)`` and ``{-10.0: |f'(-10)|, 10.0: |f'(10)|}`` from ``eval`` and
    ``gradient().eval``, so kinks follow the expression's own (PyTorch) convention:
    ``leaky_relu'(0) = alpha``, ``relu'(0) = 0``.
max_abs_gradient / argmax_abs_gradient
    The largest of: ``|f'|`` on ``[-50, 50]`` in steps of 1/2000 and at the breakpoints (a
    smooth peak refined between grid neighbours and polished as a root of ``f''``: gelu's
    is at ``sqrt(2)``), the one-sided limits of ``|f'|`` at the breakpoints (hard_swish:
    ``f' -> 1.5`` as ``x -> 3-``, so the maximum 1.5 is placed at 3), and the limits of
    ``|f'|`` at ``+-oo``. The place is the maximising point of smallest magnitude (a plateau
    such as relu's ``f' = 1`` on ``(0, oo)`` gives its sampled point nearest 0, 0.0005), or
    ``+-inf`` if the maximum is only approached at that infinity (tanh_shrink, softplus,
    exponential: ``inf``; log_sigmoid: ``-inf``); ``+inf`` when approached at both.
sparse
    ``f`` is exactly 0 on some interval: some piece's branch is identically 0.
vanishing_factor
    ``max_abs_gradient ** 10``: the largest factor a gradient can keep through ten layers
    (sigmoid ``0.25**10``, relu ``1``).

Results are cached per ``(symbolic_expr, parameter values)``; each call returns its own
copy (``saturation`` is a fresh dict). :func:`clear_cache` empties the cache.

Examples:
    >>> from mathforge import MathForge
    >>> props = compute_properties(MathForge().get("relu"))
    >>> props.range, props.smoothness, props.sparse, props.monotonic
    ('[0, oo)', 'C0', True, True)
    >>> props.lower, props.upper, props.lower_attained
    (0.0, inf, True)
    >>> props.df0, props.max_abs_gradient, props.vanishing_factor
    (0.0, 1.0, 1.0)
    >>> props.to_dict()["upper"]
    'inf'
"""

from __future__ import annotations

import dataclasses
import decimal
import functools
import itertools
import math
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import sympy

from .expression import Expression
from .symbols import symbol

__all__ = ["Properties", "clear_cache", "compute_properties"]

#: Digits of exact evaluation (SymPy ``evalf``).
DPS = 60
#: Digits at which interior extrema are polished (mpmath).
POLISH_DPS = 40
#: Significant digits of inexact range ends.
RANGE_DIGITS = 17
#: Relative tolerance: a refined interior extremum must beat every limit by this to count.
EXACT_TOLERANCE = 1e-12
#: A jump at a breakpoint: one-sided values differing by more than this.
JUMP = 1e-12
#: Highest derivative order inspected at breakpoints.
MAX_ORDER = 6
#: Breakpoints beyond this magnitude are ignored.
MAX_BREAKPOINT = 1e6
#: Seconds allowed to one SymPy ``limit``/``solveset`` call (main thread only).
SYMPY_TIMEOUT = 10.0
#: Points where the gradient's saturation is reported.
SATURATION_POINTS = (-10.0, 10.0)
#: Layers of the best-case gradient factor.
LAYERS = 10

_SMOOTHNESS = ("discontinuous", "C0", "C1", "C2")
_OO = sympy.oo


@dataclass(frozen=True)
class Properties:
    """What the formula of an elementwise function implies, at its current parameters.

    Attributes:
        range: The set of values, e.g. ``"[0, oo)"``, ``"(-1, 1)"``,
            ``"[-0.27846454276107380, oo)"`` or ``"(-oo, -0.5) U {0} U (0.5, oo)"``.
        lower: Infimum of ``f`` (``-inf`` if unbounded below), the float nearest the exact end.
        upper: Supremum of ``f`` (``inf`` if unbounded above).
        lower_attained: Whether ``f`` takes the value ``lower`` (a closed end).
        upper_attained: Whether ``f`` takes the value ``upper``.
        bounded_below: ``lower`` is finite.
        bounded_above: ``upper`` is finite.
        monotonic: ``f`` is non-decreasing or non-increasing on the reals.
        zero_centered: ``f(0) == 0`` and ``f`` takes negative and positive values.
        self_gated: ``f = x*g(x)`` with a gate ``g`` opening smoothly from 0 to 1.
        smoothness: ``"discontinuous"``, ``"C0"``, ``"C1"``, ``"C2"`` or ``"Cinf"`` (a formula
            whose first jump is in the 4th to 6th derivative, none in the catalog, gives
            ``"C3"`` to ``"C5"``).
        f0: ``f(0)``.
        df0: ``f'(0)`` by the expression's own gradient (PyTorch kink conventions).
        max_abs_gradient: ``sup |f'|`` (``inf`` if unbounded).
        argmax_abs_gradient: Where ``|f'|`` reaches it; ``+-inf`` if only approached there.
        saturation: ``{-10.0: |f'(-10)|, 10.0: |f'(10)|}``.
        sparse: ``f`` is exactly 0 on some interval.
        vanishing_factor: ``max_abs_gradient ** 10``.
        evidence: A short human-readable reason per property (not part of :meth:`to_dict`).
    """

    range: str
    lower: float
    upper: float
    lower_attained: bool
    upper_attained: bool
    bounded_below: bool
    bounded_above: bool
    monotonic: bool
    zero_centered: bool
    self_gated: bool
    smoothness: str
    f0: float
    df0: float
    max_abs_gradient: float
    argmax_abs_gradient: float
    saturation: dict[float, float]
    sparse: bool
    vanishing_factor: float
    evidence: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """All properties as a JSON-serialisable dict.

        Infinite floats become the strings ``"inf"`` and ``"-inf"`` (JSON has no infinity);
        the ``saturation`` keys become the strings ``"-10.0"`` and ``"10.0"``, so the dict
        survives a ``json.dumps``/``json.loads`` round trip unchanged.

        Returns:
            A new dict with one key per attribute except ``evidence``.

        Examples:
            >>> import json
            >>> from mathforge import MathForge
            >>> d = compute_properties(MathForge().get("sigmoid")).to_dict()
            >>> d["range"], d["max_abs_gradient"], d["saturation"]["10.0"] < 1e-4
            ('(0, 1)', 0.25, True)
            >>> json.loads(json.dumps(d)) == d
            True
        """
        result: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "evidence":
                continue
            value = getattr(self, f.name)
            if f.name == "saturation":
                value = {repr(float(k)): _json_number(v) for k, v in value.items()}
            elif isinstance(value, float):
                value = _json_number(value)
            result[f.name] = value
        return result


def _json_number(value: float) -> float | str:
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


_CACHE: dict[tuple[Any, ...], Properties] = {}


def clear_cache() -> None:
    """Forget every cached result (the next call recomputes)."""
    _CACHE.clear()


def compute_properties(expr: Expression) -> Properties:
    """Compute the properties of an elementwise function of one variable from its formula.

    Args:
        expr: A mathforge :class:`~mathforge.expression.Expression` of exactly one
            variable (``kind == "elementwise"``); parameters are taken at their current
            values.

    Returns:
        A :class:`Properties` (a new object per call; results are cached per
        ``(symbolic_expr, parameter values)``).

    Raises:
        TypeError: ``expr`` is a vector-valued entry (softmax, ...), not an Expression, or
            has no variable or several variables.
        ValueError: ``f`` or ``f'`` is NaN at a finite sample point (the formula is not
            defined on all reals), or a branch cannot be resolved.

    Examples:
        >>> from mathforge import MathForge
        >>> forge = MathForge()
        >>> compute_properties(forge.get("tanh")).range
        '(-1, 1)'
        >>> compute_properties(forge.get("elu", params={"alpha": 2.0})).range
        '(-2, oo)'
        >>> swish = compute_properties(forge.get("swish"))
        >>> swish.range, swish.monotonic, swish.self_gated, swish.smoothness
        ('[-0.27846454276107380, oo)', False, True, 'Cinf')
        >>> compute_properties(forge.get("softmax"))
        Traceback (most recent call last):
        ...
        TypeError: softmax is of kind 'vector': properties are defined for elementwise functions of one variable
    """
    kind = getattr(expr, "kind", None)
    name = getattr(expr, "name", type(expr).__name__)
    if kind == "vector":
        raise TypeError(f"{name} is of kind 'vector': properties are defined for elementwise functions "
                        f"of one variable")
    if not isinstance(expr, Expression):
        raise TypeError(f"compute_properties needs a mathforge Expression, not {type(expr).__name__}")
    if len(expr.variables) != 1:
        raise TypeError(f"{name} has variables {list(expr.variables)}: properties are defined for "
                        f"elementwise functions of exactly one variable")
    key = (expr.symbolic_expr, tuple(expr.variables), tuple(sorted(expr.params.items())))
    cached = _CACHE.get(key)
    if cached is None:
        cached = _Analysis(expr).properties()
        _CACHE[key] = cached
    return dataclasses.replace(cached, saturation=dict(cached.saturation))


# --- SymPy helpers: time limits, exact numbers ------------------------------------------------


class _SympyTimeout(Exception):
    pass


def _bounded_call(fn: Callable[[], Any], seconds: float = SYMPY_TIMEOUT) -> Any:
    """``fn()``, or ``None`` if it raises or runs past ``seconds``.

    The time limit uses ``SIGALRM`` and applies only in the main thread when no other
    real-time timer is running; otherwise ``fn`` runs without one.
    """
    use_alarm = (threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
                 and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0))
    if not use_alarm:
        try:
            return fn()
        except Exception:  # noqa: BLE001 - SymPy raises many kinds; "cannot say" is None
            return None

    def on_alarm(signum: int, frame: Any) -> None:
        raise _SympyTimeout

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)  # keeps firing if SymPy swallows one
    try:
        return fn()
    except Exception:  # noqa: BLE001
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _rational(value: float) -> sympy.Rational:
    """The rational of a float's shortest decimal text (0.01 -> 1/100)."""
    return sympy.Rational(repr(float(value)))


def _exact_numbers(expr: sympy.Expr) -> sympy.Expr:
    """Float literals replaced by the rationals of their decimal text (full precision kept)."""
    return expr.xreplace({f: sympy.Rational(str(f)) for f in expr.atoms(sympy.Float)})


def _with_params(e: Expression, expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with every parameter at its current value, as an exact rational."""
    values = {symbol(k): _rational(v) for k, v in e.params.items()}
    return _exact_numbers(expr.xreplace(values))


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _is_real_number(value: Any) -> bool:
    return isinstance(value, sympy.Expr) and value.is_number and (value in (_OO, -_OO) or value.is_real is True)


def _exact_at(expr: sympy.Expr, var: sympy.Symbol, at: sympy.Expr) -> sympy.Expr:
    """``expr`` at ``var = at``: exact if SymPy simplifies it to a number, else ``DPS`` digits."""
    value = expr.subs(var, at)
    if value.is_Number or value in (_OO, -_OO, sympy.zoo, sympy.nan):
        return value
    return value.evalf(DPS)


#: Functions kept by :func:`_elementary` (SymPy and mpmath evaluate them directly).
_KEEP = (sympy.Piecewise, sympy.exp, sympy.log, sympy.erf, sympy.erfc, sympy.Abs, sympy.sign, sympy.Heaviside,
         sympy.Max, sympy.Min, sympy.DiracDelta, sympy.functions.elementary.trigonometric.TrigonometricFunction,
         sympy.functions.elementary.trigonometric.InverseTrigonometricFunction)


def _elementary(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with primitives (sigmoid, softplus, normal_cdf, expm1, tanh, ...) rewritten in
    terms of exp (normal_cdf as erfc). Only functions are rewritten: a plain
    ``expr.rewrite(exp)`` would also turn ``x**2`` into ``exp(2*log(x))``, complex for ``x < 0``."""
    kinds = sorted({type(a) for a in expr.atoms(sympy.Function) if not isinstance(a, _KEEP)}, key=str)
    return expr.rewrite(kinds, sympy.exp) if kinds else expr


def _gap(a: sympy.Expr, b: sympy.Expr) -> float:
    """``|a - b|`` at full precision (``inf`` if either is undefined or only one is infinite)."""
    fa, fb = _as_float(a), _as_float(b)
    if math.isnan(fa) or math.isnan(fb):
        return math.inf
    if math.isinf(fa) or math.isinf(fb):
        return 0.0 if fa == fb else math.inf
    return abs(_as_float((a - b).evalf(DPS)))


def _sign_at(u: sympy.Expr, var: sympy.Symbol, at: sympy.Expr) -> int:
    """The sign of ``u`` at ``var = at`` (0 if zero or undecidable)."""
    value = u.subs(var, at)
    if not value.is_Number:
        value = value.evalf(DPS)
    try:
        return 1 if value > 0 else -1 if value < 0 else 0
    except TypeError:
        return 0


def _branch_at(expr: sympy.Expr, var: sympy.Symbol, at: sympy.Expr) -> sympy.Expr:
    """``expr`` with every switch fixed as it is at ``var = at``: each Piecewise replaced by
    its branch active there, ``Abs(u)`` by ``+-u``, ``sign``/``Heaviside`` by their value and
    ``Max``/``Min`` by the argument that wins. The result is analytic on the piece of ``at``.

    Raises:
        ValueError: No Piecewise branch can be shown to hold at ``at``.
    """
    switch_types = (sympy.Piecewise, sympy.Abs, sympy.sign, sympy.Heaviside, sympy.Max, sympy.Min)

    def resolve(node: sympy.Expr) -> sympy.Expr:
        if isinstance(node, sympy.Piecewise):
            for value, cond in node.args:
                holds = cond.subs(var, at) if isinstance(cond, sympy.Basic) else cond
                if holds == sympy.true:
                    return value
                if holds != sympy.false:
                    raise ValueError(f"cannot decide the condition {cond} at {var} = {at}")
            raise ValueError(f"no branch of {node} holds at {var} = {at}")
        if isinstance(node, (sympy.Max, sympy.Min)):
            values = [_as_float(a.subs(var, at).evalf(DPS)) for a in node.args]
            pick = max if isinstance(node, sympy.Max) else min
            return node.args[values.index(pick(values))]
        s = _sign_at(node.args[0], var, at)
        if s == 0:
            return node
        if isinstance(node, sympy.Abs):
            return s * node.args[0]
        if isinstance(node, sympy.sign):
            return sympy.Integer(s)
        return sympy.Integer(1 if s > 0 else 0)  # Heaviside

    if not expr.has(*switch_types):
        return expr
    return expr.replace(lambda z: isinstance(z, switch_types), resolve)


def _limit_at_infinity(expr: sympy.Expr, var: sympy.Symbol, sign: int) -> sympy.Expr | None:
    """``lim expr`` for ``var -> sign*oo`` (primitives rewritten with exp), or ``None``."""

    def compute() -> sympy.Expr | None:
        form = _elementary(_branch_at(expr, var, sign * sympy.Integer(10) ** 40))
        result = sympy.limit(form, var, sign * _OO)
        return result if _is_real_number(result) else None

    return _bounded_call(compute)


# --- breakpoints -------------------------------------------------------------------------------


def _switches(expr: sympy.Expr, var: sympy.Symbol) -> list[sympy.Expr]:
    """Expressions whose zeros in ``var`` are where the formula may switch branch."""
    found: list[sympy.Expr] = []
    for pw in expr.atoms(sympy.Piecewise):
        for _, cond in pw.args:
            if isinstance(cond, sympy.Basic):
                found.extend(rel.lhs - rel.rhs for rel in cond.atoms(sympy.core.relational.Relational))
    found.extend(fn.args[0] for fn in expr.atoms(sympy.Abs, sympy.sign, sympy.Heaviside, sympy.DiracDelta))
    for fn in expr.atoms(sympy.Max, sympy.Min):
        found.extend(a - b for a, b in itertools.combinations(fn.args, 2))
    return [s for s in found if s.has(var)]


def _solved_points(s: sympy.Expr, var: sympy.Symbol) -> list[sympy.Expr] | None:
    solved = _bounded_call(lambda: sympy.solveset(s, var, sympy.S.Reals))
    if solved is None:
        return None
    if isinstance(solved, sympy.FiniteSet):
        return list(solved)
    if solved is sympy.S.EmptySet:
        return []
    parts = solved.args if isinstance(solved, sympy.Union) else (solved,)
    if isinstance(solved, (sympy.Interval, sympy.Union)) and all(
            isinstance(part, (sympy.Interval, sympy.FiniteSet)) for part in parts):
        return list(solved.boundary)
    return None


def _numeric_roots(s: sympy.Expr, var: sympy.Symbol, xs: np.ndarray) -> list[sympy.Expr]:
    """Sign changes and zeros of ``s`` on the sample, located with the float kernel and
    refined by exact bisection to ``1e-45`` relative (only where the exact signs differ)."""
    kernel = Expression(s, [var.name], name="switch")
    with np.errstate(all="ignore"):
        values = np.broadcast_to(np.asarray(kernel.eval(xs), dtype=np.float64), xs.shape)
    state = np.sign(values)
    exact = _elementary(s)
    roots: list[sympy.Expr] = []
    for i in np.nonzero(state[:-1] != state[1:])[0][:50]:
        lo, hi = _rational(xs[i]), _rational(xs[i + 1])
        s_lo, s_hi = _sign_at(exact, var, lo), _sign_at(exact, var, hi)
        if s_lo == 0 or s_hi == 0:
            roots += [t for t, sign_ in ((lo, s_lo), (hi, s_hi)) if sign_ == 0]
            continue
        if s_lo == s_hi:
            continue  # a float artefact: no exact sign change here
        while hi - lo > sympy.Rational(1, 10**45) * max(1, abs(lo)):
            mid = (lo + hi) / 2
            s_mid = _sign_at(exact, var, mid)
            if s_mid == 0:
                lo = hi = mid
            elif s_mid == s_lo:
                lo = mid
            else:
                hi = mid
        roots.append((lo + hi) / 2)
    return roots


def switch_points(f: sympy.Expr, var: sympy.Symbol) -> tuple[sympy.Expr, ...]:
    """Exact points, sorted, where a branch of ``f`` itself may switch (candidates for kinks).

    The zeros of every relation in a ``Piecewise`` condition, of the arguments of ``Abs``,
    ``sign`` and ``Heaviside``, and the ties of ``Max``/``Min`` arguments: solved exactly
    where SymPy can, else bracketed on a sample and bisected exactly.

    Examples:
        >>> from mathforge import MathForge, symbol
        >>> switch_points(MathForge().get("relu6").symbolic_expr, symbol("x"))
        (0, 6)
    """
    return _breakpoints(f, var, orders=1)


def _breakpoints(f: sympy.Expr, var: sympy.Symbol, orders: int = 4) -> tuple[sympy.Expr, ...]:
    """Exact points, sorted, where a branch of ``f`` or of its derivatives below ``orders`` may switch."""
    switch_types = (sympy.Piecewise, sympy.Abs, sympy.sign, sympy.Heaviside, sympy.DiracDelta,
                    sympy.Max, sympy.Min)
    if not f.has(*switch_types):
        return ()
    switches: set[sympy.Expr] = set()
    derivative = f
    for order in range(orders):
        if order:
            derivative = sympy.diff(derivative, var)
        switches.update(_switches(derivative, var))
    points: dict[float, sympy.Expr] = {}
    for s in sorted(switches, key=sympy.default_sort_key):  # deterministic representatives
        found = _solved_points(s, var)
        if found is None:
            found = _solved_points(_elementary(s), var)
        if found is None:
            found = _numeric_roots(s, var, _base_grid())
        for p in found:
            if p.is_real and p.is_finite and abs(_as_float(p)) <= MAX_BREAKPOINT:
                points.setdefault(_as_float(p), p)
    return tuple(points[k] for k in sorted(points))


# --- the sample --------------------------------------------------------------------------------


@functools.cache
def _base_grid() -> np.ndarray:
    tails = np.logspace(np.log10(50.0), 6.0, 4001)
    small = np.logspace(-300.0, 0.0, 601)
    return np.unique(np.concatenate([
        _dense_grid(), tails, -tails, small, -small, np.arange(-10.0, 10.5, 0.5), [0.0],
    ]))


@functools.cache
def _dense_grid() -> np.ndarray:
    """``[-50, 50]`` in steps of 1/2000, each point the double nearest its decimal value."""
    return np.arange(-100_000, 100_001) / 2000.0


# --- range components --------------------------------------------------------------------------


@dataclass(frozen=True)
class _End:
    """One end of a piece's image: an exact (or 40-digit) value and whether it is attained."""

    value: sympy.Expr
    attained: bool
    how: str


@dataclass(frozen=True)
class _Component:
    lo: sympy.Expr
    hi: sympy.Expr
    lo_closed: bool
    hi_closed: bool


def _less(a: sympy.Expr, b: sympy.Expr) -> bool:
    if a == b:
        return False
    if a == -_OO or b == _OO:
        return True
    if a == _OO or b == -_OO:
        return False
    return bool((a - b).evalf(DPS) < 0)


def _merge(components: list[_Component]) -> list[_Component]:
    """The union of the components as disjoint, sorted components."""
    order = sorted(components, key=functools.cmp_to_key(
        lambda p, q: -1 if _less(p.lo, q.lo) else 1 if _less(q.lo, p.lo) else (q.lo_closed - p.lo_closed)))
    merged: list[_Component] = []
    for c in order:
        if merged:
            last = merged[-1]
            touching = not _less(last.hi, c.lo) and (last.hi != c.lo or last.hi_closed or c.lo_closed)
            if touching:
                if _less(last.hi, c.hi):
                    hi, hi_closed = c.hi, c.hi_closed
                elif last.hi == c.hi:
                    hi, hi_closed = last.hi, last.hi_closed or c.hi_closed
                else:
                    hi, hi_closed = last.hi, last.hi_closed
                lo_closed = last.lo_closed or (last.lo == c.lo and c.lo_closed)
                merged[-1] = _Component(last.lo, hi, lo_closed, hi_closed)
                continue
        merged.append(c)
    return merged


def _decimal(value: sympy.Expr) -> tuple[decimal.Decimal, bool]:
    """``(d, exact)``: ``d`` the value to 50 digits, ``exact`` if ``d`` is exactly the value
    (or a 40-digit value whose digits stop within ``RANGE_DIGITS``)."""
    context = decimal.Context(prec=50)
    if isinstance(value, sympy.Rational):
        context.clear_flags()
        d = context.divide(decimal.Decimal(int(value.p)), decimal.Decimal(int(value.q)))
        return d, not context.flags[decimal.Inexact]
    d = decimal.Decimal(str(sympy.Float(value.evalf(50), 50)))
    digits = d.normalize().as_tuple().digits
    return d, len(digits) <= RANGE_DIGITS


def _format_number(value: sympy.Expr, rounding: str) -> str:
    """``value`` as text: exact if its decimal expansion has at most ``RANGE_DIGITS``
    significant digits, else ``RANGE_DIGITS`` digits rounded with ``rounding``."""
    if value == _OO:
        return "oo"
    if value == -_OO:
        return "-oo"
    d, exact = _decimal(value)
    if exact:
        short = decimal.Context(prec=RANGE_DIGITS, rounding=rounding).plus(d)
        if short == d:
            d = short.normalize()
        else:
            exact = False
    if not exact:
        d = decimal.Context(prec=RANGE_DIGITS, rounding=rounding).plus(d)
    if d == 0:
        return "0"
    exponent = d.adjusted()
    text = format(d, "f") if -8 <= exponent <= 20 else format(d, "e")
    return text


def _format_range(components: list[_Component]) -> str:
    parts = []
    for c in components:
        if c.lo == c.hi:
            parts.append("{" + _format_number(c.lo, decimal.ROUND_HALF_EVEN) + "}")
        else:
            parts.append(f"{'[' if c.lo_closed else '('}{_format_number(c.lo, decimal.ROUND_FLOOR)}, "
                         f"{_format_number(c.hi, decimal.ROUND_CEILING)}{']' if c.hi_closed else ')'}")
    return " U ".join(parts)


# --- the analysis of one expression -------------------------------------------------------------


class _Analysis:
    """Everything computed for one expression at its current parameters."""

    def __init__(self, e: Expression) -> None:
        self.e = e
        self.name = e.name
        self.var = symbol(e.variables[0])
        self.f = _with_params(e, e.symbolic_expr)
        self.f_exact = _elementary(self.f)
        self.grad = e.gradient()
        self.df = _with_params(e, self.grad.symbolic_expr)
        self.breakpoints = _breakpoints(self.f, self.var)
        extra = []
        for b in self.breakpoints:
            bf = _as_float(b)
            extra += [bf, np.nextafter(bf, -np.inf), np.nextafter(bf, np.inf)]
        self.xs = np.unique(np.concatenate([_base_grid(), np.asarray(extra, dtype=np.float64)]))
        with np.errstate(all="ignore"):
            self.v = np.asarray(e.eval(self.xs), dtype=np.float64)
            try:
                self.d = np.asarray(self.grad.eval(self.xs), dtype=np.float64)
            except Exception as exc:  # noqa: BLE001 - e.g. a DiracDelta that no kernel can print
                raise ValueError(f"{self.name}: the gradient {self.grad.symbolic_expr} cannot be evaluated: "
                                 f"{type(exc).__name__}: {exc}") from exc
        for label, array in (("f", self.v), ("f'", self.d)):
            bad = np.isnan(array)
            if bad.any():
                raise ValueError(f"{self.name}: {label} is NaN at {int(bad.sum())} finite sample points, e.g. "
                                 f"x = {self.xs[bad][:5].tolist()}; properties need a function defined on "
                                 f"all reals")
        self.limits = (_limit_at_infinity(self.f, self.var, -1), _limit_at_infinity(self.f, self.var, +1))
        self.evidence: dict[str, str] = {}
        self._memo: dict[tuple[Any, ...], Any] = {}

    # --- pieces ---------------------------------------------------------------------------

    @functools.cached_property
    def bounds(self) -> tuple[sympy.Expr, ...]:
        return (-_OO, *self.breakpoints, _OO)

    def _delta(self, b: sympy.Expr) -> sympy.Expr:
        return sympy.Rational(1, 10**30) * max(1, abs(_rational(_as_float(b))))

    def branch_near(self, b: sympy.Expr, side: int) -> sympy.Expr:
        """The analytic branch of ``f`` just left (``side=-1``) or right (+1) of breakpoint ``b``,
        exp-rewritten."""
        key = ("branch", b, side)
        if key not in self._memo:
            self._memo[key] = _elementary(_branch_at(self.f, self.var, b + side * self._delta(b)))
        return self._memo[key]

    def piece_branch(self, i: int) -> sympy.Expr:
        """The analytic branch of ``f`` on piece ``i`` (between ``bounds[i]`` and ``bounds[i+1]``)."""
        lo, hi = self.bounds[i], self.bounds[i + 1]
        if lo == -_OO and hi == _OO:
            return self.f_exact
        if lo == -_OO:
            return self.branch_near(hi, -1)
        return self.branch_near(lo, +1)

    def piece_indices(self, i: int) -> np.ndarray:
        lo, hi = self.bounds[i], self.bounds[i + 1]
        inside = np.ones(self.xs.shape, dtype=bool)
        if lo != -_OO:
            inside &= self.xs > _as_float(lo)
        if hi != _OO:
            inside &= self.xs < _as_float(hi)
        return np.nonzero(inside)[0]

    def one_sided(self, b: sympy.Expr, side: int) -> sympy.Expr | None:
        """The limit of ``f`` at breakpoint ``b`` from the left (-1) or right (+1), exactly."""
        key = ("one_sided", b, side)
        if key not in self._memo:
            branch = self.branch_near(b, side)
            value = _exact_at(branch, self.var, b)
            if not _is_real_number(value):
                value = _bounded_call(lambda: sympy.limit(branch, self.var, b, "+" if side > 0 else "-"))
                value = value if _is_real_number(value) else None
            self._memo[key] = value
        return self._memo[key]

    def end_limits(self, i: int) -> tuple[sympy.Expr | None, sympy.Expr | None]:
        lo, hi = self.bounds[i], self.bounds[i + 1]
        left = self.limits[0] if lo == -_OO else self.one_sided(lo, +1)
        right = self.limits[1] if hi == _OO else self.one_sided(hi, -1)
        return left, right

    # --- range ----------------------------------------------------------------------------

    def _refine(self, j: int, sign: int) -> tuple[float, float]:
        """The local minimum of ``sign*f`` between the grid neighbours of sample ``j``: ``(x, f(x))``."""
        from scipy.optimize import minimize_scalar

        lo, hi = float(self.xs[j - 1]), float(self.xs[j + 1])
        best = (float(self.xs[j]), float(self.v[j]))
        with np.errstate(all="ignore"):
            found = minimize_scalar(lambda t: sign * self.e.eval(float(t)), bounds=(lo, hi), method="bounded",
                                    options={"xatol": 1e-15 * max(1.0, abs(lo))})
        if found.success and math.isfinite(found.fun) and found.fun < sign * best[1]:
            best = (float(found.x), float(sign * found.fun))
        return best

    def _polish(self, i: int, x_ref: float, f_ref: float, width: float) -> tuple[sympy.Expr, str]:
        """The interior extremum near ``x_ref`` of piece ``i``, exactly or to ``POLISH_DPS`` digits."""
        var, branch = self.var, self.piece_branch(i)
        slope = sympy.diff(branch, var)
        tol = EXACT_TOLERANCE * max(1.0, abs(f_ref))
        if branch.is_rational_function(var):
            lo, hi = self.bounds[i], self.bounds[i + 1]
            roots = _bounded_call(lambda: sympy.solveset(slope, var, sympy.Interval.open(lo, hi)))
            if isinstance(roots, sympy.FiniteSet) and roots:
                root = min(roots, key=lambda r: abs(_as_float(r) - x_ref))
                value = sympy.radsimp(branch.subs(var, root))
                if abs(_as_float(root) - x_ref) <= width and abs(_as_float(value) - f_ref) <= tol:
                    return value, f"f({root}) = {value} exactly (a root of f' = {slope})"
        try:
            import mpmath

            with mpmath.workdps(POLISH_DPS):
                slope_fn = sympy.lambdify(var, slope, modules="mpmath")
                value_fn = sympy.lambdify(var, branch, modules="mpmath")
                root = mpmath.findroot(slope_fn, mpmath.mpf(repr(x_ref)))
                value = value_fn(root)
                if (mpmath.im(root) == 0 and mpmath.im(value) == 0 and abs(float(mpmath.re(root)) - x_ref) <= width
                        and abs(float(mpmath.re(value)) - f_ref) <= tol):
                    return (sympy.Float(mpmath.nstr(mpmath.re(value), POLISH_DPS), POLISH_DPS),
                            f"f({mpmath.nstr(root, 20)}) = {mpmath.nstr(value, 20)} (mpmath root of f')")
        except Exception:  # noqa: BLE001 - polishing is optional; the float refinement stands
            pass
        return sympy.Float(repr(f_ref)), f"f({x_ref!r}) = {f_ref!r} (float refinement)"

    def _attained(self, i: int, value: sympy.Expr, idx: np.ndarray) -> str | None:
        """Where the branch of piece ``i`` equals ``value`` exactly at a sampled point, or None."""
        if value in (_OO, -_OO):
            return None
        branch, var = self.piece_branch(i), self.var
        if not branch.has(var) and _gap(branch, value) == 0:
            return f"f is constant {value} on the piece"
        af = _as_float(value)
        slack = 2 * (4 * float(np.spacing(abs(af))) + 1e-300)
        near = idx[(np.abs(self.xs[idx]) <= 50) & (np.abs(self.v[idx] - af) <= slack)]
        if near.size == 0:
            return None
        picks = sorted({int(near[np.argmin(np.abs(self.xs[near]))]), int(near[0]), int(near[-1]),
                        int(near[near.size // 2])})
        for j in picks:
            difference = (branch - value).subs(var, _rational(self.xs[j]))
            if difference == 0 or difference.evalf(DPS, maxn=2000) == 0:
                return f"f({float(self.xs[j])!r}) = {value} exactly"
        return None

    def piece_end(self, i: int, sign: int) -> _End:
        """The infimum (``sign=+1``) or supremum (-1) of ``f`` on piece ``i``."""
        idx = self.piece_indices(i)
        left, right = self.end_limits(i)
        lo, hi = self.bounds[i], self.bounds[i + 1]
        limits: list[tuple[sympy.Expr, str]] = []
        for limit, at, edge in ((left, lo, 0), (right, hi, -1)):
            where = f"x -> {at}" + ("" if at in (_OO, -_OO) else ("+" if edge == 0 else "-"))
            if limit is None and idx.size:  # SymPy could not say: the sample at that edge decides
                sample = float(self.v[idx[edge]])
                if abs(sample) > 1e5:
                    limit = _OO if sample > 0 else -_OO
                else:
                    limit = sympy.Float(repr(sample))
                where += f" (SymPy gave no limit; sampled f({float(self.xs[idx[edge]])!r}) = {sample!r})"
            if limit is not None:
                limits.append((limit, where))
        best_limit = min(limits, key=lambda p: sign * _as_float(p[0])) if limits else None
        if idx.size:
            values = sign * self.v[idx]
            k = int(np.argmin(values))
            j = int(idx[k])
            sampled = float(self.v[j])
            beyond = best_limit is None or sign * (sampled - _as_float(best_limit[0])) < -EXACT_TOLERANCE * max(
                1.0, abs(sampled))
            # refine the extreme sample and the near-extreme sample of smallest |x| (where the
            # grid is dense: a periodic f peaks everywhere, and the tails are sampled coarsely)
            inner = {k}
            if math.isfinite(sampled):
                near = np.nonzero(values <= values[k] + 1e-6 * max(1.0, abs(sampled)))[0]
                inner.add(int(near[np.argmin(np.abs(self.xs[idx[near]]))]))
            interior: tuple[float, float, int] | None = None
            for k2 in sorted(inner):
                if 0 < k2 < idx.size - 1:
                    x_ref, f_ref = self._refine(int(idx[k2]), sign)
                    if interior is None or sign * f_ref < sign * interior[1]:
                        interior = (x_ref, f_ref, int(idx[k2]))
            if interior is not None:
                x_ref, f_ref, j2 = interior
                tol = EXACT_TOLERANCE * max(1.0, abs(f_ref))
                if best_limit is None or sign * (f_ref - _as_float(best_limit[0])) < -tol:
                    width = float(self.xs[j2 + 1] - self.xs[j2 - 1])
                    value, how = self._polish(i, x_ref, f_ref, width)
                    return _End(value, True, f"interior {'minimum' if sign > 0 else 'maximum'} {how}")
            if beyond and not 0 < k < idx.size - 1:  # an edge sample past every limit: attained there
                return _End(sympy.Float(repr(sampled)), True, f"sampled f({float(self.xs[j])!r}) = {sampled!r}")
        if best_limit is None:
            raise ValueError(f"{self.name}: no sample and no limit on the piece ({lo}, {hi})")
        value, where = best_limit
        attained = self._attained(i, value, idx)
        how = f"lim {where} = {value}" + (f", attained: {attained}" if attained else ", not attained")
        return _End(value, attained is not None, how)

    @functools.cached_property
    def components(self) -> list[_Component]:
        parts: list[_Component] = []
        notes = []
        for i in range(len(self.bounds) - 1):
            low, high = self.piece_end(i, +1), self.piece_end(i, -1)
            parts.append(_Component(low.value, high.value, low.attained, high.attained))
            notes.append(f"on ({self.bounds[i]}, {self.bounds[i + 1]}): inf {low.how}; sup {high.how}")
        for b in self.breakpoints:
            value = _exact_at(self.f_exact, self.var, b)
            if not _is_real_number(value) or value in (_OO, -_OO):
                raise ValueError(f"{self.name}: f({b}) = {value} is not a finite real number")
            parts.append(_Component(value, value, True, True))
            notes.append(f"f({b}) = {value}")
        self.evidence["range"] = "; ".join(notes)
        return _merge(parts)

    # --- the other properties -------------------------------------------------------------

    def monotonic(self) -> bool:
        v, d = self.v, self.d
        with np.errstate(invalid="ignore"):  # inf - inf in overflowing tails
            steps = np.nan_to_num(np.diff(v), nan=0.0)
            ulps = np.nan_to_num(4 * np.spacing(np.maximum(np.abs(v[:-1]), np.abs(v[1:]))), nan=np.inf) + 1e-300
        up = d.min() >= -1e-300 and bool((steps >= -ulps).all())
        down = d.max() <= 1e-300 and bool((steps <= ulps).all())
        if up or down:
            self.evidence["monotonic"] = (f"f' >= 0 on the sample (min f' = {float(d.min())!r})" if up
                                          else f"f' <= 0 on the sample (max f' = {float(d.max())!r})")
            return True
        lo, hi = int(np.argmin(d)), int(np.argmax(np.where(np.isfinite(d), d, 0)))
        self.evidence["monotonic"] = (f"f'({float(self.xs[lo])!r}) = {float(d[lo])!r}, "
                                      f"f'({float(self.xs[hi])!r}) = {float(d[hi])!r}, or a drop in value")
        return False

    def zero_centered(self, f0: float) -> bool:
        negative, positive = bool((self.v < 0).any()), bool((self.v > 0).any())
        self.evidence["zero_centered"] = (f"f(0) = {f0!r}; negative values: {negative}; positive values: "
                                          f"{positive}")
        return f0 == 0 and negative and positive

    def smoothness(self) -> str:
        if not self.breakpoints:
            self.evidence["smoothness"] = "no breakpoints (no Piecewise/Abs/sign/Max/Min/Heaviside switching)"
            return "Cinf"
        var = self.var
        sides = {b: [self.branch_near(b, -1), self.branch_near(b, +1)] for b in self.breakpoints}
        for order in range(MAX_ORDER + 1):
            for b in self.breakpoints:
                left_branch, right_branch = sides[b]
                if order:
                    left_branch, right_branch = sympy.diff(left_branch, var), sympy.diff(right_branch, var)
                    sides[b] = [left_branch, right_branch]
                left, right = _exact_at(left_branch, var, b), _exact_at(right_branch, var, b)
                gap = _gap(left, right)
                detail = ""
                if order == 0:
                    at = _exact_at(self.f_exact, var, b)
                    gap = max(gap, _gap(at, left), _gap(at, right))
                    detail = f", f(b) = {_as_float(at):.17g}"
                if gap > JUMP:
                    label = _SMOOTHNESS[order] if order < len(_SMOOTHNESS) else f"C{order - 1}"
                    what = "f" if order == 0 else f"d^{order}f/dx^{order}"
                    self.evidence["smoothness"] = (f"{what} jumps at b = {_as_float(b):.17g}: left "
                                                   f"{_as_float(left):.17g}, right {_as_float(right):.17g}{detail}")
                    return label
        self.evidence["smoothness"] = (f"breakpoints {[_as_float(b) for b in self.breakpoints]} but no jump in "
                                       f"derivatives up to order {MAX_ORDER}")
        return "Cinf"

    def self_gated(self) -> bool:
        var = self.var
        g_expr = sympy.piecewise_fold(self.f / var)
        branches = [value for value, _ in g_expr.args] if isinstance(g_expr, sympy.Piecewise) else [g_expr]
        for branch in branches:
            for factor in sympy.Mul.make_args(branch):
                base, exp = factor.as_base_exp()
                if base == var and exp.is_negative:
                    self.evidence["self_gated"] = f"f = {self.f} is not x times a factor (f/x keeps a 1/x)"
                    return False
        nonzero = self.xs != 0
        g, gx = self.v[nonzero] / self.xs[nonzero], self.xs[nonzero]
        if not ((g >= -1e-12) & (g <= 1 + 1e-12)).all():
            i = int(np.argmax(np.maximum(-g, g - 1)))
            self.evidence["self_gated"] = f"g = f/x leaves [0, 1]: g({float(gx[i])!r}) = {float(g[i])!r}"
            return False
        inside = g[(g > 1e-12) & (g < 1 - 1e-12)]
        distinct = int(np.unique(np.round(inside, 12)).size)
        if distinct < 16:
            self.evidence["self_gated"] = (f"g = f/x is constant or a step: {distinct} distinct value(s) strictly "
                                           f"inside (0, 1)")
            return False
        low, high = self.ratio_limit(-1), self.ratio_limit(+1)
        if low is None or high is None:
            opens = bool(g[0] <= 1e-3 and g[-1] >= 1 - 1e-3)
            gate = f"sampled g({float(gx[0])!r}) = {float(g[0])!r}, g({float(gx[-1])!r}) = {float(g[-1])!r}"
        else:
            opens = bool(low == 0 and high == 1)
            gate = f"lim g at -oo = {low}, at +oo = {high}"
        self.evidence["self_gated"] = (f"f = x*g with g = {g_expr} in [0, 1], {distinct} distinct values inside "
                                       f"(0, 1), {gate}")
        return opens

    def sparse(self) -> bool:
        for i in range(len(self.bounds) - 1):
            branch = self.piece_branch(i)
            zero = branch == 0
            if not zero and not branch.has(self.var):
                zero = _gap(branch, sympy.Integer(0)) == 0
            if not zero:
                idx = self.piece_indices(i)
                if idx.size > 1 and not self.v[idx].any():  # all samples 0: confirm symbolically
                    zero = sympy.simplify(branch) == 0
            if zero:
                self.evidence["sparse"] = f"f = 0 on ({self.bounds[i]}, {self.bounds[i + 1]})"
                return True
        self.evidence["sparse"] = "no piece on which f is identically 0"
        return False

    def max_abs_gradient(self) -> tuple[float, float]:
        """``(sup |f'|, where)``: sampled on [-50, 50] and the breakpoints, with the limits at +-oo."""
        xs = np.unique(np.concatenate([_dense_grid(), [_as_float(b) for b in self.breakpoints
                                                        if abs(_as_float(b)) <= 50]]))
        with np.errstate(all="ignore"):
            a = np.abs(np.asarray(self.grad.eval(xs), dtype=np.float64))
        if np.isnan(a).any():
            raise ValueError(f"{self.name}: f' is NaN at x = {xs[np.isnan(a)][:5].tolist()}")
        top = float(a.max())
        ties = np.nonzero(a == top)[0]
        j = int(ties[np.lexsort((-xs[ties], np.abs(xs[ties])))[0]])  # smallest |x|, then positive
        best_x, best = float(xs[j]), top
        if 0 < j < xs.size - 1 and a[j - 1] < top and a[j + 1] < top:  # an isolated peak: refine
            from scipy.optimize import minimize_scalar

            with np.errstate(all="ignore"):
                found = minimize_scalar(lambda t: -abs(self.grad.eval(float(t))), bounds=(xs[j - 1], xs[j + 1]),
                                        method="bounded", options={"xatol": 1e-12})
            if found.success and math.isfinite(found.fun) and -found.fun > best + 4 * float(np.spacing(best)):
                best_x, best = float(found.x), float(-found.fun)
                best_x, best = self._polish_peak(best_x, best, float(xs[j + 1] - xs[j - 1]))
        how = f"sampled max |f'({best_x!r})| = {best!r}"
        for b in self.breakpoints:  # a one-sided limit at a kink may exceed every value (hard_swish at 3-)
            if abs(_as_float(b)) > 50:
                continue
            for side in (-1, +1):
                slope = _exact_at(sympy.diff(self.branch_near(b, side), self.var), self.var, b)
                size = abs(_as_float(slope)) if _is_real_number(slope) else math.nan
                if size > best * (1 + EXACT_TOLERANCE):
                    best, best_x = size, _as_float(b)
                    how += f"; |f'| -> {abs(slope)} as x -> {b}{'+' if side > 0 else '-'}"
        approached: list[tuple[float, sympy.Expr | None]] = []  # (side, exact |limit| or None)
        for sign in (+1, -1):
            size, exact_size, note = self._gradient_limit(sign)
            how += f"; |f'| -> {note} at {'+' if sign > 0 else '-'}oo"
            if math.isnan(size):
                continue
            if size > best * (1 + EXACT_TOLERANCE):
                best, approached = size, [(sign * math.inf, exact_size)]
            elif size >= best * (1 - EXACT_TOLERANCE):
                approached.append((sign * math.inf, exact_size))
        if approached and math.isfinite(best_x):
            # the sampled maximum equals a limit. A limit of a non-constant analytic branch is
            # not attained (tanh_shrink: f' = tanh(x)**2 < 1); a constant branch's may be, if
            # |f'| equals it exactly at the sample (relu: f' = 1 on (0, oo)).
            exact = _exact_at(_elementary(self.df), self.var, _rational(best_x))
            if _is_real_number(exact) and any(size is not None and _gap(abs(exact), size) == 0
                                              for _, size in approached):
                approached = []
                how += f"; attained: |f'({best_x!r})| equals the limit exactly"
        if approached:
            best_x = approached[0][0]
            how += "; the maximum is only approached at infinity"
        self.evidence["max_abs_gradient"] = how
        return best, best_x

    def _polish_peak(self, x_ref: float, peak: float, width: float) -> tuple[float, float]:
        """A smooth peak of ``|f'|`` near ``x_ref``: the root of ``f''`` found by ``mpmath.findroot``
        at ``POLISH_DPS`` digits, with ``|f'|`` there; ``(x_ref, peak)`` if that fails."""
        if any(_as_float(b) == x_ref for b in self.breakpoints):
            return x_ref, peak
        i = sum(1 for b in self.breakpoints if _as_float(b) < x_ref)
        branch, var = self.piece_branch(i), self.var
        try:
            import mpmath

            with mpmath.workdps(POLISH_DPS):
                slope = sympy.lambdify(var, sympy.diff(branch, var), modules="mpmath")
                curvature = sympy.lambdify(var, sympy.diff(branch, var, 2), modules="mpmath")
                root = mpmath.findroot(curvature, mpmath.mpf(repr(x_ref)))
                value = abs(slope(root))
                if (mpmath.im(root) == 0 and abs(float(mpmath.re(root)) - x_ref) <= width
                        and float(value) >= peak - 4 * float(np.spacing(peak))):
                    return float(mpmath.re(root)), float(value)
        except Exception:  # noqa: BLE001 - polishing is optional; the float refinement stands
            pass
        return x_ref, peak

    def ratio_limit(self, sign: int) -> sympy.Expr | None:
        """``lim f(x)/x`` as ``x -> sign*oo`` (SymPy), or None."""
        key = ("ratio", sign)
        if key not in self._memo:
            self._memo[key] = _limit_at_infinity(sympy.piecewise_fold(self.f / self.var), self.var, sign)
        return self._memo[key]

    def _gradient_limit(self, sign: int) -> tuple[float, sympy.Expr | None, str]:
        """``(|lim f'|, exact |lim f'| or None, text)`` as ``x -> sign*oo`` (NaN if unknown).

        A constant branch of the gradient there is its exact limit. Otherwise, if ``f'`` has
        a limit, it is 0 where ``f`` has a finite limit and ``lim f/x`` where ``f`` is
        unbounded (L'Hopital); both limits are cheap for SymPy, unlike the limit of the
        derivative itself (seconds for gelu_tanh). The candidate must agree with the
        gradient kernel at ``x = sign*1e6`` (to ``1e-6``; beyond ``1e5`` and growing for an
        infinite one); if it does not, SymPy's limit of ``f'`` decides.
        """
        var = self.var
        branch = _branch_at(self.df, var, sign * sympy.Integer(10) ** 40)
        if not branch.has(var):
            value = _exact_at(_elementary(branch), var, sympy.Integer(0))
            if _is_real_number(value):
                return abs(_as_float(value)), abs(value), f"{abs(value)} (a constant branch)"
        f_limit = self.limits[0 if sign < 0 else 1]
        candidate = None
        if f_limit is not None:
            candidate = sympy.Integer(0) if f_limit.is_finite else self.ratio_limit(sign)
        with np.errstate(all="ignore"):
            far = np.abs(np.asarray(self.grad.eval(np.array([sign * 1e5, sign * 1e6])), dtype=np.float64))
        if candidate is not None:
            size = abs(candidate)
            if size == _OO:
                agrees = bool(far[1] > 1e5 and far[1] >= far[0])
            else:
                agrees = bool(abs(far[1] - _as_float(size)) <= 1e-6 * max(1.0, _as_float(size)))
            if agrees:
                return _as_float(size), size, f"{size} (lim f = {f_limit}; |f'({sign * 1e6:g})| = {far[1]!r})"
        limit = _limit_at_infinity(self.df, var, sign)
        if limit is None:
            return math.nan, None, "unknown (SymPy gave no limit of f')"
        return abs(_as_float(limit)), abs(limit), f"{abs(limit)} (SymPy limit of f')"

    # --- all together ---------------------------------------------------------------------

    def properties(self) -> Properties:
        e, grad = self.e, self.grad
        components = self.components
        text = _format_range(components)
        first, last = components[0], components[-1]
        lower, upper = _as_float(first.lo) + 0.0, _as_float(last.hi) + 0.0
        f0, df0 = float(e.eval(0.0)) + 0.0, float(grad.eval(0.0)) + 0.0  # + 0.0: no negative zero
        max_gradient, where = self.max_abs_gradient()
        saturation = {x: abs(float(grad.eval(x))) for x in SATURATION_POINTS}
        return Properties(
            range=text,
            lower=lower,
            upper=upper,
            lower_attained=bool(first.lo_closed),
            upper_attained=bool(last.hi_closed),
            bounded_below=math.isfinite(lower),
            bounded_above=math.isfinite(upper),
            monotonic=self.monotonic(),
            zero_centered=self.zero_centered(f0),
            self_gated=self.self_gated(),
            smoothness=self.smoothness(),
            f0=f0,
            df0=df0,
            max_abs_gradient=max_gradient,
            argmax_abs_gradient=where,
            saturation=saturation,
            sparse=self.sparse(),
            vanishing_factor=max_gradient ** LAYERS,
            evidence=MappingProxyType(dict(self.evidence)),
        )
