"""Every metadata claim of every activation, checked against its formula.

Parametrised over ``MathForge().list_all(category="activation")``, so a new YAML file is
covered automatically. A claim is never compared with another claim: each one is
recomputed from ``symbolic_expr`` (exactly, with SymPy, or on a dense float64 sample of
the compiled kernel), with parameters at their defaults.

The sample (``GRID``): 200 001 points of ``linspace(-50, 50)``, log-spaced tails out to
``+-1e6``, log-spaced small magnitudes down to ``+-1e-300``, the half-integers in
``[-10, 10]``, 0, and per entry its breakpoints with their float neighbours.

Exact values (``exact_value``) substitute a rational ``x`` into the formula (parameters and
float literals turned into the rationals of their decimal text, primitives rewritten with
``exp`` -- normal_cdf becomes erfc) and evaluate with ``evalf`` at 60 digits.

The rules, one per claim:

range ``"(a, b)"``, ``"[a, b]"`` ...
    Parsed by a small parser (brackets by regex, each endpoint by
    ``mathforge.parse_formula`` with the entry's parameters, then defaults substituted;
    ``oo``/``-oo`` by hand). Never sympified or evaluated as Python.

    A union such as ``"(-oo, -lambd) U {0} U (lambd, oo)"`` is read component by component
    (intervals and finite sets ``{c, ...}``).

    * No sample leaves the range (the union), allowing 4 ulps of the endpoint.
    * Every component is visited, and every point of a ``{c}`` is attained exactly.
    * A finite end is approached, each of them judged on the samples inside its component:
      the sampled extremum, refined between its grid neighbours by
      ``scipy.optimize.minimize_scalar`` on the kernel, is within ``1e-12*max(1, |a|)`` of
      it and not beyond it by more than 4 ulps; or a limit at ``+-oo`` (SymPy ``limit`` of
      the exp-rewritten formula) or an exact one-sided limit at a breakpoint equals it to
      ``1e-12``. An extremum in the sampled tails that SymPy cannot confirm as a limit must
      come within ``1e-6*max(1, |a|)``.
    * A finite end is *attained* if the formula equals it exactly at a finite sampled
      point (a plateau, confirmed at 60 digits), or if it is not a limit at all (then
      the extremum is taken at an interior point, as swish's minimum). A closed end must
      be attained; an open end must not be (tanh(20) rounds to 1.0 in float64, but the
      exact tanh(20) is below 1, so ``(-1, 1)`` is right).
    * An ``oo`` end needs the formula to be unbounded that way: a limit at ``+-oo`` is
      infinite (or, if SymPy cannot say, the samples pass ``1e5`` in magnitude).

bounded_below / bounded_above
    Equal to "no limit at ``+-oo`` is ``-oo`` (``+oo``)" for the formula, and agree with
    the range end being finite.

monotonic
    True iff the derivative ``e.gradient().eval`` is ``>= -1e-300`` on the sample and the
    values never drop by more than 4 ulps (or the mirror image: non-increasing). The value
    check catches downward jumps the derivative cannot see. False needs evidence both
    ways: a derivative ``< -1e-12`` (or a drop ``> 1e-12``) and one ``> 1e-12``.

zero_centered
    True iff ``f(0) == 0`` and the sample holds strictly negative and strictly positive
    values.

smoothness
    Breakpoints: the zeros in ``x`` (at default parameters) of ``lhs - rhs`` of every
    relational in a Piecewise condition, of the arguments of Abs, sign, Heaviside,
    DiracDelta, and of the pairwise differences of Max/Min arguments, in f and its first
    three derivatives (``solveset`` over the reals; a numeric sign-change search with
    exact bisection when it cannot answer). At each breakpoint ``b`` the k-th derivative
    (``sympy.diff`` of the formula; ``e.derivative`` cannot compile the DiracDelta that
    Max/Min produce) is evaluated exactly at ``b -+ 1e-30*max(1, |b|)``; it *jumps* if the
    two sides differ by more than 1e-12 (for k = 0 also f(b) itself is compared with both
    sides). The first order k that jumps anywhere gives the class: k = 0
    ``discontinuous``, 1 ``C0``, 2 ``C1``, 3 ``C2``; no breakpoints, or no jump up to the
    6th derivative, ``Cinf``; a first jump at order 4..6 is a class the schema cannot
    express and fails.

self_gated
    True iff f is a gated identity ``x*g(x)``:

    (a) the formula is ``x`` times a factor: ``piecewise_fold(f/x)`` has no ``x**-n``
        factor left in any branch (so ``tanh``, ``elu`` are not, ``x*sigmoid(x)`` is);
    (b) ``0 <= g <= 1`` (within 1e-12) with ``g = f/x`` on the sample without 0;
    (c) g is a smooth or piecewise-linear gate, not constant and not a step: it takes at
        least 16 distinct values (to 12 decimals) strictly inside (0, 1). relu
        (``g in {0, 1}``), leaky_relu (``g in {alpha, 1}``) and linear (``g = 1``) are
        not self-gated;
    (d) the gate opens from 0 to 1: ``g -> 0`` as ``x -> -oo`` and ``g -> 1`` as
        ``x -> +oo`` (SymPy limits; sampled ``g(-1e6) <= 1e-3``, ``g(1e6) >= 1 - 1e-3`` if
        SymPy cannot say). This separates gates from saturating shapes such as softsign,
        ``x*1/(1 + |x|)``, whose factor falls back to 0 on both sides.

initialization (a family rule)
    ``lecun`` for selu (the self-normalising constants assume it); ``any`` for an affine
    formula (``f'`` a constant: linear/identity); ``glorot`` for a formula bounded on both
    sides (saturating: sigmoid, tanh, softsign, hard_tanh, hard_sigmoid,
    sparse_sigmoid, ...); ``he`` otherwise.

aliases
    Every framework spelling of reference/activations.md §2a resolves with ``get`` to
    the canonical entry (``FRAMEWORK_SPELLINGS``, written by hand from the reference, with
    this catalog's canonical names: linear, swish, hard_swish). Spellings whose entry is
    not in the catalog yet are skipped in ``test_framework_spelling_resolves`` and listed by
    ``test_reference_names_all_resolve``, which fails until the catalog is complete.

completeness
    Every activation (vector ones too) has ``initialization``, ``properties`` with all six
    keys, at least 2 pros and 1 con, references with an integer year, and a non-empty
    ``frameworks`` mapping of strings.

Axis-wise entries (``kind: vector``, e.g. softmax) have no pointwise f(x); the elementwise
checks skip them, saying so.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import signal
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import sympy

from mathforge import Expression, MathForge, UnknownNameError, parse_formula

FORGE = MathForge()
ACTIVATIONS: tuple[str, ...] = tuple(FORGE.list_all(category="activation"))
X = sympy.Symbol("x", real=True)
OO = sympy.oo

PROPERTY_KEYS = ("monotonic", "bounded_below", "bounded_above", "zero_centered", "smoothness", "self_gated")
SMOOTHNESS_CLASSES = ("discontinuous", "C0", "C1", "C2")  # first jump at order 0, 1, 2, 3
INITIALIZATIONS = ("he", "glorot", "lecun", "any")

#: Relative tolerance for "the sampled extremum reaches the range end" (unrefined samples).
END_TOLERANCE = 1e-6
#: Relative tolerance for "an exact limit / a refined interior extremum equals the range end"
#: (endpoints are written to 17 significant digits, rounded outward).
EXACT_TOLERANCE = 1e-12
#: A jump: one-sided values differing by more than this.
JUMP = 1e-12
#: Highest derivative order inspected at breakpoints.
MAX_ORDER = 6
#: Digits of exact evaluation.
DPS = 60
#: Seconds allowed to one SymPy limit/solveset call (main thread only).
SYMPY_TIMEOUT = 20.0

# Framework spelling -> this catalog's canonical name, from reference/activations.md §2a
# (torch F.* names and lower-cased nn classes, jax.nn names, Keras 3 names, timm keys).
# The canonical names are the reference's, except identity -> linear, silu -> swish and
# hard_silu -> hard_swish (this catalog's names). `exp` (torch.exp/jnp.exp, listed in
# parentheses for `exponential`) is left out: it is the formula function exp.
_SPELLINGS_BY_ENTRY: dict[str, tuple[str, ...]] = {
    "linear": ("identity", "linear"),
    "relu": ("relu",),
    "relu6": ("relu6",),
    "leaky_relu": ("leaky_relu", "leakyrelu"),
    "prelu": ("prelu",),
    "rrelu": ("rrelu",),
    "threshold": ("threshold",),
    "elu": ("elu",),
    "celu": ("celu",),
    "selu": ("selu",),
    "gelu": ("gelu",),
    "gelu_tanh": ("gelu_tanh",),
    "quick_gelu": ("quick_gelu",),
    "sigmoid": ("sigmoid",),
    "log_sigmoid": ("logsigmoid", "log_sigmoid"),
    "hard_sigmoid": ("hardsigmoid", "hard_sigmoid"),
    "sparse_sigmoid": ("sparse_sigmoid",),
    "tanh": ("tanh",),
    "hard_tanh": ("hardtanh", "hard_tanh"),
    "tanh_shrink": ("tanhshrink", "tanh_shrink"),
    "hard_shrink": ("hardshrink", "hard_shrink"),
    "soft_shrink": ("softshrink", "soft_shrink"),
    "softplus": ("softplus",),
    "sparse_plus": ("sparse_plus",),
    "squareplus": ("squareplus",),
    "softsign": ("softsign", "soft_sign"),
    "swish": ("silu", "swish"),
    "hard_swish": ("hardswish", "hard_swish", "hard_silu"),
    "mish": ("mish",),
    "hard_mish": ("hard_mish",),
    "exponential": ("exponential",),
    # log1mexp is a JAX utility defined for x >= 0, listed among non-activations in reference §1
}
FRAMEWORK_SPELLINGS: dict[str, str] = {
    spelling: entry for entry, spellings in _SPELLINGS_BY_ENTRY.items() for spelling in spellings
}


# --- helpers: SymPy with a time limit, exact values ------------------------------------------


class _SympyTimeout(Exception):
    pass


def _bounded_call(fn: Callable[[], Any], seconds: float = SYMPY_TIMEOUT) -> Any:
    """``fn()``, or ``None`` if it raises or (in the main thread) runs past ``seconds``."""
    if threading.current_thread() is not threading.main_thread():
        try:
            return fn()
        except Exception:
            return None

    def on_alarm(signum, frame):
        raise _SympyTimeout

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)  # keeps firing if SymPy swallows one
    try:
        return fn()
    except Exception:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _rational(value: float) -> sympy.Rational:
    """The rational of a number's shortest decimal text (0.01 -> 1/100, exact for literals)."""
    return sympy.Rational(repr(float(value)))


