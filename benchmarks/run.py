"""mathforge benchmarks: the performance budget of DESIGN.md section 7, as ratios in one run.

Usage::

    python benchmarks/run.py [--quick] [--json PATH] [-v]

Sections (each one ``run_*`` function that measures and one ``*_section`` function that
renders it):

* **scalar eval** -- for every elementwise entry of ``MathForge().list_all()`` (activations
  and losses), the time per call of ``forge.get(name).eval(x=0.7)`` (a loss: at a typical
  point of its input family, e.g. ``eval(y_pred=0.7, y_true=1.0)``; kernel compiled
  beforehand) against the predecessor library's approach, which substituted the parameter
  values and lambdified on every call;
* **array eval** -- ``e.eval(x=x)`` on ``x = np.linspace(-8, 8, 10**6)`` (float64, and a
  float32 column) against the hand-written NumPy of ``benchmarks/handwritten.py``, for every
  elementwise activation; the two results must agree within 1e-12 relative;
* **loss eval** -- likewise ``e.eval(y_pred=..., y_true=..., reduction="none")`` for every
  elementwise loss, on 1e6 seeded inputs from the loss's domain (:data:`LOSS_FAMILY`);
* **derivative eval** -- ``e.gradient().eval(x=x)`` on the same float64 input against a
  hand-written derivative; for the losses ``e.gradient("y_pred")``;
* **vector eval** -- the vector-valued entries (softmax, ...) on a (1000, 1000) float64
  array along axis -1, against hand-written max-shifted NumPy; and the losses over a class
  axis (cross_entropy, mean, and its ``gradient_logits``) on the same logits with seeded
  integer targets;
* **fused value and gradient** -- ``e.value_and_grad(...)`` against ``e.eval`` alone and
  against ``e.eval`` followed by ``e.gradient().eval``, for every elementwise activation and
  loss on 1e6 float64;
* **start-up** -- wall time and peak RSS of the process
  ``import mathforge; mathforge.MathForge().get('relu').eval(x=5)`` against
  ``import sympy, numpy, yaml``;
* **first get** -- the first ``forge.get(name)`` of every entry in a fresh process, and the
  time to build every entry, its kernel, its gradient and the gradient's kernel;

plus a summary of the entries that miss a budget.

The machine the benchmarks run on is shared and noisy: compare the ratios of one run,
not absolute times across runs. Both sides of a ratio are timed interleaved (one repeat
of each in turn), and medians are reported. The script prints a Markdown report and
writes the same data as JSON (default ``benchmarks/results/benchmarks.json``, git-ignored).

Exit code: 0 on success, even if budgets are missed or a hand-written reference disagrees
(both are reported); 1 if mathforge itself raised (an ``eval``, a ``get``, a gradient, a
``value_and_grad``, or the start-up process failed). A failure of a baseline or reference,
or a checkout without ``Expression.value_and_grad``, only marks its cells "n/a".
"""

import argparse
import datetime as _dt
import functools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import timeit
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
if str(REPO_ROOT) not in sys.path:  # benchmark the checkout, not some installed copy
    sys.path.insert(0, str(REPO_ROOT))
if str(BENCH_DIR) not in sys.path:  # the hand-written references next to this script
    sys.path.insert(0, str(BENCH_DIR))

import numpy as np  # noqa: E402
import sympy  # noqa: E402

import handwritten  # noqa: E402
import mathforge  # noqa: E402
from mathforge import MathForge, symbol  # noqa: E402

#: Where the JSON goes unless ``--json`` says otherwise.
DEFAULT_JSON = BENCH_DIR / "results" / "benchmarks.json"

#: The point every variable is evaluated at.
X_VALUE = 0.7

#: DESIGN.md section 7: scalar ``eval`` of a fetched expression, per call.
SCALAR_BUDGET_US = 5.0
#: DESIGN.md section 7: ``eval`` on 1e6 float64, as a multiple of the best hand-written NumPy.
ARRAY_BUDGET = 1.3
#: DESIGN.md section 7: derivative ``eval`` on 1e6 float64, likewise.
DERIVATIVE_BUDGET = 1.5
#: The vector entries are held to the array budget (they are evaluated on 1e6 float64 too).
VECTOR_BUDGET = ARRAY_BUDGET
#: DESIGN.md section 7: the start-up process, as a multiple of ``import sympy, numpy, yaml``.
STARTUP_BUDGET = 1.15
#: DESIGN.md section 7: first ``get`` of an entry.
FIRST_GET_BUDGET_MS = 5.0

#: Elements of the array benchmarks, and their input.
ARRAY_SIZE = 10**6
ARRAY_RANGE = (-8.0, 8.0)
#: Shape of the vector benchmark's input (standard normal logits times 3, seed 0).
VECTOR_SHAPE = (1000, 1000)
VECTOR_SCALE = 3.0
VECTOR_SEED = 0
#: Seed of the integer class targets of the class-axis losses (one per row of the logits).
CLASS_TARGET_SEED = 1
#: Relative tolerance for mathforge against the hand-written reference (float64, float32).
AGREE_RTOL = 1e-12
AGREE_RTOL_F32 = 1e-5

#: The fused value-and-gradient of a smooth entry, as a multiple of its value alone (one kernel
#: that shares subexpressions should cost little more than the value).
FUSED_BUDGET = 1.3
#: A formula with one of these is not smooth: the fused budget is not held for it.
NON_SMOOTH = (sympy.Piecewise, sympy.Max, sympy.Min, sympy.Abs, sympy.sign, sympy.Heaviside)

#: Seed of the loss inputs, and the stride of the elements set to an edge or kink of the domain.
LOSS_SEED = 0
EDGE_STRIDE = 1000

#: The two processes of the start-up section.
STARTUP_COMMAND = "import mathforge; mathforge.MathForge().get('relu').eval(x=5)"
STARTUP_BASELINE = "import sympy, numpy, yaml"

NOISE_NOTE = ("The machine is shared and noisy: the ratios within this run matter more than "
              "the absolute times.")


# --- inputs of the elementwise losses -------------------------------------------------------


@dataclass(frozen=True)
class InputFamily:
    """The inputs of the elementwise losses of one kind (the families of tests/test_losses.py).

    Attributes:
        name: The family's name.
        point: The scalar-eval point, one value per variable.
        description: How the arrays are drawn (Markdown, for the report).
        draw: ``draw(rng, n)``: ``n`` float64 values per variable.
    """

    name: str
    point: dict[str, float]
    description: str
    draw: Callable[[np.random.Generator, int], dict[str, np.ndarray]]


