"""Kernel printing rules: one-pass forms that keep NaN in -> NaN out, strict bounds, shared calls."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy

from mathforge import Expression, MathForge, symbol
from mathforge.compile import _namespace, compile_kernel, kernel_source
from mathforge.primitives import NUMPY_KERNELS, sigmoid

x = symbol("x")
NUMPY_KERNELS_EXTRA = _namespace(set())
SPECIAL = np.array([np.nan, -np.inf, -1.0, -0.0, 0.0, 1.0, np.inf])


def _kernel(expr):
    return compile_kernel(expr, (x,), ())


@pytest.mark.parametrize(("expr", "code", "want"), [
    (sympy.Piecewise((x, x > 0), (0, True)), "numpy.maximum(x, 0)", [np.nan, 0, 0, 0, 0, 1, np.inf]),
    (sympy.Piecewise((0, x < 0), (x, True)), "numpy.maximum(0, x)", [np.nan, 0, 0, -0.0, 0, 1, np.inf]),
    (sympy.Piecewise((x, x < 0), (0, True)), "numpy.minimum(x, 0)", [np.nan, -np.inf, -1, 0, 0, 0, 0]),
    (sympy.Piecewise((1, x > 0), (0, True)), "mf_step(x, 1, False)", [np.nan, 0, 0, 0, 0, 1, 1]),
    (sympy.Piecewise((1, x >= 0), (0, True)), "mf_step(x, 1, True)", [np.nan, 0, 0, 1, 1, 1, 1]),
    (sympy.Piecewise((0, x > 0), (1, True)), "mf_step(x, -1, True)", [np.nan, 1, 1, 1, 1, 0, 0]),
    (sympy.Piecewise((0, x <= 0), (1, True)), "mf_step(x, 1, False)", [np.nan, 0, 0, 0, 0, 1, 1]),
    (sympy.Piecewise((x, x > 2), (3, True)), "numpy.where(numpy.less_equal(x, 2), 3.0, x)",
     [np.nan, 3, 3, 3, 3, 3, np.inf]),
])
def test_two_way_piecewise_is_one_pass_and_keeps_nan(expr, code, want):
    assert code in kernel_source(expr, (x,)), kernel_source(expr, (x,))
    kernel = _kernel(expr)
    assert getattr(kernel, "regular_range", None) is None  # no special-value guard was needed
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = kernel(SPECIAL)
    np.testing.assert_array_equal(got, want)
    assert list(np.signbit(got[3:5])) == list(np.signbit(np.array(want[3:5], dtype=float)))  # signed zeros


@pytest.mark.parametrize(("name", "code"), [
    ("relu6", "mf_clamp(x, 0, 6, False)"),
    ("hard_sigmoid", "mf_clamp(0.16666666666666666*(x + 3.0), 0, 1, True)"),
    ("leaky_relu", "mf_leaky(x, alpha)"),
    ("hard_swish", "mf_multiply_into(x, mf_clamp(0.16666666666666666*(x + 3), 0, 1, True))"),
    ("hard_mish", "mf_multiply_into(x, mf_clamp(0.5*(x + 2), 0, 1, True))"),
    ("soft_shrink", "mf_subtract_into(x, ((mf_clamp(x, -lambd, lambd, False)) if (numpy.less_equal(-lambd, lambd))"),
])
def test_clamps_and_leaky_slopes_print_as_one_or_two_passes(name, code):
    e = MathForge().get(name)
    assert code in kernel_source(e.symbolic_expr, (x,), tuple(symbol(p) for p in e.params))


@pytest.mark.parametrize("slope", [0.0, 0.01, 1.0, 2.0, -0.5])
def test_leaky_kernel_matches_the_piecewise_for_any_slope(slope):
    a = symbol("a")
    e = Expression(sympy.Piecewise((x, x > 0), (a * x, True)), ["x"], {"a": slope})
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = e.eval(x=SPECIAL)
    want = [np.nan, (-np.inf * slope if slope else np.nan), -slope, -0.0 * slope, 0.0 * slope, 1.0, np.inf]
    np.testing.assert_array_equal(got, want)
    assert list(np.signbit(got[3:5])) == list(np.signbit(np.array(want[3:5])))


def test_hard_tanh_with_crossed_bounds_follows_the_piecewise():
    """The clamp needs min_val <= max_val; otherwise (no constraint on a custom entry) the where form."""
    lo, hi = symbol("lo"), symbol("hi")
    e = Expression(sympy.Piecewise((lo, x <= lo), (hi, x >= hi), (x, True)), ["x"], {"lo": 1.0, "hi": -1.0})
    np.testing.assert_array_equal(e.eval(x=np.array([-2.0, 0.0, 2.0])), [1.0, 1.0, -1.0])
    np.testing.assert_array_equal(e.eval(x=np.array([-2.0, 0.0, 2.0]), lo=-1.0, hi=1.0), [-1.0, 0.0, 1.0])


def test_relu_of_negative_zero_is_positive_zero():
    assert not math.copysign(1.0, MathForge().get("relu").eval(x=np.array([-0.0]))[0]) < 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_strict_bound_is_never_reached_by_the_other_branch(dtype):
    """``log(1 - x)`` for ``x < 1``: the branch is evaluated strictly inside, also at x = 1."""
    kernel = _kernel(sympy.Piecewise((sympy.log(1 - x), x < 1), (-100, True)))
    inputs = np.array([0.5, np.nextafter(dtype(1), dtype(0)), 1.0, 2.0], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = kernel(inputs)
    assert got.dtype == dtype
    assert got[2] == got[3] == -100 and math.isclose(got[0], math.log(0.5), rel_tol=1e-6)
    assert got[1] == dtype(np.log(np.float64(1) - np.float64(inputs[1])))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("u", [-800.0, -720.0, -60.0, -3.0, 0.0, 0.5, 30.0, 720.0])
def test_times_sigmoid_slope_against_mpmath(u, dtype):
    """``a*sigmoid(u)*sigmoid(-u)``, subnormal tails included (tolerance: 4 ulp + smallest subnormal)."""
    a = 3.0
    got = NUMPY_KERNELS["mf_times_sigmoid_slope"](np.array([a], dtype=dtype), np.array([u], dtype=dtype))[0]
    with mpmath.workdps(50):
        want = float(a / (1 + mpmath.exp(-mpmath.mpf(u))) / (1 + mpmath.exp(mpmath.mpf(u))))
    tiny = float(np.finfo(dtype).smallest_subnormal)
    assert got.dtype == dtype
    assert abs(float(got) - want) <= 4 * float(np.finfo(dtype).eps) * abs(want) + tiny, (u, got, want)


def test_sigmoid_derivative_uses_one_exponential():
    e = Expression(sigmoid(x), ["x"])
    assert "mf_times_sigmoid_slope(1, x)" in kernel_source(e.gradient().symbolic_expr, (x,))


def test_in_place_kernels_leave_their_inputs_alone():
    for name in ("mf_sigmoid", "mf_softplus"):
        data = np.linspace(-5, 5, 11)
        before = data.copy()
        NUMPY_KERNELS[name](data)
        np.testing.assert_array_equal(data, before)
    data = np.linspace(-900, 5, 11)
    before = data.copy()
    NUMPY_KERNELS["mf_times_sigmoid"](data, data)
    NUMPY_KERNELS["mf_times_sigmoid_slope"](data, data)
    np.testing.assert_array_equal(data, before)


def test_a_repeated_subexpression_is_computed_once():
    """huber: y_pred - y_true and its absolute value, in the condition and both branches, once each."""
    e = MathForge().get("huber")
    source = kernel_source(e.symbolic_expr, tuple(symbol(v) for v in e.variables), (symbol("delta"),))
    assert source.count("y_pred - y_true") == 1 and source.count("numpy.abs(") == 1, source


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("u", [-800.0, -720.0, -60.0, -1.278, -0.3, 0.0, 0.5, 30.0, 720.0])
@pytest.mark.parametrize("a", [-2.5, 0.0, 1.702])
def test_sigmoid_plus_slope_against_mpmath(a, u, dtype):
    """``sigmoid(u) + a*sigmoid(u)*sigmoid(-u)``; tolerance 4 ulp of the larger term + smallest subnormal."""
    got = NUMPY_KERNELS["mf_sigmoid_plus_slope"](np.array([a], dtype=dtype), np.array([u], dtype=dtype))[0]
    with mpmath.workdps(50):
        up, down = 1 / (1 + mpmath.exp(-mpmath.mpf(u))), 1 / (1 + mpmath.exp(mpmath.mpf(u)))
        want, scale = float(up + a * up * down), float(abs(up) + abs(a * up * down))
    assert got.dtype == dtype
    eps, tiny = float(np.finfo(dtype).eps), float(np.finfo(dtype).smallest_subnormal)
    assert abs(float(got) - want) <= 4 * eps * scale + tiny, (a, u, got, want)


FORGE = MathForge()
ELEMENTWISE = [n for n in FORGE.list_all() if FORGE.get(n).kind == "elementwise"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_kernels_never_write_into_their_inputs(name, dtype):
    """Kernels reuse their own temporaries in place; the caller's arrays are never touched."""
    e = FORGE.get(name)
    inputs = {v: np.linspace(-3.0, 3.0, 64).astype(dtype) + 0.25 * i for i, v in enumerate(e.variables)}
    if "var" in inputs:
        inputs["var"] = np.abs(inputs["var"]) + dtype(0.5)
    copies = {k: v.copy() for k, v in inputs.items()}
    with np.errstate(all="ignore"):
        e.eval(**inputs)
        e.gradient().eval(**inputs)
        e.value_and_grad(**inputs)
    for key, value in inputs.items():
        np.testing.assert_array_equal(value, copies[key], err_msg=f"{name} wrote into {key}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("u", [-800.0, -700.0, -40.0, -3.0, -1e-8, 0.0, 0.7, 5.0, 29.0, 31.0, 1e4])
def test_tanh_softplus_against_mpmath(u, dtype):
    """mish's gate ``tanh(softplus(u))`` with one exponential: 4 ulp + smallest subnormal."""
    got = NUMPY_KERNELS["mf_tanh_softplus"](np.array([u], dtype=dtype))[0]
    with mpmath.workdps(60):
        want = float(mpmath.tanh(mpmath.log1p(mpmath.exp(mpmath.mpf(float(dtype(u)))))))
    eps, tiny = float(np.finfo(dtype).eps), float(np.finfo(dtype).smallest_subnormal)
    assert got.dtype == dtype and abs(float(got) - want) <= 4 * eps * abs(want) + tiny, (u, got, want)


def test_tanh_shrink_kernel_uses_its_series_only_near_zero():
    data = np.array([-3.0, -0.5, 1e-9, 0.0, 0.89, 0.91, 40.0, np.nan, np.inf])
    got = NUMPY_KERNELS["mf_tanh_shrink"](data)
    with mpmath.workdps(60):
        want = [float(mpmath.mpf(v) - mpmath.tanh(mpmath.mpf(v))) for v in data[:7]]
    np.testing.assert_allclose(got[:7], want, rtol=4 * np.finfo(float).eps, atol=0)
    assert np.isnan(got[7]) and got[8] == np.inf


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("u", [-800.0, -720.0, -40.0, -1.19, -0.5, 0.0, 0.7, 5.0, 14.0, 16.0, 29.0, 31.0, 1e4])
def test_mish_slope_against_mpmath(u, dtype):
    """mish' in one kernel; tolerance 4 ulp of |g| + |x*g'| (cancellation near the root at -1.19)."""
    got = NUMPY_KERNELS["mf_mish_slope"](np.array([u], dtype=dtype), np.array([u], dtype=dtype))[0]
    with mpmath.workdps(60):
        v = mpmath.mpf(float(dtype(u)))

        def slope(t):
            s = mpmath.log1p(mpmath.exp(t))
            return mpmath.tanh(s) + t * mpmath.sech(s) ** 2 / (1 + mpmath.exp(-t))

        want, curvature = slope(v), mpmath.diff(slope, v)
        scale = float(abs(want) + abs(v * curvature))
    eps, tiny = float(np.finfo(dtype).eps), float(np.finfo(dtype).smallest_subnormal)
    assert got.dtype == dtype and abs(float(got) - float(want)) <= 4 * eps * scale + tiny, (u, got, float(want))


def test_a_dying_temporary_is_squared_in_place():
    """mse's (p - y)**2: the difference is squared over itself (no second 8 MB array)."""
    e = MathForge().get("mse")
    source = kernel_source(e.symbolic_expr, (symbol("y_pred"), symbol("y_true")))
    assert "mf_square_into(_shared0)" in source, source
    p, y = np.array([3.0, -1.0, np.nan]), np.array([1.0, 1.0, 0.0])
    np.testing.assert_array_equal(e.eval(y_pred=p, y_true=y, reduction="none"), [4.0, 4.0, np.nan])
    np.testing.assert_array_equal(p, [3.0, -1.0, np.nan])


y = symbol("y")
#: Inputs for two-variable rules: ordinary points, ties at the joins, infinities and NaN.
PAIRS = [(-2.0, 1.0), (0.5, 1.0), (1.0, 1.0), (2.0, 1.0), (3.0, -1.0), (-1.0, -1.0), (0.0, 0.0), (1e4, 1.0),
         (np.inf, 1.0), (-np.inf, 1.0), (np.inf, -1.0), (np.nan, 1.0), (1.0, np.nan)]


def _where_reference(expr):
    """``where(cond, a, b)`` of a two-way Piecewise from SymPy's own NumPy printer (no rule of ours)."""
    (a, condition), (b, _) = expr.args
    parts = [sympy.lambdify((x, y), part, modules="numpy") for part in (condition, a, b)]
    return lambda xs, ys: np.where(parts[0](xs, ys), parts[1](xs, ys) + 0 * xs, parts[2](xs, ys) + 0 * xs)


@pytest.mark.parametrize(("expr", "code"), [
    (sympy.Piecewise((1 - x * y, x * y <= 1), (0, True)), "numpy.maximum(0, -x*y + 1)"),           # hinge
    (sympy.Piecewise((0.3 * (y - x), x <= y), (-0.7 * (y - x), True)), "numpy.maximum("),       # quantile
    (sympy.Piecewise(((1 - x * y) ** 2, x * y <= 1), (0, True)), "mf_square_into(numpy.maximum(0, "),
    (sympy.Piecewise((x - y, x < y), (0, True)), "numpy.minimum(x - y, 0)"),                     # strict: tie -> 0
    (sympy.Piecewise((x - y, x - y >= 0), (0, True)), "numpy.maximum(0, x - y)"),
])
def test_a_branch_that_is_the_larger_one_prints_as_maximum(expr, code):
    """``(a, cond), (b, True)`` with ``cond`` the same as ``a - b >= 0`` is ``maximum(a, b)``:
    same values as the Piecewise at ties, infinities and NaN, and no ``where``."""
    source = kernel_source(expr, (x, y))
    assert code in source and "where" not in source, source
    kernel = compile_kernel(expr, (x, y), ())
    xs, ys = (np.array(v) for v in zip(*PAIRS))
    with np.errstate(over="raise", invalid="ignore", divide="raise"):  # inf - inf, inf*0 in the reference
        got, want = kernel(xs, ys), _where_reference(expr)(xs, ys)
    undecided = np.isnan(xs) | np.isnan(ys)
    assert np.isnan(got[undecided]).all()  # where turns an undecidable condition into a branch; maximum keeps NaN
    decided = ~undecided & ~np.isnan(want)
    np.testing.assert_allclose(got[decided], want[decided], rtol=4e-16, atol=0)  # SymPy may distribute a constant
    zeros = decided & (want == 0)
    assert list(np.signbit(got[zeros])) == list(np.signbit(want[zeros]))  # the tie goes to the Piecewise's branch


def test_a_branch_that_may_overflow_is_not_turned_into_maximum():
    """``maximum`` computes both branches everywhere; ``exp`` there needs the clamped where form."""
    source = kernel_source(sympy.Piecewise((sympy.exp(x) - 1, x <= 0), (0, True)), (x,))
    assert "maximum" not in source, source


@pytest.mark.parametrize(("name", "code"), [
    ("huber", "mf_clamp(_shared0, -delta, delta, False)"),
    ("smooth_l1", "mf_clamp(0.5*(2*(y_pred - y_true))/beta, -1.0, 1.0, True)"),
])
def test_huber_derivatives_are_clips(name, code):
    e = MathForge().get(name)
    g = e.gradient()
    source = kernel_source(g.symbolic_expr, tuple(symbol(v) for v in e.variables),
                           tuple(symbol(p) for p in e.params))
    assert code in source, source
    d = np.array([-np.inf, -3.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 3.0, np.inf, np.nan])
    got = g.eval(y_pred=d, y_true=np.zeros_like(d))
    np.testing.assert_array_equal(got, [-1, -1, -1, -0.5, 0, 0, 0.5, 1, 1, 1, np.nan])


def test_crossed_clip_bound_falls_back_to_the_piecewise():
    """A negative ``delta`` (a custom expression without the constraint) follows the formula."""
    d = symbol("d")
    expr = sympy.Piecewise((x, d > sympy.Abs(x)), (d * sympy.sign(x), True))
    e = Expression(expr, ["x"], {"d": -1.0})
    np.testing.assert_array_equal(e.eval(x=np.array([-2.0, 0.5, 2.0])), [1.0, -1.0, -1.0])


@pytest.mark.parametrize(("expr", "code", "want"), [
    (sympy.Piecewise((sympy.Rational(1, 6), (x > -3) & (x < 3)), (0, True)), "mf_indicator(",
     [np.nan, 0, 1 / 6, 1 / 6, 1 / 6, 1 / 6, 0]),
    (sympy.Piecewise((0, (x >= 3) | (x <= -3)), (-2, True)), "mf_indicator(numpy.logical_not(",
     [np.nan, 0, -2, -2, -2, -2, 0]),
    (sympy.Piecewise((-0.25, x <= 0), (0.75, True)), "mf_select(", [np.nan, -0.25, -0.25, -0.25, -0.25, 0.75, 0.75]),
])
def test_constant_steps_are_a_conversion_or_a_lookup(expr, code, want):
    """Piecewise constants (derivatives of piecewise-linear functions) without a ``where``;
    zeros are ``+0.0`` and NaN stays NaN (the one-variable kernel's guard)."""
    source = kernel_source(expr, (x,))
    assert code in source and "where" not in source, source
    kernel = _kernel(expr)
    assert getattr(kernel, "regular_range", None) is None  # NaN is kept by the kernel: no guard pass
    got = kernel(SPECIAL)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.float64 and not np.signbit(got[got == 0]).any()
    assert np.isnan(kernel(np.float64(np.nan))) and kernel(np.float64(-1.0)) == want[2]


@pytest.mark.parametrize("value", [1.0, -0.5, 0.75, 0.1, 1e300])
def test_indicator_and_select_kernels_equal_where(value):
    """The kernels alone (no guard): NaN's False comparison picks the last branch, as ``where`` does."""
    mask = SPECIAL > 0
    for got, want in ((NUMPY_KERNELS_EXTRA["mf_indicator"](mask, value), np.where(mask, value, 0.0)),
                      (NUMPY_KERNELS_EXTRA["mf_select"](mask, value, -2.0), np.where(mask, value, -2.0))):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == want.dtype and list(np.signbit(got)) == list(np.signbit(want))


@pytest.mark.parametrize("name", ["hard_swish", "hard_mish", "soft_shrink"])
def test_factored_clamps_follow_the_piecewise_at_the_edges(name):
    """``x*clamp`` is NaN at ``-inf`` (``-inf*0``) where the Piecewise is 0: the guard returns the
    limit; the joins, signed zeros and NaN follow the Piecewise (evaluated by SymPy)."""
    e = FORGE.get(name)
    points = [-np.inf, -1e308, -3.5, -3.0, -2.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.0, 3.0, 3.5, 1e308, np.inf]
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = e.eval(x=np.array(points + [np.nan]))
    assert np.isnan(got[-1])
    v = symbol("x")
    expr = e.symbolic_expr.subs({symbol(p): sympy.Float(val) for p, val in e.params.items()})
    limits = {-np.inf: 0.0 if name != "soft_shrink" else -np.inf, np.inf: np.inf}  # each is x (or 0) out there
    for point, value in zip(points, got[:-1]):
        want = limits[point] if math.isinf(point) else float(expr.subs(v, sympy.Float(point)))
        assert value == want, (name, point, value, want)
