"""Security tests for :func:`mathforge.parsing.parse_formula`.

``parse_formula`` turns untrusted formula text into a SymPy expression by
walking Python's ``ast`` with an explicit whitelist.  It must never hand the
text to ``eval``/``exec``/``compile``/``sympify``/``parse_expr``.

This module checks three things:

1. Hostile or malformed input is refused with a :class:`FormulaError`, fast,
   with a useful ``reason`` and (where one node is at fault) the right 1-based
   ``column``.  Every payload runs inside an empty temporary working directory
   that must still be empty afterwards, and an audit hook blocks and records
   any attempt to start a process or open a file for writing.
2. Legitimate formulas still parse to exactly the SymPy expression one would
   build by hand (real symbols, ``E``/``pi`` constants, parameter names such
   as ``gamma`` that shadow SymPy functions).
3. The source of ``mathforge/parsing.py`` contains no call of a dynamic-code
   entry point.
"""

from __future__ import annotations

import ast
import os
import pathlib
import sys
import time

import pytest
import sympy

import mathforge.parsing as parsing_module
from mathforge.errors import FormulaError, MathforgeError
from mathforge.parsing import parse_formula
from mathforge.primitives import sigmoid

# Every call passes these explicitly, so the tests do not depend on defaults.
VARIABLES = ("x",)
PARAMS = ("alpha",)

#: Hang guard, not a benchmark: only catches e.g. evaluating 9**9**9**9.
MAX_SECONDS = 2.0

x = sympy.Symbol("x", real=True)
alpha = sympy.Symbol("alpha", real=True)


# ---------------------------------------------------------------------------
# Audit hook: block and record process creation and file writes while a
# payload is being parsed.  Hooks cannot be removed, so this one stays inert
# unless ``_GUARD["active"]`` is set.
# ---------------------------------------------------------------------------

_GUARD: dict = {"active": False, "events": []}

_BLOCKED_EVENTS = frozenset(
    {
        "os.system",
        "os.exec",
        "os.fork",
        "os.forkpty",
        "os.posix_spawn",
        "os.spawn",
        "os.startfile",
        "pty.spawn",
        "subprocess.Popen",
        "socket.connect",
    }
)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _is_write_open(args: tuple) -> bool:
    """True if the arguments of an ``open`` audit event open for writing."""
    mode = args[1] if len(args) > 1 else None
    flags = args[2] if len(args) > 2 else 0
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return isinstance(flags, int) and bool(flags & _WRITE_FLAGS)


def _audit_hook(event: str, args: tuple) -> None:
    if not _GUARD["active"]:
        return
    if event in _BLOCKED_EVENTS or (event == "open" and _is_write_open(args)):
        _GUARD["events"].append((event, repr(args)[:200]))
        raise RuntimeError(f"blocked by test audit hook: {event}")


sys.addaudithook(_audit_hook)


def _expect_rejection(text: str, tmp_path: pathlib.Path, monkeypatch) -> FormulaError:
    """Parse ``text`` in an empty cwd; check it is refused quickly and safely.

    Returns the raised :class:`FormulaError` for further checks.
    """
    monkeypatch.chdir(tmp_path)
    _GUARD["events"] = []
    _GUARD["active"] = True
    start = time.perf_counter()
    try:
        with pytest.raises(FormulaError) as excinfo:
            parse_formula(text, variables=VARIABLES, params=PARAMS)
    finally:
        elapsed = time.perf_counter() - start
        _GUARD["active"] = False
        # Checked even if the parser did not raise: nothing may have executed.
        created = sorted(p.name for p in tmp_path.iterdir())
        assert created == [], f"payload created files in the cwd: {created}"
        assert _GUARD["events"] == [], f"payload triggered: {_GUARD['events']}"

    assert elapsed < MAX_SECONDS, f"rejection took {elapsed:.2f}s (hang?)"

    err = excinfo.value
    assert isinstance(err.reason, str) and err.reason.strip(), (
        f"FormulaError.reason must be a non-empty string, got {err.reason!r}"
    )
    column = err.column
    assert column is None or (
        isinstance(column, int) and not isinstance(column, bool) and column >= 1
    ), f"FormulaError.column must be None or a 1-based int, got {column!r}"
    return err


# ---------------------------------------------------------------------------
# 1. Hostile and malformed payloads
# ---------------------------------------------------------------------------

