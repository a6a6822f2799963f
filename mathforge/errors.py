"""The exception hierarchy of mathforge.

Every error the library raises on purpose derives from :class:`MathforgeError`, and
also from the built-in exception a Python user would expect (``KeyError`` for an
unknown name, ``ValueError`` for bad formula text), so ``except KeyError`` keeps working.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class MathforgeError(Exception):
    """Base class of every error raised by mathforge."""


class UnknownNameError(MathforgeError, KeyError):
    """A name (function, alias, variable or parameter) that the registry does not know.

    Args:
        name: The name that was asked for.
        known: The names that would have been accepted; up to three close matches are
            suggested.
        kind: What was looked up, for the message (``"function"``, ``"parameter"``).

    Examples:
        >>> err = UnknownNameError("rleu", ["relu", "elu", "selu"])
        >>> print(err)
        unknown function 'rleu'; did you mean 'relu', 'elu' or 'selu'? (MathForge().list_all() lists them all)
        >>> err.suggestions
        ('relu', 'elu', 'selu')
    """

    def __init__(self, name: str, known: Iterable[str], kind: str = "function") -> None:
        known = list(known)
        self.name = name
        self.suggestions = tuple(difflib.get_close_matches(name, sorted(set(known)), n=3, cutoff=0.5))
        message = f"unknown {kind} {name!r}"
        if self.suggestions:
            quoted = [repr(s) for s in self.suggestions]
            alternatives = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
            message += f"; did you mean {alternatives}?"
        if kind in ("function", "category"):
            message += f" (MathForge().{'list_all' if kind == 'function' else 'categories'}() lists them all)"
        else:
            message += f" (valid: {', '.join(known) or 'none'})"
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would repr() the message; keep it readable.
        return str(self.args[0])


class FormulaError(MathforgeError, ValueError):
    """Formula text that the whitelist parser refuses. Nothing in it was executed.

    Attributes:
        text: The formula text (shortened when very long).
        column: 1-based column of the offending part, or ``None`` when the whole text is
            at fault (too long, empty).
        reason: Why it was refused.
    """

    def __init__(self, text: str, reason: str, column: int | None = None) -> None:
        self.text = text if len(text) <= 120 else text[:117] + "..."
        self.reason = reason
        self.column = column
        where = f" at column {column}" if column is not None else ""
        super().__init__(f"formula {self.text!r} refused{where}: {reason}")


class RegistryError(MathforgeError, ValueError):
    """A catalog entry that is invalid, or a registration that would overwrite one.

    The message names the file, the entry and the field at fault.
    """

    def __init__(self, message: str, *, source: str | None = None, entry: str | None = None,
                 field: str | None = None) -> None:
        self.source = source
        self.entry = entry
        self.field = field
        parts = []
        if source:
            parts.append(f"file {source}")
        if entry:
            parts.append(f"entry {entry!r}")
        if field:
            parts.append(f"field {field!r}")
        prefix = (", ".join(parts) + ": ") if parts else ""
        super().__init__(prefix + message)


class ParameterError(MathforgeError, ValueError):
    """A parameter value that violates the entry's declared constraint (e.g. ``beta > 0``)."""
