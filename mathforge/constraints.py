"""Parameter constraints such as ``"> 0"`` or ``"< max_val"``, parsed and checked.

Examples:
    >>> c = Constraint.parse("> 0")
    >>> c.check("beta", 2.0, {})
    >>> c.check("beta", -1.0, {})
    Traceback (most recent call last):
    ...
    mathforge.errors.ParameterError: parameter 'beta' must be > 0, got -1.0
    >>> Constraint.parse("< max_val").check("min_val", 3.0, {"max_val": 1.0})
    Traceback (most recent call last):
    ...
    mathforge.errors.ParameterError: parameter 'min_val' must be < max_val (= 1.0), got 3.0
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ParameterError

_OPERATORS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_SYNTAX = re.compile(r"\s*(>=|<=|>|<)\s*([A-Za-z][A-Za-z0-9_]*|[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*\Z")


@dataclass(frozen=True)
class Constraint:
    """``value OP bound``, where the bound is a number or another parameter's name."""

    op: str
    bound: float | str

    @classmethod
    def parse(cls, text: str) -> Constraint:
        """Parse ``"> 0"``, ``">= -1.5"``, ``"< max_val"``.

        Raises:
            ValueError: The text is not of that form.
        """
        match = _SYNTAX.match(text) if isinstance(text, str) else None
        if not match:
            raise ValueError(f"constraint {text!r} is not of the form '<op> <number or parameter>' "
                             f"with <op> one of {', '.join(_OPERATORS)}")
        op, bound = match.groups()
        return cls(op, bound if bound[0].isalpha() else float(bound))

    def check(self, name: str, value: float, values: Mapping[str, float]) -> None:
        """Raise ``ParameterError`` unless ``value`` satisfies the constraint.

        Args:
            name: The parameter's name, for the message.
            value: Its value.
            values: The values of the other parameters (for a bound that names one).
        """
        bound = values[self.bound] if isinstance(self.bound, str) else self.bound
        if not (math.isfinite(value) and _OPERATORS[self.op](value, bound)):
            shown = f"{self.bound} (= {bound})" if isinstance(self.bound, str) else f"{bound:g}"
            raise ParameterError(f"parameter {name!r} must be {self.op} {shown}, got {value!r}")

    def __str__(self) -> str:
        bound = self.bound if isinstance(self.bound, str) else f"{self.bound:g}"
        return f"{self.op} {bound}"