def _exact_numbers(expr: sympy.Expr) -> sympy.Expr:
    """Float literals replaced by the rationals of their decimal text (full precision kept)."""
    return expr.xreplace({f: sympy.Rational(str(f)) for f in expr.atoms(sympy.Float)})


def _with_defaults(e: Expression, expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with every parameter at its default, as an exact rational."""
    values = {sympy.Symbol(k, real=True): _rational(v) for k, v in e.params.items()}
    return _exact_numbers(expr.xreplace(values))


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def exact_value(expr: sympy.Expr, at: sympy.Expr) -> sympy.Expr:
    """``expr`` at ``x = at`` (an exact number), to ``DPS`` digits (a SymPy number, maybe +-oo)."""
    value = expr.subs(X, at)
    if value.is_Number:
        return value
    return value.evalf(DPS)


def _big(sign: int) -> sympy.Integer:
    return sign * sympy.Integer(10) ** 40


def _at_infinity(expr: sympy.Expr, sign: int) -> sympy.Expr:
    """Every Piecewise (and Max/Min) replaced by the branch active for ``x -> sign*oo``."""
    if expr.has(sympy.Max, sympy.Min):
        expr = expr.rewrite(sympy.Piecewise)

    def pick(pw: sympy.Piecewise) -> sympy.Expr:
        for value, cond in pw.args:
            if cond.subs(X, _big(sign)) == sympy.true:
                return value
        raise ValueError(f"no branch of {pw} holds for large x")

    return expr.replace(lambda z: isinstance(z, sympy.Piecewise), pick)


def sympy_limit(expr: sympy.Expr, sign: int) -> sympy.Expr | None:
    """``lim f(x)`` for ``x -> sign*oo`` (primitives rewritten with exp), or ``None``."""

    def compute():
        form = _at_infinity(expr, sign).rewrite(sympy.exp)
        result = sympy.limit(form, X, sign * OO)
        if result.is_number and (result.is_real or result in (OO, -OO)):
            return result
        return None

    return _bounded_call(compute)


def _is_infinite(value: Any, direction: int) -> bool:
    return value is not None and value == direction * OO


# --- the sample --------------------------------------------------------------------------------

_TAILS = np.logspace(np.log10(50.0), 6.0, 4001)
_SMALL = np.logspace(-300.0, 0.0, 601)
BASE_GRID = np.unique(np.concatenate([
    np.linspace(-50.0, 50.0, 200_001), _TAILS, -_TAILS, _SMALL, -_SMALL, np.arange(-10.0, 10.5, 0.5), [0.0],
]))


# --- per-entry analysis (cached) ---------------------------------------------------------------


def _kind(e: Expression) -> str:
    meta_kind = e.metadata.get("kind")
    attr_kind = getattr(e, "kind", None)
    if "vector" in (meta_kind, attr_kind):
        return "vector"
    return meta_kind or attr_kind or "elementwise"


@functools.lru_cache(maxsize=None)
def elementwise(name: str) -> Expression:
    """The entry, or a skip for axis-wise entries (no pointwise f(x))."""
    e = FORGE.get(name)
    kind = _kind(e)
    if kind != "elementwise" or tuple(e.variables) != ("x",):
        pytest.skip(f"{name} is of kind {kind!r} with variables {tuple(e.variables)}: no elementwise f(x)")
    return e


@functools.lru_cache(maxsize=None)
def formula(name: str) -> sympy.Expr:
    """The formula with default parameters, exact numbers."""
    e = elementwise(name)
    return _with_defaults(e, e.symbolic_expr)


@functools.lru_cache(maxsize=None)
def derivative_expr(name: str, order: int) -> sympy.Expr:
    """``d^order f / dx^order`` by ``sympy.diff`` of the formula (default parameters)."""
    if order == 0:
        return formula(name)
    return sympy.diff(derivative_expr(name, order - 1), X)


@functools.lru_cache(maxsize=None)
def exact_form(name: str, order: int) -> sympy.Expr:
    """The ``order``-th derivative rewritten for exact evaluation (primitives as exp/erfc)."""
    return derivative_expr(name, order).rewrite(sympy.exp)


def exact_at(name: str, order: int, at: sympy.Expr) -> sympy.Expr:
    return exact_value(exact_form(name, order), at)


@functools.lru_cache(maxsize=None)
def limits(name: str) -> tuple[sympy.Expr | None, sympy.Expr | None]:
    """``(lim_{x->-oo} f, lim_{x->+oo} f)``; ``None`` where SymPy cannot say."""
    expr = formula(name)
    return sympy_limit(expr, -1), sympy_limit(expr, +1)


def _switches(expr: sympy.Expr) -> list[sympy.Expr]:
    """Expressions whose zeros in x are where the formula may switch branch."""
    found: list[sympy.Expr] = []
    for pw in expr.atoms(sympy.Piecewise):
        for _, cond in pw.args:
            for rel in cond.atoms(sympy.core.relational.Relational):
                found.append(rel.lhs - rel.rhs)
    for fn in expr.atoms(sympy.Abs, sympy.sign, sympy.Heaviside, sympy.DiracDelta):
        found.append(fn.args[0])
    for fn in expr.atoms(sympy.Max, sympy.Min):
        found.extend(a - b for a, b in itertools.combinations(fn.args, 2))
    return [s for s in found if s.has(X)]


def _numeric_roots(s: sympy.Expr) -> list[sympy.Expr]:
    """Exact sign changes and zeros of ``s`` on the sample, located by the float kernel and
    refined by exact bisection to 1e-45 (only where the exact signs differ)."""
    kernel = Expression(s, ["x"], name="switch")
    with np.errstate(all="ignore"):
        values_ = np.broadcast_to(np.asarray(kernel.eval(x=BASE_GRID), dtype=np.float64), BASE_GRID.shape)
    state = np.sign(values_)
    roots: list[sympy.Expr] = []
    for i in np.nonzero(state[:-1] != state[1:])[0][:50]:
        lo, hi = _rational(BASE_GRID[i]), _rational(BASE_GRID[i + 1])
        s_lo, s_hi = (sympy.sign(exact_value(s, t)) for t in (lo, hi))
        if s_lo == 0 or s_hi == 0:
            roots += [t for t, sign_ in ((lo, s_lo), (hi, s_hi)) if sign_ == 0]
            continue
        if s_lo == s_hi:
            continue  # a float artefact: no exact sign change in this interval
        while hi - lo > sympy.Rational(1, 10**45) * max(1, abs(lo)):
            mid = (lo + hi) / 2
            s_mid = sympy.sign(exact_value(s, mid))
            if s_mid == 0:
                lo = hi = mid
            elif s_mid == s_lo:
                lo = mid
            else:
                hi = mid
        roots.append((lo + hi) / 2)
    return roots


def _solved_points(s: sympy.Expr) -> list[sympy.Expr] | None:
    solved = _bounded_call(lambda: sympy.solveset(s, X, sympy.S.Reals))
    if isinstance(solved, sympy.FiniteSet):
        return list(solved)
    if solved is sympy.S.EmptySet:
        return []
    parts = solved.args if isinstance(solved, sympy.Union) else (solved,)
    if isinstance(solved, (sympy.Interval, sympy.Union)) and all(
            isinstance(part, (sympy.Interval, sympy.FiniteSet)) for part in parts):
        return list(solved.boundary)
    return None


def _roots(s: sympy.Expr) -> list[sympy.Expr]:
    points = _solved_points(s)
    if points is None:
        points = _solved_points(s.rewrite(sympy.exp))
    if points is None:
        points = _numeric_roots(s)
    return [p for p in points if p.is_real and p.is_finite and abs(_as_float(p)) <= 1e6]


@functools.lru_cache(maxsize=None)
def breakpoints(name: str) -> tuple[sympy.Expr, ...]:
    """Points where some branch of f, f', f'' or f''' may switch, sorted, exact."""
    switches: set[sympy.Expr] = set()
    for order in range(4):
        switches.update(_switches(derivative_expr(name, order)))
    points: dict[float, sympy.Expr] = {}
    for s in switches:
        for p in _roots(s):
            points.setdefault(_as_float(p), p)
    return tuple(points[k] for k in sorted(points))


@functools.lru_cache(maxsize=None)
def grid(name: str) -> np.ndarray:
    extra = []
    for b in breakpoints(name):
        bf = _as_float(b)
        extra += [bf, np.nextafter(bf, -np.inf), np.nextafter(bf, np.inf)]
    return np.unique(np.concatenate([BASE_GRID, np.asarray(extra, dtype=np.float64)]))


@functools.lru_cache(maxsize=None)
def values(name: str) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(elementwise(name).eval(x=grid(name)), dtype=np.float64)


def values_without_nan(name: str) -> np.ndarray:
    v = values(name)
    bad = np.isnan(v)
    if bad.any():
        xs = grid(name)[bad]
        pytest.fail(f"{name}: f is NaN at {bad.sum()} finite sample points, e.g. x = {xs[:5].tolist()}")
    return v


@functools.lru_cache(maxsize=None)
def one_sided(name: str, order: int) -> tuple[tuple[sympy.Expr, sympy.Expr, sympy.Expr, sympy.Expr], ...]:
    """``(b, D(b-), D(b+), D(b))`` at every breakpoint, exactly (``D`` the order-th derivative)."""
    rows = []
    for b in breakpoints(name):
        delta = sympy.Rational(1, 10**30) * max(1, abs(sympy.Rational(repr(_as_float(b)))))
        left, right = exact_at(name, order, b - delta), exact_at(name, order, b + delta)
        at = exact_at(name, order, b) if order == 0 else sympy.nan
        rows.append((b, left, right, at))
    return tuple(rows)


def _gap(a: sympy.Expr, b: sympy.Expr) -> float:
    """``|a - b|`` computed at full precision (not after rounding both to float64)."""
    fa, fb = _as_float(a), _as_float(b)
    if math.isnan(fa) or math.isnan(fb):
        return math.inf
    if math.isinf(fa) or math.isinf(fb):
        return 0.0 if fa == fb else math.inf
    return abs(_as_float((a - b).evalf(DPS)))


@functools.lru_cache(maxsize=None)
def smoothness_from_formula(name: str) -> tuple[str, str]:
    """The smoothness class of the formula and the evidence for it."""
    points = breakpoints(name)
    if not points:
        return "Cinf", "no breakpoints (no Piecewise/Abs/sign/Max/Min/Heaviside switching in x)"
    for order in range(MAX_ORDER + 1):
        for b, left, right, at in one_sided(name, order):
            gap = _gap(left, right)
            if order == 0:
                gap = max(gap, _gap(at, left), _gap(at, right))
            if gap > JUMP:
                label = SMOOTHNESS_CLASSES[order] if order < len(SMOOTHNESS_CLASSES) else f"C{order - 1}"
                what = "f" if order == 0 else f"d^{order}f/dx^{order}"
                detail = f", f(b) = {_as_float(at):.17g}" if order == 0 else ""
                return label, (f"{what} jumps at b = {_as_float(b):.17g}: left {_as_float(left):.17g}, "
                               f"right {_as_float(right):.17g}{detail}"
                               + ("" if order == 0 else f"; derivatives of order < {order} are continuous "
                                                        f"at every breakpoint"))
    return "Cinf", (f"breakpoints {[_as_float(b) for b in points]} but no jump in derivatives "
                    f"up to order {MAX_ORDER}")


def _direction_unbounded(name: str, direction: int) -> tuple[bool, str]:
    """Whether f is unbounded towards ``direction*oo`` (-1: below, +1: above), with evidence."""
    lims = limits(name)
    v = values_without_nan(name)
    extreme = v.min() if direction < 0 else v.max()
    if any(_is_infinite(L, direction) for L in lims):
        return True, f"limits at -oo/+oo: {lims}"
    if all(L is not None for L in lims):
        if math.isinf(extreme):
            return True, f"limits {lims} finite, but a sample is {extreme}"
        return False, f"limits at -oo/+oo are {lims}; sampled {'min' if direction < 0 else 'max'} {extreme:.17g}"
    return bool(abs(extreme) > 1e5 and np.sign(extreme) == direction), \
        f"SymPy gave no limit ({lims}); sampled extreme {extreme:.17g}"


def bounded_from_formula(name: str, direction: int) -> tuple[bool, str]:
    unbounded, evidence = _direction_unbounded(name, direction)
    return not unbounded, evidence


def claims(name: str) -> dict[str, Any]:
    e = FORGE.get(name)
    props = e.metadata.get("properties")
    if props is None:
        pytest.fail(f"{name}: no 'properties' in the YAML entry (see test_metadata_is_complete)")
    return dict(props)


def claim(name: str, key: str) -> Any:
    props = claims(name)
    if key not in props:
        pytest.fail(f"{name}: 'properties.{key}' is missing")
    return props[key]


# --- range parsing ---------------------------------------------------------------------------

_INTERVAL = re.compile(r"^\s*([\[(])(.*)([\])])\s*$", re.DOTALL)
_POINTS = re.compile(r"^\s*\{(.*)\}\s*$", re.DOTALL)
_UNION = re.compile(r"\s+U\s+|\s*\u222a\s*")


class Interval:
    """One component of a range: ``[lo, hi)`` etc. (a point set ``{c}`` is ``[c, c]``)."""

    def __init__(self, lo: sympy.Expr, hi: sympy.Expr, lo_closed: bool, hi_closed: bool, point: bool = False):
        self.lo, self.hi, self.lo_closed, self.hi_closed, self.point = lo, hi, lo_closed, hi_closed, point

    def __str__(self) -> str:
        if self.point:
            return "{" + str(self.lo) + "}"
        return f"{'[' if self.lo_closed else '('}{self.lo}, {self.hi}{']' if self.hi_closed else ')'}"


def _split_top_level(body: str, sep: str = ",") -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    return parts


def _endpoint(text: str, e: Expression) -> sympy.Expr:
    token = text.strip()
    if token in ("oo", "+oo"):
        return OO
    if token == "-oo":
        return -OO
    value = parse_formula(token, params=list(e.params))  # the project's whitelist parser
    value = _with_defaults(e, value)
    if not (value.is_number and value.is_real and value.is_finite):
        raise ValueError(f"endpoint {text!r} is not a finite real number at the defaults (got {value})")
    return value


def parse_range(text: str, e: Expression) -> list[Interval]:
    """``"(a, b]"``, or a union ``"(-oo, -c) U {0} U (c, oo)"``, at default parameters."""
    components = []
    for part in _UNION.split(text.strip()):
        interval, points = _INTERVAL.match(part), _POINTS.match(part)
        if points:
            components += [Interval(c, c, True, True, point=True)
                           for c in (_endpoint(p, e) for p in _split_top_level(points.group(1)))]
            continue
        if not interval:
            raise ValueError(f"{part!r} is not interval notation like '(-oo, oo)', '[0, 6]' or a set '{{0}}'")
        ends = _split_top_level(interval.group(2))
        if len(ends) != 2:
            raise ValueError(f"{part!r} needs exactly two endpoints")
        lo, hi = (_endpoint(p, e) for p in ends)
        if not lo < hi:
            raise ValueError(f"{part!r} is empty")
        components.append(Interval(lo, hi, interval.group(1) == "[", interval.group(3) == "]"))
    return components


def range_hull(e: Expression) -> tuple[sympy.Expr, sympy.Expr]:
    components = parse_range(e.metadata["range"], e)
    return min(c.lo for c in components), max(c.hi for c in components)


# --- 1. range ----------------------------------------------------------------------------------


def _slack(a: float) -> float:
    return 4 * float(np.spacing(abs(a))) + 1e-300


def _membership(v: np.ndarray, c: Interval) -> np.ndarray:
    inside = np.ones(v.shape, dtype=bool)
    if c.lo.is_finite:
        inside &= v >= float(c.lo) - _slack(float(c.lo))
    if c.hi.is_finite:
        inside &= v <= float(c.hi) + _slack(float(c.hi))
    return inside


def _attained_exactly(name: str, a: sympy.Expr, mask: np.ndarray) -> tuple[float, str] | None:
    """A sample x in [-50, 50] (within ``mask``) where f equals ``a`` exactly, or None.

    Candidates are samples whose float value is within 8 ulps of ``a``; for a few of them
    ``f(x) - a`` is evaluated exactly (adaptive precision, so tanh(-50) + 1 = 7.4e-44 is
    not mistaken for 0).
    """
    xs, v = grid(name), values(name)
    af = float(a)
    near = np.nonzero(mask & (np.abs(xs) <= 50) & (np.abs(v - af) <= 2 * _slack(af)))[0]
    if near.size == 0:
        return None
    picks = sorted({int(near[np.argmin(np.abs(xs[near]))]), int(near[0]), int(near[-1]), int(near[near.size // 2])})
    for i in picks:
        difference = (exact_form(name, 0) - a).subs(X, _rational(xs[i]))
        if difference == 0 or abs(_as_float(difference.evalf(DPS, maxn=2000))) <= 1e-300:
            return float(xs[i]), f"f({float(xs[i])!r}) = {a} exactly"
    return None


def _refined_extreme(name: str, index: int, sign: int) -> tuple[float, float] | None:
    """The local minimum of ``sign*f`` between the neighbours of grid point ``index``, refined
    with ``scipy.optimize.minimize_scalar`` on the kernel: ``(x*, f(x*))``, or None when the
    sampled extremum is at the edge of the sample or beyond ``|x| = 50`` (an asymptote)."""
    from scipy.optimize import minimize_scalar

    xs, v = grid(name), values(name)
    if index <= 0 or index >= xs.size - 1 or abs(xs[index]) > 50:
        return None
    e = elementwise(name)
    lo, hi = float(xs[index - 1]), float(xs[index + 1])
    with np.errstate(all="ignore"):
        found = minimize_scalar(lambda t: sign * e.eval(x=float(t)), bounds=(lo, hi), method="bounded",
                                options={"xatol": 1e-15 * max(1.0, abs(lo))})
    candidates = [(float(xs[index]), float(v[index]))]
    if found.success and math.isfinite(found.fun):
        candidates.append((float(found.x), float(sign * found.fun)))
    return min(candidates, key=lambda pair: sign * pair[1])


def _check_finite_end(name: str, c: Interval, sign: int, mask: np.ndarray) -> list[str]:
    """Problems with the finite lower (sign=+1) or upper (sign=-1) end of component ``c``."""
    a, closed = (c.lo, c.lo_closed) if sign > 0 else (c.hi, c.hi_closed)
    side = f"{'lower' if sign > 0 else 'upper'} end {float(a)!r} of {c}"
    indices = np.nonzero(mask)[0]
    xs, v = grid(name), values(name)
    af = float(a)
    # approached: by the (refined) sampled extremum of this component, a limit at -oo/+oo,
    # or a one-sided limit at a breakpoint
    j = int(indices[np.argmin(sign * v[indices])])
    extreme = float(v[j])
    refined = _refined_extreme(name, j, sign)
    if refined is not None and sign * (refined[1] - af) < -_slack(af):
        return [f"{side}: the sampled extremum refined by minimize_scalar, f({refined[0]!r}) = {refined[1]!r}, "
                f"lies outside"]
    lims = limits(name)
    exact_tol = EXACT_TOLERANCE * max(1.0, abs(af))
    limit_hit = [L for L in lims if L is not None and L.is_finite and abs(_as_float(L) - af) <= exact_tol]
    jump_hit = [_as_float(b) for b, left, right, at in one_sided(name, 0)
                if any(abs(_as_float(one) - af) <= exact_tol for one in (left, right))
                and abs(_as_float(at) - af) > exact_tol]
    if refined is not None:
        sampled_hit = abs(refined[1] - af) <= exact_tol
        nearest = f"the refined extremum is f({refined[0]!r}) = {refined[1]!r}"
    else:
        sampled_hit = abs(extreme - af) <= END_TOLERANCE * max(1.0, abs(af))
        nearest = f"the nearest sample is f({float(xs[j])!r}) = {extreme!r}"
    if not (sampled_hit or limit_hit or jump_hit):
        return [f"{side} is not approached: {nearest}; limits at -oo/+oo {lims}; no one-sided limit at a "
                f"breakpoint equals it (tolerance {exact_tol:.1e} for refined extrema and exact limits)"]
    # attained or not
    exact_point = _attained_exactly(name, a, mask)
    is_limit = bool(limit_hit or jump_hit)
    attained = exact_point is not None or not is_limit
    if closed and not attained:
        how = f"lim at -oo/+oo = {limit_hit}" if limit_hit else f"one-sided limit at x = {jump_hit}"
        return [f"{side} is closed but only a limit ({how}), never attained: no sample in [-50, 50] equals it "
                f"exactly ({nearest})"]
    if not closed and attained:
        where = exact_point[1] if exact_point else f"an interior extremum ({nearest}) and no limit equals it ({lims})"
        return [f"{side} is open but attained: {where}"]
    return []


def _check_infinite_end(name: str, c: Interval, sign: int) -> list[str]:
    a, closed = (c.lo, c.lo_closed) if sign > 0 else (c.hi, c.hi_closed)
    direction = -sign  # a lower end may be -oo, an upper end +oo
    if a != direction * OO:
        return [f"{c}: an infinite end on the wrong side"]
    problems = [f"{c}: an infinite end cannot be closed"] if closed else []
    unbounded, evidence = _direction_unbounded(name, direction)
    if not unbounded:
        problems.append(f"{c} has end {a}, but the formula is bounded that way: {evidence}")
    return problems


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_range_matches_formula(name):
    e = elementwise(name)
    text = e.metadata["range"]
    try:
        components = parse_range(text, e)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the entry's fault
        pytest.fail(f"{name}: range {text!r} cannot be read: {exc}")
    xs, v = grid(name), values_without_nan(name)
    masks = [_membership(v, c) for c in components]
    problems = []
    outside = ~np.logical_or.reduce(masks)
    if outside.any():
        worst = int(np.nonzero(outside)[0][np.argmax(np.abs(v[outside]))])
        first = int(np.nonzero(outside)[0][0])
        problems.append(f"{outside.sum()} samples lie outside, e.g. f({float(xs[first])!r}) = {float(v[first])!r}, "
                        f"f({float(xs[worst])!r}) = {float(v[worst])!r}")
    for c, mask in zip(components, masks):
        if not mask.any():
            problems.append(f"{c}: no sample of f falls in it")
            continue
        if c.point:
            if _attained_exactly(name, c.lo, mask) is None:
                problems.append(f"{c}: f never equals {c.lo} exactly at a sample in [-50, 50]")
            continue
        for sign in (+1, -1):
            end = c.lo if sign > 0 else c.hi
            problems += _check_finite_end(name, c, sign, mask) if end.is_finite else _check_infinite_end(name, c, sign)
    assert not problems, (f"{name}: range {text!r} disagrees with the formula {e.symbolic_expr} "
                          f"(parameters {dict(e.params)}):\n  " + "\n  ".join(problems))


# --- 2. bounded_below / bounded_above --------------------------------------------------------------


@pytest.mark.parametrize("key, direction", [("bounded_below", -1), ("bounded_above", +1)])
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_boundedness_matches_formula_and_range(name, key, direction):
    e = elementwise(name)
    claimed = claim(name, key)
    computed, evidence = bounded_from_formula(name, direction)
    assert claimed == computed, (f"{name}: properties.{key} is {claimed}, but from the formula it is {computed} "
                                 f"({evidence})")
    try:
        lower, upper = range_hull(e)
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"{name}: range {e.metadata['range']!r} cannot be read: {exc}")
    end = lower if direction < 0 else upper
    assert claimed == bool(end.is_finite), (f"{name}: properties.{key} is {claimed} but the range "
                                            f"{e.metadata['range']!r} has end {end}")


# --- 3. monotonic ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def monotonicity(name: str) -> tuple[bool, str]:
    e = elementwise(name)
    xs, v = grid(name), values_without_nan(name)
    try:
        with np.errstate(all="ignore"):
            d = np.asarray(e.gradient().eval(x=xs), dtype=np.float64)
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        pytest.fail(f"{name}: e.gradient() = {e.gradient().symbolic_expr} cannot be evaluated: "
                    f"{type(exc).__name__}: {exc}")
    if np.isnan(d).any():
        pytest.fail(f"{name}: f' is NaN at x = {xs[np.isnan(d)][:5].tolist()}")
    with np.errstate(invalid="ignore"):  # inf - inf in overflowing tails
        steps = np.nan_to_num(np.diff(v), nan=0.0)
        ulps = np.nan_to_num(4 * np.spacing(np.maximum(np.abs(v[:-1]), np.abs(v[1:]))), nan=np.inf) + 1e-300
    non_decreasing = d.min() >= -1e-300 and (steps >= -ulps).all()
    non_increasing = d.max() <= 1e-300 and (steps <= ulps).all()
    if non_decreasing or non_increasing:
        return True, (f"f' >= 0 on the sample (min f' = {float(d.min())!r})" if non_decreasing
                      else f"f' <= 0 on the sample (max f' = {float(d.max())!r})")
    evidence = []
    for label, mask_d, mask_s in (("decreases", d < -1e-12, steps < -1e-12), ("increases", d > 1e-12, steps > 1e-12)):
        if mask_d.any():
            i = int(np.argmin(d) if label == "decreases" else np.argmax(np.where(np.isfinite(d), d, 0)))
            evidence.append(f"{label}: f'({float(xs[i])!r}) = {float(d[i])!r}")
        elif mask_s.any():
            i = int(np.nonzero(mask_s)[0][0])
            evidence.append(f"{label}: f({float(xs[i])!r}) = {float(v[i])!r} -> "
                            f"f({float(xs[i + 1])!r}) = {float(v[i + 1])!r}")
    if len(evidence) == 2:
        return False, "; ".join(evidence)
    return None, (f"undecided: min f' = {float(d.min())!r}, max f' = {float(d.max())!r}, no violation beyond "
                  f"the tolerances ({evidence})")


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_monotonic_matches_formula(name):
    elementwise(name)
    claimed = claim(name, "monotonic")
    computed, evidence = monotonicity(name)
    assert computed is not None, f"{name}: monotonicity {evidence}"
    assert claimed == computed, f"{name}: properties.monotonic is {claimed}, but {evidence}"


# --- 4. zero_centered --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_zero_centered_matches_formula(name):
    e = elementwise(name)
    claimed = claim(name, "zero_centered")
    xs, v = grid(name), values_without_nan(name)
    f0 = e.eval(x=0.0)
    negative, positive = v < 0, v > 0
    computed = f0 == 0 and negative.any() and positive.any()
    low, high = int(np.argmin(v)), int(np.argmax(v))
    evidence = (f"f(0) = {f0!r}; "
                + (f"f({float(xs[low])!r}) = {float(v[low])!r} < 0" if negative.any() else "no negative value")
                + "; "
                + (f"f({float(xs[high])!r}) = {float(v[high])!r} > 0" if positive.any() else "no positive value"))
    assert claimed == computed, f"{name}: properties.zero_centered is {claimed}, but {evidence}"


# --- 5. smoothness ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_smoothness_matches_formula(name):
    elementwise(name)
    claimed = claim(name, "smoothness")
    computed, evidence = smoothness_from_formula(name)
    assert computed in (*SMOOTHNESS_CLASSES, "Cinf"), (
        f"{name}: the formula's smoothness is {computed}, which the schema cannot express ({evidence})")
    assert claimed == computed, (f"{name}: properties.smoothness is {claimed!r}, but the formula is {computed}: "
                                 f"{evidence}")


# --- 6. self_gated ------------------------------------------------------------------------------------


def _gate_factor(name: str) -> sympy.Expr | None:
    """``g = f/x`` if x is a factor of the formula (no x**-n left in any branch), else None."""
    g = sympy.piecewise_fold(formula(name) / X)
    branches = [value for value, _ in g.args] if isinstance(g, sympy.Piecewise) else [g]
    for branch in branches:
        for factor in sympy.Mul.make_args(branch):
            base, exp = factor.as_base_exp()
            if base == X and exp.is_negative:
                return None
    return g


@functools.lru_cache(maxsize=None)
def self_gating(name: str) -> tuple[bool, str]:
    g_expr = _gate_factor(name)
    if g_expr is None:
        return False, f"the formula {formula(name)} is not x times a factor (f/x keeps a 1/x)"
    xs, v = grid(name), values_without_nan(name)
    nonzero = xs != 0
    g = v[nonzero] / xs[nonzero]
    gx = xs[nonzero]
    if not ((g >= -1e-12) & (g <= 1 + 1e-12)).all():
        i = int(np.argmax(np.maximum(-g, g - 1)))
        return False, f"g = f/x = {g_expr} leaves [0, 1]: g({float(gx[i])!r}) = {float(g[i])!r}"
    inside = g[(g > 1e-12) & (g < 1 - 1e-12)]
    distinct = np.unique(np.round(inside, 12)).size
    if distinct < 16:
        return False, (f"g = f/x = {g_expr} is constant or a step: {distinct} distinct value(s) strictly inside "
                       f"(0, 1), {np.unique(np.round(g, 12))[:6].tolist()}")
    low, high = sympy_limit(g_expr, -1), sympy_limit(g_expr, +1)
    if low is None or high is None:
        low_ok, high_ok = g[0] <= 1e-3, g[-1] >= 1 - 1e-3
        gate = f"sampled g({float(gx[0])!r}) = {float(g[0])!r}, g({float(gx[-1])!r}) = {float(g[-1])!r}"
    else:
        low_ok, high_ok = low == 0, high == 1
        gate = f"lim g at -oo = {low}, at +oo = {high}"
    if not (low_ok and high_ok):
        return False, f"g = f/x = {g_expr} lies in [0, 1] but does not open from 0 to 1 ({gate})"
    return True, f"f = x*g with g = {g_expr} in [0, 1], {distinct} distinct values inside (0, 1), {gate}"


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_self_gated_matches_formula(name):
    elementwise(name)
    claimed = claim(name, "self_gated")
    computed, evidence = self_gating(name)
    assert claimed == computed, f"{name}: properties.self_gated is {claimed}, but {evidence}"


# --- 7. initialization ----------------------------------------------------------------------------------


#: Documented departures from the family rule, each with its reason.
RULE_EXCEPTIONS = {
    "relu6": ("he", "relu6 is a clipped ReLU (identity on (0, 6), zero below), trained with He "
                    "initialisation in practice (MobileNet), although it is bounded on both sides"),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_initialization_follows_family_rule(name):
    e = elementwise(name)
    claimed = e.metadata.get("initialization")
    if claimed is None:
        pytest.fail(f"{name}: no 'initialization' in the YAML entry")
    below, below_evidence = bounded_from_formula(name, -1)
    above, above_evidence = bounded_from_formula(name, +1)
    if name == "selu":
        expected, why = "lecun", "selu's self-normalisation assumes LeCun-normal weights"
    elif name in RULE_EXCEPTIONS:
        expected, why = RULE_EXCEPTIONS[name]
    elif not sympy.simplify(sympy.diff(formula(name), X)).has(X):
        expected, why = "any", "the formula is affine (f' is constant), so no initialisation is favoured"
    elif below and above:
        expected, why = "glorot", f"the formula is bounded on both sides ({below_evidence})"
    else:
        expected, why = "he", (f"the formula is neither selu nor affine and not bounded on both sides (bounded "
                               f"below: {below}, above: {above}; {below_evidence if not below else above_evidence})")
    assert claimed == expected, (f"{name}: initialization is {claimed!r}; the family rule (lecun: selu; any: "
                                 f"affine; glorot: bounded both sides; he: otherwise) gives {expected!r}: {why}")


# --- 8. framework spellings -------------------------------------------------------------------------------


def _resolve(spelling: str) -> str | None:
    try:
        return FORGE.get(spelling).name
    except UnknownNameError:
        return None


@pytest.mark.parametrize("spelling", sorted(FRAMEWORK_SPELLINGS))
def test_framework_spelling_resolves(spelling):
    expected = FRAMEWORK_SPELLINGS[spelling]
    resolved = _resolve(spelling)
    if expected not in FORGE.list_all():
        if resolved is None:
            pytest.skip(f"{expected!r} is not in the catalog yet (test_reference_names_all_resolve lists it)")
        pytest.fail(f"{spelling!r} resolves to {resolved!r}, but it is a spelling of {expected!r} "
                    f"(reference/activations.md §2a), which is not in the catalog")
    assert resolved == expected, (f"get({spelling!r}) gives {resolved!r}; reference/activations.md §2a makes it a "
                                  f"spelling of {expected!r}")


def test_reference_names_all_resolve():
    """Every §2a function is in the catalog under every framework spelling (fails until complete)."""
    missing_entries = sorted({c for c in FRAMEWORK_SPELLINGS.values() if c not in FORGE.list_all()})
    unresolved = sorted(s for s, c in FRAMEWORK_SPELLINGS.items() if _resolve(s) != c)
    assert not unresolved, (f"{len(unresolved)} framework spellings do not resolve to their entry: "
                            f"{[(s, FRAMEWORK_SPELLINGS[s], _resolve(s)) for s in unresolved]}; "
                            f"entries missing from the catalog: {missing_entries}")


# --- 9. completeness ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_metadata_is_complete(name):
    meta = FORGE.get(name).metadata
    problems = []
    if meta.get("initialization") not in INITIALIZATIONS:
        problems.append(f"initialization {meta.get('initialization')!r} is not one of {INITIALIZATIONS}")
    props = meta.get("properties")
    if FORGE.get(name).kind == "vector":
        if props is not None:  # the six properties are claims about an elementwise f(x)
            problems.append("a vector entry makes elementwise property claims")
    elif props is None or not hasattr(props, "keys"):
        problems.append(f"properties missing or not a mapping: {props!r}")
    else:
        missing = [k for k in PROPERTY_KEYS if k not in props]
        extra = [k for k in props if k not in PROPERTY_KEYS]
        if missing or extra:
            problems.append(f"properties: missing {missing}, unknown {extra}")
    if len(meta.get("pros", ())) < 2:
        problems.append(f"{len(meta.get('pros', ()))} pros (need >= 2)")
    if len(meta.get("cons", ())) < 1:
        problems.append("no cons")
    refs = meta.get("references", ())
    if not refs:
        problems.append("no references")
    for i, ref in enumerate(refs):
        year = ref.get("year")
        if isinstance(year, bool) or not isinstance(year, int) or not 1800 < year < 2100:
            problems.append(f"references[{i}] has year {year!r}")
    frameworks = meta.get("frameworks")
    if not frameworks or not hasattr(frameworks, "items"):
        problems.append(f"frameworks missing or empty: {frameworks!r}")
    else:
        bad = {k: v for k, v in frameworks.items() if not (isinstance(k, str) and isinstance(v, str) and v.strip())}
        if bad:
            problems.append(f"frameworks values that are not non-empty strings: {bad}")
    assert not problems, f"{name}: " + "; ".join(problems)
