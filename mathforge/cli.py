"""The ``mathforge`` command: a thin layer over the public API.

Commands: ``tour``, ``list``, ``show``, ``eval``, ``grad``, ``compare``, ``search``,
``explain``, ``properties``, ``plot`` and ``validate`` (``mathforge COMMAND --help``).
User mistakes print ``mathforge: error: ...`` on stderr and return 1; a malformed command
line is a usage error (exit 2). ``--json`` output is always valid JSON: infinities and
NaN are written as the strings ``"inf"``, ``"-inf"`` and ``"nan"``.

Examples:
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()) as out:
    ...     code = main(["list", "--category", "activation"])
    >>> code, "relu" in out.getvalue().split()
    (0, True)
    >>> with contextlib.redirect_stdout(io.StringIO()) as out:
    ...     code = main(["eval", "leaky_relu", "-5", "--param", "alpha=0.2"])
    >>> code, out.getvalue().split()
    (0, ['x', 'f(x)', '-5.0', '-1.0'])
"""

from __future__ import annotations

import argparse
import json
import math
import numbers
import re
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._version import __version__
from .errors import MathforgeError
from .explain import LEVELS
from .forge import MathForge
from .frozen import thaw
from .tour import tour_text

SHOW_POINTS = (-2.0, -1.0, 0.0, 1.0, 2.0)
PLOT_RANGE = (-5.0, 5.0)

#: Negative numbers argparse must read as values, not options: -5, -.5, -1e-3, -inf, -nan.
_NEGATIVE_NUMBER = re.compile(r"^-(?:(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|inf|infinity|nan)$", re.IGNORECASE)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that reads ``-inf`` and ``-1e-3`` as negative numbers, not as options."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_NUMBER