HOSTILE_PAYLOADS = [
    # --- code execution, imports, builtins -------------------------------
    pytest.param("__import__('os').system('touch MARKER')", id="dunder-import-os-system"),
    pytest.param("import os", id="import-statement"),
    pytest.param("x; import os", id="semicolon-then-import"),
    pytest.param("x\nimport os", id="newline-then-import"),
    pytest.param("x = 1", id="assignment-statement"),
    pytest.param("exec(\"open('MARKER', 'w').close()\")", id="exec-call"),
    pytest.param('eval("1")', id="eval-call"),
    pytest.param("compile('1', 'f', 'eval')", id="compile-call"),
    pytest.param("open('MARKER', 'w')", id="open-for-write"),
    pytest.param("getattr(x, 'a')", id="getattr"),
    pytest.param("globals()", id="globals"),
    pytest.param("__builtins__", id="dunder-builtins"),
    pytest.param("\uff45\uff56\uff41\uff4c('1')", id="fullwidth-eval-nfkc"),
    # --- attribute access and subscripts -------------------------------
    pytest.param("x.__class__", id="attr-dunder-class"),
    pytest.param("().__class__.__bases__[0].__subclasses__()", id="attr-subclasses-escape"),
    pytest.param("sympy.exp(x)", id="attr-module-function"),
    pytest.param("exp.__globals__", id="attr-function-globals"),
    pytest.param("x.real", id="attr-plain"),
    pytest.param("x[0]", id="subscript"),
    # --- SymPy constructors and non-whitelisted functions ---------------
    pytest.param("Symbol('x')", id="sympy-Symbol"),
    pytest.param("sympify('x')", id="sympy-sympify"),
    pytest.param("parse_expr('x')", id="sympy-parse_expr"),
    pytest.param("Function('f')(x)", id="sympy-Function"),
    pytest.param("S(1)", id="sympy-S"),
    pytest.param("gamma(x)", id="non-whitelisted-sympy-function"),
    # --- non-expression syntax -----------------------------------------
    pytest.param("lambda: 1", id="lambda"),
    pytest.param("(lambda: x)()", id="lambda-called"),
    pytest.param("[i for i in (1, 2)]", id="list-comprehension"),
    pytest.param("{i for i in (1, 2)}", id="set-comprehension"),
    pytest.param("{i: i for i in (1, 2)}", id="dict-comprehension"),
    pytest.param("(i for i in (1, 2))", id="generator-expression"),
    pytest.param("Max(i for i in (1, 2))", id="generator-as-argument"),
    pytest.param("[x, x]", id="list-literal"),
    pytest.param("(x, x)", id="tuple-as-value"),
    pytest.param("{x: 1}", id="dict-literal"),
    pytest.param("x if x else 1", id="conditional-expression"),
    pytest.param("(y := 1)", id="walrus"),
    pytest.param("await x", id="await"),
    pytest.param("yield x", id="yield"),
    # --- literals -------------------------------------------------------
    pytest.param("'abc'", id="str-literal"),
    pytest.param("f'{x}'", id="f-string"),
    pytest.param("b'abc'", id="bytes-literal"),
    pytest.param("1j", id="complex-literal"),
    pytest.param("...", id="ellipsis"),
    pytest.param("None", id="None"),
    pytest.param("True", id="True-as-value"),
    pytest.param("x + True", id="True-in-arithmetic"),
    pytest.param("False", id="False-as-value"),
    pytest.param("1" * 5000, id="int-literal-5000-digits"),
    pytest.param("float('inf')", id="float-inf-call"),
    pytest.param("1e999", id="non-finite-float-literal"),
    # --- operators outside the whitelist --------------------------------
    pytest.param("x @ x", id="matmul"),
    pytest.param("x // 2", id="floordiv"),
    pytest.param("x % 2", id="modulo"),
    pytest.param("x << 1", id="left-shift"),
    pytest.param("x ^ 1", id="xor"),
    pytest.param("x > 0", id="comparison-outside-piecewise"),
    pytest.param("x == 1", id="equality"),
    pytest.param("x in (1, 2)", id="membership"),
    pytest.param("x & 1", id="bitand-outside-piecewise"),
    pytest.param("x | 1", id="bitor-outside-piecewise"),
    pytest.param("~x", id="invert-outside-piecewise"),
    pytest.param("not x", id="not"),
    pytest.param("x and 1", id="and"),
    pytest.param("x or 1", id="or"),
    # --- call forms -----------------------------------------------------
    pytest.param("exp(*(x,))", id="starred-argument"),
    pytest.param("exp(**{'x': 1})", id="double-starred-argument"),
    pytest.param("exp(x=1)", id="keyword-argument"),
    pytest.param("exq(x)", id="unknown-function-typo"),
    pytest.param("y", id="undeclared-name"),
    pytest.param("x + exp", id="function-used-as-value"),
    pytest.param("exp(x)(x)", id="call-of-call-result"),
    # --- malformed Piecewise --------------------------------------------
    pytest.param("Piecewise()", id="piecewise-empty"),
    pytest.param("Piecewise(x)", id="piecewise-bare-expr"),
    pytest.param("Piecewise((x,))", id="piecewise-1-tuple"),
    pytest.param("Piecewise((x, x > 0, 1))", id="piecewise-3-tuple"),
    pytest.param("Piecewise([x, x > 0])", id="piecewise-list-pair"),
    pytest.param("Piecewise((x, x > 0), x)", id="piecewise-bare-second-arg"),
    pytest.param("Piecewise((x > 0, True))", id="piecewise-comparison-as-value"),
    pytest.param("Piecewise((x, 'x > 0'))", id="piecewise-string-condition"),
    # --- resource exhaustion --------------------------------------------
    pytest.param("9**9**9**9", id="power-tower"),
    pytest.param("2**1000000", id="huge-integer-power"),
    pytest.param("x**(10**6)", id="huge-computed-exponent"),
    pytest.param("x**101", id="exponent-just-over-100"),
    pytest.param("x**-101", id="negative-exponent-just-over-100"),
    pytest.param("x**1e3", id="float-exponent-over-100"),
    pytest.param("x+" * 50000 + "x", id="input-100k-chars"),
    pytest.param("+".join(["x"] * 1001), id="input-2001-chars"),
    pytest.param("(" * 500 + "x" + ")" * 500, id="nested-parens-500"),
    pytest.param("exp(" * 300 + "x" + ")" * 300, id="nested-calls-300"),
    pytest.param("-" * 1000 + "x", id="nested-unary-1000"),
    # --- malformed text -------------------------------------------------
    pytest.param("", id="empty"),
    pytest.param("   \t\n", id="whitespace-only"),
    pytest.param("x +", id="syntax-dangling-operator"),
    pytest.param("x ** * 2", id="syntax-double-operator"),
    pytest.param("exp(x", id="syntax-unclosed-paren"),
    pytest.param("x\x00", id="null-byte"),
]


