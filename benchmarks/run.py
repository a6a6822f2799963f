"""mathforge benchmarks: the performance budget of DESIGN.md section 7, as ratios in one run.

Usage::

    python benchmarks/run.py [--quick] [--json PATH]

Section "scalar eval": for every entry of ``MathForge().list_all()``, the time per call of
``forge.get(name).eval(x=0.7)`` (kernel compiled beforehand) against the predecessor
library's approach, which substituted the parameter values and lambdified on every call.

The machine the benchmarks run on is shared and noisy: compare the ratios of one run,
not absolute times across runs. The script prints a Markdown report and writes the same
data as JSON (default ``benchmarks/results/scalar_eval.json``, git-ignored).

Further sections (array eval against hand-written NumPy, start-up time, ...) are added
as a ``run_*`` function that returns a :class:`Section`, appended in :func:`main`.

Exit code: 0 on success; 1 if a mathforge ``eval`` raised (a failure of the naive
baseline only marks its cells "n/a").
"""

import argparse
import datetime as _dt
import json
import math
import platform
import statistics
import sys
import timeit
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
if str(REPO_ROOT) not in sys.path:  # benchmark the checkout, not some installed copy
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import sympy  # noqa: E402

import mathforge  # noqa: E402
from mathforge import MathForge, symbol  # noqa: E402

#: Where the JSON goes unless ``--json`` says otherwise.
DEFAULT_JSON = BENCH_DIR / "results" / "scalar_eval.json"

#: The point every variable is evaluated at.
X_VALUE = 0.7

#: DESIGN.md section 7: scalar ``eval`` of a fetched expression, per call.
SCALAR_BUDGET_US = 5.0

NOISE_NOTE = ("The machine is shared and noisy: the ratios within this run matter more than "
              "the absolute times.")


@dataclass(frozen=True)
class Config:
    """How hard to measure.

    Attributes:
        repeats: timeit repeats for mathforge's ``eval`` (the median is reported).
        target_s: Seconds each of those repeats should take; the call count follows.
        naive_repeats: Single calls timed for the slow naive baseline (median reported).
    """

    repeats: int
    target_s: float
    naive_repeats: int

    @classmethod
    def full(cls) -> "Config":
        """7 repeats of ~0.05 s each; 9 naive single calls."""
        return cls(repeats=7, target_s=0.05, naive_repeats=9)

    @classmethod
    def quick(cls) -> "Config":
        """3 repeats of ~0.01 s each; 3 naive single calls (the smoke test)."""
        return cls(repeats=3, target_s=0.01, naive_repeats=3)


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


@dataclass
class ScalarRow:
    """One entry of the scalar-eval section (times in microseconds; ``None`` if it failed)."""

    entry: str
    mathforge_us: float | None
    naive_us: float | None
    speedup: float | None
    within_budget: bool | None
    mathforge_calls: int = 0
    naive_calls: int = 0
    mathforge_value: float | None = None
    naive_value: float | None = None
    values_agree: bool | None = None
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


def measure_scalar(expr: mathforge.Expression, config: Config, x: float = X_VALUE) -> tuple[Timing, float]:
    """Time ``expr.eval(x=0.7)`` per call, after one call so that the kernel is compiled.

    Every variable of ``expr`` is passed by keyword with the value ``x``.

    Returns:
        The timing and the value ``eval`` returned.
    """
    call = ", ".join(f"{name}={x!r}" for name in expr.variables)  # variable names are identifiers
    stmt = f"e.eval({call})"
    namespace = {"e": expr}
    value = eval(stmt, namespace)  # noqa: S307 - our own statement; compiles the kernel
    return time_callable(stmt, namespace, repeats=config.repeats, target_s=config.target_s), float(value)


def naive_call(expr: mathforge.Expression) -> Callable[[float], Any]:
    """The predecessor's per-call evaluation of ``expr``: substitute, lambdify, call.

    mathforge's primitives (sigmoid, softplus, normal_cdf, normal_pdf) are first rewritten to
    elementary/SciPy functions that ``sympy.lambdify`` can print; that rewrite is done once
    here, outside the timed call, which only makes the baseline faster (conservative ratio).
    """
    rewritten = expr.symbolic_expr.rewrite(sympy.exp)
    variables = [symbol(name) for name in expr.variables]
    params = {symbol(name): value for name, value in expr.params.items()}
    modules = ["numpy", "scipy"]

    def call(x: float) -> Any:
        return sympy.lambdify(variables, rewritten.subs(params), modules)(*([x] * len(variables)))

    return call


def measure_naive(expr: mathforge.Expression, config: Config, x: float = X_VALUE) -> tuple[Timing, float]:
    """Time the naive subs + lambdify approach, one call per repeat (it is slow).

    One untimed call comes first, as for mathforge.

    Returns:
        The timing and the value the naive call returned.
    """
    call = naive_call(expr)
    value = float(call(x))
    timing = time_callable(lambda: call(x), None, repeats=config.naive_repeats, number=1)
    return timing, value