def _parameter(text: str) -> tuple[str, float]:
    """``alpha=0.2`` -> ``("alpha", 0.2)``, for ``--param``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. alpha=0.2), got {text!r}")
    try:
        return key.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the value of {key.strip()!r} must be a number, got {value!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mathforge", description="A symbolic, executable registry of neural-network math.",
                     epilog="User mistakes exit with 1, usage errors with 2. Run 'mathforge COMMAND --help' "
                            "for a command's options.")
    parser.add_argument("--version", action="version", version=f"mathforge {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tour = commands.add_parser("tour", help="a walk-through of the catalog, computed live")
    tour.add_argument("--plot", metavar="DIR", help="also write the favourites' plots there (PNG; needs matplotlib)")

    listing = commands.add_parser("list", help="list the catalog's names")
    listing.add_argument("--category", help="only this category (e.g. activation)")
    listing.add_argument("--json", action="store_true", help="print JSON")

    show = commands.add_parser("show", help="formula, derivative, parameters, metadata, properties and values "
                               "of one entry")
    show.add_argument("name")
    show.add_argument("--json", action="store_true", help="print JSON")

    evaluate = commands.add_parser("eval", help="evaluate an entry (or its derivative) at numbers",
                                   description="Evaluate NAME at each value; inf, -inf and nan are accepted.")
    evaluate.add_argument("name")
    evaluate.add_argument("values", nargs="+", type=float, metavar="VALUE", help="numbers (inf, -inf, nan too)")
    evaluate.add_argument("--param", action="append", type=_parameter, default=[], metavar="NAME=VALUE",
                          help="set a parameter, e.g. alpha=0.2 (repeatable)")
    evaluate.add_argument("--grad", action="store_true", help="evaluate the derivative instead")
    evaluate.add_argument("--json", action="store_true", help="print JSON")

    grad = commands.add_parser("grad", help="the symbolic derivative and its LaTeX")
    grad.add_argument("name")
    grad.add_argument("--order", type=int, default=1, metavar="N", help="derivative order (default 1)")

    compare = commands.add_parser("compare", help="values, derivatives and computed properties side by side")
    compare.add_argument("names", nargs="+", metavar="NAME")
    compare.add_argument("--at", nargs="+", type=float, default=list(SHOW_POINTS), metavar="X",
                         help="points (default: -2 -1 0 1 2)")
    compare.add_argument("--no-cost", action="store_true", help="skip measuring the evaluation cost")
    compare.add_argument("--json", action="store_true", help="print JSON")

    search = commands.add_parser("search", help="entries ranked by how well they match a query")
    search.add_argument("query", nargs="+", metavar="WORD")

    explain = commands.add_parser("explain", help="a text explanation of an entry")
    explain.add_argument("name")
    explain.add_argument("--level", choices=LEVELS, default="beginner", help="default: beginner")

    properties = commands.add_parser("properties", help="properties computed from the formula")
    properties.add_argument("name")
    properties.add_argument("--json", action="store_true", help="print JSON")

    plot = commands.add_parser("plot", help="draw entries to a PNG or SVG file (needs matplotlib)")
    plot.add_argument("names", nargs="+", metavar="NAME")
    plot.add_argument("-o", "--output", required=True, metavar="FILE", help="FILE.png or FILE.svg")
    plot.add_argument("--range", nargs=2, type=float, default=list(PLOT_RANGE), metavar=("LO", "HI"),
                      help="x range (default: -5 5)")
    plot.add_argument("--width", type=int, metavar="PX", help="width in pixels")
    plot.add_argument("--height", type=int, metavar="PX", help="height in pixels")

    validate = commands.add_parser("validate", help="check a YAML pack (folder or file) and report every problem")
    validate.add_argument("pack")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 success, 1 user error, 2 usage error)."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "validate":
            return _validate(args.pack)
        forge = MathForge()
        if args.command == "tour":
            print(tour_text(forge, plot_dir=args.plot))
        elif args.command == "list":
            _list(forge, args.category, args.json)
        elif args.command == "show":
            _show(forge, args.name, args.json)
        elif args.command == "eval":
            _eval(forge, args.name, args.values, dict(args.param), args.grad, args.json)
        elif args.command == "grad":
            _grad(forge, args.name, args.order)
        elif args.command == "compare":
            _compare(forge, args.names, args.at, not args.no_cost, args.json)
        elif args.command == "search":
            _search(forge, " ".join(args.query))
        elif args.command == "explain":
            print(forge.explain(args.name, level=args.level))
        elif args.command == "properties":
            _properties(forge, args.name, args.json)
        elif args.command == "plot":
            _plot(forge, args.names, args.output, tuple(args.range), args.width, args.height)
    except (MathforgeError, LookupError, TypeError, ValueError, ImportError, OSError) as exc:
        _error(exc)
        return 1
    return 0


def _error(exc: BaseException | str) -> None:
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    print(f"mathforge: error: {message}", file=sys.stderr)


# --- JSON ---------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """Library data as strict JSON: inf/nan as strings, tuples as lists, other objects as text."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, (bool, str)):
            return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isnan(value):
            return "nan"
        return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if hasattr(value, "items"):
        return {k if isinstance(k, str) else str(_jsonable(k)): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    return str(value)


def _print_json(data: Any) -> None:
    print(json.dumps(_jsonable(data), indent=2, allow_nan=False))


def _text(value: Any) -> str:
    """One value as short text, for aligned output."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if value is None:
        return "-"
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return f"{float(value):.6g}"
    if hasattr(value, "items"):
        return ", ".join(f"{_text(k)}: {_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value) or "none"
    return str(value)


def _aligned(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def _elementwise(expr: Any, command: str) -> None:
    if expr.kind != "elementwise":
        raise TypeError(f"{expr.name} is vector-valued; '{command}' takes elementwise functions "
                        f"('mathforge show {expr.name}' shows its Jacobian and an example)")


# --- commands ----------------------------------------------------------------------------------


def _list(forge: MathForge, category: str | None, as_json: bool) -> None:
    names = forge.list_all(category=category)
    if as_json:
        print(json.dumps(names))
    else:
        print("\n".join(names))


def _computed_properties(expr: Any) -> dict[str, Any] | None:
    """The computed properties as a dict, or None for a vector entry or before the module exists."""
    if expr.kind != "elementwise":
        return None
    try:
        from .properties import compute_properties
    except ImportError:
        return None
    return compute_properties(expr).to_dict()


def _show(forge: MathForge, name: str, as_json: bool) -> None:
    expr = forge.get(name)
    if expr.kind in ("vector", "classes"):
        _show_vector(forge, expr, name, as_json)
        return
    gradient = expr.gradient()
    others = {v: (1.0 if v == "var" else 0.0) for v in expr.variables[1:]}  # a loss: along its first input
    values = {f"{p:g}": expr.eval(p, **others) for p in SHOW_POINTS}
    slopes = {f"{p:g}": gradient.eval(p, **others) for p in SHOW_POINTS}
    props = _computed_properties(expr) if len(expr.variables) == 1 else None
    if as_json:
        _print_json({
            "name": expr.name, "category": expr.category, "aliases": forge.aliases(name),
            "variables": list(expr.variables), "params": dict(expr.params),
            "formula": str(expr.symbolic_expr), "latex": expr.latex,
            "derivative": str(gradient.symbolic_expr), "values": values, "derivative_values": slopes,
            "properties": props, "metadata": thaw(expr.metadata)})
        return
    print(forge.explain(name, level="advanced"))
    print()
    if others:
        print(f"Values along {expr.variables[0]}, with " + ", ".join(f"{k} = {v:g}" for k, v in others.items()) + ":")
    print("Values:      " + "  ".join(f"f({k})={v:.6g}" for k, v in values.items()))
    print("Derivative:  " + "  ".join(f"f'({k})={v:.6g}" for k, v in slopes.items()))
    if props is not None:
        print()
        print("Properties (computed from the formula):")
        print(_indent(_aligned([[str(k), _text(v)] for k, v in props.items()])))


def _show_vector(forge: MathForge, expr, name: str, as_json: bool) -> None:
    if expr.kind == "classes":
        logits, target = np.array([[2.0, 0.5, -1.0]]), np.array([0])
        print(forge.explain(name, level="advanced"))
        print()
        print(f"Example:     {expr.name}(logits={logits.tolist()}, target={target.tolist()}) = "
              f"{float(expr.eval(logits, target)):.6g}")
        return
    example = np.array(SHOW_POINTS if expr.name != "glu" else SHOW_POINTS[:4])
    values = expr.eval(example)
    if as_json:
        _print_json({
            "name": expr.name, "category": expr.category, "kind": "vector", "aliases": forge.aliases(name),
            "formula": str(expr.symbolic_expr), "latex": expr.latex, "jacobian": str(expr.jacobian()),
            "example_input": example.tolist(), "example_output": values.tolist(),
            "metadata": thaw(expr.metadata)})
        return
    print(forge.explain(name, level="advanced"))
    print()
    print(f"Example:     {expr.name}({example.tolist()}) = {np.round(values, 6).tolist()}")


def _eval(forge: MathForge, name: str, values: Sequence[float], params: dict[str, float], grad: bool,
          as_json: bool) -> None:
    expr = forge.get(name, params=params)
    _elementwise(expr, "eval")
    function = expr.gradient() if grad else expr
    pairs = [(x, function.eval(x)) for x in values]
    if as_json:
        _print_json({"name": expr.name, "grad": grad, "params": dict(expr.params),
                     "values": [list(pair) for pair in pairs]})
        return
    head = ["x", "f'(x)" if grad else "f(x)"]
    print(_aligned([head, *([repr(float(x)), repr(float(y))] for x, y in pairs)]))


def _grad(forge: MathForge, name: str, order: int) -> None:
    expr = forge.get(name)
    _elementwise(expr, "grad")
    derivative = expr.derivative(order)
    var = expr.variables[0]
    args = ", ".join(expr.variables)
    operator = "" if order == 0 else f"d/d{var} " if order == 1 else f"d^{order}/d{var}^{order} "
    print(f"{operator}{expr.name}({args}) = {derivative.symbolic_expr}")
    print(f"LaTeX: {derivative.latex}")


def _compare(forge: MathForge, names: Sequence[str], at: Sequence[float], cost: bool, as_json: bool) -> None:
    table = forge.compare(names, at, cost=cost)
    if as_json:
        _print_json(table.to_dict())
    else:
        print(table)


def _search(forge: MathForge, query: str) -> None:
    names = forge.search(query)
    if not names:
        print(f"no matches for {query!r}")
        return
    rows = []
    for name in names:
        description = " ".join(str(forge.metadata(name).get("description", "")).split())
        rows.append([name, re.split(r"(?<=[.!?])\s", description, maxsplit=1)[0]])
    print(_aligned(rows))


def _properties(forge: MathForge, name: str, as_json: bool) -> None:
    expr = forge.get(name)
    _elementwise(expr, "properties")
    from .properties import compute_properties

    props = compute_properties(expr).to_dict()
    if as_json:
        _print_json(props)
    else:
        print(_aligned([[str(k), _text(v)] for k, v in props.items()]))


def _plot(forge: MathForge, names: Sequence[str], output: str, x_range: tuple[float, float],
          width: int | None, height: int | None) -> None:
    exprs = [forge.get(n) for n in names]
    from .plotting import plot_expression, plot_many, save_figure

    figure = plot_expression(exprs[0], x_range) if len(exprs) == 1 else plot_many(exprs, x_range)
    print(save_figure(figure, output, width_px=width, height_px=height))


def _validate(pack: str) -> int:
    """Check every file of a pack and report every problem (``MathForge.check_pack``)."""
    count, problems = MathForge().check_pack(pack)
    if problems:
        for problem in problems:
            _error(problem)
        print(f"mathforge: {len(problems)} problem{'s' if len(problems) != 1 else ''} in {pack}", file=sys.stderr)
        return 1
    print(f"ok: {count} entries")
    return 0


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