@pytest.mark.parametrize("text", HOSTILE_PAYLOADS)
def test_hostile_payload_is_rejected(text, tmp_path, monkeypatch):
    _expect_rejection(text, tmp_path, monkeypatch)


# (text, 1-based column of the offending node)
LOCATED_PAYLOADS = [
    pytest.param("x + y", 5, id="undeclared-name"),
    pytest.param("sin(x) + y", 10, id="undeclared-name-after-call"),
    pytest.param("exp(y)", 5, id="undeclared-name-as-argument"),
    pytest.param("x + exq(x)", 5, id="unknown-function"),
    pytest.param("x.real", 1, id="attribute-at-start"),
    pytest.param("x + x.real", 5, id="attribute"),
    pytest.param("x + x[0]", 5, id="subscript"),
    pytest.param("x + 'abc'", 5, id="str-literal"),
    pytest.param("x + None", 5, id="None"),
    pytest.param("x + 1j", 5, id="complex-literal"),
    pytest.param("x*__builtins__", 3, id="dunder-name"),
    pytest.param("x + x // 2", 5, id="floordiv"),
    pytest.param("x + (x > 0)", 6, id="comparison-outside-piecewise"),
    pytest.param("Piecewise((x, y > 0), (x, True))", 15, id="undeclared-in-condition"),
]


@pytest.mark.parametrize(("text", "column"), LOCATED_PAYLOADS)
def test_rejection_points_at_offending_column(text, column, tmp_path, monkeypatch):
    err = _expect_rejection(text, tmp_path, monkeypatch)
    assert err.column == column, (
        f"{text!r}: expected column {column}, got {err.column!r} ({err.reason})"
    )


def test_formula_error_hierarchy():
    assert issubclass(FormulaError, MathforgeError)
    assert issubclass(FormulaError, ValueError)