def _draw_regression(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    y_true = rng.normal(size=n)
    y_pred = y_true + rng.normal(scale=2.0, size=n)
    y_pred[::EDGE_STRIDE] = y_true[::EDGE_STRIDE]  # d = 0: the kink of mae and quantile
    return {"y_pred": y_pred, "y_true": y_true}


def _draw_gaussian(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {**_draw_regression(rng, n), "var": 10.0 ** rng.uniform(-8.0, 1.0, size=n)}


def _hard_labels(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2, size=n).astype(np.float64)


def _draw_probability(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    y_pred = rng.random(n)
    y_pred[::EDGE_STRIDE], y_pred[1::EDGE_STRIDE] = 0.0, 1.0  # the clamped edges
    return {"y_pred": y_pred, "y_true": _hard_labels(rng, n)}


def _draw_logits01(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {"y_pred": rng.normal(scale=3.0, size=n), "y_true": _hard_labels(rng, n)}


def _draw_logits_pm1(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    y_true = 2.0 * _hard_labels(rng, n) - 1.0
    y_pred = rng.normal(scale=3.0, size=n)
    y_pred[::EDGE_STRIDE] = y_true[::EDGE_STRIDE]  # y*s = 1: the hinge's kink
    return {"y_pred": y_pred, "y_true": y_true}


def _draw_log_rate(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {"y_pred": rng.normal(scale=2.0, size=n), "y_true": rng.poisson(3.0, size=n).astype(np.float64)}


def _draw_log_probability(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    y_true = rng.random(n)
    y_true[::EDGE_STRIDE] = 0.0  # 0*log(0) = 0
    return {"y_pred": np.log1p(-rng.random(n)), "y_true": y_true}


_REGRESSION = "`y_true ~ N(0, 1)`, `y_pred = y_true + N(0, 2²)`, every 1000th `y_pred = y_true`"

#: The input families, by name.
FAMILIES: dict[str, InputFamily] = {f.name: f for f in (
    InputFamily("regression", {"y_pred": 0.7, "y_true": 1.0}, _REGRESSION, _draw_regression),
    InputFamily("gaussian", {"y_pred": 0.7, "y_true": 1.0, "var": 0.5},
                "as regression, `var = 10**U(-8, 1)` (2/9 of them below eps = 1e-6, where it is clamped)",
                _draw_gaussian),
    InputFamily("probability", {"y_pred": 0.7, "y_true": 1.0},
                "`y_pred ~ U[0, 1)` with every 1000th set to 0 and to 1 (the clamped edges), hard labels "
                "`y_true` in {0, 1}", _draw_probability),
    InputFamily("logits01", {"y_pred": 0.7, "y_true": 1.0},
                "logits `y_pred ~ N(0, 3²)`, hard labels `y_true` in {0, 1}", _draw_logits01),
    InputFamily("logits_pm1", {"y_pred": 0.7, "y_true": 1.0},
                "scores `y_pred ~ N(0, 3²)`, labels `y_true` in {-1, 1}, every 1000th `y_pred = y_true` "
                "(margin exactly 1)", _draw_logits_pm1),
    InputFamily("log_rate", {"y_pred": 0.7, "y_true": 1.0},
                "log-rates `y_pred ~ N(0, 2²)`, counts `y_true ~ Poisson(3)`", _draw_log_rate),
    InputFamily("log_probability", {"y_pred": -0.7, "y_true": 0.5},
                "log-probabilities `y_pred = log(U(0, 1])`, probabilities `y_true ~ U[0, 1)` with every "
                "1000th set to 0", _draw_log_probability),
)}

#: The input family of every elementwise loss (a loss not listed is measured on "regression").
LOSS_FAMILY: dict[str, str] = {
    "mse": "regression", "mae": "regression", "huber": "regression", "smooth_l1": "regression",
    "log_cosh": "regression", "quantile": "regression", "gaussian_nll": "gaussian",
    "binary_crossentropy": "probability", "binary_focal": "probability", "bce_with_logits": "logits01",
    "hinge": "logits_pm1", "squared_hinge": "logits_pm1", "soft_margin": "logits_pm1",
    "poisson_nll": "log_rate", "kl_div": "log_probability",
}


def loss_family(name: str) -> InputFamily:
    """The input family of the loss ``name``."""
    return FAMILIES[LOSS_FAMILY.get(name, "regression")]


def scalar_point(expr: Any) -> dict[str, float]:
    """The point of the scalar benchmark: ``x = 0.7`` for an activation, the family's point for a loss.

    Raises:
        KeyError: A variable of the loss is not in its family.
    """
    if expr.category != "loss":
        return {name: X_VALUE for name in expr.variables}
    point = loss_family(expr.name).point
    return {name: point[name] for name in expr.variables}


@dataclass(frozen=True)
class Config:
    """How hard to measure.

    Attributes:
        repeats: timeit repeats for mathforge's scalar ``eval`` (the median is reported).
        target_s: Seconds each of those repeats should take; the call count follows.
        naive_repeats: Single calls timed for the slow naive baseline (median reported).
        array_repeats: Interleaved repeats of each side of the array, derivative and vector
            benchmarks (the median is reported).
        array_target_s: Seconds each of those repeats should take (``None``: one call each).
        startup_runs: Interleaved runs of each start-up process (after one untimed run each).
        first_get_processes: Fresh processes of the first-get section (median per entry).
        fused_repeats: Interleaved repeats of the three sides of the fused section (``None``:
            ``array_repeats``).
    """

    repeats: int
    target_s: float
    naive_repeats: int
    array_repeats: int = 7
    array_target_s: float | None = 0.05
    startup_runs: int = 5
    first_get_processes: int = 3
    fused_repeats: int | None = None

    @classmethod
    def full(cls) -> "Config":
        """7 × ~0.05 s repeats; 9 naive calls; 7 × ~0.05 s per array side; 5 + 5 start-ups; 3 processes."""
        return cls(repeats=7, target_s=0.05, naive_repeats=9, array_repeats=7, array_target_s=0.05,
                   startup_runs=5, first_get_processes=3)

    @classmethod
    def quick(cls) -> "Config":
        """The smoke test: 3 repeats of everything (the fused section: 1), one call per array repeat, one process."""
        return cls(repeats=3, target_s=0.01, naive_repeats=3, array_repeats=3, array_target_s=None,
                   startup_runs=3, first_get_processes=1, fused_repeats=1)


@dataclass
class Timing:
    """The result of timing one callable.

    Attributes:
        per_call_us: Median over repeats of the mean time per call, in microseconds.
        number: Calls per repeat.
        repeats: Number of repeats.
        all_us: Per-call time of every repeat, in microseconds.
    """

    per_call_us: float
    number: int
    repeats: int
    all_us: list[float] = field(default_factory=list)


class _FailingSide:
    """``mathforge_failed`` for a row whose ``error`` starts with the side that failed."""

    error: str | None

    @property
    def mathforge_failed(self) -> bool:
        return bool(self.error and self.error.startswith("mathforge"))


@dataclass
class ScalarRow(_FailingSide):
    """One entry of the scalar-eval section (times in microseconds; ``None`` if it failed)."""

    entry: str
    mathforge_us: float | None
    naive_us: float | None
    speedup: float | None
    within_budget: bool | None
    point: dict[str, float] = field(default_factory=dict)
    mathforge_calls: int = 0
    naive_calls: int = 0
    mathforge_value: float | None = None
    naive_value: float | None = None
    values_agree: bool | None = None
    error: str | None = None


@dataclass
class Agreement:
    """How two arrays compare, elementwise, by ``|a - b| / max(|a|, |b|)`` (0 where ``a == b``).

    Attributes:
        rtol: The tolerance.
        agree: No element is further apart than ``rtol`` (a NaN on one side only counts as apart).
        max_rel_diff: The largest relative difference.
        count: How many elements are further apart than ``rtol``.
        worst_index: Flat index of the largest difference.
        worst_x: The (first) input there (``None`` for the vector section).
        worst_inputs: Every input there, by variable name (``None`` for the vector section).
        worst_mathforge: mathforge's value there.
        worst_handwritten: The hand-written value there.
        exact: Where they disagree, the exact value at the worst point (SymPy, 40 digits).
        mathforge_rel_error: mathforge's relative error there, against ``exact``.
        handwritten_rel_error: The hand-written relative error there.
        dtype_ok: Both results have the input's dtype.
    """

    rtol: float
    agree: bool
    max_rel_diff: float
    count: int
    worst_index: int
    worst_x: float | None = None
    worst_inputs: dict[str, float] | None = None
    worst_mathforge: float | None = None
    worst_handwritten: float | None = None
    exact: float | None = None
    mathforge_rel_error: float | None = None
    handwritten_rel_error: float | None = None
    dtype_ok: bool = True


@dataclass
class ArrayRow(_FailingSide):
    """One entry of the array, derivative or vector section (times in milliseconds).

    ``ratio`` is mathforge / hand-written; the ``f32_*`` fields are ``None`` outside the
    array section. ``error`` says what failed (``mathforge: ...`` or ``handwritten: ...``).
    """

    entry: str
    mathforge_ms: float | None = None
    handwritten_ms: float | None = None
    ratio: float | None = None
    within_budget: bool | None = None
    agreement: Agreement | None = None
    f32_mathforge_ms: float | None = None
    f32_handwritten_ms: float | None = None
    f32_ratio: float | None = None
    f32_agreement: Agreement | None = None
    mathforge_calls: int = 0
    handwritten_calls: int = 0
    mathforge_repeats_ms: list[float] = field(default_factory=list)
    handwritten_repeats_ms: list[float] = field(default_factory=list)
    f32_mathforge_repeats_ms: list[float] = field(default_factory=list)
    f32_handwritten_repeats_ms: list[float] = field(default_factory=list)
    error: str | None = None


@dataclass
class StartupResult:
    """The start-up section: wall times in seconds, peak RSS in MiB (``None`` if unknown)."""

    command: str
    baseline: str
    mathforge_s: float | None = None
    baseline_s: float | None = None
    ratio: float | None = None
    within_budget: bool | None = None
    mathforge_runs_s: list[float] = field(default_factory=list)
    baseline_runs_s: list[float] = field(default_factory=list)
    mathforge_rss_mib: float | None = None
    baseline_rss_mib: float | None = None
    rss_method: str = ""
    error: str | None = None


@dataclass
class FirstGetRow:
    """One entry of the first-get section: medians over processes, in milliseconds."""

    entry: str
    first_get_ms: float | None = None
    within_budget: bool | None = None
    kernel_ms: float | None = None
    gradient_ms: float | None = None
    gradient_kernel_ms: float | None = None
    total_ms: float | None = None
    first_get_all_ms: list[float] = field(default_factory=list)
    error: str | None = None


@dataclass
class Section:
    """One section of the report: a Markdown table plus notes, and its raw data for JSON."""

    key: str
    title: str
    headers: list[str]
    cells: list[list[str]]
    notes: list[str]
    data: dict[str, Any]


# --- timing -------------------------------------------------------------------------------


def _calibrate(timer: timeit.Timer, target_s: float) -> int:
    """The number of calls that makes one ``timer.timeit(number)`` last about ``target_s``."""
    number = 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= target_s / 10 or number >= 1 << 30:
            return max(1, round(number * target_s / max(elapsed, 1e-9)))
        number *= 2


def time_callable(stmt: str | Callable[[], Any], namespace: dict[str, Any] | None, *, repeats: int,
                  target_s: float | None = None, number: int | None = None) -> Timing:
    """Median per-call time of ``stmt`` over ``repeats`` timeit loops.

    Args:
        stmt: Statement text (run with ``namespace`` as globals) or a zero-argument callable.
        namespace: Globals for a statement text.
        repeats: How many loops to time.
        target_s: Seconds per loop; the call count is calibrated to it.
        number: A fixed call count per loop instead (e.g. 1 for slow code).
    """
    timer = timeit.Timer(stmt, globals=namespace)
    if number is None:
        number = _calibrate(timer, target_s if target_s is not None else 0.05)
    per_call = [t / number * 1e6 for t in timer.repeat(repeat=repeats, number=number)]
    return Timing(statistics.median(per_call), number, repeats, per_call)


def _call_text(point: Mapping[str, float]) -> str:
    """``y_pred=0.7, y_true=1.0``: the keyword arguments of a call at ``point``."""
    return ", ".join(f"{name}={value!r}" for name, value in point.items())


def measure_scalar(expr: mathforge.Expression, config: Config,
                   point: Mapping[str, float] | None = None) -> tuple[Timing, float]:
    """Time ``expr.eval(x=0.7)`` per call, after one call so that the kernel is compiled.

    Every variable of ``expr`` is passed by keyword, with its value in ``point`` (default:
    :func:`scalar_point`).

    Returns:
        The timing and the value ``eval`` returned.
    """
    stmt = f"e.eval({_call_text(point or scalar_point(expr))})"  # variable names are identifiers
    namespace = {"e": expr}
    value = eval(stmt, namespace)  # noqa: S307 - our own statement; compiles the kernel
    return time_callable(stmt, namespace, repeats=config.repeats, target_s=config.target_s), float(value)


def _is_primitive(node: sympy.Basic) -> bool:
    """Whether ``node`` is a call of one of mathforge's own SymPy functions (sigmoid, xlogy, ...)."""
    return isinstance(node, sympy.Function) and type(node).__module__.startswith("mathforge")


def naive_call(expr: mathforge.Expression) -> Callable[..., Any]:
    """The predecessor's per-call evaluation of ``expr``: substitute, lambdify, call.

    mathforge's primitives (sigmoid, softplus, normal_cdf, normal_pdf, log_cosh) are first
    rewritten to elementary/SciPy functions that ``sympy.lambdify`` can print (only they: a
    rewrite of the whole formula would turn ``d**2`` into ``exp(2*log(d))``, NaN for d < 0);
    that rewrite is done once here, outside the timed call, which only makes the baseline
    faster (conservative ratio).

    Returns:
        ``call(*values)``, the variables in declared order.
    """
    rewritten = expr.symbolic_expr.replace(_is_primitive, lambda node: node.rewrite(sympy.exp))
    variables = [symbol(name) for name in expr.variables]
    params = {symbol(name): value for name, value in expr.params.items()}
    modules = ["numpy", "scipy"]

    def call(*values: float) -> Any:
        return sympy.lambdify(variables, rewritten.subs(params), modules)(*values)

    return call


def measure_naive(expr: mathforge.Expression, config: Config,
                  point: Mapping[str, float] | None = None) -> tuple[Timing, float]:
    """Time the naive subs + lambdify approach at ``point``, one call per repeat (it is slow).

    One untimed call comes first, as for mathforge.

    Returns:
        The timing and the value the naive call returned.
    """
    call = naive_call(expr)
    values = list((point or scalar_point(expr)).values())
    value = float(call(*values))
    timing = time_callable(lambda: call(*values), None, repeats=config.naive_repeats, number=1)
    return timing, value


# --- sections -----------------------------------------------------------------------------


def _kind(entry: Any) -> str:
    """``"elementwise"``, ``"vector"`` (softmax, ...) or ``"classes"`` (cross_entropy)."""
    return getattr(entry, "kind", "elementwise")


def _names(forge: MathForge, category: str, kind: str = "elementwise") -> list[str]:
    """The entries of ``category`` of one kind, in ``list_all`` order.

    An entry that fails to load counts as elementwise, so that its row reports the failure.
    """
    names = []
    for name in forge.list_all(category=category):
        try:
            entry_kind = _kind(forge.get(name))
        except Exception:  # noqa: BLE001 - reported by the rows of the sections
            entry_kind = "elementwise"
        if entry_kind == kind:
            names.append(name)
    return names


def _error_text(exc: BaseException, side: str = "mathforge") -> str:
    return f"{side}: {type(exc).__name__}: {exc}"


def _fetch(forge: MathForge, name: str, row: Any, section: str, log: Callable[[str], None] | None) -> Any | None:
    """``forge.get(name)``, logged as ``section: name``; on failure ``None``, with ``row.error`` set."""
    if log:
        log(f"{section}: {name}")
    try:
        return forge.get(name)
    except Exception as exc:  # noqa: BLE001 - reported in the row and through the exit code
        row.error = _error_text(exc)
        return None


def run_scalar_eval(forge: MathForge, config: Config, *, log: Callable[[str], None] | None = None) -> list[ScalarRow]:
    """Measure mathforge's scalar ``eval`` and the naive baseline for every elementwise entry
    (activations and losses; a loss at the typical point of its input family)."""
    rows = []
    for name in forge.list_all():
        row = ScalarRow(name, None, None, None, None)
        expr = _fetch(forge, name, row, "scalar eval", log)
        if expr is not None and _kind(expr) != "elementwise":
            continue  # no scalar eval (a vector or class axis is needed): measured in the vector section
        rows.append(row)
        if expr is None:
            continue
        try:
            row.point = scalar_point(expr)
        except KeyError as exc:
            row.error = f"benchmark: the input family of {name} has no variable {exc}"
            continue
        try:
            fast, fast_value = measure_scalar(expr, config, row.point)
        except Exception as exc:  # noqa: BLE001 - reported in the row and through the exit code
            row.error = _error_text(exc)
            continue
        row.mathforge_us, row.within_budget = fast.per_call_us, fast.per_call_us <= SCALAR_BUDGET_US
        row.mathforge_calls, row.mathforge_value = fast.number * fast.repeats, fast_value
        try:
            slow, slow_value = measure_naive(expr, config, row.point)
        except Exception as exc:  # noqa: BLE001 - a baseline limitation, not a mathforge failure
            row.error = f"naive: {type(exc).__name__}: {exc}"
        else:
            row.naive_us = slow.per_call_us
            row.naive_calls = slow.number * slow.repeats
            row.naive_value = slow_value
            row.speedup = slow.per_call_us / fast.per_call_us
            row.values_agree = math.isclose(fast_value, slow_value, rel_tol=1e-9, abs_tol=1e-12)
    return rows


def _fmt(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def scalar_section(rows: list[ScalarRow], config: Config) -> Section:
    """The report section of :func:`run_scalar_eval`."""
    cells = [[r.entry, f"`{_call_text(r.point)}`" if r.point else "n/a", _fmt(r.mathforge_us, 2),
              _fmt(r.naive_us, 0), _fmt(r.speedup, 0), _budget_cell(r.within_budget)] for r in rows]
    notes = [f"Budget (DESIGN.md §7): ≤ {SCALAR_BUDGET_US:g} µs per call; the predecessor needed ~550 µs.",
             f"mathforge: `forge.get(name).eval(x={X_VALUE})` (a loss: at the typical point of its input family, "
             "with its default reduction, which leaves a scalar as it is), kernel compiled by one call first; "
             f"median of {config.repeats} repeats of ~{config.target_s:g} s each.",
             "naive: `sympy.lambdify(vars, expr.subs(params), ['numpy', 'scipy'])(*point)` on every call, "
             "mathforge's primitives rewritten by `rewrite(sympy.exp)` first; median of "
             f"{config.naive_repeats} single calls (the rewrite is done once, outside the timing)."]
    fast = [r for r in rows if r.speedup is not None]
    if fast:
        within = sum(bool(r.within_budget) for r in rows)
        notes.append(f"Median speed-up {statistics.median(r.speedup for r in fast):,.0f}×; "
                     f"{within}/{len(rows)} entries within budget.")
    notes += [f"**{r.entry}**: mathforge {r.mathforge_value!r} but naive {r.naive_value!r}"
              for r in rows if r.values_agree is False]
    notes += [f"**{r.entry}** failed: {r.error}" for r in rows if r.error]
    notes.append("Vector-valued entries (softmax, ...) and losses over a class axis (cross_entropy) have no scalar "
                 "`eval`; they are in the vector section.")
    return Section(
        key="scalar_eval",
        title="Scalar `eval` per call",
        headers=["entry", "at", "mathforge scalar eval (µs)", "naive subs+lambdify (µs)", "speed-up (×)",
                 f"within {SCALAR_BUDGET_US:g} µs budget?"],
        cells=cells,
        notes=notes,
        data={"budget_us": SCALAR_BUDGET_US, "x": X_VALUE, "config": asdict(config),
              "rows": [asdict(r) for r in rows]},
    )



# --- array eval: shared helpers -----------------------------------------------------------


def time_interleaved(calls: Sequence[Callable[[], Any]], *, repeats: int, target_s: float | None) -> list[Timing]:
    """Median per-call times of several callables, timed interleaved.

    Each callable's call count is calibrated to ``target_s`` (one call if ``None``); then
    ``repeats`` times, one ``timeit.Timer.repeat(repeat=1)`` loop of each in turn, so that
    drift of a shared machine hits them all alike.
    """
    timers = [timeit.Timer(call) for call in calls]
    numbers = [_calibrate(t, target_s) if target_s else 1 for t in timers]
    per_call: list[list[float]] = [[] for _ in timers]
    for _ in range(repeats):
        for side, (timer, number) in enumerate(zip(timers, numbers)):
            per_call[side].append(timer.repeat(repeat=1, number=number)[0] / number * 1e6)
    return [Timing(statistics.median(p), n, repeats, p) for p, n in zip(per_call, numbers)]


def time_pair(first: Callable[[], Any], second: Callable[[], Any], *, repeats: int,
              target_s: float | None) -> tuple[Timing, Timing]:
    """Median per-call times of two callables, timed interleaved (:func:`time_interleaved`)."""
    first_t, second_t = time_interleaved([first, second], repeats=repeats, target_s=target_s)
    return first_t, second_t


def compare_arrays(mathforge_out: Any, handwritten_out: Any, rtol: float,
                   inputs: Mapping[str, np.ndarray] | None = None) -> Agreement:
    """Elementwise relative agreement of mathforge's result with the hand-written one.

    Args:
        mathforge_out: mathforge's result.
        handwritten_out: The other result.
        rtol: The tolerance.
        inputs: The inputs, by variable name, of an elementwise result: both results must
            have their dtype, and the worst point is reported. ``None`` otherwise.
    """
    a = np.asarray(mathforge_out)
    b = np.asarray(handwritten_out)
    dtype = np.result_type(*inputs.values()) if inputs else None
    dtype_ok = dtype is None or (a.dtype == dtype and b.dtype == dtype)
    a64, b64 = np.broadcast_arrays(a.astype(np.float64), b.astype(np.float64))
    with np.errstate(all="ignore"):
        diff = np.abs(a64 - b64)
        scale = np.maximum(np.abs(a64), np.abs(b64))
        rel = np.where(a64 == b64, 0.0, diff / np.where(scale == 0, 1.0, scale))
    rel = np.where(np.isnan(a64) & np.isnan(b64), 0.0, rel)
    rel = np.where(np.isnan(rel), np.inf, rel)  # NaN on one side only, or inf against a number
    worst = int(np.argmax(rel)) if rel.size else 0
    worst_inputs = None
    if inputs and rel.size:
        worst_inputs = {name: float(np.broadcast_to(v, rel.shape).flat[worst]) for name, v in inputs.items()}
    return Agreement(
        rtol=rtol,
        agree=bool((rel <= rtol).all()),
        max_rel_diff=float(rel.flat[worst]) if rel.size else 0.0,
        count=int((rel > rtol).sum()),
        worst_index=worst,
        worst_x=next(iter(worst_inputs.values())) if worst_inputs else None,
        worst_inputs=worst_inputs,
        worst_mathforge=float(a64.flat[worst]) if rel.size else None,
        worst_handwritten=float(b64.flat[worst]) if rel.size else None,
        dtype_ok=dtype_ok,
    )


def exact_value(expr: mathforge.Expression, point: Mapping[str, float]) -> float | None:
    """``expr`` at the floats of ``point`` (and its parameters' float values), by SymPy at 40 digits.

    Used only where mathforge and the hand-written reference disagree, to tell which side
    is off. ``None`` if SymPy gives no real number.
    """
    values = {**expr.params, **point}
    subs = {symbol(name): sympy.Float(value, 40) for name, value in values.items()}  # floats convert exactly
    try:
        value = expr.symbolic_expr.xreplace(subs).evalf(40)
        return float(value) if value.is_number and value.is_real else None
    except (TypeError, ValueError, AttributeError):
        return None


def _explain_disagreement(agreement: Agreement, expr: mathforge.Expression) -> None:
    """Fill in the exact value and both relative errors at the worst point."""
    if agreement.agree or not agreement.worst_inputs:
        return
    exact = exact_value(expr, agreement.worst_inputs)
    agreement.exact = exact
    if exact is not None and exact != 0:
        for side in ("mathforge", "handwritten"):
            value = getattr(agreement, f"worst_{side}")
            setattr(agreement, f"{side}_rel_error", abs(value - exact) / abs(exact))


@functools.lru_cache(maxsize=None)
def array_input(dtype: type = np.float64) -> np.ndarray:
    """``np.linspace(-8, 8, 10**6)`` in ``dtype`` (one array per dtype, shared by the activations)."""
    return np.linspace(*ARRAY_RANGE, ARRAY_SIZE).astype(dtype)


@functools.lru_cache(maxsize=None)
def _family_arrays(family: str) -> dict[str, np.ndarray]:
    return FAMILIES[family].draw(np.random.default_rng(LOSS_SEED), ARRAY_SIZE)


def entry_inputs(expr: Any, dtype: type = np.float64) -> dict[str, np.ndarray]:
    """The 1e6-element inputs of an elementwise entry, by variable name, in ``dtype``.

    An activation gets :func:`array_input`; a loss fresh copies of its family's seeded draws
    (:data:`LOSS_SEED`), cast from float64.

    Raises:
        KeyError: A variable of the loss is not in its family.
    """
    if expr.category != "loss":
        return {name: array_input(dtype) for name in expr.variables}
    arrays = _family_arrays(loss_family(expr.name).name)
    return {name: arrays[name].astype(dtype) for name in expr.variables}


def vector_input() -> np.ndarray:
    """Standard normal logits times 3, shape (1000, 1000), seed 0, float64."""
    return np.random.default_rng(VECTOR_SEED).normal(scale=VECTOR_SCALE, size=VECTOR_SHAPE)


def class_targets(classes: int = VECTOR_SHAPE[-1]) -> np.ndarray:
    """One integer class per row of :func:`vector_input`, uniform, seed :data:`CLASS_TARGET_SEED`."""
    return np.random.default_rng(CLASS_TARGET_SEED).integers(0, classes, size=VECTOR_SHAPE[:-1])


def measure_array(mathforge_call: Callable[[], Any], handwritten_call: Callable[[], Any] | None,
                  config: Config, rtol: float, inputs: Mapping[str, np.ndarray] | None,
                  exact_expr: mathforge.Expression | None) -> tuple[Timing | None, Timing | None, Agreement | None, str | None]:
    """Warm both sides, compare their results, then time them interleaved.

    Returns:
        mathforge's timing, the hand-written timing, their agreement, and an error text
        (``mathforge: ...`` or ``handwritten: ...``); what could not be measured is ``None``.
    """
    try:
        ours = mathforge_call()  # the first call compiles the kernel
    except Exception as exc:  # noqa: BLE001 - reported in the row and through the exit code
        return None, None, None, f"mathforge: {type(exc).__name__}: {exc}"
    theirs, error = None, None
    if handwritten_call is None:
        error = "handwritten: no reference in benchmarks/handwritten.py"
    else:
        try:
            theirs = handwritten_call()
        except Exception as exc:  # noqa: BLE001 - a reference problem, not a mathforge failure
            error = f"handwritten: {type(exc).__name__}: {exc}"
    if theirs is None:
        fast = time_callable(mathforge_call, None, repeats=config.array_repeats,
                             target_s=config.array_target_s, number=None if config.array_target_s else 1)
        return fast, None, None, error
    agreement = compare_arrays(ours, theirs, rtol, inputs)
    if exact_expr is not None:
        _explain_disagreement(agreement, exact_expr)
    fast, slow = time_pair(mathforge_call, handwritten_call, repeats=config.array_repeats,
                           target_s=config.array_target_s)
    return fast, slow, agreement, None


def _fill(row: ArrayRow, fast: Timing | None, slow: Timing | None, budget: float) -> None:
    if fast is not None:
        row.mathforge_ms = fast.per_call_us / 1e3
        row.mathforge_calls = fast.number * fast.repeats
        row.mathforge_repeats_ms = [t / 1e3 for t in fast.all_us]
    if fast is not None and slow is not None:
        row.handwritten_ms = slow.per_call_us / 1e3
        row.handwritten_calls = slow.number * slow.repeats
        row.handwritten_repeats_ms = [t / 1e3 for t in slow.all_us]
        row.ratio = fast.per_call_us / slow.per_call_us
        row.within_budget = row.ratio <= budget


def _run_elementwise(forge: MathForge, config: Config, names: Sequence[str],
                     references: Mapping[str, Callable[..., Any]], *, section: str,
                     prepare: Callable[[Any], Any], eval_kwargs: Mapping[str, Any], budget: float,
                     float32: bool, log: Callable[[str], None] | None) -> list[ArrayRow]:
    """mathforge against the hand-written references on the 1e6-element inputs, per entry.

    Args:
        names: The entries.
        references: ``name -> f(*inputs)``, the inputs positional in declared order.
        section: Name of the section in the progress log.
        prepare: ``entry -> the Expression evaluated`` (the entry, or its gradient).
        eval_kwargs: Keywords of every ``eval`` (``reduction="none"`` for a loss).
        budget: The budget of the float64 ratio.
        float32: Also measure float32 inputs (no budget).
    """
    rows = []
    for name in names:
        row = ArrayRow(name)
        rows.append(row)
        expr = _fetch(forge, name, row, section, log)
        if expr is None:
            continue
        try:
            target = prepare(expr)
        except Exception as exc:  # noqa: BLE001 - reported in the row and through the exit code
            row.error = _error_text(exc)
            continue
        try:
            inputs64 = entry_inputs(expr, np.float64)
        except KeyError as exc:
            row.error = f"benchmark: the input family of {name} has no variable {exc}"
            continue
        reference = references.get(name)
        fast, slow, row.agreement, row.error = measure_array(
            lambda: target.eval(**inputs64, **eval_kwargs), reference and (lambda: reference(*inputs64.values())),
            config, AGREE_RTOL, inputs64, target)
        _fill(row, fast, slow, budget)
        if row.mathforge_failed or not float32:
            continue
        inputs32 = entry_inputs(expr, np.float32)
        fast, slow, row.f32_agreement, error = measure_array(
            lambda: target.eval(**inputs32, **eval_kwargs), reference and (lambda: reference(*inputs32.values())),
            config, AGREE_RTOL_F32, inputs32, None)
        if fast is not None:
            row.f32_mathforge_ms = fast.per_call_us / 1e3
            row.f32_mathforge_repeats_ms = [t / 1e3 for t in fast.all_us]
        if fast is not None and slow is not None:
            row.f32_handwritten_ms = slow.per_call_us / 1e3
            row.f32_handwritten_repeats_ms = [t / 1e3 for t in slow.all_us]
            row.f32_ratio = fast.per_call_us / slow.per_call_us
        if error and (error.startswith("mathforge") or not row.error):
            row.error = f"{error} (float32)"
    return rows


# --- array eval ---------------------------------------------------------------------------


def run_array_eval(forge: MathForge, config: Config, *, log: Callable[[str], None] | None = None) -> list[ArrayRow]:
    """``e.eval(x=x)`` on 1e6 float64 and float32 against the hand-written NumPy, per activation."""
    return _run_elementwise(forge, config, _names(forge, "activation"), handwritten.elementwise(forge),
                            section="array eval", prepare=lambda e: e, eval_kwargs={}, budget=ARRAY_BUDGET,
                            float32=True, log=log)


def run_loss_eval(forge: MathForge, config: Config, *, log: Callable[[str], None] | None = None) -> list[ArrayRow]:
    """``e.eval(y_pred=..., y_true=..., reduction="none")`` on 1e6 float64 and float32, per elementwise loss."""
    return _run_elementwise(forge, config, _names(forge, "loss"), handwritten.loss_values(forge),
                            section="loss eval", prepare=lambda e: e, eval_kwargs={"reduction": "none"},
                            budget=ARRAY_BUDGET, float32=True, log=log)


def _fmt_ms(value: float | None) -> str:
    """Milliseconds with two decimals, or four below 0.1 ms (the identity's few microseconds)."""
    return "n/a" if value is None else f"{value:,.{4 if value < 0.1 else 2}f}"


def _fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _budget_cell(within: bool | None) -> str:
    return "n/a" if within is None else ("yes" if within else "**no**")


def _agree_cell(agreement: Agreement | None) -> str:
    if agreement is None:
        return "n/a"
    if agreement.agree and agreement.dtype_ok:
        return "yes"
    if not agreement.dtype_ok:
        return "**dtype**"
    return f"**no** ({agreement.count:,} pts, max {agreement.max_rel_diff:.1e})"


def _point_text(agreement: Agreement) -> str:
    """``x = 0.5`` or ``y_pred = 0.5, y_true = 1.0``: the worst point."""
    return ", ".join(f"{name} = {value!r}" for name, value in (agreement.worst_inputs or {}).items())


def _disagreement_notes(rows: Sequence[ArrayRow], label: str = "") -> list[str]:
    notes = []
    for r in rows:
        a = r.agreement
        if a is None or (a.agree and a.dtype_ok):
            continue
        text = (f"**{r.entry}**{label}: {a.count:,} of {ARRAY_SIZE:,} elements differ by more than {a.rtol:g} "
                f"relative; worst {a.max_rel_diff:.2e}")
        if a.worst_inputs:
            text += f" at {_point_text(a)}: mathforge {a.worst_mathforge!r}, hand-written {a.worst_handwritten!r}"
        if a.exact is not None:
            errors = [f"{side} {err:.1e}" for side, err in (("mathforge", a.mathforge_rel_error),
                                                           ("hand-written", a.handwritten_rel_error)) if err is not None]
            text += f"; exact (SymPy, 40 digits) {a.exact!r}, relative error {', '.join(errors)}"
        if not a.dtype_ok:
            text += "; an output does not have the input's dtype"
        notes.append(text)
    return notes


def _timing_text(config: Config) -> str:
    return (f"median of {config.array_repeats} interleaved repeats of ~{config.array_target_s:g} s of calls per side"
            if config.array_target_s else f"median of {config.array_repeats} interleaved single calls per side")


def _median_note(rows: Sequence[Any]) -> list[str]:
    measured = [r for r in rows if r.ratio is not None]
    if not measured:
        return []
    return [f"Median ratio {statistics.median(r.ratio for r in measured):.2f}×; "
            f"{sum(bool(r.within_budget) for r in rows)}/{len(rows)} entries within budget."]


def _values_section(rows: list[ArrayRow], config: Config, *, key: str, title: str, inputs: list[str],
                    call: str) -> Section:
    """The report section of values on 1e6 float64 and float32 (activations or losses)."""
    cells = []
    for r in rows:
        f32_agree = r.f32_agreement
        f32_cell = "n/a" if f32_agree is None else ("yes" if f32_agree.agree and f32_agree.dtype_ok else
                                                     ("**dtype**" if not f32_agree.dtype_ok else
                                                      f"max {f32_agree.max_rel_diff:.0e}"))
        cells.append([r.entry, _fmt_ms(r.mathforge_ms), _fmt_ms(r.handwritten_ms), _fmt_ratio(r.ratio),
                      _budget_cell(r.within_budget), _agree_cell(r.agreement),
                      _fmt_ms(r.f32_mathforge_ms), _fmt_ms(r.f32_handwritten_ms), _fmt_ratio(r.f32_ratio), f32_cell])
    notes = [f"Budget (DESIGN.md §7): mathforge ≤ {ARRAY_BUDGET:g}× the best hand-written NumPy, on "
             f"{ARRAY_SIZE:,} float64; the float32 columns (the same inputs `.astype(np.float32)`) are for "
             "information.",
             *inputs,
             f"mathforge: `{call}`, one call first (compiles the kernel); hand-written: "
             f"`benchmarks/handwritten.py` with the catalog's default parameters; {_timing_text(config)}.",
             f"agrees: every element within {AGREE_RTOL:g} relative (`|a-b|/max(|a|,|b|)`); float32 agrees: within "
             f"{AGREE_RTOL_F32:g}, else the largest relative difference. Where float64 disagrees, the worst point is "
             "evaluated exactly (SymPy, 40 digits) to show which side is off."]
    notes += _median_note(rows)
    notes += _disagreement_notes(rows)
    notes += [f"**{r.entry}** float32: {r.f32_agreement.count:,} elements beyond {AGREE_RTOL_F32:g}, worst "
              f"{r.f32_agreement.max_rel_diff:.1e} at {_point_text(r.f32_agreement)} (mathforge "
              f"{r.f32_agreement.worst_mathforge!r}, hand-written {r.f32_agreement.worst_handwritten!r})"
              for r in rows if r.f32_agreement is not None and not r.f32_agreement.agree]
    notes += [f"**{r.entry}** failed: {r.error}" for r in rows if r.error]
    notes += [f"{name}: {text}" for name, text in handwritten.NOTES.items() if any(r.entry == name for r in rows)]
    return Section(
        key=key,
        title=title,
        headers=["entry", "mathforge f64 (ms)", "hand-written f64 (ms)", "ratio f64 (×)",
                 f"within {ARRAY_BUDGET:g}× budget?", f"agrees (≤ {AGREE_RTOL:g} rel)?",
                 "mathforge f32 (ms)", "hand-written f32 (ms)", "ratio f32 (×)", "f32 agrees?"],
        cells=cells,
        notes=notes,
        data={"budget_ratio": ARRAY_BUDGET, "size": ARRAY_SIZE, "rtol": AGREE_RTOL, "rtol_float32": AGREE_RTOL_F32,
              "config": asdict(config), "rows": [asdict(r) for r in rows]},
    )


def _activation_inputs_note() -> str:
    return f"Input: `x = np.linspace({ARRAY_RANGE[0]:g}, {ARRAY_RANGE[1]:g}, {ARRAY_SIZE:,})`."


def _loss_inputs_notes(rows: Sequence[Any]) -> list[str]:
    """One note per input family used by ``rows``: its losses and how its inputs are drawn."""
    members: dict[str, list[str]] = {}
    for r in rows:
        members.setdefault(loss_family(r.entry).name, []).append(r.entry)
    notes = [f"Inputs: {ARRAY_SIZE:,} elements per variable, drawn once per family with "
             f"`np.random.default_rng({LOSS_SEED})` (a domain where each loss is defined and typical):"]
    notes += [f"{family} ({', '.join(names)}): {FAMILIES[family].description}." for family, names in members.items()]
    return notes


def array_section(rows: list[ArrayRow], config: Config) -> Section:
    """The report section of :func:`run_array_eval`."""
    section = _values_section(rows, config, key="array_eval",
                              title="Array `eval` on 1e6 elements vs hand-written NumPy",
                              inputs=[_activation_inputs_note()], call="forge.get(name).eval(x=x)")
    section.data["range"] = list(ARRAY_RANGE)
    return section


def loss_section(rows: list[ArrayRow], config: Config) -> Section:
    """The report section of :func:`run_loss_eval`."""
    section = _values_section(rows, config, key="loss_eval",
                              title="Loss `eval` (pointwise) on 1e6 elements vs hand-written NumPy",
                              inputs=_loss_inputs_notes(rows),
                              call='forge.get(name).eval(y_pred=..., y_true=..., reduction="none")')
    section.data["families"] = {r.entry: loss_family(r.entry).name for r in rows}
    section.data["seed"] = LOSS_SEED
    return section


# --- derivative eval ----------------------------------------------------------------------


def run_derivative_eval(forge: MathForge, config: Config, *,
                        log: Callable[[str], None] | None = None) -> list[ArrayRow]:
    """``e.gradient().eval(x=x)`` on 1e6 float64 against the hand-written derivative, per activation."""
    return _run_elementwise(forge, config, _names(forge, "activation"), handwritten.derivatives(forge),
                            section="derivative eval", prepare=lambda e: e.gradient(), eval_kwargs={},
                            budget=DERIVATIVE_BUDGET, float32=False, log=log)


def run_loss_derivative_eval(forge: MathForge, config: Config, *,
                             log: Callable[[str], None] | None = None) -> list[ArrayRow]:
    """``e.gradient("y_pred").eval(...)`` on 1e6 float64 against the hand-written derivative, per loss."""
    return _run_elementwise(forge, config, _names(forge, "loss"), handwritten.loss_derivatives(forge),
                            section="loss derivative eval", prepare=lambda e: e.gradient("y_pred"), eval_kwargs={},
                            budget=DERIVATIVE_BUDGET, float32=False, log=log)


def _derivatives_section(rows: list[ArrayRow], config: Config, *, key: str, title: str, inputs: list[str],
                         call: str, references: str) -> Section:
    """The report section of derivatives on 1e6 float64 (activations or losses)."""
    cells = [[r.entry, _fmt_ms(r.mathforge_ms), _fmt_ms(r.handwritten_ms), _fmt_ratio(r.ratio),
              _budget_cell(r.within_budget), _agree_cell(r.agreement)] for r in rows]
    notes = [f"Budget (DESIGN.md §7): ≤ {DERIVATIVE_BUDGET:g}× the hand-written NumPy derivative, on "
             f"{ARRAY_SIZE:,} float64.", *inputs,
             f"mathforge: `{call}` (gradient built and kernel compiled before timing); hand-written: {references}; "
             f"{_timing_text(config)}."]
    notes += _median_note(rows)
    notes += _disagreement_notes(rows, "'")
    notes += [f"**{r.entry}'** failed: {r.error}" for r in rows if r.error]
    return Section(
        key=key,
        title=title,
        headers=["entry", "mathforge f' (ms)", "hand-written f' (ms)", "ratio (×)",
                 f"within {DERIVATIVE_BUDGET:g}× budget?", f"agrees (≤ {AGREE_RTOL:g} rel)?"],
        cells=cells,
        notes=notes,
        data={"budget_ratio": DERIVATIVE_BUDGET, "size": ARRAY_SIZE, "rtol": AGREE_RTOL,
              "config": asdict(config), "rows": [asdict(r) for r in rows]},
    )


def derivative_section(rows: list[ArrayRow], config: Config) -> Section:
    """The report section of :func:`run_derivative_eval`."""
    section = _derivatives_section(
        rows, config, key="derivative_eval", title="Derivative `eval` on 1e6 float64 vs hand-written NumPy",
        inputs=[_activation_inputs_note()], call="forge.get(name).gradient().eval(x=x)",
        references="`handwritten.DERIVATIVES`, stable forms (e.g. tanh' as `4e/(1+e)**2` with `e = exp(-2|x|)`, "
                   "not `1 - tanh(x)**2`, which loses 6 digits at x = 8)")
    section.data["range"] = list(ARRAY_RANGE)
    return section


def loss_derivative_section(rows: list[ArrayRow], config: Config) -> Section:
    """The report section of :func:`run_loss_derivative_eval`."""
    return _derivatives_section(
        rows, config, key="loss_derivative_eval",
        title="Loss derivative `eval` (∂/∂y_pred, pointwise) on 1e6 float64 vs hand-written NumPy",
        inputs=["Inputs: the float64 inputs of the loss `eval` section."],
        call='forge.get(name).gradient("y_pred").eval(y_pred=..., y_true=...)',
        references="`handwritten.LOSS_DERIVATIVES`, with the catalog's conventions at kinks and clamps (see the "
                   "notes of the loss `eval` section)")


# --- vector eval --------------------------------------------------------------------------


def _measure_vector(row: ArrayRow, mathforge_call: Callable[[], Any], reference_call: Callable[[], Any] | None,
                    config: Config) -> None:
    fast, slow, row.agreement, row.error = measure_array(mathforge_call, reference_call, config, AGREE_RTOL,
                                                         None, None)
    _fill(row, fast, slow, VECTOR_BUDGET)


def run_vector_eval(forge: MathForge, config: Config, *, log: Callable[[str], None] | None = None) -> list[ArrayRow]:
    """Vector-valued entries on a (1000, 1000) float64 array along axis -1; then the losses over a
    class axis (mean, and ``gradient_logits`` where it exists) on the same logits."""
    x = vector_input()
    target = class_targets()
    rows = []
    for category, kind in (("activation", "vector"), ("loss", "classes")):
        for name in _names(forge, category, kind):
            row = ArrayRow(name)
            rows.append(row)
            expr = _fetch(forge, name, row, "vector eval", log)
            if expr is None:
                continue
            if kind == "vector":
                reference = handwritten.VECTORS.get(name)
                _measure_vector(row, lambda: expr.eval(x, axis=-1), reference and (lambda: reference(x, -1)), config)
                continue
            reference = handwritten.CLASS_LOSSES.get(name)
            _measure_vector(row, lambda: expr.eval(x, target, axis=-1, reduction="mean"),
                            reference and (lambda: reference(x, target, -1)), config)
            if hasattr(expr, "gradient_logits"):
                row = ArrayRow(f"{name}.gradient_logits")
                rows.append(row)
                reference = handwritten.CLASS_GRADIENTS.get(name)
                _measure_vector(row, lambda: expr.gradient_logits(x, target, axis=-1),
                                reference and (lambda: reference(x, target, -1)), config)
    return rows


def vector_section(rows: list[ArrayRow], config: Config) -> Section:
    """The report section of :func:`run_vector_eval`."""
    cells = [[r.entry, _fmt_ms(r.mathforge_ms), _fmt_ms(r.handwritten_ms), _fmt_ratio(r.ratio),
              _budget_cell(r.within_budget), _agree_cell(r.agreement)] for r in rows]
    notes = [f"Input: {VECTOR_SHAPE[0]}×{VECTOR_SHAPE[1]} float64, standard normal × {VECTOR_SCALE:g} (seed "
             f"{VECTOR_SEED}), along axis -1. Held to the array budget (≤ {VECTOR_BUDGET:g}×): DESIGN.md §7 sets "
             "none of its own for vector entries.",
             "mathforge: `forge.get(name).eval(x, axis=-1)` (max-shifted; also handles ±inf and NaN rows); "
             "hand-written: `handwritten.VECTORS`, max-shifted NumPy with in-place temporaries (softmin shifts by "
             "the row minimum; glu is `a*sigmoid(b)` over the two halves).",
             f"Losses over a class axis: the same logits with one integer class per row (uniform, seed "
             f"{CLASS_TARGET_SEED}). mathforge: `e.eval(logits, target, axis=-1, reduction=\"mean\")` and "
             "`e.gradient_logits(logits, target, axis=-1)` (per sample); hand-written: `handwritten.CLASS_LOSSES` "
             "(mean of `log(sum(exp(s))) - s[target]`, `s = logits - max`) and `handwritten.CLASS_GRADIENTS` "
             "(`softmax - one_hot`)."]
    notes += [f"**{r.entry}**: {r.agreement.count:,} elements differ by more than {AGREE_RTOL:g} relative, worst "
              f"{r.agreement.max_rel_diff:.2e} (mathforge {r.agreement.worst_mathforge!r}, hand-written "
              f"{r.agreement.worst_handwritten!r})" for r in rows if r.agreement is not None and not r.agreement.agree]
    notes += [f"**{r.entry}** failed: {r.error}" for r in rows if r.error]
    return Section(
        key="vector_eval",
        title="Vector entries and class-axis losses on a 1000×1000 float64 array (axis -1)",
        headers=["entry", "mathforge (ms)", "hand-written (ms)", "ratio (×)", f"within {VECTOR_BUDGET:g}× budget?",
                 f"agrees (≤ {AGREE_RTOL:g} rel)?"],
        cells=cells,
        notes=notes,
        data={"budget_ratio": VECTOR_BUDGET, "shape": list(VECTOR_SHAPE), "scale": VECTOR_SCALE,
              "seed": VECTOR_SEED, "target_seed": CLASS_TARGET_SEED, "rtol": AGREE_RTOL, "config": asdict(config),
              "rows": [asdict(r) for r in rows]},
    )


# --- fused value and gradient ---------------------------------------------------------------


@dataclass
class FusedRow(_FailingSide):
    """One entry of the fused section (times in milliseconds; ``None`` where not measured).

    ``ratio`` is fused / value alone, held to :data:`FUSED_BUDGET` for smooth entries only
    (``within_budget`` is ``None`` for the others); ``fused_vs_separate`` is fused / (value,
    then gradient, separately); ``separate_ratio`` is separate / value alone.
    """

    entry: str
    category: str
    smooth: bool | None = None
    reduction: str | None = None
    value_ms: float | None = None
    fused_ms: float | None = None
    separate_ms: float | None = None
    ratio: float | None = None
    fused_vs_separate: float | None = None
    separate_ratio: float | None = None
    within_budget: bool | None = None
    value_agreement: Agreement | None = None
    gradient_agreement: Agreement | None = None
    calls: dict[str, int] = field(default_factory=dict)
    repeats_ms: dict[str, list[float]] = field(default_factory=dict)
    error: str | None = None

    @property
    def agrees(self) -> bool | None:
        """Both fused results agree with the separate ones (``None`` if not compared)."""
        checks = [a for a in (self.value_agreement, self.gradient_agreement) if a is not None]
        return all(a.agree and a.dtype_ok for a in checks) if checks else None


def has_value_and_grad() -> bool:
    """Whether this checkout's ``Expression`` has ``value_and_grad``."""
    return callable(getattr(mathforge.Expression, "value_and_grad", None))


def is_smooth(expr: Any) -> bool:
    """No Piecewise, Max, Min, Abs, sign or Heaviside in the formula (:data:`NON_SMOOTH`)."""
    return not expr.symbolic_expr.has(*NON_SMOOTH)


def _measure_fused(row: FusedRow, expr: Any, inputs: Mapping[str, np.ndarray], config: Config,
                   available: bool) -> None:
    """Warm, compare and time the value alone, the fused call and the separate calls of one entry."""
    gradient = expr.gradient()
    size = np.broadcast(*inputs.values()).size
    scale = size if row.reduction == "mean" else 1  # the gradient of a mean is the pointwise one / N

    def value() -> Any:
        return expr.eval(**inputs)

    def separate() -> tuple[Any, Any]:
        loss = expr.eval(**inputs)
        slope = gradient.eval(**inputs)
        return loss, (slope / scale if scale != 1 else slope)

    def fused() -> tuple[Any, Any]:
        return expr.value_and_grad(**inputs)

    expected = separate()  # also warms the value's kernel
    calls = [value, separate]
    if available:
        try:
            got = fused()
        except Exception as exc:  # noqa: BLE001 - reported in the row and through the exit code
            row.error = _error_text(exc, "mathforge: value_and_grad")
            available = False
        else:
            row.value_agreement = compare_arrays(got[0], expected[0], AGREE_RTOL)
            row.gradient_agreement = compare_arrays(got[1], expected[1], AGREE_RTOL, inputs)
            calls.append(fused)
    repeats = config.fused_repeats or config.array_repeats
    timings = dict(zip(("value", "separate", "fused"),
                       time_interleaved(calls, repeats=repeats, target_s=config.array_target_s)))
    row.calls = {side: t.number * t.repeats for side, t in timings.items()}
    row.repeats_ms = {side: [u / 1e3 for u in t.all_us] for side, t in timings.items()}
    row.value_ms = timings["value"].per_call_us / 1e3
    row.separate_ms = timings["separate"].per_call_us / 1e3
    row.separate_ratio = row.separate_ms / row.value_ms
    if "fused" in timings:
        row.fused_ms = timings["fused"].per_call_us / 1e3
        row.ratio = row.fused_ms / row.value_ms
        row.fused_vs_separate = row.fused_ms / row.separate_ms
        if row.smooth:
            row.within_budget = row.ratio <= FUSED_BUDGET


def run_fused(forge: MathForge, config: Config, *,
              log: Callable[[str], None] | None = None) -> tuple[list[FusedRow], bool]:
    """Value alone, fused ``value_and_grad`` and value-then-gradient, per elementwise activation and loss.

    Returns:
        The rows, and whether ``Expression.value_and_grad`` exists (if not, only the value
        and the separate calls are timed).
    """
    available = has_value_and_grad()
    rows = []
    for category in ("activation", "loss"):
        for name in _names(forge, category):
            row = FusedRow(name, category)
            rows.append(row)
            expr = _fetch(forge, name, row, "fused", log)
            if expr is None:
                continue
            row.smooth, row.reduction = is_smooth(expr), expr.reduction
            try:
                inputs = entry_inputs(expr, np.float64)
            except KeyError as exc:
                row.error = f"benchmark: the input family of {name} has no variable {exc}"
                continue
            try:
                _measure_fused(row, expr, inputs, config, available)
            except Exception as exc:  # noqa: BLE001 - eval or gradient raised
                row.error = _error_text(exc)
    return rows, available


def fused_section(rows: list[FusedRow], available: bool, config: Config) -> Section:
    """The report section of :func:`run_fused`."""
    def budget(r: FusedRow) -> str:
        if r.smooth is False and r.ratio is not None:
            return "not held"
        return _budget_cell(r.within_budget)

    cells = [[r.entry, r.category + (f" ({r.reduction})" if r.reduction else ""),
              "n/a" if r.smooth is None else ("yes" if r.smooth else "no"),
              _fmt_ms(r.value_ms), _fmt_ms(r.fused_ms), _fmt_ms(r.separate_ms), _fmt_ratio(r.ratio), budget(r),
              _fmt_ratio(r.fused_vs_separate), _fmt_ratio(r.separate_ratio),
              "n/a" if r.agrees is None else ("yes" if r.agrees else "**no**")] for r in rows]
    notes = []
    if not available:
        notes.append("**`Expression.value_and_grad` does not exist in this checkout**: the fused cells are n/a; "
                     "the value alone and the separate calls are still timed.")
    notes += [f"Budget (set with the fused API; DESIGN.md §7 has none): for a smooth entry, `value_and_grad` ≤ "
              f"{FUSED_BUDGET:g}× `eval` alone. Smooth: the formula has no "
              f"{', '.join(t.__name__ for t in NON_SMOOTH)}; the others are reported but the budget is not held.",
              f"Inputs: {ARRAY_SIZE:,} float64, those of the array `eval` section (activations) and of the loss "
              "`eval` section (losses). Default parameters; a loss with its default reduction (the mean).",
              "eval: `e.eval(**inputs)`; fused: `e.value_and_grad(**inputs)` (a loss: the mean and the gradient of "
              "the mean, i.e. the pointwise derivative / N); separate: `e.eval(**inputs)` then "
              "`g.eval(**inputs)` with `g = e.gradient()` fetched beforehand (a loss: the result divided by N, so "
              f"that both give the same two results). Each warmed by one call; "
              f"{_timing_text(replace(config, array_repeats=config.fused_repeats or config.array_repeats))}, the "
              "three interleaved.",
              f"agrees: the fused value and gradient are within {AGREE_RTOL:g} relative of the separate ones."]
    smooth = [r for r in rows if r.smooth and r.ratio is not None]
    if smooth:
        notes.append(f"Smooth entries: median fused / eval {statistics.median(r.ratio for r in smooth):.2f}×, "
                     f"{sum(bool(r.within_budget) for r in smooth)}/{len(smooth)} within budget; median fused / "
                     f"separate {statistics.median(r.fused_vs_separate for r in smooth):.2f}×.")
    measured = [r for r in rows if r.fused_vs_separate is not None]
    if measured:
        median = statistics.median(r.fused_vs_separate for r in measured)
        notes.append(f"All entries: median fused / separate {median:.2f}×.")
    for r in rows:
        for what, a in (("value", r.value_agreement), ("gradient", r.gradient_agreement)):
            if a is not None and not (a.agree and a.dtype_ok):
                where = f" at {_point_text(a)}" if a.worst_inputs else ""
                notes.append(f"**{r.entry}** fused {what}: {a.count:,} elements differ by more than {a.rtol:g} "
                             f"relative from the separate {what}, worst {a.max_rel_diff:.2e}{where} (fused "
                             f"{a.worst_mathforge!r}, separate {a.worst_handwritten!r})"
                             + ("" if a.dtype_ok else "; the dtypes differ"))
    notes += [f"**{r.entry}** failed: {r.error}" for r in rows if r.error]
    return Section(
        key="fused",
        title="Fused value and gradient on 1e6 float64",
        headers=["entry", "kind", "smooth?", "eval (ms)", "value_and_grad (ms)", "eval + gradient eval (ms)",
                 "fused / eval (×)", f"within {FUSED_BUDGET:g}× budget?", "fused / separate (×)",
                 "separate / eval (×)", f"agrees (≤ {AGREE_RTOL:g} rel)?"],
        cells=cells,
        notes=notes,
        data={"available": available, "budget_ratio": FUSED_BUDGET, "size": ARRAY_SIZE,
              "non_smooth": [t.__name__ for t in NON_SMOOTH], "rtol": AGREE_RTOL, "config": asdict(config),
              "rows": [{**asdict(r), "agrees": r.agrees} for r in rows]},
    )


# --- start-up -----------------------------------------------------------------------------


def _child_env() -> dict[str, str]:
    """The environment of child processes: the checkout first on ``sys.path``, bytecode cached.

    ``PYTHONDONTWRITEBYTECODE`` is dropped so that the untimed first run leaves the
    checkout's ``.pyc`` files, as an installed package has them (pip compiles on install;
    SymPy, NumPy and PyYAML of the baseline have theirs): otherwise every timed run would
    recompile mathforge's sources and the ratio would measure the compiler.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


#: Runs ``python -c sys.argv[1]`` and prints its wall time, peak RSS and exit code as JSON.
#: A small launcher process, because Linux keeps a process's peak RSS across ``exec``: a child
#: forked straight from this (large) benchmark process would report at least our own peak.
LAUNCHER_SCRIPT = r'''
import json, os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
proc.returncode = os.waitstatus_to_exitcode(status)
print(json.dumps({"wall": wall, "maxrss": usage.ru_maxrss, "exit": proc.returncode}))
'''


def _maxrss_mib(maxrss: float) -> float:
    """``ru_maxrss`` in MiB (Linux reports KiB, macOS bytes)."""
    scale = 1 if sys.platform == "darwin" else 1024
    return maxrss * scale / 2**20


def run_process(code: str) -> tuple[float, float | None, int, str]:
    """Run ``python -c code`` once; its wall time and peak RSS.

    POSIX: through :data:`LAUNCHER_SCRIPT`, which times ``Popen`` + ``os.wait4`` of the
    process with ``time.perf_counter`` and reads *that* process's ``ru_maxrss`` from
    ``os.wait4``. Elsewhere: ``time.perf_counter`` around ``subprocess.run``, RSS unknown.

    Returns:
        Wall seconds, peak RSS in MiB (or ``None``), exit code, and the end of stderr.
    """
    import time

    if hasattr(os, "wait4"):
        proc = subprocess.run([sys.executable, "-c", LAUNCHER_SCRIPT, code], capture_output=True, text=True,
                              cwd=REPO_ROOT, env=_child_env(), check=False)
        try:
            report = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return math.nan, None, proc.returncode or 1, proc.stderr[-500:]
        return report["wall"], _maxrss_mib(report["maxrss"]), report["exit"], proc.stderr[-500:]
    start = time.perf_counter()  # pragma: no cover - not POSIX
    proc = subprocess.run([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, cwd=REPO_ROOT, env=_child_env(), check=False)
    return time.perf_counter() - start, None, proc.returncode, proc.stderr[-500:]


def run_startup(config: Config, *, log: Callable[[str], None] | None = None) -> StartupResult:
    """Median wall time of the start-up process against the baseline imports (interleaved runs)."""
    result = StartupResult(STARTUP_COMMAND, STARTUP_BASELINE,
                           rss_method=("`os.wait4` in a small launcher process (Linux keeps the peak RSS across `exec`, so a "
                                       "child forked from this big process would report at least its peak)")
                           if hasattr(os, "wait4") else "unavailable")
    mf_rss, base_rss = [], []
    for run in range(config.startup_runs + 1):  # run 0 is untimed: warms the file cache and .pyc files
        if log:
            log(f"start-up: run {run}/{config.startup_runs}")
        for code, times, rsss in ((STARTUP_COMMAND, result.mathforge_runs_s, mf_rss),
                                  (STARTUP_BASELINE, result.baseline_runs_s, base_rss)):
            wall, rss, exit_code, tail = run_process(code)
            if exit_code != 0:
                side = "mathforge" if code == STARTUP_COMMAND else "baseline"
                result.error = f"{side}: `python -c \"{code}\"` exited with {exit_code}: {tail.strip()}"
                if side == "mathforge":
                    return result
                continue
            if run:
                times.append(wall)
                if rss is not None:
                    rsss.append(rss)
    if result.mathforge_runs_s:
        result.mathforge_s = statistics.median(result.mathforge_runs_s)
    if result.baseline_runs_s:
        result.baseline_s = statistics.median(result.baseline_runs_s)
    if result.mathforge_s and result.baseline_s:
        result.ratio = result.mathforge_s / result.baseline_s
        result.within_budget = result.ratio <= STARTUP_BUDGET
    result.mathforge_rss_mib = max(mf_rss) if mf_rss else None
    result.baseline_rss_mib = max(base_rss) if base_rss else None
    return result


def startup_section(result: StartupResult, config: Config) -> Section:
    """The report section of :func:`run_startup`."""
    rss_ratio = (result.mathforge_rss_mib / result.baseline_rss_mib
                 if result.mathforge_rss_mib and result.baseline_rss_mib else None)
    cells = [[f"`{result.command}`", _fmt(result.mathforge_s and result.mathforge_s * 1e3, 0),
              _fmt(result.mathforge_rss_mib, 1), _fmt_ratio(result.ratio), _budget_cell(result.within_budget)],
             [f"`{result.baseline}` (baseline)", _fmt(result.baseline_s and result.baseline_s * 1e3, 0),
              _fmt(result.baseline_rss_mib, 1), "1.00", ""]]
    notes = [f"Budget (DESIGN.md §7): the mathforge process ≤ {STARTUP_BUDGET:g}× the baseline process.",
             f"`{Path(sys.executable).name} -c \"...\"` with the checkout on `PYTHONPATH`; wall time by "
             "`time.perf_counter()` around starting the process and waiting for it (`Popen` + `os.wait4`, "
             "what `subprocess.run` does); median of "
             f"{config.startup_runs} runs of each, interleaved, after one untimed run of each.",
             f"Peak RSS: the largest `ru_maxrss` of the timed runs, read per child with {result.rss_method}"
             + (f"; mathforge / baseline = {rss_ratio:.2f}× (no budget)." if rss_ratio else ".")]
    if result.error:
        notes.append(f"**failed**: {result.error}")
    return Section(
        key="startup",
        title="Start-up process",
        headers=["process", "wall time (ms)", "peak RSS (MiB)", "ratio (×)", f"within {STARTUP_BUDGET:g}× budget?"],
        cells=cells,
        notes=notes,
        data={"budget_ratio": STARTUP_BUDGET, "runs": config.startup_runs, "rss_ratio": rss_ratio,
              **asdict(result)},
    )


# --- first get ----------------------------------------------------------------------------

#: Runs in a fresh interpreter: per entry, the first ``get`` in a fresh ``MathForge()`` and the
#: first builds of its kernel, gradient and gradient kernel; prints JSON. ``sys.argv[1]`` is the
#: JSON of the losses' points (``name -> {variable: value}``); every input is 100 points.
FIRST_GET_SCRIPT = r'''
import json, sys, time
perf = time.perf_counter
import numpy as np
from mathforge import MathForge
MathForge().create("bench_warmup", "2*x + 1")  # parser and SymPy's one-time set-up, outside the timing
points = json.loads(sys.argv[1])
x = np.linspace(-8, 8, 100)
logits, target = np.linspace(-8, 8, 1000).reshape(100, 10), np.arange(100) % 10
entries, errors = {}, {}
for name in MathForge().list_all():
    forge = MathForge()
    row = {}
    try:
        t0 = perf(); expr = forge.get(name); t1 = perf()
        row["first_get"] = t1 - t0
        kind = getattr(expr, "kind", "elementwise")
        if kind == "elementwise":
            point = points.get(name)
            inputs = {v: np.full(100, point[v]) if point else x for v in expr.variables}
            expr.eval(**inputs)
        elif kind == "classes":
            expr.eval(logits, target)
        else:
            expr.eval(x)
        t2 = perf()
        row["kernel"] = t2 - t1
        if kind == "elementwise":  # vector entries have a Jacobian; class losses a symbolic gradient only
            grad = expr.gradient(); t3 = perf()
            grad.eval(**inputs); t4 = perf()
            row["gradient"], row["gradient_kernel"] = t3 - t2, t4 - t3
    except Exception as exc:
        errors[name] = f"{type(exc).__name__}: {exc}"
    entries[name] = row
print(json.dumps({"entries": entries, "errors": errors}))
'''


def _first_get_points(forge: MathForge) -> dict[str, dict[str, float]]:
    """The point of every elementwise loss (its first ``eval`` needs its variables)."""
    points = {}
    for name in _names(forge, "loss"):
        try:
            points[name] = scalar_point(forge.get(name))
        except Exception:  # noqa: BLE001 - the child process reports a failing entry
            continue
    return points


def _first_get_process(points: Mapping[str, Mapping[str, float]]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", FIRST_GET_SCRIPT, json.dumps(points)], capture_output=True,
                          text=True, cwd=REPO_ROOT, env=_child_env(), check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"the first-get process exited with {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_first_get(forge: MathForge, config: Config, *,
                  log: Callable[[str], None] | None = None) -> tuple[list[FirstGetRow], str | None]:
    """First ``get`` and first builds per entry (activations and losses), medians over fresh processes.

    Returns:
        The rows, and an error text if a process failed.
    """
    points = _first_get_points(forge)
    runs = []
    for index in range(config.first_get_processes):
        if log:
            log(f"first get: process {index + 1}/{config.first_get_processes}")
        try:
            runs.append(_first_get_process(points))
        except (RuntimeError, ValueError, IndexError) as exc:
            return [], f"mathforge: {exc}"
    rows = []
    for name in runs[0]["entries"]:
        row = FirstGetRow(name)
        error = next((run["errors"][name] for run in runs if name in run["errors"]), None)
        if error:
            row.error = f"mathforge: {error}"

        def median_ms(key: str) -> float | None:
            values = [run["entries"].get(name, {}).get(key) for run in runs]
            values = [v for v in values if v is not None]
            return statistics.median(values) * 1e3 if values else None

        row.first_get_ms, row.kernel_ms = median_ms("first_get"), median_ms("kernel")
        row.first_get_all_ms = [run["entries"][name]["first_get"] * 1e3 for run in runs
                                if "first_get" in run["entries"].get(name, {})]
        row.gradient_ms, row.gradient_kernel_ms = median_ms("gradient"), median_ms("gradient_kernel")
        parts = [v for v in (row.first_get_ms, row.kernel_ms, row.gradient_ms, row.gradient_kernel_ms) if v is not None]
        row.total_ms = sum(parts) if parts else None
        if row.first_get_ms is not None:
            row.within_budget = row.first_get_ms <= FIRST_GET_BUDGET_MS
        rows.append(row)
    return rows, None


def first_get_section(rows: list[FirstGetRow], error: str | None, config: Config) -> Section:
    """The report section of :func:`run_first_get`."""
    cells = [[r.entry, _fmt(r.first_get_ms, 2), _budget_cell(r.within_budget), _fmt(r.kernel_ms, 1),
              _fmt(r.gradient_ms, 1), _fmt(r.gradient_kernel_ms, 1), _fmt(r.total_ms, 1)] for r in rows]
    total = sum(r.total_ms for r in rows if r.total_ms is not None)
    gets = sum(r.first_get_ms for r in rows if r.first_get_ms is not None)
    notes = [f"Budget (DESIGN.md §7): the first `get` of an entry ≤ {FIRST_GET_BUDGET_MS:g} ms.",
             f"In a fresh process (median over {config.first_get_processes}), entries in `list_all()` order, each "
             "in a fresh `MathForge()`: first `forge.get(name)` (parse + build), then the first `eval` on 100 points "
             "(compiles the kernel; `x = linspace(-8, 8, 100)`, a loss 100 copies of its scalar-eval point, a class "
             "loss 100×10 logits), `gradient()` (a loss: by `y_pred`), and the gradient's first `eval` (compiles "
             "its kernel; n/a for vector entries, which have a Jacobian, and for class losses). One throwaway "
             "formula is parsed first, so the first entry does not carry the parser's one-time set-up; SymPy's "
             "caches are shared within the process, as in any program that fetches several entries.",
             f"All {len(rows)} entries: {gets:,.0f} ms of first `get`s; {total:,.0f} ms to build every entry, its "
             "kernel, its gradient and the gradient's kernel."]
    if error:
        notes.append(f"**failed**: {error}")
    notes += [f"**{r.entry}** failed: {r.error}" for r in rows if r.error]
    return Section(
        key="first_get",
        title="First `get` and first builds per entry",
        headers=["entry", "first get (ms)", f"within {FIRST_GET_BUDGET_MS:g} ms budget?", "kernel (ms)",
                 "gradient (ms)", "gradient kernel (ms)", "total (ms)"],
        cells=cells,
        notes=notes,
        data={"budget_ms": FIRST_GET_BUDGET_MS, "processes": config.first_get_processes, "total_build_ms": total,
              "total_first_get_ms": gets, "error": error, "rows": [asdict(r) for r in rows]},
    )


# --- summary ------------------------------------------------------------------------------


def _misses(rows: Sequence[Any], value: Callable[[Any], str]) -> list[str]:
    return [f"{r.entry} ({value(r)})" for r in rows if r.within_budget is False]


def summary_section(scalar: Sequence[ScalarRow], array: Sequence[ArrayRow], derivative: Sequence[ArrayRow],
                    vector: Sequence[ArrayRow], startup: StartupResult | None,
                    first_get: Sequence[FirstGetRow], loss: Sequence[ArrayRow] = (),
                    loss_derivative: Sequence[ArrayRow] = (), fused: Sequence[FusedRow] = (),
                    fused_available: bool = True) -> Section:
    """One line per budget: how many entries are within it, and which miss it."""
    def line(what: str, budget: str, rows: Sequence[Any], value: Callable[[Any], str]) -> list[str]:
        measured = [r for r in rows if r.within_budget is not None]
        misses = _misses(rows, value)
        return [what, budget, f"{len(measured) - len(misses)}/{len(measured)}", ", ".join(misses) or "—"]

    def ratio(r: Any) -> str:
        return f"{r.ratio:.2f}×"

    fused_line = line("fused `value_and_grad`, 1e6 float64 (smooth entries)", f"≤ {FUSED_BUDGET:g}× `eval` alone",
                      fused, ratio)
    if not fused_available:
        fused_line[2:] = ["n/a", "n/a: `Expression.value_and_grad` does not exist in this checkout"]
    cells = [line("scalar `eval`", f"≤ {SCALAR_BUDGET_US:g} µs", scalar, lambda r: f"{r.mathforge_us:.1f} µs"),
             line("array `eval`, 1e6 float64", f"≤ {ARRAY_BUDGET:g}× hand-written", array, ratio),
             line("loss `eval` (pointwise), 1e6 float64", f"≤ {ARRAY_BUDGET:g}× hand-written", loss, ratio),
             line("derivative `eval`, 1e6 float64", f"≤ {DERIVATIVE_BUDGET:g}× hand-written", derivative, ratio),
             line("loss derivative `eval` (∂/∂y_pred), 1e6 float64", f"≤ {DERIVATIVE_BUDGET:g}× hand-written",
                  loss_derivative, ratio),
             line("vector and class-loss `eval`, 1000×1000 float64", f"≤ {VECTOR_BUDGET:g}× hand-written", vector,
                  ratio),
             fused_line,
             line("start-up process", f"≤ {STARTUP_BUDGET:g}× `import sympy, numpy, yaml`",
                  [StartupRowView(startup)] if startup else [], ratio),
             line("first `get`", f"≤ {FIRST_GET_BUDGET_MS:g} ms", first_get, lambda r: f"{r.first_get_ms:.1f} ms")]
    disagree = [f"{r.entry}{mark}" for rows, mark in ((array, ""), (derivative, "'"), (loss, ""),
                                                      (loss_derivative, "'"), (vector, ""))
                for r in rows if r.agreement is not None and not (r.agreement.agree and r.agreement.dtype_ok)]
    failures = [f"{r.entry}" for r in (*array, *derivative, *loss, *loss_derivative, *vector) if r.error]
    failures += [f"{r.entry} ({what})" for rows, what in ((scalar, "scalar"), (fused, "fused"), (first_get, "first get"))
                 for r in rows if r.error]
    notes = [f"Hand-written references that disagree with mathforge beyond {AGREE_RTOL:g} relative (details under "
             f"each table): {', '.join(disagree) or 'none'}.",
             "Fused results that disagree with the separate `eval`s beyond "
             f"{AGREE_RTOL:g} relative: {', '.join(r.entry for r in fused if r.agrees is False) or 'none'}."]
    if failures:
        notes.append(f"Not measured (see the notes of each table): {', '.join(failures)}.")
    return Section(
        key="summary",
        title="Summary: entries that miss a budget",
        headers=["what (DESIGN.md §7)", "budget", "within", "misses"],
        cells=cells,
        notes=notes,
        data={"rows": [dict(zip(["what", "budget", "within", "misses"], row)) for row in cells],
              "disagreements": disagree, "fused_disagreements": [r.entry for r in fused if r.agrees is False],
              "not_measured": failures},
    )


@dataclass
class StartupRowView:
    """The start-up result seen as a summary row."""

    result: StartupResult
    entry: str = "start-up"

    @property
    def within_budget(self) -> bool | None:
        return self.result.within_budget

    @property
    def ratio(self) -> float | None:
        return self.result.ratio


# --- report -------------------------------------------------------------------------------


def environment() -> dict[str, Any]:
    """Date, platform and library versions of this run."""
    import scipy

    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "sympy": sympy.__version__,
        "scipy": scipy.__version__,
        "mathforge": getattr(mathforge, "__version__", "unknown"),
    }


def markdown_table(headers: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    """A Markdown table; every column but the first is right-aligned."""
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join([":---"] + ["---:"] * (len(headers) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def render_markdown(env: dict[str, Any], sections: Sequence[Section]) -> str:
    """The whole report: a header line with the environment, then each section."""
    parts = ["# mathforge benchmarks",
             f"{env['date']} · {env['platform']} · Python {env['python']} · NumPy {env['numpy']} · "
             f"SymPy {env['sympy']} · SciPy {env['scipy']} · mathforge {env['mathforge']}",
             NOISE_NOTE]
    for section in sections:
        parts += [f"## {section.title}", markdown_table(section.headers, section.cells)]
        if section.notes:
            parts.append("\n".join(f"- {note}" for note in section.notes))
    return "\n\n".join(parts) + "\n"


def _json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as the strings "inf", "-inf", "nan" (strict JSON has none)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_json(path: Path, env: dict[str, Any], sections: Sequence[Section], quick: bool) -> None:
    """Write the environment and every section's data to ``path`` (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"environment": env, "quick": quick, "note": NOISE_NOTE,
               "sections": {s.key: {"title": s.title, **s.data} for s in sections}}
    path.write_text(json.dumps(_json_safe(payload), indent=2, ensure_ascii=False, allow_nan=False) + "\n",
                    encoding="utf-8")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line: ``[--quick] [--json PATH] [-v]``."""
    parser = argparse.ArgumentParser(description="mathforge benchmarks (DESIGN.md §7), reported as ratios.")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and calls (a smoke test, ~30 s)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH",
                        help=f"where to write the JSON results (default: {DEFAULT_JSON.relative_to(REPO_ROOT)})")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every section, print the Markdown report, write the JSON; return the exit code."""
    args = parse_args(argv)
    config = Config.quick() if args.quick else Config.full()

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    progress = log if args.verbose else None
    forge = MathForge()
    env = environment()
    scalar_rows = run_scalar_eval(forge, config, log=progress)
    array_rows = run_array_eval(forge, config, log=progress)
    loss_rows = run_loss_eval(forge, config, log=progress)
    derivative_rows = run_derivative_eval(forge, config, log=progress)
    loss_derivative_rows = run_loss_derivative_eval(forge, config, log=progress)
    vector_rows = run_vector_eval(forge, config, log=progress)
    fused_rows, fused_available = run_fused(forge, config, log=progress)
    startup = run_startup(config, log=progress)
    first_get_rows, first_get_error = run_first_get(forge, config, log=progress)
    sections = [
        summary_section(scalar_rows, array_rows, derivative_rows, vector_rows, startup, first_get_rows,
                        loss_rows, loss_derivative_rows, fused_rows, fused_available),
        scalar_section(scalar_rows, config),
        array_section(array_rows, config),
        loss_section(loss_rows, config),
        derivative_section(derivative_rows, config),
        loss_derivative_section(loss_derivative_rows, config),
        vector_section(vector_rows, config),
        fused_section(fused_rows, fused_available, config),
        startup_section(startup, config),
        first_get_section(first_get_rows, first_get_error, config),
    ]

    sys.stdout.write(render_markdown(env, sections))
    write_json(args.json, env, sections, args.quick)
    log(f"JSON written to {args.json}")
    failed = (any(r.mathforge_failed for r in (*scalar_rows, *array_rows, *loss_rows, *derivative_rows,
                                               *loss_derivative_rows, *vector_rows, *fused_rows))
              or bool(startup.error and startup.error.startswith("mathforge"))
              or first_get_error is not None or any(r.error for r in first_get_rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
