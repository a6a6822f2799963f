"""Numerical accuracy of every catalog activation against mpmath (DESIGN.md §5).

Every entry of ``forge.list_all(category="activation")`` is tested automatically; a new
YAML entry needs three things in this file or its tests fail with a clear message:

* ``REFERENCES[name]``: the textbook definition (reference/activations.md §2a) in mpmath,
  ``f(x: mpf, **params) -> mpf`` with the textbook defaults as keyword defaults;
* ``DERIVATIVES[name]``: closed forms ``(f', f'')`` of that definition in mpmath.
  ``mpmath.diff`` is *not* used for reference values: its finite differences are taken at
  a fixed working precision, so they lose every digit where the function saturates
  (sigmoid'(300) = 5e-131 is computed from 1 - 5e-131 - (1 - 5e-131)), and with its
  default absolute step they straddle the kink at 0 for x = 1e-300. The closed forms are
  checked against ``mpmath.diff`` at moderate points (``test_reference_derivatives``);
* ``LIMITS[name]``: the exact ``(f(-inf), f(+inf), f'(-inf), f'(+inf))``.

Reference values never come from the code under test (no kernel, no ``symbolic_expr``).

Accuracy criterion (DESIGN.md §5), per grid point x, with exact mpmath values f, f', f'':

    value:       |computed - f(x)|  <= 4*eps*(|f(x)|  + |x*f'(x)|)  + TINY
    derivative:  |computed - f'(x)| <= 4*eps*(|f'(x)| + |x*f''(x)|) + TINY

TINY is the dtype's smallest subnormal (float64 5e-324, float32 1.4e-45): an exact value
below it (e.g. sigmoid(-1e4) = e^-10000) has no representation other than 0 and a
subnormal result carries an absolute rounding error of up to half that quantum, so a
purely relative bound cannot be met there by any implementation. Nothing else is added.

Exact values are computed once per (entry, parameters, dtype, grid) and cached;
``measure`` is importable so that a helper script can print a summary table.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import warnings
from collections.abc import Callable

import mpmath
import numpy as np
import pytest
from mpmath import mp, mpf

from mathforge import MathForge

DPS = 50

FORGE = MathForge()
NAMES: tuple[str, ...] = tuple(FORGE.list_all(category="activation"))

DTYPES = (np.float64, np.float32)
DTYPE_IDS = ("float64", "float32")

with mp.workdps(DPS + 10):
    SELU_LAMBDA = mpf("1.0507009873554804934193349852946")
    SELU_ALPHA = mpf("1.6732632423543772848170429916717")
    GELU_TANH_C = mpmath.sqrt(2 / mp.pi)
    GELU_TANH_K = mpf("0.044715")


# --------------------------------------------------------------------------------------
# References: textbook definitions in mpmath (reference/activations.md §2a).
# Parameter defaults are the textbook / PyTorch defaults, written as decimal strings so
# that they are read at the working precision; overrides arrive as floats (exact).
# --------------------------------------------------------------------------------------

def _sig(t: mpf) -> mpf:
    """Logistic 1/(1+e^-t): no cancellation for any t (mpmath exponents are unbounded)."""
    return 1 / (1 + mp.exp(-t))


def _one_plus_tanh(u: mpf) -> mpf:
    """1 + tanh(u), at a precision that resolves it: for u < 0 it is ~2e^(2u), so 1 + tanh
    cancels ~0.87|u| digits. Capped where the result is far below any float range."""
    extra = 10 + min(int(0.87 * abs(u)), 900) if u < 0 else 0
    with mp.workdps(mp.dps + extra):
        r = 1 + mp.tanh(u)
    return +r


def ref_linear(x):
    return x


def ref_relu(x):
    return x if x > 0 else mpf(0)


def ref_leaky_relu(x, alpha="0.01"):
    return x if x >= 0 else mpf(alpha) * x


def ref_elu(x, alpha="1.0"):
    return x if x > 0 else mpf(alpha) * mpmath.expm1(x)


def ref_selu(x):
    return SELU_LAMBDA * (x if x > 0 else SELU_ALPHA * mpmath.expm1(x))


def ref_sigmoid(x):
    return 1 / (1 + mp.exp(-x))


def ref_tanh(x):
    return mp.tanh(x)


def ref_softplus(x, beta="1.0"):
    b = mpf(beta)
    return mpmath.log1p(mp.exp(b * x)) / b


def ref_swish(x, beta="1.0"):
    b = mpf(beta)
    return x / (1 + mp.exp(-b * x))


def ref_gelu(x):
    return x * mpmath.ncdf(x)


def _gelu_tanh_u(x):
    return GELU_TANH_C * (x + GELU_TANH_K * x**3)


def ref_gelu_tanh(x):
    return x * _one_plus_tanh(_gelu_tanh_u(x)) / 2


def ref_softsign(x):
    return x / (1 + abs(x))


REFERENCES: dict[str, Callable[..., mpf]] = {
    "linear": ref_linear,
    "relu": ref_relu,
    "leaky_relu": ref_leaky_relu,
    "elu": ref_elu,
    "selu": ref_selu,
    "sigmoid": ref_sigmoid,
    "tanh": ref_tanh,
    "softplus": ref_softplus,
    "swish": ref_swish,
    "gelu": ref_gelu,
    "gelu_tanh": ref_gelu_tanh,
    "softsign": ref_softsign,
}


# Closed-form first and second derivatives of the references (one-sided at kinks: the
# accuracy tests skip kinks, test_kink_derivatives pins the conventions there).

def _gelu_tanh_d1(x):
    c, k = GELU_TANH_C, GELU_TANH_K
    u = _gelu_tanh_u(x)
    return _one_plus_tanh(u) / 2 + x * mp.sech(u) ** 2 * c * (1 + 3 * k * x**2) / 2


def _gelu_tanh_d2(x):
    c, k = GELU_TANH_C, GELU_TANH_K
    u = _gelu_tanh_u(x)
    s2, t = mp.sech(u) ** 2, mp.tanh(u)
    du, d2u = c * (1 + 3 * k * x**2), 6 * c * k * x
    return s2 * du + x * s2 * (d2u - 2 * t * du**2) / 2


def _swish_d1(x, beta="1.0"):
    b = mpf(beta)
    s, q = _sig(b * x), _sig(-b * x)
    return s + b * x * s * q


def _swish_d2(x, beta="1.0"):
    b = mpf(beta)
    s, q = _sig(b * x), _sig(-b * x)
    return b * s * q * (2 + b * x * (q - s))


DERIVATIVES: dict[str, tuple[Callable[..., mpf], Callable[..., mpf]]] = {
    "linear": (lambda x: mpf(1), lambda x: mpf(0)),
    "relu": (lambda x: mpf(1) if x > 0 else mpf(0), lambda x: mpf(0)),
    "leaky_relu": (lambda x, alpha="0.01": mpf(1) if x > 0 else mpf(alpha),
                   lambda x, alpha="0.01": mpf(0)),
    "elu": (lambda x, alpha="1.0": mpf(1) if x > 0 else mpf(alpha) * mp.exp(x),
            lambda x, alpha="1.0": mpf(0) if x > 0 else mpf(alpha) * mp.exp(x)),
    "selu": (lambda x: SELU_LAMBDA if x > 0 else SELU_LAMBDA * SELU_ALPHA * mp.exp(x),
             lambda x: mpf(0) if x > 0 else SELU_LAMBDA * SELU_ALPHA * mp.exp(x)),
    "sigmoid": (lambda x: _sig(x) * _sig(-x),
                lambda x: _sig(x) * _sig(-x) * (_sig(-x) - _sig(x))),
    "tanh": (lambda x: mp.sech(x) ** 2, lambda x: -2 * mp.tanh(x) * mp.sech(x) ** 2),
    "softplus": (lambda x, beta="1.0": _sig(mpf(beta) * x),
                 lambda x, beta="1.0": mpf(beta) * _sig(mpf(beta) * x) * _sig(-mpf(beta) * x)),
    "swish": (_swish_d1, _swish_d2),
    "gelu": (lambda x: mpmath.ncdf(x) + x * mpmath.npdf(x),
             lambda x: mpmath.npdf(x) * (2 - x**2)),
    "gelu_tanh": (_gelu_tanh_d1, _gelu_tanh_d2),
    "softsign": (lambda x: 1 / (1 + abs(x)) ** 2,
                 lambda x: -2 * mpmath.sign(x) / (1 + abs(x)) ** 3),
}

# Exact (f(-inf), f(+inf), f'(-inf), f'(+inf)), with the references' parameter defaults.
_INF = mpmath.inf
LIMITS: dict[str, Callable[..., tuple[mpf, mpf, mpf, mpf]]] = {
    "linear": lambda: (-_INF, _INF, mpf(1), mpf(1)),
    "relu": lambda: (mpf(0), _INF, mpf(0), mpf(1)),
    "leaky_relu": lambda alpha="0.01": (-_INF, _INF, mpf(alpha), mpf(1)),
    "elu": lambda alpha="1.0": (-mpf(alpha), _INF, mpf(0), mpf(1)),
    "selu": lambda: (-SELU_LAMBDA * SELU_ALPHA, _INF, mpf(0), SELU_LAMBDA),
    "sigmoid": lambda: (mpf(0), mpf(1), mpf(0), mpf(0)),
    "tanh": lambda: (mpf(-1), mpf(1), mpf(0), mpf(0)),
    "softplus": lambda beta="1.0": (mpf(0), _INF, mpf(0), mpf(1)),
    "swish": lambda beta="1.0": (mpf(0), _INF, mpf(0), mpf(1)),
    "gelu": lambda: (mpf(0), _INF, mpf(0), mpf(1)),
    "gelu_tanh": lambda: (mpf(0), _INF, mpf(0), mpf(1)),
    "softsign": lambda: (mpf(-1), mpf(1), mpf(0), mpf(0)),
}

# Points where the derivative jumps (skipped by the derivative accuracy check only).
KINKS: dict[str, tuple[float, ...]] = {
    "relu": (0.0,),
    "leaky_relu": (0.0,),
    "elu": (0.0,),
    "selu": (0.0,),
}


def _reference(name: str) -> Callable[..., mpf]:
    if name not in REFERENCES:
        pytest.fail(f"add an mpmath reference for {name} to REFERENCES in {__file__}", pytrace=False)
    return REFERENCES[name]


def _derivatives(name: str) -> tuple[Callable[..., mpf], Callable[..., mpf]]:
    _reference(name)
    if name not in DERIVATIVES:
        pytest.fail(f"add closed-form mpmath derivatives (f', f'') for {name} to DERIVATIVES "
                    f"in {__file__}", pytrace=False)
    return DERIVATIVES[name]


def _limits(name: str) -> Callable[..., tuple[mpf, mpf, mpf, mpf]]:
    _reference(name)
    if name not in LIMITS:
        pytest.fail(f"add the exact limits f(-inf), f(+inf), f'(-inf), f'(+inf) for {name} to "
                    f"LIMITS in {__file__}", pytrace=False)
    return LIMITS[name]


# --------------------------------------------------------------------------------------
# Grids
# --------------------------------------------------------------------------------------

_SPECIAL = (0.5, 1.0, 2.0, 3.0, 6.0)


def _with_neighbours(values, dtype) -> list:
    out = []
    for v in values:
        v = dtype(v)
        out += [v, np.nextafter(v, dtype(-np.inf)), np.nextafter(v, dtype(np.inf))]
    return out


def _symmetric(positive) -> np.ndarray:
    positive = np.asarray(positive)
    return np.concatenate([[0.0], positive, -positive])


def _make_grids() -> dict[tuple[str, str], np.ndarray]:
    pos = np.logspace(-300, 4, 200)
    main64 = np.unique(_symmetric(np.concatenate(
        [pos, np.array(_with_neighbours(_SPECIAL, np.float64))])).astype(np.float64))
    with np.errstate(all="ignore"):
        cast = main64.astype(np.float32)
    extra32 = np.array(_with_neighbours(_SPECIAL, np.float32), dtype=np.float32)
    extra32 = np.concatenate([extra32, -extra32])
    main32 = np.unique(np.concatenate([cast[np.isfinite(cast)], extra32]))  # -0.0 == 0.0: one zero
    param64 = np.unique(_symmetric(np.logspace(-10, 3, 60)).astype(np.float64))
    return {("main", "float64"): main64, ("main", "float32"): main32,
            ("param", "float64"): param64}


GRIDS = _make_grids()


# --------------------------------------------------------------------------------------
# Exact values (cached) and measurement
# --------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _expression(name: str, order: int):
    e = FORGE.get(name)
    return e.gradient("x") if order else e


@functools.lru_cache(maxsize=None)
def _exact_values(name: str, grid: str, dtype_name: str, params: tuple[tuple[str, float], ...]):
    """(xs, [f], [f'], [f'']) with mpf values at the grid points (exact dtype values)."""
    f = _reference(name)
    d1, d2 = _derivatives(name)
    kw = dict(params)
    xs = GRIDS[(grid, dtype_name)]
    v0, v1, v2 = [], [], []
    with mp.workdps(DPS):
        for x in xs:
            xm = mpf(float(x))
            v0.append(+f(xm, **kw))
            v1.append(+d1(xm, **kw))
            v2.append(+d2(xm, **kw))
    return xs, v0, v1, v2


def _near_kink(name: str, x: float) -> bool:
    return any(abs(x - k) <= 1e-12 * abs(k) for k in KINKS.get(name, ()))


def _spacing(value: mpf, dtype) -> float:
    return float(np.spacing(dtype(abs(float(value)))))


@dataclasses.dataclass
class Measurement:
    name: str
    dtype: str
    order: int
    params: tuple
    n_points: int
    failures: list  # (ratio, x, computed, exact, error, ulps), worst first
    worst: tuple    # same layout: the point with the largest error/tolerance ratio
    max_ulps: float
    max_ulps_x: float

    def message(self) -> str:
        what = "f'" if self.order else "f"
        bound = "4*eps*(|f'|+|x*f''|)" if self.order else "4*eps*(|f|+|x*f'|)"
        ratio, x, c, ex, err, ulps = self.worst
        lines = [
            f"{self.name} {what} [{self.dtype}] params={dict(self.params)}: "
            f"{len(self.failures)}/{self.n_points} points exceed {bound} + smallest subnormal",
            f"  worst x={x!r}: computed={c!r} exact={mpmath.nstr(ex, 20)} "
            f"error={err:.3e} = {ulps:.4g} ulp ({ratio:.4g} x tolerance)",
        ]
        for r, x, c, ex, err, ulps in self.failures[1:8]:
            lines.append(f"  also x={x!r}: computed={c!r} exact={mpmath.nstr(ex, 17)} "
                         f"{ulps:.4g} ulp ({r:.3g} x tol)")
        return "\n".join(lines)


def measure(name: str, dtype=np.float64, order: int = 0, grid: str = "main",
            params: tuple[tuple[str, float], ...] = ()) -> Measurement:
    """Evaluate f (order 0) or f' (order 1) on a grid and compare with mpmath."""
    dtype = np.dtype(dtype).type
    dname = np.dtype(dtype).name
    xs, v0, v1, v2 = _exact_values(name, grid, dname, params)
    exact, slope = (v1, v2) if order else (v0, v1)
    out = _expression(name, order).eval(x=xs, **dict(params))
    assert isinstance(out, np.ndarray) and out.dtype == dtype and out.shape == xs.shape, (
        f"{name} {'derivative ' if order else ''}eval on {dname}{xs.shape} returned "
        f"{type(out).__name__} {getattr(out, 'dtype', '')} {getattr(out, 'shape', '')}")
    failures, rows = [], []
    n = 0
    max_ulps, max_ulps_x = 0.0, float("nan")
    with mp.workdps(DPS):
        eps = mpf(float(np.finfo(dtype).eps))
        tiny = mpf(float(np.finfo(dtype).smallest_subnormal))
        for i, x in enumerate(xs):
            if order and _near_kink(name, float(x)):
                continue
            n += 1
            a, b, c = exact[i], slope[i], out[i]
            xm = mpf(float(x))
            tol = 4 * eps * (abs(a) + abs(xm * b)) + tiny
            if np.isfinite(c):
                err = abs(mpf(float(c)) - a)
                ratio = float(err / tol)
                ulps = float(err) / _spacing(a, dtype)
            else:
                err, ratio, ulps = mpf("inf"), float("inf"), float("inf")
            row = (ratio, float(x), c, a, float(err), ulps)
            rows.append(row)
            if ulps > max_ulps:
                max_ulps, max_ulps_x = ulps, float(x)
            if not ratio <= 1.0:
                failures.append(row)
    failures.sort(key=lambda r: -r[0])
    worst = failures[0] if failures else max(rows, key=lambda r: r[0])
    return Measurement(name, dname, order, params, n, failures, worst, max_ulps, max_ulps_x)


def _assert_accurate(m: Measurement) -> None:
    if m.failures:
        pytest.fail(m.message(), pytrace=False)


# --------------------------------------------------------------------------------------
# Tests: references themselves
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_reference_exists(name):
    _reference(name)
    _derivatives(name)
    _limits(name)


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_parameters_match_reference(name):
    """The catalog's parameters and defaults are the textbook ones of the reference."""
    ref = _reference(name)
    expected = {p.name: p.default for p in list(inspect.signature(ref).parameters.values())[1:]}
    params = dict(FORGE.get(name).params)
    assert set(params) == set(expected), (
        f"{name}: catalog parameters {sorted(params)} != reference parameters {sorted(expected)}")
    with mp.workdps(DPS):
        for key, default in expected.items():
            want = mpf(default)
            got = params[key]
            assert abs(mpf(got) - want) <= abs(want) * mpf(2.0**-52), (
                f"{name}: default {key}={got!r}, textbook {default}")


_CHECK_POINTS = (-3.0, -2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 3.0)


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_reference_derivatives(name):
    """The closed forms in DERIVATIVES agree with mpmath.diff of REFERENCES."""
    f = _reference(name)
    d1, d2 = _derivatives(name)
    with mp.workdps(DPS):
        for x in map(mpf, _CHECK_POINTS):
            for got, want, label in ((d1(x), mpmath.diff(f, x), "f'"),
                                     (d2(x), mpmath.diff(d1, x), "f''")):
                assert abs(got - want) <= mpf("1e-30") * (1 + abs(want)), (
                    f"{name}: closed-form {label}({x}) = {mpmath.nstr(got, 20)} but "
                    f"mpmath.diff gives {mpmath.nstr(want, 20)}")


# --------------------------------------------------------------------------------------
# Tests 1, 2: accuracy on the grid, float64 and float32
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_value_accuracy(name, dtype):
    _assert_accurate(measure(name, dtype, order=0))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_derivative_accuracy(name, dtype):
    _assert_accurate(measure(name, dtype, order=1))


# --------------------------------------------------------------------------------------
# Test 3: limits at +-inf, NaN propagation
# --------------------------------------------------------------------------------------

def _matches_limit(c, exact: mpf, dtype) -> bool:
    if np.isnan(c):
        return False
    if mpmath.isinf(exact):
        return bool(c == (np.inf if exact > 0 else -np.inf))
    if not np.isfinite(c):
        return False
    with mp.workdps(DPS):
        eps = mpf(float(np.finfo(dtype).eps))
        tiny = mpf(float(np.finfo(dtype).smallest_subnormal))
        return abs(mpf(float(c)) - exact) <= 4 * eps * abs(exact) + tiny


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_limits_at_infinity(name, dtype):
    with mp.workdps(DPS):
        f_lo, f_hi, d_lo, d_hi = _limits(name)()
    xs = np.array([-np.inf, np.inf], dtype=dtype)
    f = _expression(name, 0).eval(x=xs)
    d = _expression(name, 1).eval(x=xs)
    bad = []
    for label, got, want in (("f(-inf)", f[0], f_lo), ("f(+inf)", f[1], f_hi),
                             ("f'(-inf)", d[0], d_lo), ("f'(+inf)", d[1], d_hi)):
        if not _matches_limit(got, want, dtype):
            bad.append(f"{label} = {got!r}, exact {mpmath.nstr(want, 20)}")
    assert not bad, f"{name} [{np.dtype(dtype).name}]: " + "; ".join(bad)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_nan_propagates(name, dtype):
    xs = np.array([np.nan, 1.0, np.nan], dtype=dtype)
    f = _expression(name, 0).eval(x=xs)
    d = _expression(name, 1).eval(x=xs)
    assert np.isnan(f[0]) and np.isnan(f[2]), f"{name}: f(nan) = {f[0]!r} (want nan)"
    assert np.isnan(d[0]) and np.isnan(d[2]), f"{name}: f'(nan) = {d[0]!r} (want nan)"
    assert not np.isnan(f[1]) and not np.isnan(d[1]), f"{name}: nan leaked to a neighbour"


# --------------------------------------------------------------------------------------
# Test 4: no floating-point error anywhere
# --------------------------------------------------------------------------------------

def _hostile_inputs(dtype) -> np.ndarray:
    """The grid, +-inf, nan, +-1e300, +-5e-324 (float32: inf and 0), and per dtype
    +-max/4 (the largest magnitude whose exact image is finite for every entry, since
    |f(x)| <= 1.06|x|; at max itself selu's exact value overflows, which is correct),
    +-smallest subnormal and +-smallest normal."""
    fi = np.finfo(dtype)
    specials = [np.inf, np.nan, 1e300, 5e-324, float(fi.max) / 4, float(fi.smallest_subnormal),
                float(fi.tiny)]
    raw = np.array(specials + [-v for v in specials], dtype=np.float64)
    with np.errstate(all="ignore"):
        raw = raw.astype(dtype)
    return np.concatenate([GRIDS[("main", np.dtype(dtype).name)], raw]).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_no_floating_point_errors(name, dtype):
    xs = _hostile_inputs(dtype)
    problems = []
    for order in (0, 1):
        expr = _expression(name, order)
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise"), warnings.catch_warnings():
                warnings.simplefilter("error")
                expr.eval(x=xs)
        except (FloatingPointError, Warning) as exc:
            culprits = []
            for v in xs:
                try:
                    with np.errstate(over="raise", invalid="raise", divide="raise"), \
                            warnings.catch_warnings():
                        warnings.simplefilter("error")
                        expr.eval(x=np.array([v], dtype=dtype))
                except (FloatingPointError, Warning) as one:
                    culprits.append(f"{v!r} ({one})")
            label = "f'" if order else "f"
            problems.append(f"{label}: {exc!s}; "
                            f"raised at x = {', '.join(culprits[:8]) or '(only in the full array)'}")
    if problems:
        pytest.fail(f"{name} [{np.dtype(dtype).name}] raised under np.errstate(over/invalid/divide="
                    f"'raise'):\n  " + "\n  ".join(problems), pytrace=False)


# --------------------------------------------------------------------------------------
# Test 5: derivative conventions at kinks and at 0
# --------------------------------------------------------------------------------------

def _k(name, params, expected):
    return pytest.param(name, params, expected,
                        id=f"{name}" + "".join(f"-{k}={v}" for k, v in params.items()))


KINK_CASES = [
    _k("relu", {}, "0"),
    _k("leaky_relu", {}, "0.01"),
    _k("leaky_relu", {"alpha": 0.2}, "0.2"),
    _k("elu", {}, "1"),
    _k("elu", {"alpha": 1.0}, "1"),
    _k("elu", {"alpha": 0.5}, "0.5"),
    _k("elu", {"alpha": 2.0}, "2"),
    _k("selu", {}, "lambda*alpha"),
    _k("gelu", {}, "0.5"),
    _k("gelu_tanh", {}, "0.5"),
    _k("swish", {}, "0.5"),
    _k("swish", {"beta": 1.0}, "0.5"),
    _k("sigmoid", {}, "0.25"),
    _k("softplus", {}, "0.5"),
    _k("tanh", {}, "1"),
    _k("softsign", {}, "1"),
    _k("linear", {}, "1"),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("name", "params", "expected"), KINK_CASES)
def test_derivative_at_zero(name, params, expected, dtype):
    """f'(0) and f'(-0.0) follow PyTorch autograd (reference/activations.md §4)."""
    with mp.workdps(DPS):
        want = SELU_LAMBDA * SELU_ALPHA if expected == "lambda*alpha" else mpf(expected)
    grad = _expression(name, 1)
    got = list(grad.eval(x=np.array([0.0, -0.0], dtype=dtype), **params))
    if dtype is np.float64:
        got.append(grad.eval(x=0.0, **params))  # Python float path
    ulp = _spacing(want, dtype)
    for g in got:
        ok = (g == 0) if want == 0 else abs(float(g) - float(want)) <= 2 * ulp
        assert ok, (f"{name}'(0) with {params} [{np.dtype(dtype).name}] = {g!r}, expected "
                    f"{mpmath.nstr(want, 20)} (within 2 ulp)")


# --------------------------------------------------------------------------------------
# Test 6: scalar and integer inputs
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_scalar_and_integer_inputs(name):
    ints = np.array([-3, -1, 0, 1, 2, 7], dtype=np.int64)
    for order in (0, 1):
        expr = _expression(name, order)
        s = expr.eval(x=1.0)
        assert type(s) is float, f"{name} order {order}: eval(x=1.0) returned {type(s).__name__}"
        assert s == expr.eval(x=np.array([1.0]))[0]
        out = expr.eval(x=ints)
        assert isinstance(out, np.ndarray) and out.dtype == np.float64, (
            f"{name} order {order}: int64 input gave {type(out).__name__} {getattr(out, 'dtype', '')}")
        np.testing.assert_array_equal(out, expr.eval(x=ints.astype(np.float64)))


# --------------------------------------------------------------------------------------
# Test 7: non-default parameters
# --------------------------------------------------------------------------------------

PARAM_CASES = [
    pytest.param(name, key, value, id=f"{name}-{key}={value}")
    for name in NAMES
    for key in FORGE.get(name).params
    for value in (0.5, 2.0)
]


@pytest.mark.parametrize("order", (0, 1), ids=("value", "derivative"))
@pytest.mark.parametrize(("name", "key", "value"), PARAM_CASES)
def test_parameter_override_accuracy(name, key, value, order):
    _assert_accurate(measure(name, np.float64, order=order, grid="param", params=((key, value),)))