# ---------------------------------------------------------------------------
# 2. Legitimate formulas
# ---------------------------------------------------------------------------

LEGITIMATE_FORMULAS = [
    pytest.param("x*sigmoid(2*x)", x * sigmoid(2 * x), id="silu"),
    pytest.param(
        "Piecewise((x, x > 0), (alpha*x, True))",
        sympy.Piecewise((x, x > 0), (alpha * x, True)),
        id="leaky-relu",
    ),
    pytest.param(
        "x*erfc(-x/sqrt(2))/2",
        x * sympy.erfc(-x / sympy.sqrt(2)) / 2,
        id="gelu-erfc",
    ),
    pytest.param("Max(x, 0)", sympy.Max(x, 0), id="relu-max"),
    pytest.param(
        "Piecewise((0, (x > -1) & (x < 1)), (x, True))",
        sympy.Piecewise((0, (x > -1) & (x < 1)), (x, True)),
        id="piecewise-and-condition",
    ),
    pytest.param("-x**2", -(x**2), id="unary-minus-binds-looser-than-power"),
    pytest.param("2**-1", sympy.Rational(1, 2), id="negative-exponent-literal"),
    pytest.param("x**100", x**100, id="exponent-at-limit"),
]


@pytest.mark.parametrize(("text", "expected"), LEGITIMATE_FORMULAS)
def test_legitimate_formula_parses_exactly(text, expected):
    result = parse_formula(text, variables=VARIABLES, params=PARAMS)
    assert isinstance(result, sympy.Expr)
    assert result == expected, (
        f"{text!r} parsed to {sympy.srepr(result)}, expected {sympy.srepr(expected)}"
    )


@pytest.mark.parametrize("name", ["gamma", "beta", "lambda_"])
def test_parameter_may_shadow_sympy_function_name(name):
    result = parse_formula(f"{name}*x", variables=("x",), params=(name,))
    param = sympy.Symbol(name, real=True)
    assert result == param * x
    assert result.free_symbols == {param, x}
    assert not result.atoms(sympy.Function), "parameter became a function application"
    assert not result.has(sympy.gamma)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("E", sympy.E, id="E"),
        pytest.param("pi", sympy.pi, id="pi"),
        pytest.param("2*pi*x", 2 * sympy.pi * x, id="pi-in-product"),
        pytest.param("E**x", sympy.exp(x), id="E-power-is-exp"),
    ],
)
def test_constants_E_and_pi(text, expected):
    result = parse_formula(text, variables=VARIABLES, params=PARAMS)
    assert result == expected
    assert not result.atoms(sympy.Symbol) - {x}, "E/pi must not become symbols"


# ---------------------------------------------------------------------------
# 3. Source scan: no dynamic-code entry points in mathforge/parsing.py
# ---------------------------------------------------------------------------

_FORBIDDEN_CALLS = frozenset({"eval", "exec", "compile", "sympify", "parse_expr"})


def _forbidden_calls(source: str) -> list[str]:
    """Calls (and imports) of forbidden names in ``source``.

    Works on the AST, so comments and docstrings that merely mention
    ``eval(`` are ignored.  ``re.compile(...)`` builds a regex, not code, and
    is allowed.
    """
    hits = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            hits += [
                f"line {node.lineno}: import of {alias.name}"
                for alias in node.names
                if alias.name in _FORBIDDEN_CALLS
            ]
            continue
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name):
            name = func.id
        elif isinstance(func, ast.Attribute):
            name = func.attr
            if name == "compile" and isinstance(func.value, ast.Name) and func.value.id == "re":
                continue
        else:
            continue
        if name in _FORBIDDEN_CALLS:
            hits.append(f"line {node.lineno}: {name}(")
    return hits


def test_forbidden_call_scanner_sanity():
    assert _forbidden_calls('"""Never eval( the text."""\n# no exec(\nimport re\nre.compile("a")\n') == []
    assert _forbidden_calls("sympy.sympify(text)") == ["line 1: sympify("]
    assert _forbidden_calls("y = eval(s)") == ["line 1: eval("]
    assert _forbidden_calls("from sympy.parsing.sympy_parser import parse_expr") != []


def test_parsing_module_has_no_dynamic_code_calls():
    source = pathlib.Path(parsing_module.__file__).read_text(encoding="utf-8")
    assert _forbidden_calls(source) == []
