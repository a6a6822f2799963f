"""``MathForge``: the registry facade (get, list, search, explain, compare, create, register).

``MathForge()`` reads the YAML catalog (cheap) and builds nothing else: an entry's formula
is parsed on its first ``get`` and its kernel compiled on its first numeric call.

Examples:
    >>> forge = MathForge()
    >>> forge.get("relu").eval(x=5)
    5.0
    >>> forge.get("silu").name  # aliases resolve
    'swish'
    >>> forge.get("leaky_relu", params={"alpha": 0.2}).eval(x=-5)
    -1.0
    >>> x = forge.symbol("x")
    >>> custom = x * forge.get("sigmoid")(2 * x)
    >>> custom.symbolic_expr
    x*sigmoid(2*x)
    >>> forge.get("rleu")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mathforge.errors.UnknownNameError: unknown function 'rleu'; did you mean 'relu', ...? (MathForge().list_all() lists them all)
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import sympy

from .catalog import (EntrySpec, build_expression, builtin_registry_path, catalog_files, load_entry, load_pack,
                      validate_entry)
from .catalog_cache import read_catalog_data
from .errors import FormulaError, MathforgeError, RegistryError, UnknownNameError
from .explain import LEVELS, explain_expression
from .expression import Expression
from .parsing import FUNCTIONS, parse_formula_detailed
from .symbols import is_plain_identifier, symbol
from .table import ComparisonTable, compare_expressions

#: Weights of each metadata field in ``search``.
_SEARCH_FIELDS = {"description": 3, "best_for": 3, "pros": 2, "cons": 2, "usage": 1, "notes": 1}


class MathForge:
    """The catalog of formulas: built-in entries, user YAML packs and registered Expressions.

    Args:
        paths: Folders or files of user YAML packs, validated like the built-in catalog
            (formulas included). A bad pack raises ``RegistryError`` and changes nothing.
        builtin: Whether to load the built-in catalog.

    Raises:
        RegistryError: A pack is invalid, or defines a name or alias that already exists.
    """

    def __init__(self, paths: Iterable[str | os.PathLike[str]] | None = None, *, builtin: bool = True) -> None:
        self._specs: dict[str, EntrySpec] = {}
        self._built: dict[str, Expression] = {}
        self._aliases: dict[str, str] = {}
        #: Built-in entries not read yet: each YAML file is read when its entry is first
        #: needed, and all of them when an alias, a category or a new name must be checked.
        self._unread: dict[str, Path] = catalog_files(builtin_registry_path()) if builtin else {}
        self._builtin_files = dict(self._unread)
        self._builtin_data: dict[str, Any] | None = None  # the YAML data of every file, read once
        for path in paths or ():
            self.load(path)

    def _read(self, name: str) -> None:
        """Read one built-in entry (if not read yet): its YAML data, from the catalog cache."""
        file = self._unread.pop(name, None)
        if file is not None:
            if self._builtin_data is None:
                self._builtin_data = read_catalog_data(self._builtin_files)
            spec = validate_entry(self._builtin_data[name], source=str(file), expected_name=name)
            for alias in spec.aliases:
                if alias in self._aliases or alias in self._specs or alias in self._unread:
                    raise RegistryError(f"{alias!r} is already used", source=spec.source, entry=name,
                                        field="aliases")
            self._specs[name] = spec
            self._aliases.update({alias: name for alias in spec.aliases})

    def _read_all(self) -> None:
        """Read every built-in entry not read yet (aliases and categories need them all)."""
        for name in list(self._unread):
            self._read(name)

    # --- loading and registering -------------------------------------------------------------

    def load(self, path: str | os.PathLike[str]) -> list[str]:
        """Load a user pack (a folder of YAML files, or one file); all or nothing.

        Every formula is parsed before anything is added, so a bad pack leaves the
        catalog as it was.

        Returns:
            The names added, sorted.
        """
        specs = load_pack(path)
        self._read_all()
        trial = MathForge(builtin=False)
        trial._specs, trial._built, trial._aliases = dict(self._specs), dict(self._built), dict(self._aliases)
        trial._add_specs(specs)
        for name in specs:
            trial._build(name)
        self._specs, self._built, self._aliases = trial._specs, trial._built, trial._aliases
        return sorted(specs)

    def check_pack(self, path: str | os.PathLike[str]) -> tuple[int, list[str]]:
        """Validate a user pack against this forge without changing it; report every problem.

        Unlike :meth:`load`, which stops at the first error, this collects all of them
        (schema, formula, names or aliases already taken), each naming file, entry and field.

        Returns:
            The number of entries read and the list of problems (empty if the pack is good).
        """
        root = Path(path)
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*.yaml") if p.is_file()) \
            if root.is_dir() else []
        if not files:
            reason = f"no catalog file or folder at {root}" if not root.exists() else f"no *.yaml files in {root}"
            return 0, [str(RegistryError(reason))]
        self._read_all()
        trial = MathForge(builtin=False)
        trial._specs, trial._built, trial._aliases = dict(self._specs), dict(self._built), dict(self._aliases)
        problems: list[str] = []
        specs = []
        for file in files:
            try:
                spec = load_entry(file)
                trial._add_specs({spec.name: spec})  # entries of the pack may call each other
            except RegistryError as exc:
                problems.append(str(exc))
                continue
            specs.append(spec)
        for spec in specs:
            try:
                build_expression(spec, functions=_CatalogCalls(trial, exclude=spec.name))
            except RegistryError as exc:
                problems.append(str(exc))
            except (MathforgeError, LookupError, TypeError, ValueError) as exc:
                problems.append(str(RegistryError(str(exc), source=spec.source, entry=spec.name, field="formula")))
        return len(specs), problems

    def _add_specs(self, specs: Mapping[str, EntrySpec]) -> None:
        for spec in specs.values():
            for key, role in ((spec.name, "name"), *((a, "aliases") for a in spec.aliases)):
                if self._resolve(key) is not None:
                    raise RegistryError(f"{key!r} is already used by entry {self._resolve(key)!r}",
                                        source=spec.source, entry=spec.name, field=role)
            self._specs[spec.name] = spec
            self._aliases.update({alias: spec.name for alias in spec.aliases})

    def register(self, expr: Expression, name: str | None = None, *, overwrite: bool = False,
                 aliases: Sequence[str] = ()) -> Expression:
        """Add an Expression to this forge's catalog under ``name`` (default: its own name).

        Args:
            expr: The Expression.
            name: A lower-case identifier.
            overwrite: Replace an existing entry of that name; without it, an existing name
                is an error.
            aliases: Other names that resolve to it.

        Returns:
            The registered Expression (renamed to ``name``).

        Raises:
            RegistryError: The name is taken (and ``overwrite`` is false), is an alias of
                another entry, or is not a lower-case identifier.
        """
        if not isinstance(expr, Expression):
            raise TypeError(f"register() takes an Expression, not {type(expr).__name__}")
        name = expr.name if name is None else name
        for key in (name, *aliases):
            if not is_plain_identifier(key) or key != key.lower():
                raise RegistryError(f"{key!r} must be a lower-case identifier", entry=name, field="name")
        self._read_all()
        if name in self._aliases:
            raise RegistryError(f"{name!r} is an alias of {self._aliases[name]!r}", entry=name, field="name")
        exists = name in self._specs or name in self._built
        if exists and not overwrite:
            raise RegistryError(f"{name!r} is already registered; pass overwrite=True to replace it",
                                entry=name, field="name")
        for alias in aliases:
            owner = self._resolve(alias)
            if owner is not None and owner != name:
                raise RegistryError(f"alias {alias!r} is already used by {owner!r}", entry=name, field="aliases")
        if exists:
            self._aliases = {a: n for a, n in self._aliases.items() if n != name}
            self._specs.pop(name, None)
        registered = expr._replace(name=name)
        self._built[name] = registered
        self._aliases.update({alias: name for alias in aliases})
        return registered

    def create(self, name: str, formula: str, *, variables: Sequence[str] | None = None,
               params: Mapping[str, float] | None = None, category: str = "custom", overwrite: bool = False,
               reduction: str | None = None, **metadata: Any) -> Expression:
        """Parse ``formula`` safely, build an Expression and register it as ``name``.

        Catalog names may be called in the formula (``"x*sigmoid(2*x)"``,
        ``"leaky_relu(x, alpha=0.2)"``); their unset parameters become parameters of the
        new entry.

        Args:
            name: The new entry's name.
            formula: The formula text (whitelist-parsed, never evaluated).
            variables: Variable names in call order; by default the formula's unknown
                names, in order of first appearance.
            params: Parameter names and defaults.
            category: The category to file it under.
            overwrite: Replace an existing entry of that name.
            reduction: A loss's default reduction (``"mean"`` for category ``"loss"``).
            **metadata: description, pros, cons, ...

        Returns:
            The registered Expression.

        Examples:
            >>> forge = MathForge()
            >>> swish2 = forge.create("swish2", "x*sigmoid(2*x)", description="swish with beta 2")
            >>> round(swish2.eval(x=1.0), 6)
            0.880797
            >>> forge.get("swish2").metadata["description"]
            'swish with beta 2'
        """
        params = dict(params or {})
        calls = _CatalogCalls(self)
        try:
            parsed = parse_formula_detailed(formula, variables or (), params, functions=calls,
                                            infer_variables=variables is None)
        except FormulaError:
            raise
        declared = list(variables) if variables is not None else parsed.inferred_variables
        for key, value in calls.introduced_params.items():
            if key in params and params[key] != value:
                raise RegistryError(f"parameter {key!r} has default {params[key]} here but {value} in the catalog",
                                    entry=name, field="params")
            params.setdefault(key, value)
        expr = Expression(parsed.expr, declared, params, name=name, category=category, metadata=metadata,
                          constraints=calls.introduced_constraints,
                          reduction=reduction if reduction is not None else ("mean" if category == "loss" else None))
        return self.register(expr, name, overwrite=overwrite)

    def compose(self, formula: str, name: str | None = None) -> Expression:
        """Arithmetic over catalog names, parsed safely: ``forge.compose("relu + 0.1*softsign")``.

        Bare catalog names stand for their formulas (over their own variables); catalog
        names may also be called. The result's variables are those of the entries used.

        Examples:
            >>> forge = MathForge()
            >>> mix = forge.compose("relu + 0.1*softsign")
            >>> mix.variables
            ('x',)
            >>> mix.eval(x=1.0)
            1.05
        """
        calls = _CatalogCalls(self)
        values = _CatalogValues(self)
        parsed = parse_formula_detailed(formula, (), (), functions=calls, values=values)
        variables: list[str] = []
        params: dict[str, float] = dict(calls.introduced_params)
        constraints = dict(calls.introduced_constraints)
        for entry in values.used:
            variables.extend(v for v in entry.variables if v not in variables)
            for key, value in entry.params.items():
                if params.setdefault(key, value) != value:
                    raise RegistryError(f"parameter {key!r} has different defaults in the composed entries",
                                        entry=entry.name, field="params")
            constraints.update(entry.constraints)
        free = sorted(str(s) for s in parsed.expr.free_symbols if str(s) not in params and str(s) not in variables)
        if free:
            raise FormulaError(formula, f"names {free} are not variables of the entries used")
        losses = bool(values.used) and all(entry.category == "loss" for entry in values.used)
        return Expression(parsed.expr, variables, params, name=name or formula.strip(),
                          category="loss" if losses else "custom", constraints=constraints,
                          reduction="mean" if losses else None)

    # --- looking up ---------------------------------------------------------------------------

    def _resolve(self, name: str) -> str | None:
        key = name.strip().lower()
        canonical = self._aliases.get(key, key)
        if canonical in self._specs or canonical in self._built or canonical in self._unread:
            return canonical
        if self._unread:  # perhaps an alias of an entry not read yet
            self._read_all()
            return self._resolve(key)
        return None

    def _known_names(self) -> list[str]:
        self._read_all()
        return [*self._specs, *self._built, *self._aliases]

    def _build(self, name: str) -> Expression:
        built = self._built.get(name)
        if built is None:
            self._read(name)
            built = build_expression(self._specs[name], functions=_CatalogCalls(self, exclude=name))
            self._built[name] = built
        return built

    def get(self, name: str, params: Mapping[str, float] | None = None) -> Expression:
        """The entry called ``name`` (or an alias of it), optionally with parameter values.

        Args:
            name: A canonical name or alias, any case.
            params: Parameter values to set, e.g. ``{"alpha": 0.2}``.

        Returns:
            An immutable Expression; nothing done to it can change the registry.

        Raises:
            UnknownNameError: No such entry (a ``KeyError``), with up to three suggestions.
            TypeError: ``params`` names a parameter the entry does not have.
            ParameterError: A value violates the parameter's constraint.
        """
        if not isinstance(name, str):
            raise TypeError(f"get() takes a name, not {type(name).__name__}")
        canonical = self._resolve(name)
        if canonical is None:
            raise UnknownNameError(name, self._known_names())
        expr = self._build(canonical)
        return expr.with_params(**params) if params else expr

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._resolve(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.list_all())

    def __len__(self) -> int:
        return len(self._names())

    def _names(self) -> set[str]:
        return set(self._specs) | set(self._built) | set(self._unread)

    def _category(self, name: str) -> str:
        self._read(name)
        spec = self._specs.get(name)
        return spec.category if spec is not None else self._built[name].category

    def list_all(self, category: str | None = None) -> list[str]:
        """Sorted canonical names, optionally of one category.

        Raises:
            UnknownNameError: ``category`` is not one of :meth:`categories`.
        """
        names = sorted(self._names())
        if category is None:
            return names
        if category not in self.categories():
            raise UnknownNameError(category, self.categories(), kind="category")
        return [n for n in names if self._category(n) == category]

    def categories(self) -> list[str]:
        """The sorted categories present."""
        return sorted({self._category(n) for n in self._names()})

    def aliases(self, name: str) -> list[str]:
        """The aliases of an entry (sorted)."""
        canonical = self._resolve(name)
        if canonical is None:
            raise UnknownNameError(name, self._known_names())
        self._read_all()
        return sorted(a for a, n in self._aliases.items() if n == canonical)

    def metadata(self, name: str) -> Mapping[str, Any]:
        """An entry's metadata without parsing its formula."""
        canonical = self._resolve(name)
        if canonical is None:
            raise UnknownNameError(name, self._known_names())
        self._read(canonical)
        spec = self._specs.get(canonical)
        return spec.metadata if spec is not None else self._built[canonical].metadata

    def search(self, query: str) -> list[str]:
        """Names ranked by how well they match ``query`` (name, aliases, then text fields).

        Examples:
            >>> sorted(MathForge().search("dead neurons")[:2])
            ['leaky_relu', 'relu']
        """
        words = _words(query)
        if not words:
            return []
        phrase = " ".join(words)
        scores = {}
        for name in self.list_all():
            labels = [name, *self.aliases(name)]
            score = 0.0
            if any(phrase.replace(" ", "_") == label for label in labels):
                score += 100
            score += sum(10 for w in words for label in labels if w in label)
            meta = self.metadata(name)
            for key, weight in _SEARCH_FIELDS.items():
                text = meta.get(key, "")
                text = " ".join(text) if isinstance(text, (tuple, list)) else str(text)
                field_words = _words(text)
                score += weight * sum(1 for w in words if w in field_words)
                if len(words) > 1 and phrase in " ".join(field_words):
                    score += 2 * weight
            if score:
                scores[name] = score
        return sorted(scores, key=lambda n: (-scores[n], n))

    def explain(self, name: str, level: str = "beginner") -> str:
        """A text explanation of an entry; ``level`` is one of beginner, intermediate, advanced."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
        return explain_expression(self.get(name), level, aliases=self.aliases(name))

    def compare(self, names: Sequence[str], at: Sequence[float] = (-2.0, -1.0, 0.0, 1.0, 2.0), *,
                cost: bool = True) -> ComparisonTable:
        """A table of values and derivatives at ``at``, computed properties and measured cost.

        Examples:
            >>> table = MathForge().compare(["relu", "tanh"], at=[-1.0, 1.0], cost=False)
            >>> print(table)  # doctest: +NORMALIZE_WHITESPACE
            name  f(-1)    f(1)    f'(-1)  f'(1)  range    monotonic  zero-centred  smoothness  max |f'|  |f'(-10)|  |f'(10)|
            relu  0        1       0       1      [0, oo)  yes        no            C0          1         0          1
            tanh  -0.7616  0.7616  0.42    0.42   (-1, 1)  yes        yes           Cinf        1         8.245e-09  8.245e-09
        """
        return compare_expressions([self.get(n) for n in names], at, cost=cost)

    def plot(self, names: Sequence[str], x_range: tuple[float, float] = (-5.0, 5.0), *, derivative: bool = False):
        """Overlay several entries on one figure (derivatives below if asked); needs ``mathforge[plot]``."""
        from .plotting import plot_many

        return plot_many([self.get(n) for n in names], x_range, derivative=derivative)

    @staticmethod
    def symbol(name: str) -> sympy.Symbol:
        """The registry's real symbol called ``name``, for building formulas in Python."""
        return symbol(name)


