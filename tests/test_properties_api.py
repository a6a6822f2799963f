"""``mathforge.properties``: the computed properties agree with every activation's YAML claims,
follow the documented API, and match values worked out by hand (independently of the code).

The claims compared are ``metadata["properties"]`` (monotonic, bounded_below, bounded_above,
zero_centered, smoothness, self_gated) and the ``range`` string. Ranges are compared
numerically: both strings are read by the same small parser as in
``test_catalog_properties.py`` (brackets by regex, unions ``A U B``, point sets ``{c}``, each
endpoint by ``mathforge.parse_formula`` with the entry's parameters at their values, never
sympified or evaluated as Python), then component by component the ends must agree within
``1e-12`` relative and have the same open/closed brackets.

Axis-wise entries (``kind: vector``, e.g. softmax) have no pointwise f(x): the comparison
tests skip them, and ``compute_properties`` must refuse them with ``TypeError``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import time
from typing import NamedTuple

import pytest
import sympy

from mathforge import Expression, MathForge, parse_formula, symbol
from mathforge.properties import Properties, clear_cache, compute_properties

FORGE = MathForge()
ACTIVATIONS: tuple[str, ...] = tuple(FORGE.list_all(category="activation"))
VECTOR: tuple[str, ...] = tuple(n for n in ACTIVATIONS if FORGE.get(n).kind == "vector")
CLAIM_KEYS = ("monotonic", "bounded_below", "bounded_above", "zero_centered", "smoothness", "self_gated")
SMOOTHNESS = ("discontinuous", "C0", "C1", "C2", "Cinf")
#: Relative tolerance for range endpoints (they are written to 17 significant digits).
RANGE_TOLERANCE = 1e-12
#: Per-entry time budget of a fresh computation, in seconds (on average over the catalog).
TIME_BUDGET = 1.0
FIELDS = tuple(f.name for f in dataclasses.fields(Properties) if f.name != "evidence")


def elementwise(name: str) -> Expression:
    e = FORGE.get(name)
    if e.kind == "vector":
        pytest.skip(f"{name} is of kind 'vector': no elementwise f(x) (TypeError checked separately)")
    return e


@functools.lru_cache(maxsize=None)
def props(name: str) -> Properties:
    return compute_properties(FORGE.get(name))


def evidence(p: Properties, key: str) -> str:
    return p.evidence.get(key, "(no evidence recorded)")


# --- range parsing (the approach of test_catalog_properties.py) ----------------------------------

_INTERVAL = re.compile(r"^\s*([\[(])(.*)([\])])\s*$", re.DOTALL)
_POINTS = re.compile(r"^\s*\{(.*)\}\s*$", re.DOTALL)
_UNION = re.compile(r"\s+U\s+|\s*\u222a\s*")


class Component(NamedTuple):
    lo: float
    hi: float
    lo_closed: bool
    hi_closed: bool

    def __str__(self) -> str:
        if self.lo == self.hi:
            return "{" + repr(self.lo) + "}"
        return f"{'[' if self.lo_closed else '('}{self.lo!r}, {self.hi!r}{']' if self.hi_closed else ')'}"


def _split_top_level(body: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    return parts


def _endpoint(text: str, e: Expression) -> float:
    token = text.strip()
    if token in ("oo", "+oo"):
        return math.inf
    if token == "-oo":
        return -math.inf
    value = parse_formula(token, params=list(e.params))  # the project's whitelist parser
    value = value.xreplace({symbol(k): sympy.Rational(repr(float(v))) for k, v in e.params.items()})
    if not (value.is_number and value.is_real and value.is_finite):
        raise ValueError(f"endpoint {text!r} is not a finite real number at the parameters (got {value})")
    return float(value)


def parse_range(text: str, e: Expression) -> list[Component]:
    """``"(a, b]"`` or a union ``"(-oo, -c) U {0} U (c, oo)"``, parameters at their values."""
    components = []
    for part in _UNION.split(text.strip()):
        interval, points = _INTERVAL.match(part), _POINTS.match(part)
        if points:
            components += [Component(c, c, True, True)
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
        components.append(Component(lo, hi, interval.group(1) == "[", interval.group(3) == "]"))
    return components


def same_end(a: float, b: float) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=RANGE_TOLERANCE, abs_tol=0.0)


# --- 1. agreement with the YAML claims -------------------------------------------------------------


@pytest.mark.parametrize("key", CLAIM_KEYS)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_property_claim_agrees(name, key):
    e = elementwise(name)
    claims = e.metadata.get("properties")
    assert claims is not None and key in claims, f"{name}: no properties.{key} in the YAML entry"
    p = props(name)
    computed = getattr(p, key)
    assert claims[key] == computed, (
        f"{name}: properties.{key} is {claims[key]!r} in the YAML, computed {computed!r}: "
        f"{evidence(p, 'range' if key.startswith('bounded') else key)}")


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_range_agrees(name):
    e = elementwise(name)
    p = props(name)
    claimed = parse_range(e.metadata["range"], e)
    computed = parse_range(p.range, e)
    problems = []
    if len(claimed) != len(computed):
        problems.append(f"{len(claimed)} component(s) claimed, {len(computed)} computed")
    for c, k in zip(claimed, computed):
        if not (same_end(c.lo, k.lo) and same_end(c.hi, k.hi)):
            problems.append(f"claimed {c}, computed {k}: ends differ beyond {RANGE_TOLERANCE:g} relative")
        if (c.lo_closed, c.hi_closed) != (k.lo_closed, k.hi_closed):
            problems.append(f"claimed {c}, computed {k}: open/closed ends differ")
    assert not problems, (f"{name}: range {e.metadata['range']!r} (parameters {dict(e.params)}) vs computed "
                          f"{p.range!r}:\n  " + "\n  ".join(problems) + f"\n  evidence: {evidence(p, 'range')}")


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_range_fields_are_consistent(name):
    e = elementwise(name)
    p = props(name)
    parts = parse_range(p.range, e)
    assert same_end(p.lower, parts[0].lo) and same_end(p.upper, parts[-1].hi), (p.range, p.lower, p.upper)
    assert (p.lower_attained, p.upper_attained) == (parts[0].lo_closed, parts[-1].hi_closed), p.range
    assert p.bounded_below == math.isfinite(p.lower) and p.bounded_above == math.isfinite(p.upper)
    assert p.smoothness in SMOOTHNESS
    for c in parts:  # an infinite end is never closed
        assert not (c.lo_closed and math.isinf(c.lo)) and not (c.hi_closed and math.isinf(c.hi)), p.range


# --- 2. the API: types, to_dict, cache, determinism, speed, refusals --------------------------------


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_types_and_to_dict(name):
    elementwise(name)
    p = props(name)
    assert isinstance(p.range, str)
    for key in ("lower", "upper", "f0", "df0", "max_abs_gradient", "argmax_abs_gradient", "vanishing_factor"):
        assert type(getattr(p, key)) is float, (key, getattr(p, key))
    for key in ("lower_attained", "upper_attained", "bounded_below", "bounded_above", "monotonic",
                "zero_centered", "self_gated", "sparse"):
        assert type(getattr(p, key)) is bool, (key, getattr(p, key))
    assert type(p.saturation) is dict and list(p.saturation) == [-10.0, 10.0]
    assert p.vanishing_factor == p.max_abs_gradient ** 10
    d = p.to_dict()
    assert tuple(d) == FIELDS
    text = json.dumps(d, allow_nan=False)  # no inf/nan literals: they are strings
    assert json.loads(text) == d
    for key in ("lower", "upper", "max_abs_gradient", "argmax_abs_gradient", "vanishing_factor"):
        value = getattr(p, key)
        assert d[key] == (value if math.isfinite(value) else ("inf" if value > 0 else "-inf")), key
    assert d["saturation"] == {"-10.0": p.saturation[-10.0], "10.0": p.saturation[10.0]}


def test_results_are_cached_and_independent():
    relu = FORGE.get("relu")
    first = compute_properties(relu)
    start = time.perf_counter()
    second = compute_properties(relu)
    assert time.perf_counter() - start < 0.05  # from the cache
    assert first == second and first is not second
    first.saturation[-10.0] = 123.0  # a caller's copy, not the cache
    assert compute_properties(relu).saturation[-10.0] == 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        second.range = "(-oo, oo)"  # type: ignore[misc]


def test_deterministic_and_fast():
    """A fresh computation of every entry takes < 1 s on average and gives the same result."""
    before = {n: props(n).to_dict() for n in ACTIVATIONS if n not in VECTOR}
    clear_cache()
    times = {}
    for name in before:
        e = FORGE.get(name)
        start = time.perf_counter()
        again = compute_properties(e)
        times[name] = time.perf_counter() - start
        assert again.to_dict() == before[name], name
    mean = sum(times.values()) / len(times)
    slowest = max(times, key=times.get)
    assert mean < TIME_BUDGET and times[slowest] < 3 * TIME_BUDGET, (
        f"mean {mean:.2f} s per entry; slowest {slowest} {times[slowest]:.2f} s")


@pytest.mark.parametrize("name", VECTOR or ["softmax"])
def test_vector_entries_are_refused(name):
    with pytest.raises(TypeError, match="vector"):
        compute_properties(FORGE.get(name))


def test_softmax_is_refused():
    with pytest.raises(TypeError):
        compute_properties(FORGE.get("softmax"))


def test_several_variables_or_non_expressions_are_refused():
    x, y = symbol("x"), symbol("y")
    with pytest.raises(TypeError, match="variables"):
        compute_properties(Expression(x * y, ["x", "y"], name="product"))
    with pytest.raises(TypeError, match="variables"):
        compute_properties(Expression(sympy.Integer(3), [], name="constant"))
    with pytest.raises(TypeError):
        compute_properties(x)  # type: ignore[arg-type]


def test_expression_method_gives_the_same():
    e = FORGE.get("swish")
    assert e.properties() == compute_properties(e)


# --- 3. values worked out by hand ---------------------------------------------------------------------


def _sigmoid(t: float) -> float:
    return 1.0 / (1.0 + math.exp(-t))


def test_sigmoid_by_hand():
    p = props("sigmoid")
    # sigma' = sigma(1 - sigma) <= 1/4, with equality only at 0
    assert p.max_abs_gradient == pytest.approx(0.25, rel=1e-15, abs=0)
    assert abs(p.argmax_abs_gradient) <= 1e-6
    assert p.vanishing_factor == pytest.approx(0.25 ** 10, rel=1e-12)
    assert p.vanishing_factor == pytest.approx(9.5367431640625e-07, rel=1e-12)
    assert (p.range, p.f0, p.df0) == ("(0, 1)", 0.5, 0.25)
    s = _sigmoid(10.0)
    assert p.saturation[10.0] == pytest.approx(s * (1 - s), rel=1e-9)


def test_relu_by_hand():
    p = props("relu")
    assert p.max_abs_gradient == 1.0 and p.argmax_abs_gradient > 0  # f' = 1 on (0, oo)
    assert p.sparse is True and p.vanishing_factor == 1.0
    assert (p.range, p.lower, p.upper, p.lower_attained) == ("[0, oo)", 0.0, math.inf, True)
    assert (p.f0, p.df0) == (0.0, 0.0)  # relu'(0) = 0 (PyTorch)
    assert p.saturation == {-10.0: 0.0, 10.0: 1.0}
    assert p.to_dict()["upper"] == "inf"


def test_tanh_by_hand():
    p = props("tanh")
    assert p.df0 == 1.0 and p.f0 == 0.0
    assert p.range == "(-1, 1)" and not p.lower_attained and not p.upper_attained
    assert p.max_abs_gradient == 1.0 and p.argmax_abs_gradient == 0.0
    assert p.saturation[-10.0] == pytest.approx(1 / math.cosh(10.0) ** 2, rel=1e-12)


def test_leaky_relu_by_hand():
    p = props("leaky_relu")
    assert p.df0 == 0.01  # the kink convention: leaky_relu'(0) = alpha
    assert p.sparse is False
    assert p.saturation == {-10.0: 0.01, 10.0: 1.0}
    q = compute_properties(FORGE.get("leaky_relu", params={"alpha": 0.2}))
    assert q.df0 == 0.2 and q.saturation[-10.0] == 0.2


def test_swish_saturation_by_hand():
    p = props("swish")
    for t in (-10.0, 10.0):
        s = _sigmoid(t)
        slope = s + t * s * (1 - s)  # d/dx x*sigmoid(x) = sigmoid(x) + x*sigmoid(x)*(1 - sigmoid(x))
        assert p.saturation[t] == pytest.approx(abs(slope), rel=1e-12), t
    assert p.saturation[-10.0] == pytest.approx(4.085602086570824e-04, rel=1e-12)


def test_swish_range_scales_with_beta():
    # x*sigmoid(beta*x) = (1/beta)*u*sigmoid(u) with u = beta*x: the minimum scales as 1/beta
    minimum = -0.27846454276107379511  # mpmath, at x = -1.27846454276107379511 (where f = x + 1)
    p = compute_properties(FORGE.get("swish", params={"beta": 2.0}))
    assert p.lower == pytest.approx(minimum / 2, rel=1e-12) and p.lower_attained
    assert props("swish").lower == pytest.approx(minimum, rel=1e-15)
    assert props("swish").range == "[-0.27846454276107380, oo)"  # 17 digits, rounded outward (down)


def test_hard_shrink_by_hand():
    p = props("hard_shrink")
    assert p.sparse is True  # 0 on [-lambd, lambd]
    assert p.range == "(-oo, -0.5) U {0} U (0.5, oo)"
    assert p.smoothness == "discontinuous" and p.monotonic


def test_gelu_steepest_point_by_hand():
    # (x*Phi(x))'' = phi(x)*(2 - x**2): the steepest point is sqrt(2)
    p = props("gelu")
    steepest = 0.5 * (1 + math.erf(1.0)) + math.sqrt(2) * math.exp(-1.0) / math.sqrt(2 * math.pi)
    assert p.argmax_abs_gradient == pytest.approx(math.sqrt(2), rel=1e-12)
    assert p.max_abs_gradient == pytest.approx(steepest, rel=1e-12)


def test_hard_swish_gradient_peak_by_hand():
    # f = x*(x + 3)/6 on (-3, 3): f' = (2x + 3)/6 -> 1.5 as x -> 3-, then 1 beyond
    p = props("hard_swish")
    assert p.max_abs_gradient == 1.5 and p.argmax_abs_gradient == 3.0
    assert p.range == "[-0.375, oo)"  # minimum f(-3/2) = -3/8, exactly


def test_gradient_maximum_only_at_infinity():
    shrink = props("tanh_shrink")  # f' = tanh(x)**2 < 1, -> 1 at both ends
    assert shrink.max_abs_gradient == 1.0 and shrink.argmax_abs_gradient == math.inf
    exponential = props("exponential")
    assert exponential.max_abs_gradient == math.inf and exponential.vanishing_factor == math.inf
    assert exponential.to_dict()["argmax_abs_gradient"] == "inf"


def test_parameters_are_taken_at_their_values():
    assert compute_properties(FORGE.get("elu", params={"alpha": 2.0})).range == "(-2, oo)"
    assert compute_properties(FORGE.get("hard_tanh", params={"min_val": -2.0, "max_val": 3.0})).range == "[-2, 3]"
    assert compute_properties(FORGE.get("relu6")).range == "[0, 6]"
