"""Expression: binding, dtype policy, immutability, calculus, composition and arithmetic."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy

import mathforge.compile as compile_module
from mathforge import Expression, MathForge, ParameterError, UnknownNameError, symbol
from mathforge.primitives import sigmoid

x, y, alpha = symbol("x"), symbol("y"), symbol("alpha")
ELEMENTWISE = [n for n in MathForge().list_all(category="activation") if MathForge().get(n).kind == "elementwise"]


@pytest.fixture(scope="module")
def forge() -> MathForge:
    return MathForge()


# --- binding ---------------------------------------------------------------------------------

def test_positional_keyword_and_call_agree(forge):
    e = forge.get("swish")
    assert e.eval(1.0) == e.eval(x=1.0) == e(1.0)


def test_variables_bind_in_declared_order_not_alphabetically():
    e = Expression(y - 2 * x, ["y", "x"])  # declared order y, x
    assert e.variables == ("y", "x")
    assert e.eval(10.0, 1.0) == 8.0
    assert e.eval(x=1.0, y=10.0) == 8.0


@pytest.mark.parametrize(("args", "kwargs", "words"), [
    ((), {}, ["missing", "'x'"]),
    ((1.0, 2.0), {}, ["positional"]),
    ((1.0,), {"x": 2.0}, ["multiple values", "'x'"]),
    ((), {"x": 1.0, "alpah": 0.1}, ["'alpah'", "alpha"]),
])
def test_binding_errors_are_type_errors_naming_the_problem(forge, args, kwargs, words):
    with pytest.raises(TypeError) as info:
        forge.get("leaky_relu").eval(*args, **kwargs)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("bad", ["1.0", None, True, 1 + 2j, np.array(["a"]), np.array([1 + 1j]), object()])
def test_non_numeric_input_is_a_type_error(forge, bad):
    with pytest.raises(TypeError):
        forge.get("relu").eval(x=bad)


def test_parameter_override_checks_constraint(forge):
    with pytest.raises(ParameterError, match="beta"):
        forge.get("softplus").eval(x=1.0, beta=-1.0)
    with pytest.raises(ParameterError, match="beta"):
        forge.get("softplus", params={"beta": 0.0})
    with pytest.raises(TypeError, match="must be a real number"):
        forge.get("softplus").with_params(beta="2")


# --- dtype policy ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_arrays_keep_their_dtype(forge, dtype):
    for name in ELEMENTWISE:
        e = forge.get(name)
        values = np.linspace(-3, 3, 7, dtype=dtype)
        assert e.eval(x=values).dtype == dtype, name
        assert e.gradient().eval(x=values).dtype == dtype, name


def test_integers_give_float64_and_scalars_give_python_float(forge):
    e = forge.get("relu")
    assert e.eval(x=np.array([-1, 2])).dtype == np.float64
    assert type(e.eval(x=3)) is float
    assert type(e.eval(x=np.float64(3.0))) is np.float64
    assert e.eval(x=np.float32(3.0)).dtype == np.float32


def test_constant_derivative_is_broadcast_to_the_input_shape(forge):
    values = np.zeros((2, 3), dtype=np.float32)
    result = forge.get("linear").gradient().eval(x=values)
    assert result.shape == (2, 3) and result.dtype == np.float32 and np.all(result == 1)
    assert forge.get("linear").gradient().eval(x=2.0) == 1.0


def test_multi_variable_arrays_broadcast():
    e = Expression(x * y, ["x", "y"])
    result = e.eval(x=np.arange(3.0)[:, None], y=np.arange(4.0))
    assert result.shape == (3, 4)
    np.testing.assert_array_equal(result, np.outer(np.arange(3.0), np.arange(4.0)))


# --- compile once ------------------------------------------------------------------------------

def test_kernel_compiles_once_and_parameters_do_not_recompile(monkeypatch):
    calls = []
    original = compile_module.lambdify
    monkeypatch.setattr(compile_module, "lambdify", lambda *a, **k: calls.append(1) or original(*a, **k))
    e = Expression(sympy.Piecewise((x, x > 0), (alpha * x * 7 / 3, True)), ["x"], {"alpha": 0.5}, name="fresh")
    e.eval(x=-1.0)
    compiled = len(calls)
    assert compiled == 2  # the array kernel and the Python-float kernel, once each
    for value in (-1.0, -2.0, 3.0, np.array([1.0, -2.0])):
        e.eval(x=value)
    e.eval(x=-1.0, alpha=0.9)
    assert e.with_params(alpha=0.25).eval(x=-3.0) == pytest.approx(-3.0 * 0.25 * 7 / 3, rel=1e-15)
    assert e.with_params(alpha=0.25).eval(x=np.array([-3.0]))[0] == pytest.approx(-1.75, rel=1e-15)
    assert len(calls) == compiled


# --- immutability and independence --------------------------------------------------------------

def test_expressions_and_metadata_are_read_only(forge):
    e = forge.get("relu")
    with pytest.raises(AttributeError):
        e.name = "other"
    with pytest.raises(TypeError):
        e.metadata["pros"] = []
    with pytest.raises(AttributeError):
        e.metadata["pros"].append("x")
    with pytest.raises(TypeError):
        e.params["alpha"] = 1.0
    assert forge.get("relu").metadata["pros"] == e.metadata["pros"]


# --- calculus ----------------------------------------------------------------------------------

def test_gradient_by_parameter_matches_closed_form(forge):
    g = forge.get("leaky_relu").gradient("alpha")
    assert g.eval(x=-3.0) == -3.0 and g.eval(x=2.0) == 0.0
    assert forge.get("swish").check_gradient("beta") < 1e-9


def test_gradient_of_unknown_variable_suggests(forge):
    with pytest.raises(UnknownNameError, match="valid: x"):
        forge.get("relu").gradient("z")


def test_second_derivative_of_sigmoid_matches_closed_form(forge):
    d2 = forge.get("sigmoid").derivative(2)
    for v in (-2.0, 0.5, 3.0):
        s = 1 / (1 + math.exp(-v))
        assert d2.eval(x=v) == pytest.approx(s * (1 - s) * (1 - 2 * s), rel=1e-12)
    assert forge.get("sigmoid").derivative(0) == forge.get("sigmoid")
    with pytest.raises(ValueError):
        forge.get("sigmoid").derivative(-1)


def test_check_gradient_detects_a_wrong_derivative():
    e = Expression(x * sigmoid(x), ["x"])
    assert e.check_gradient() < 1e-9
    # a kernel whose values disagree with the formula's derivative is caught
    broken = Expression(sympy.sin(x), ["x"])
    object.__setattr__(broken, "_kernel", lambda v: np.sin(v) + 1e-3 * np.asarray(v) ** 2)
    assert broken.check_gradient() > 1e-4


def test_simplify_and_rewrite(forge):
    rewritten = forge.get("sigmoid").rewrite("exp")
    assert rewritten.symbolic_expr == 1 / (1 + sympy.exp(-x))
    assert not rewritten.symbolic_expr.has(sigmoid)
    assert rewritten.eval(x=0.3) == pytest.approx(forge.get("sigmoid").eval(x=0.3), rel=1e-15)
    simple = Expression(sympy.sin(x) ** 2 + sympy.cos(x) ** 2, ["x"]).simplify()
    assert simple.symbolic_expr == 1
    with pytest.raises(ValueError, match="exp"):
        forge.get("sigmoid").rewrite("nonsense")


def test_latex_and_repr(forge):
    assert forge.get("sigmoid").latex == r"\sigma\left(x\right)"
    assert forge.get("gelu").latex == r"x \Phi\left(x\right)"
    assert forge.get("relu")._repr_latex_().startswith("$\\displaystyle")
    assert "leaky_relu(x, alpha=0.01)" in repr(forge.get("leaky_relu"))
    assert str(forge.get("linear")) == "linear(x) = x"


# --- composition and arithmetic -----------------------------------------------------------------

def test_composition_substitutes_variables_not_parameters(forge):
    leaky = forge.get("leaky_relu")
    composed = leaky(2 * x)
    assert composed.symbolic_expr == sympy.Piecewise((2 * x, 2 * x > 0), (2 * alpha * x, True))
    assert composed.params == {"alpha": 0.01}
    assert composed.eval(x=-1.0) == pytest.approx(-0.02, rel=1e-15)


def test_composition_of_expressions(forge):
    inner = forge.get("tanh")
    outer = forge.get("relu")(inner)
    assert outer.eval(x=-1.0) == 0.0
    assert outer.eval(x=1.0) == pytest.approx(math.tanh(1.0), rel=1e-15)


def test_composition_introduces_new_variables_in_order():
    e = Expression(sympy.exp(x), ["x"], name="e")
    composed = e(y + x)
    assert set(composed.variables) == {"x", "y"}
    assert composed.eval(x=1.0, y=2.0) == pytest.approx(math.exp(3.0), rel=1e-15)


def test_arithmetic_with_numbers_sympy_and_expressions(forge):
    relu, tanh = forge.get("relu"), forge.get("tanh")
    v = 0.7
    cases = {
        relu * 3: 3 * v, 3 * relu: 3 * v, relu + tanh: v + math.tanh(v), relu - tanh: v - math.tanh(v),
        -relu: -v, 1 / tanh: 1 / math.tanh(v), tanh / 2: math.tanh(v) / 2, relu ** 2: v * v,
        2 ** relu: 2 ** v, relu + x: 2 * v, relu + 1.5: v + 1.5,
    }
    for expression, expected in cases.items():
        assert isinstance(expression, Expression)
        assert expression.eval(x=v) == pytest.approx(expected, rel=1e-15), expression.name
    assert (relu * 3).name == "(relu * 3)"
    with pytest.raises(TypeError):
        relu + "a"  # noqa: B018


def test_arithmetic_keeps_parameters_and_refuses_conflicts(forge):
    combined = forge.get("leaky_relu") * 2 + forge.get("swish")
    assert dict(combined.params) == {"alpha": 0.01, "beta": 1.0}
    assert combined.eval(x=-1.0, alpha=0.5, beta=1.0) == pytest.approx(-1.0 - 1 / (1 + math.e), rel=1e-15)
    with pytest.raises(ParameterError, match="alpha"):  # leaky alpha 0.01, elu alpha 1.0
        forge.get("leaky_relu") + forge.get("elu")
    same = forge.get("leaky_relu") + forge.get("elu").with_params(alpha=0.01)
    assert same.params["alpha"] == 0.01


# --- the Python-float fast path agrees with the array kernel -------------------------------------

SCALAR_POINTS = [0.0, -0.0, 5e-324, -5e-324, 1e-300, -1e-300, 1e-8, -1e-8, 0.5, -0.5, 1.0, -1.0, 2.5, -2.5,
                 6.0, -6.0, 30.0, -30.0, 700.0, -700.0, 745.5, -745.5, 1e4, -1e4, 1e300, -1e300,
                 math.inf, -math.inf, math.nan]


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("order", [0, 1])
def test_scalar_path_matches_array_path(name, order):
    e = MathForge().get(name).derivative(order)
    array = e.eval(x=np.array(SCALAR_POINTS))
    for point, expected in zip(SCALAR_POINTS, array):
        got = e.eval(x=point)
        assert type(got) is float
        if math.isnan(expected):
            assert math.isnan(got), (name, order, point)
        elif got != expected:
            assert math.isfinite(expected) and math.isfinite(got), (name, order, point, got, expected)
            assert abs(got - expected) <= 2 * np.spacing(abs(expected)), (name, order, point, got, expected)
