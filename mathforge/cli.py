"""The ``mathforge`` command: a thin layer over the public API.

Examples:
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()) as out:
    ...     code = main(["list", "--category", "activation"])
    >>> code, "relu" in out.getvalue().split()
    (0, True)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import numpy as np

from .errors import MathforgeError
from .forge import MathForge
from .frozen import thaw
from .tour import tour_text

SHOW_POINTS = (-2.0, -1.0, 0.0, 1.0, 2.0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mathforge", description="A symbolic, executable registry of "
                                     "neural-network math.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("tour", help="a walk-through of the catalog, computed live")
    listing = commands.add_parser("list", help="list the catalog's names")
    listing.add_argument("--category", help="only this category (e.g. activation)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = commands.add_parser("show", help="formula, derivative, parameters, metadata and values of one entry")
    show.add_argument("name")
    show.add_argument("--json", action="store_true", help="print JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 success, 1 user error, 2 usage error)."""
    args = _parser().parse_args(argv)
    try:
        forge = MathForge()
        if args.command == "tour":
            print(tour_text(forge))
        elif args.command == "list":
            _list(forge, args.category, args.json)
        elif args.command == "show":
            _show(forge, args.name, args.json)
    except (MathforgeError, LookupError, TypeError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"mathforge: error: {message}", file=sys.stderr)
        return 1
    return 0


def _list(forge: MathForge, category: str | None, as_json: bool) -> None:
    names = forge.list_all(category=category)
    if as_json:
        print(json.dumps(names))
    else:
        print("\n".join(names))


def _show(forge: MathForge, name: str, as_json: bool) -> None:
    expr = forge.get(name)
    if expr.kind == "vector":
        _show_vector(forge, expr, name, as_json)
        return
    gradient = expr.gradient()
    values = {f"{p:g}": expr.eval(p) for p in SHOW_POINTS}
    slopes = {f"{p:g}": gradient.eval(p) for p in SHOW_POINTS}
    if as_json:
        print(json.dumps({
            "name": expr.name, "category": expr.category, "aliases": forge.aliases(name),
            "variables": list(expr.variables), "params": dict(expr.params),
            "formula": str(expr.symbolic_expr), "latex": expr.latex,
            "derivative": str(gradient.symbolic_expr), "values": values, "derivative_values": slopes,
            "metadata": thaw(expr.metadata)}, indent=2))
        return
    print(forge.explain(name, level="advanced"))
    print()
    print("Values:      " + "  ".join(f"f({k})={v:.6g}" for k, v in values.items()))
    print("Derivative:  " + "  ".join(f"f'({k})={v:.6g}" for k, v in slopes.items()))


def _show_vector(forge: MathForge, expr, name: str, as_json: bool) -> None:
    example = np.array(SHOW_POINTS if expr.name != "glu" else SHOW_POINTS[:4])
    values = expr.eval(example)
    if as_json:
        print(json.dumps({
            "name": expr.name, "category": expr.category, "kind": "vector", "aliases": forge.aliases(name),
            "formula": str(expr.symbolic_expr), "latex": expr.latex, "jacobian": str(expr.jacobian()),
            "example_input": example.tolist(), "example_output": values.tolist(),
            "metadata": thaw(expr.metadata)}, indent=2))
        return
    print(forge.explain(name, level="advanced"))
    print()
    print(f"Example:     {expr.name}({example.tolist()}) = {np.round(values, 6).tolist()}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