# --- catalog names inside formulas --------------------------------------------------------------


class _CatalogCalls(Mapping):
    """Catalog entries as callable names in formulas: ``relu(2*x)``, ``leaky_relu(x, alpha=0.2)``.

    Built-in functions (``sigmoid``, ``tanh``, ...) keep their plain meaning. Unset
    parameters of a called entry are recorded in ``introduced_params``.
    """

    def __init__(self, forge: MathForge, exclude: str | None = None) -> None:
        self.forge = forge
        self.exclude = exclude
        self.introduced_params: dict[str, float] = {}
        self.introduced_constraints: dict[str, Any] = {}

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or name in FUNCTIONS:
            return False
        canonical = self.forge._resolve(name)
        return canonical is not None and canonical != self.exclude

    def __getitem__(self, name: str):
        if name not in self:
            raise KeyError(name)
        entry = self.forge.get(name)

        def call(args: list[sympy.Expr], keywords: dict[str, sympy.Expr]) -> sympy.Expr:
            if len(args) > len(entry.variables):
                raise TypeError(f"{entry.name}() takes {len(entry.variables)} argument(s), got {len(args)}")
            mapping = dict(zip(entry.variables, args))
            for key, value in keywords.items():
                if key not in entry.variables and key not in entry.params or key in mapping:
                    raise TypeError(f"{entry.name}() got an unexpected or repeated argument {key!r}")
                mapping[key] = value
            missing = [v for v in entry.variables if v not in mapping]
            if missing:
                raise TypeError(f"{entry.name}() is missing variable(s) {missing}")
            for key, value in entry.params.items():
                if key not in mapping:
                    if self.introduced_params.setdefault(key, value) != value:
                        raise TypeError(f"parameter {key!r} has different defaults in the entries called")
                    if key in entry.constraints:
                        self.introduced_constraints[key] = entry.constraints[key]
            return entry.symbolic_expr.xreplace({symbol(k): v for k, v in mapping.items()})

        return call

    def __iter__(self) -> Iterator[str]:
        return iter(self.forge.list_all())

    def __len__(self) -> int:
        return len(self.forge)


class _CatalogValues(Mapping):
    """Catalog entries as bare names in ``compose`` formulas: ``mse + 0.1*mae``."""

    def __init__(self, forge: MathForge) -> None:
        self.forge = forge
        self.used: list[Expression] = []

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.forge._resolve(name) is not None

    def __getitem__(self, name: str) -> sympy.Expr:
        if name not in self:
            raise KeyError(name)
        entry = self.forge.get(name)
        if entry not in self.used:
            self.used.append(entry)
        return entry.symbolic_expr

    def __iter__(self) -> Iterator[str]:
        return iter(self.forge.list_all())

    def __len__(self) -> int:
        return len(self.forge)


def _words(text: str) -> list[str]:
    """Lower-case words with a plural 's' removed, for search."""
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
            for w in re.findall(r"[a-z0-9]+", text.lower())]


__all__ = ["MathForge", "MathforgeError"]
