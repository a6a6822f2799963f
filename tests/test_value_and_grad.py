"""``value_and_grad``: one fused call equal to ``eval`` and ``gradient().eval``, over the whole catalog."""

from __future__ import annotations

import numpy as np
import pytest

from mathforge import MathForge

FORGE = MathForge()
ELEMENTWISE = [n for n in FORGE.list_all() if FORGE.get(n).kind == "elementwise"]
ACTIVATIONS = [n for n in ELEMENTWISE if FORGE.get(n).category == "activation"]
LOSSES = [n for n in ELEMENTWISE if FORGE.get(n).category == "loss"]

#: Edges and ordinary points: +-inf, NaN, +-1e4, subnormals, the kinks at 0 and +-1.
EDGES = np.array([-np.inf, -1e4, -745.0, -40.0, -3.0, -1.0, -0.5, -5e-324, 0.0, 5e-324, 1e-300, 0.3, 0.5,
                  1.0, 2.0, 40.0, 1e4, np.inf, np.nan])


def _loss_inputs(name: str, dtype) -> dict[str, np.ndarray]:
    """A grid of every variable against every other (edges of y_pred against a few targets)."""
    variables = FORGE.get(name).variables
    first = EDGES[np.isfinite(EDGES)] if name != "binary_crossentropy" else np.array([0.0, 5e-324, 0.3, 1.0])
    grids = np.meshgrid(first, *[np.array([0.0, 0.25, 1.0, -1.0])] * (len(variables) - 1), indexing="ij")
    inputs = {v: g.ravel().astype(dtype) for v, g in zip(variables, grids)}
    if "var" in inputs:
        inputs["var"] = np.abs(inputs["var"]) + dtype(0.5)
    return inputs


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_fused_equals_separate(name, dtype):
    e = FORGE.get(name)
    x = EDGES.astype(dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value, slope = e.value_and_grad(x=x)
        want_value, want_slope = e.eval(x=x), e.gradient().eval(x=x)
    assert _same(value, want_value), f"{name}: value {value} != eval {want_value}"
    assert _same(slope, want_slope), f"{name}: gradient {slope} != gradient().eval {want_slope}"


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_fused_on_ordinary_inputs_takes_the_fused_path(name):
    """Finite inputs inside every guard's range: the fused kernel itself, not the fallback."""
    e = FORGE.get(name)
    x = np.linspace(-6.0, 6.0, 1001)
    value, slope = e.value_and_grad(x=x)
    assert _same(value, e.eval(x=x)) and _same(slope, e.gradient().eval(x=x)), name


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_scalars_give_python_floats(name):
    e = FORGE.get(name)
    value, slope = e.value_and_grad(x=0.7)
    assert type(value) is float and type(slope) is float
    assert value == e.eval(x=0.7) and slope == e.gradient().eval(x=0.7)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", LOSSES)
def test_loss_none_equals_pointwise(name, dtype):
    e = FORGE.get(name)
    inputs = _loss_inputs(name, dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value, slope = e.value_and_grad(**inputs, reduction="none")
        want_value, want_slope = e.eval(**inputs, reduction="none"), e.gradient("y_pred").eval(**inputs)
    assert _same(value, want_value) and _same(slope, want_slope), name


@pytest.mark.parametrize("name", LOSSES)
def test_loss_mean_gradient_is_the_gradient_of_the_mean(name):
    """Central differences of the mean loss in one element of y_pred, against the fused gradient."""
    e = FORGE.get(name)
    rng = np.random.default_rng(0)
    n = 7
    inputs = {"y_pred": rng.uniform(0.2, 0.8, n), "y_true": rng.choice([0.0, 1.0], n)}
    if name in ("hinge", "squared_hinge", "soft_margin"):
        inputs["y_true"] = 2 * inputs["y_true"] - 1
    if "var" in e.variables:
        inputs["var"] = rng.uniform(0.5, 2.0, n)
    value, slope = e.value_and_grad(**inputs)
    assert value == e.eval(**inputs) and slope.shape == (n,)
    h = 1e-6
    for i in range(n):
        up, down = dict(inputs), dict(inputs)
        up["y_pred"], down["y_pred"] = inputs["y_pred"].copy(), inputs["y_pred"].copy()
        up["y_pred"][i] += h
        down["y_pred"][i] -= h
        finite = (e.eval(**up) - e.eval(**down)) / (2 * h)
        assert abs(slope[i] - finite) <= 1e-7 * max(1.0, abs(finite)), (name, i, slope[i], finite)
    total, total_slope = e.value_and_grad(**inputs, reduction="sum")
    assert total == e.eval(**inputs, reduction="sum")
    np.testing.assert_allclose(total_slope, slope * n, rtol=1e-15)


def test_mean_over_broadcast_inputs_divides_by_the_broadcast_size():
    mse = FORGE.get("mse")
    value, slope = mse.value_and_grad(y_pred=np.array([1.0, 3.0]), y_true=np.zeros((2, 1)))
    assert value == 5.0  # (1 + 9 + 1 + 9)/4
    np.testing.assert_array_equal(slope, np.full((2, 2), [0.5, 1.5]))  # 2*d/4


def test_wrt_a_parameter_and_unknown_names():
    leaky = FORGE.get("leaky_relu")
    value, slope = leaky.value_and_grad(x=np.array([-2.0, 3.0]), wrt="alpha")
    np.testing.assert_array_equal(slope, [-2.0, 0.0])
    with pytest.raises(KeyError, match="alhpa"):
        leaky.value_and_grad(x=1.0, wrt="alhpa")
    with pytest.raises(TypeError, match="reduction"):
        leaky.value_and_grad(x=1.0, reduction="sum")


def test_shared_subexpressions_are_computed_once():
    """gelu_tanh and its derivative share the tanh argument u(x): the fused source computes it once."""
    from mathforge.compile import compile_fused

    e = FORGE.get("gelu_tanh")
    (x,) = (s for s in e.symbolic_expr.free_symbols)
    fused = compile_fused((e.symbolic_expr, e.gradient().symbolic_expr), (x,))
    assert fused.source.count("0.044715") == 1, fused.source


@pytest.mark.parametrize(("name", "helper", "uses"), [
    ("sigmoid", "mf_exp_minus_abs(", 2),          # sigmoid and its slope: one exp(-|x|)
    ("softplus", "mf_exp_minus_abs(", 2),         # softplus and the sigmoid
    ("log_sigmoid", "mf_exp_minus_abs(", 2),
    ("swish", "mf_exp_minus_abs(", 2),
    ("soft_margin", "mf_exp_minus_abs(", 2),
    ("bce_with_logits", "mf_exp_minus_abs(", 4),  # softplus(-p), softplus(p) and both sigmoid terms
    ("gelu", "mf_ndtr(", 2),                      # x*Phi(x) and Phi(x) in the derivative
])
def test_value_and_derivative_share_their_expensive_intermediate(name, helper, uses):
    """The one transcendental call the value and its derivative both need is made once; the
    kernels only read it (the fused results equal the separate ones: tests above)."""
    from mathforge.compile import compile_fused
    from mathforge.symbols import symbol

    e = FORGE.get(name)
    fused = compile_fused((e.symbolic_expr, e.gradient().symbolic_expr), tuple(symbol(v) for v in e.variables),
                          tuple(symbol(p) for p in e.params))
    keyword = "e=" if "exp" in helper else "cdf="
    assert fused.source.count(helper) == 1 and fused.source.count(keyword) == uses, fused.source


def test_bce_with_logits_value_alone_shares_one_exponential():
    """Its two softplus terms, of -p and p, need the same exp(-|p|)."""
    from mathforge.compile import kernel_source
    from mathforge.symbols import symbol

    e = FORGE.get("bce_with_logits")
    source = kernel_source(e.symbolic_expr, (symbol("y_pred"), symbol("y_true")))
    assert source.count("mf_exp_minus_abs(") == 1 and source.count("e=") == 2, source


def test_a_shared_intermediate_is_not_written_by_its_readers():
    """Each reader of a shared exp(-|x|) gets the same array back unchanged."""
    from mathforge.primitives import NUMPY_KERNELS

    x = np.linspace(-5.0, 5.0, 11)
    e = NUMPY_KERNELS["mf_exp_minus_abs"](x)
    before = e.copy()
    for name in ("mf_sigmoid", "mf_softplus"):
        np.testing.assert_array_equal(NUMPY_KERNELS[name](x, e=e), NUMPY_KERNELS[name](x))
    for name in ("mf_times_sigmoid", "mf_times_sigmoid_slope", "mf_sigmoid_plus_slope"):
        for a in (1, 2.5, x):
            np.testing.assert_array_equal(NUMPY_KERNELS[name](a, x, e=e), NUMPY_KERNELS[name](a, x))
    np.testing.assert_array_equal(e, before)
    cdf = NUMPY_KERNELS["mf_ndtr"](x)
    cdf_before = cdf.copy()
    np.testing.assert_array_equal(NUMPY_KERNELS["mf_times_normal_cdf"](x, x, cdf=cdf),
                                  NUMPY_KERNELS["mf_times_normal_cdf"](x, x))
    np.testing.assert_array_equal(NUMPY_KERNELS["mf_normal_cdf"](x, cdf=cdf), NUMPY_KERNELS["mf_normal_cdf"](x))
    np.testing.assert_array_equal(cdf, cdf_before)


def test_a_shared_intermediate_is_computed_before_the_calls_that_read_it():
    """sigmoid'' hoists sigmoid(x) and sigmoid(-x), which both read exp(-|x|)."""
    import math

    d2 = FORGE.get("sigmoid").derivative(2)
    for v in (-2.0, 0.5, 3.0):
        s = 1 / (1 + math.exp(-v))
        want = s * (1 - s) * (1 - 2 * s)
        assert d2.eval(x=np.array([v]))[0] == pytest.approx(want, rel=1e-12)


def test_results_never_alias_the_inputs_or_each_other():
    """linear(x) is x and exp' is exp: the caller still gets arrays of its own to write into."""
    x = np.linspace(-1.0, 1.0, 5)
    y = FORGE.get("linear").eval(x=x)
    y *= 2
    np.testing.assert_array_equal(x, np.linspace(-1.0, 1.0, 5))
    value, slope = FORGE.get("exponential").value_and_grad(x=x)
    value += 1
    np.testing.assert_array_equal(slope, np.exp(x))
    value, slope = FORGE.get("linear").value_and_grad(x=x)
    assert not np.may_share_memory(value, x) and not np.may_share_memory(value, slope)
