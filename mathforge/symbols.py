"""The registry's symbols: every variable and parameter is a real SymPy ``Symbol``.

One function creates them, so a symbol made by a user (``forge.symbol("x")``) is the same
object the catalog uses, and composition by substitution finds it.

Examples:
    >>> symbol("x")
    x
    >>> symbol("x").is_real
    True
    >>> symbol("x") == symbol("x")
    True
    >>> check_name("__class__", "variable")
    Traceback (most recent call last):
    ...
    mathforge.errors.RegistryError: variable name '__class__' is not a plain identifier (letters, digits, '_'; not starting with '_' or a digit; not a Python keyword)
"""

from __future__ import annotations

import functools
import keyword
import re

import sympy

from .errors import RegistryError

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


def is_plain_identifier(name: object) -> bool:
    """Whether ``name`` can be a variable, parameter or catalog name."""
    return isinstance(name, str) and bool(_IDENTIFIER.match(name)) and not keyword.iskeyword(name)


def check_name(name: object, what: str) -> str:
    """Return ``name`` if it is a plain identifier, else raise ``RegistryError``."""
    if not is_plain_identifier(name):
        raise RegistryError(
            f"{what} name {name!r} is not a plain identifier (letters, digits, '_'; "
            "not starting with '_' or a digit; not a Python keyword)"
        )
    return name  # type: ignore[return-value]


@functools.lru_cache(maxsize=None)
def symbol(name: str) -> sympy.Symbol:
    """The registry's real-valued symbol called ``name``.

    Args:
        name: A plain identifier such as ``"x"``, ``"alpha"`` or ``"lambda_"``.

    Returns:
        ``sympy.Symbol(name, real=True)``.
    """
    return sympy.Symbol(check_name(name, "symbol"), real=True)
