"""Formula text to SymPy, through Python's ``ast`` and an explicit whitelist.

Formula strings come from YAML files, ``forge.create``, ``forge.compose`` and the command
line. None of them is ever handed to an evaluator: the text is parsed into a syntax
tree (parsing runs no code), every node is checked against a whitelist, and the SymPy
expression is built node by node. Anything else is refused with a ``FormulaError`` that
gives the column and the reason.

Allowed: int and float literals, declared variables and parameters, ``pi`` and ``E``,
``+ - * / **``, unary ``-``/``+``, calls by plain name of whitelisted functions (and of
catalog entries, when the caller passes them), and, inside ``Piecewise`` conditions only,
comparisons, ``&``, ``|``, ``~`` and ``True``.

Examples:
    >>> parse_formula("x*sigmoid(2*x)", variables=["x"])
    x*sigmoid(2*x)
    >>> parse_formula("Piecewise((x, x > 0), (alpha*x, True))", variables=["x"], params=["alpha"])
    Piecewise((x, x > 0), (alpha*x, True))
    >>> parse_formula("gamma*x", variables=["x"], params=["gamma"])  # a parameter, not Gamma
    gamma*x
    >>> parse_formula("__import__('os').system('rm -rf /')", variables=["x"])
    Traceback (most recent call last):
    ...
    mathforge.errors.FormulaError: formula "__import__('os').system('rm -rf /')" refused at column 1: attribute access is not allowed
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import sympy
from sympy.codegen.cfunctions import expm1, log1p

from .errors import FormulaError
from .primitives import PRIMITIVES
from .symbols import is_plain_identifier, symbol

#: Longest formula text accepted, in characters.
MAX_LENGTH = 2000
#: Most syntax-tree nodes accepted.
MAX_NODES = 600
#: Deepest nesting of syntax-tree nodes accepted.
MAX_DEPTH = 60
#: Largest absolute numeric exponent accepted in ``a**n``.
MAX_EXPONENT = 100
#: Most decimal digits of a numeric power ``a**n`` with both sides numbers.
MAX_POWER_DIGITS = 400
#: Most digits of an integer literal.
MAX_INTEGER_DIGITS = 40

#: The functions a formula may call, by the name it uses.
FUNCTIONS: dict[str, Callable[..., sympy.Expr]] = {
    "exp": sympy.exp,
    "log": sympy.log,
    "sqrt": sympy.sqrt,
    "expm1": expm1,
    "log1p": log1p,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "tanh": sympy.tanh,
    "asinh": sympy.asinh,
    "atan": sympy.atan,
    "erf": sympy.erf,
    "erfc": sympy.erfc,
    "Abs": sympy.Abs,
    "sign": sympy.sign,
    "Max": sympy.Max,
    "Min": sympy.Min,
    **PRIMITIVES,
}

#: Named constants.
CONSTANTS: dict[str, sympy.Expr] = {"pi": sympy.pi, "E": sympy.E}

_BINARY = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}
_COMPARISONS = {ast.Lt: sympy.Lt, ast.LtE: sympy.Le, ast.Gt: sympy.Gt, ast.GtE: sympy.Ge}
_LOGICAL = {ast.BitAnd: sympy.And, ast.BitOr: sympy.Or}

#: A catalog function callable from formulas: ``(args, keywords) -> expression``.
CatalogFunction = Callable[[list[sympy.Expr], dict[str, sympy.Expr]], sympy.Expr]


@dataclass
class ParsedFormula:
    """A parsed formula and the names it used.

    Attributes:
        expr: The SymPy expression.
        inferred_variables: Names that were not declared and became variables (in order
            of first appearance); empty unless the parser was asked to infer them.
    """

    expr: sympy.Expr
    inferred_variables: list[str] = field(default_factory=list)


def parse_formula(
    text: str,
    variables: Iterable[str] = (),
    params: Iterable[str] = (),
    *,
    functions: Mapping[str, CatalogFunction] | None = None,
    values: Mapping[str, sympy.Expr] | None = None,
) -> sympy.Expr:
    """Parse formula text into a SymPy expression, refusing anything not whitelisted.

    Args:
        text: The formula, in SymPy-like syntax (``"x*sigmoid(2*x)"``).
        variables: Names of the declared variables.
        params: Names of the declared parameters (may shadow function names such as
            ``gamma``).
        functions: Extra callable names, e.g. catalog entries (``relu(2*x)``); each takes
            the positional arguments and the keyword arguments as SymPy expressions.
        values: Extra bare names with a value, e.g. catalog entries in ``compose``.

    Returns:
        The SymPy expression.

    Raises:
        FormulaError: The text is not an allowed formula; nothing in it was executed.
    """
    return parse_formula_detailed(text, variables, params, functions=functions, values=values).expr


def parse_formula_detailed(
    text: str,
    variables: Iterable[str] = (),
    params: Iterable[str] = (),
    *,
    functions: Mapping[str, CatalogFunction] | None = None,
    values: Mapping[str, sympy.Expr] | None = None,
    infer_variables: bool = False,
) -> ParsedFormula:
    """Like :func:`parse_formula`, optionally turning unknown plain names into variables.

    Args:
        text: The formula.
        variables: Declared variable names.
        params: Declared parameter names.
        functions: Extra callable names (see :func:`parse_formula`).
        values: Extra bare names with a value.
        infer_variables: If true, an unknown plain name becomes a new variable instead of
            an error (``forge.create`` without ``variables=``).

    Returns:
        A :class:`ParsedFormula`.

    Examples:
        >>> parse_formula_detailed("t*sigmoid(k*t)", params=["k"], infer_variables=True)
        ParsedFormula(expr=t*sigmoid(k*t), inferred_variables=['t'])
    """
    if not isinstance(text, str):
        raise FormulaError(repr(text), f"a formula must be a string, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FormulaError(text, f"the formula is {len(text)} characters long; at most {MAX_LENGTH} are allowed")
    if not text.strip():
        raise FormulaError(text, "the formula is empty")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise FormulaError(text, f"not a valid expression ({exc.msg})", _syntax_error_column(text, exc)) from None
    except (ValueError, RecursionError, MemoryError) as exc:  # e.g. an integer literal too long to read
        raise FormulaError(text, f"not a readable expression ({type(exc).__name__})") from None
    _check_size(text, tree)
    translator = _Translator(text.strip(), variables, params, functions or {}, values or {}, infer_variables)
    expr = translator.expression(tree.body)
    if isinstance(expr, sympy.Basic) and expr.has(sympy.zoo, sympy.nan):
        raise FormulaError(text, "the formula is undefined (a division by zero or 0*oo)")
    return ParsedFormula(expr, translator.inferred)


def _syntax_error_column(text: str, exc: SyntaxError) -> int | None:
    """1-based column of a syntax error in the whole (stripped) text, or ``None``."""
    if not exc.offset or exc.offset < 1 or not exc.lineno:
        return None
    lines = text.strip().split("\n")
    return sum(len(line) + 1 for line in lines[: exc.lineno - 1]) + exc.offset


def _check_size(text: str, tree: ast.AST) -> None:
    """Refuse trees that are too large or too deep, without recursion."""
    count = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise FormulaError(text, f"the formula has more than {MAX_NODES} syntax nodes")
        if depth > MAX_DEPTH:
            raise FormulaError(text, f"the formula is nested more than {MAX_DEPTH} levels deep",
                               _column(node))
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _column(node: ast.AST) -> int | None:
    offset = getattr(node, "col_offset", None)
    return None if offset is None else offset + 1


class _Translator:
    """Builds the SymPy expression node by node; one instance per formula."""

    def __init__(self, text: str, variables: Iterable[str], params: Iterable[str],
                 functions: Mapping[str, CatalogFunction], values: Mapping[str, sympy.Expr],
                 infer_variables: bool) -> None:
        self.text = text
        self.symbols = {name: symbol(name) for name in (*variables, *params)}
        self.functions = functions
        self.values = values
        self.infer_variables = infer_variables
        self.inferred: list[str] = []

    def fail(self, node: ast.AST, reason: str) -> FormulaError:
        return FormulaError(self.text, reason, _column(node))

    # --- values -------------------------------------------------------------------------

    def expression(self, node: ast.AST) -> sympy.Expr:
        """Translate a node in value position."""
        try:
            result = self._expression(node)
        except FormulaError:
            raise
        except (TypeError, ValueError, AttributeError, ArithmeticError, RecursionError,
                sympy.SympifyError) as exc:
            raise self.fail(node, f"not a valid expression here ({exc})") from None
        if not isinstance(result, sympy.Expr):
            raise self.fail(node, "a condition or a tuple is only allowed inside Piecewise")
        return result

    def _expression(self, node: ast.AST) -> sympy.Expr:
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = self.expression(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](self.expression(node.left), self.expression(node.right))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            return self.power(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.fail(node, self.describe_refusal(node))

    def number(self, node: ast.Constant) -> sympy.Expr:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            what = "True/False" if isinstance(value, bool) else type(value).__name__
            raise self.fail(node, f"a {what} literal is not allowed here; only numbers are")
        if isinstance(value, int):
            if len(str(abs(value))) > MAX_INTEGER_DIGITS:
                raise self.fail(node, f"integer literal longer than {MAX_INTEGER_DIGITS} digits")
            return sympy.Integer(value)
        if not math.isfinite(value):
            raise self.fail(node, "a number literal must be finite")
        source = ast.get_source_segment(self.text, node) or repr(value)
        digits = sum(ch.isdigit() for ch in source.split("e")[0].split("E")[0].lstrip("0."))
        return sympy.Float(source, max(15, digits))

    def name(self, node: ast.Name) -> sympy.Expr:
        ident = node.id
        if not is_plain_identifier(ident):
            raise self.fail(node, f"name {ident!r} is not allowed (no names starting with '_')")
        if ident in self.symbols:
            return self.symbols[ident]
        if ident in self.values:
            return self.values[ident]
        if ident in CONSTANTS:
            return CONSTANTS[ident]
        if ident in FUNCTIONS or ident in self.functions or ident == "Piecewise":
            raise self.fail(node, f"{ident!r} is a function; call it with arguments")
        if self.infer_variables:
            self.inferred.append(ident)
            self.symbols[ident] = symbol(ident)
            return self.symbols[ident]
        raise self.fail(node, f"unknown name {ident!r}; declare it as a variable or a parameter")

    def power(self, node: ast.BinOp) -> sympy.Expr:
        base = self.expression(node.left)
        exponent = self.expression(node.right)
        if exponent.is_Number:
            if abs(exponent) > MAX_EXPONENT:
                raise self.fail(node.right, f"numeric exponent {exponent} is larger than {MAX_EXPONENT} in size")
            if base.is_Number and base != 0:
                digits = abs(float(sympy.log(abs(base), 10).evalf(8))) * abs(float(exponent))
                if digits > MAX_POWER_DIGITS:
                    raise self.fail(node, f"numeric power with about {digits:.0f} digits is too large")
        return base**exponent

    # --- calls --------------------------------------------------------------------------

    def call(self, node: ast.Call) -> sympy.Expr:
        if not isinstance(node.func, ast.Name):
            reason = ("attribute access is not allowed" if isinstance(node.func, ast.Attribute)
                      else "only functions called by plain name are allowed")
            raise self.fail(node.func, reason)
        ident = node.func.id
        if any(isinstance(arg, ast.Starred) for arg in node.args) or any(kw.arg is None for kw in node.keywords):
            raise self.fail(node, "starred arguments (*args, **kwargs) are not allowed")
        if ident in self.symbols:
            raise self.fail(node.func, f"{ident!r} is a variable or parameter, not a function")
        if ident == "Piecewise":
            return self.piecewise(node)
        if ident in self.functions:
            args = [self.expression(arg) for arg in node.args]
            keywords = {kw.arg: self.expression(kw.value) for kw in node.keywords}
            return self.functions[ident](args, keywords)
        if ident in FUNCTIONS:
            if node.keywords:
                raise self.fail(node.keywords[0].value, f"{ident}() takes no keyword arguments")
            if not node.args:
                raise self.fail(node, f"{ident}() needs an argument")
            return FUNCTIONS[ident](*[self.expression(arg) for arg in node.args])
        if not is_plain_identifier(ident):
            raise self.fail(node.func, f"name {ident!r} is not allowed (no names starting with '_')")
        raise self.fail(node.func, f"unknown function {ident!r}")

    def piecewise(self, node: ast.Call) -> sympy.Expr:
        if node.keywords or not node.args:
            raise self.fail(node, "Piecewise takes (expression, condition) pairs and nothing else")
        pairs = []
        for arg in node.args:
            if not (isinstance(arg, ast.Tuple) and len(arg.elts) == 2):
                raise self.fail(arg, "each Piecewise argument must be a pair (expression, condition)")
            pairs.append((self.expression(arg.elts[0]), self.condition(arg.elts[1])))
        return sympy.Piecewise(*pairs)

    # --- conditions ---------------------------------------------------------------------

    def condition(self, node: ast.AST) -> sympy.Basic:
        """Translate a node in condition position (the second element of a Piecewise pair)."""
        try:
            return self._condition(node)
        except FormulaError:
            raise
        except (TypeError, ValueError, AttributeError, ArithmeticError, RecursionError) as exc:
            raise self.fail(node, f"not a valid condition ({exc})") from None

    def _condition(self, node: ast.AST) -> sympy.Basic:
        if isinstance(node, ast.Constant) and node.value is True:
            return sympy.true
        if isinstance(node, ast.Compare):
            terms = [self.expression(node.left), *(self.expression(c) for c in node.comparators)]
            parts = []
            for op, left, right in zip(node.ops, terms, terms[1:]):
                if type(op) not in _COMPARISONS:
                    raise self.fail(node, "only <, <=, > and >= are allowed in conditions")
                parts.append(_COMPARISONS[type(op)](left, right))
            return sympy.And(*parts)
        if isinstance(node, ast.BinOp) and type(node.op) in _LOGICAL:
            return _LOGICAL[type(node.op)](self.condition(node.left), self.condition(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
            return sympy.Not(self.condition(node.operand))
        raise self.fail(node, "a condition must be a comparison, True, or conditions joined by &, |, ~")

    # --- messages -----------------------------------------------------------------------

    @staticmethod
    def describe_refusal(node: ast.AST) -> str:
        if isinstance(node, ast.Attribute):
            return "attribute access is not allowed"
        if isinstance(node, ast.Subscript):
            return "subscripts are not allowed"
        if isinstance(node, ast.Compare):
            return "comparisons are only allowed in Piecewise conditions"
        if isinstance(node, ast.BinOp) and type(node.op) in _LOGICAL:
            return "& and | are only allowed in Piecewise conditions"
        if isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
            return f"{type(node).__name__.lower()} literals are not allowed here"
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return "comprehensions are not allowed"
        if isinstance(node, ast.Lambda):
            return "lambda is not allowed"
        if isinstance(node, (ast.JoinedStr, ast.FormattedValue)):
            return "string literals are not allowed"
        if isinstance(node, ast.BinOp):
            return f"operator {type(node.op).__name__} is not allowed; use + - * / **"
        return f"{type(node).__name__} is not allowed in a formula"