# --- sections -----------------------------------------------------------------------------


def run_scalar_eval(forge: MathForge, config: Config, *, log: Callable[[str], None] | None = None) -> list[ScalarRow]:
    """Measure mathforge's scalar ``eval`` and the naive baseline for every entry."""
    rows = []
    for name in forge.list_all():
        if log:
            log(f"scalar eval: {name}")
        try:
            expr = forge.get(name)
            fast, fast_value = measure_scalar(expr, config)
        except Exception as exc:  # noqa: BLE001 - reported in the row and through the exit code
            rows.append(ScalarRow(name, None, None, None, None, error=f"mathforge: {type(exc).__name__}: {exc}"))
            continue
        row = ScalarRow(name, fast.per_call_us, None, None, fast.per_call_us <= SCALAR_BUDGET_US,
                        mathforge_calls=fast.number * fast.repeats, mathforge_value=fast_value)
        try:
            slow, slow_value = measure_naive(expr, config)
        except Exception as exc:  # noqa: BLE001 - a baseline limitation, not a mathforge failure
            row.error = f"naive: {type(exc).__name__}: {exc}"
        else:
            row.naive_us = slow.per_call_us
            row.naive_calls = slow.number * slow.repeats
            row.naive_value = slow_value
            row.speedup = slow.per_call_us / fast.per_call_us
            row.values_agree = math.isclose(fast_value, slow_value, rel_tol=1e-9, abs_tol=1e-12)
        rows.append(row)
    return rows


def _fmt(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def scalar_section(rows: list[ScalarRow], config: Config) -> Section:
    """The report section of :func:`run_scalar_eval`."""
    cells = []
    for r in rows:
        budget = "n/a" if r.within_budget is None else ("yes" if r.within_budget else "**no**")
        cells.append([r.entry, _fmt(r.mathforge_us, 2), _fmt(r.naive_us, 0), _fmt(r.speedup, 0), budget])
    notes = [f"Budget (DESIGN.md §7): ≤ {SCALAR_BUDGET_US:g} µs per call; the predecessor needed ~550 µs.",
             f"mathforge: `forge.get(name).eval(x={X_VALUE})`, kernel compiled by one call first; median of "
             f"{config.repeats} repeats of ~{config.target_s:g} s each.",
             "naive: `sympy.lambdify(vars, expr.rewrite(sympy.exp).subs(params), ['numpy', 'scipy'])"
             f"({X_VALUE})` on every call; median of {config.naive_repeats} single calls "
             "(the rewrite is done once, outside the timing)."]
    fast = [r for r in rows if r.speedup is not None]
    if fast:
        within = sum(bool(r.within_budget) for r in rows)
        notes.append(f"Median speed-up {statistics.median(r.speedup for r in fast):,.0f}×; "
                     f"{within}/{len(rows)} entries within budget.")
    notes += [f"**{r.entry}**: mathforge {r.mathforge_value!r} but naive {r.naive_value!r}"
              for r in rows if r.values_agree is False]
    notes += [f"**{r.entry}** failed: {r.error}" for r in rows if r.error]
    return Section(
        key="scalar_eval",
        title="Scalar `eval` per call",
        headers=["entry", "mathforge scalar eval (µs)", "naive subs+lambdify (µs)", "speed-up (×)",
                 f"within {SCALAR_BUDGET_US:g} µs budget?"],
        cells=cells,
        notes=notes,
        data={"budget_us": SCALAR_BUDGET_US, "x": X_VALUE, "config": asdict(config),
              "rows": [asdict(r) for r in rows]},
    )


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


def write_json(path: Path, env: dict[str, Any], sections: Sequence[Section], quick: bool) -> None:
    """Write the environment and every section's data to ``path`` (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"environment": env, "quick": quick, "note": NOISE_NOTE,
               "sections": {s.key: {"title": s.title, **s.data} for s in sections}}
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line: ``[--quick] [--json PATH]``."""
    parser = argparse.ArgumentParser(description="mathforge benchmarks (DESIGN.md §7), reported as ratios.")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and calls (a smoke test, < 20 s)")
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

    forge = MathForge()
    env = environment()
    scalar_rows = run_scalar_eval(forge, config, log=log if args.verbose else None)
    sections = [scalar_section(scalar_rows, config)]

    sys.stdout.write(render_markdown(env, sections))
    write_json(args.json, env, sections, args.quick)
    log(f"JSON written to {args.json}")
    return 1 if any(r.mathforge_us is None for r in scalar_rows) else 0


if __name__ == "__main__":
    sys.exit(main())
