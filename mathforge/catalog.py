"""Locating, loading and validating YAML catalog entries.

One YAML file holds one entry; its file name is the entry's canonical name. Files are
read with ``yaml.safe_load`` only. Validation checks the schema (keys, types, names),
and :func:`build_expression` checks the formula through the whitelist parser, so errors
name the file, the entry and the field.

Examples:
    >>> specs = load_pack(builtin_registry_path())
    >>> specs["relu"].category
    'activation'
    >>> specs["relu"].variables
    ('x',)
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sympy
import yaml

from .constraints import Constraint
from .errors import FormulaError, RegistryError
from .frozen import freeze
from .parsing import CatalogFunction, parse_formula
from .symbols import is_plain_identifier

REQUIRED_KEYS = ("name", "category", "variables", "formula", "range", "description", "pros", "cons",
                 "best_for", "usage", "references")
OPTIONAL_KEYS = ("aliases", "params", "frameworks", "notes", "initialization", "properties", "kind", "reduction")
#: Recommended weight initialisations.
INITIALIZATIONS = ("he", "glorot", "lecun", "any")
#: Property claims an entry may make; each is checked against the formula by the tests.
PROPERTY_KEYS = {"monotonic": bool, "bounded_below": bool, "bounded_above": bool, "zero_centered": bool,
                 "smoothness": str, "self_gated": bool}
SMOOTHNESS = ("C0", "C1", "C2", "Cinf", "discontinuous")
#: ``elementwise`` (the default) or ``vector`` (softmax-like, along an axis).
KINDS = ("elementwise", "vector", "classes")
#: Reductions a loss may declare as its default.
REDUCTIONS = ("mean", "sum", "none")
PARAM_KEYS = {"default", "description", "constraint", "trainable"}
REFERENCE_KEYS = {"title", "authors", "year", "url"}
#: Keys of an entry that are metadata (everything but the executable parts).
METADATA_KEYS = tuple(k for k in REQUIRED_KEYS + OPTIONAL_KEYS if k not in ("name", "category", "variables",
                                                                                 "formula", "params", "kind"))


def builtin_registry_path() -> Path:
    """Where the built-in catalog is: inside the installed package, else the source tree."""
    package = Path(__file__).resolve().parent
    installed = package / "_registry"
    return installed if installed.is_dir() else package.parent / "registry"


@dataclass(frozen=True)
class EntrySpec:
    """One validated catalog entry, before its formula is parsed."""

    name: str
    category: str
    variables: tuple[str, ...]
    formula: str
    params: Mapping[str, float]
    constraints: Mapping[str, Constraint]
    aliases: tuple[str, ...]
    metadata: Mapping[str, Any]
    source: str
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)
    kind: str = "elementwise"


def catalog_files(path: str | os.PathLike[str]) -> dict[str, Path]:
    """The ``*.yaml`` files below a catalog folder by entry name (the file name), unread.

    Raises:
        RegistryError: The folder is missing, or two files share a name.
    """
    root = Path(path)
    if not root.is_dir():
        raise RegistryError(f"no catalog folder at {root}")
    files: dict[str, Path] = {}
    for file in sorted(p for p in root.rglob("*.yaml") if p.is_file()):
        if file.stem in files:
            raise RegistryError(f"name also defined in {files[file.stem]}", source=str(file), entry=file.stem,
                                field="name")
        files[file.stem] = file
    return files


def load_pack(path: str | os.PathLike[str]) -> dict[str, EntrySpec]:
    """Load and validate every ``*.yaml`` file below ``path`` (or the one file ``path``).

    Raises:
        RegistryError: A file is not valid YAML, an entry breaks the schema, or two files
            share a name.
    """
    root = Path(path)
    if root.is_file():
        files = [root]
    elif root.is_dir():
        files = sorted(p for p in root.rglob("*.yaml") if p.is_file())
    else:
        raise RegistryError(f"no catalog file or folder at {root}")
    specs: dict[str, EntrySpec] = {}
    for file in files:
        spec = load_entry(file)
        if spec.name in specs:
            raise RegistryError(f"name also defined in {specs[spec.name].source}", source=str(file),
                                entry=spec.name, field="name")
        specs[spec.name] = spec
    return specs


def load_entry(file: str | os.PathLike[str]) -> EntrySpec:
    """Read one YAML file with ``yaml.safe_load`` and validate it."""
    file = Path(file)
    try:
        with open(file, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except yaml.YAMLError as exc:
        raise RegistryError(f"not valid YAML: {exc}", source=str(file)) from None
    except OSError as exc:
        raise RegistryError(f"cannot read: {exc}", source=str(file)) from None
    return validate_entry(data, source=str(file), expected_name=file.stem)


def validate_entry(data: Any, *, source: str, expected_name: str | None = None) -> EntrySpec:
    """Check one entry's schema; return it as an :class:`EntrySpec`."""
    entry = data.get("name") if isinstance(data, dict) else None
    entry = entry if isinstance(entry, str) else expected_name

    def fail(message: str, key: str | None = None) -> RegistryError:
        return RegistryError(message, source=source, entry=entry, field=key)

    if not isinstance(data, dict):
        raise fail(f"the file must hold one mapping (an entry), not {type(data).__name__}")
    unknown = sorted(set(data) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise fail(f"unknown key(s) {unknown}; allowed: {', '.join(REQUIRED_KEYS + OPTIONAL_KEYS)}", unknown[0])
    for key in REQUIRED_KEYS:
        if key not in data:
            raise fail("required key is missing", key)

    name = _text(data, "name", fail)
    if not is_plain_identifier(name) or name != name.lower():
        raise fail(f"name {name!r} must be a lower-case identifier", "name")
    if expected_name is not None and name != expected_name:
        raise fail(f"name {name!r} differs from the file name {expected_name!r}", "name")
    category = _text(data, "category", fail)
    if not is_plain_identifier(category):
        raise fail(f"category {category!r} must be an identifier", "category")
    variables = _string_list(data, "variables", fail, non_empty=True)
    for var in variables:
        if not is_plain_identifier(var):
            raise fail(f"variable name {var!r} is not a plain identifier", "variables")
    if len(set(variables)) != len(variables):
        raise fail("a variable is listed twice", "variables")
    aliases = _string_list(data, "aliases", fail) if "aliases" in data else []
    for alias in aliases:
        if not is_plain_identifier(alias) or alias != alias.lower() or alias == name:
            raise fail(f"alias {alias!r} must be a lower-case identifier other than the name", "aliases")
    if len(set(aliases)) != len(aliases):
        raise fail("an alias is listed twice", "aliases")
    params, constraints = _params(data.get("params", {}), variables, fail)
    formula = _text(data, "formula", fail)
    for key in ("range", "description", "best_for", "usage"):
        _text(data, key, fail)
    for key in ("pros", "cons"):
        _string_list(data, key, fail, non_empty=True)
    _references(data["references"], fail)
    if "frameworks" in data:
        frameworks = data["frameworks"]
        if not isinstance(frameworks, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                       for k, v in frameworks.items()):
            raise fail("must map framework names to strings", "frameworks")
    if "notes" in data:
        _text(data, "notes", fail)
    if "initialization" in data and data["initialization"] not in INITIALIZATIONS:
        raise fail(f"must be one of {', '.join(INITIALIZATIONS)}", "initialization")
    if "kind" in data and data["kind"] not in KINDS:
        raise fail(f"must be one of {', '.join(KINDS)}", "kind")
    if "reduction" in data and data["reduction"] not in REDUCTIONS:
        raise fail(f"must be one of {', '.join(REDUCTIONS)}", "reduction")
    if "properties" in data:
        _properties(data["properties"], fail)
    metadata = {key: data[key] for key in METADATA_KEYS if key in data}
    if params:
        metadata["params"] = {k: {kk: vv for kk, vv in v.items()} for k, v in data["params"].items()}
    return EntrySpec(name=name, category=category, variables=tuple(variables), formula=formula,
                     params=params, constraints=constraints, aliases=tuple(aliases),
                     metadata=freeze(metadata), source=source, raw=freeze(data),
                     kind=data.get("kind", "elementwise"))


def build_expression(spec: EntrySpec, functions: Mapping[str, CatalogFunction] | None = None):
    """Parse an entry's formula (whitelist parser) into an :class:`~mathforge.Expression`.

    Raises:
        RegistryError: The formula is refused, naming file, entry and field ``formula``.
    """
    from .expression import Expression

    if spec.kind == "vector":
        return _build_vector(spec)
    if spec.kind == "classes":
        return _build_classes(spec)
    try:
        expr = parse_formula(spec.formula, spec.variables, spec.params, functions=functions)
    except FormulaError as exc:
        raise RegistryError(str(exc), source=spec.source, entry=spec.name, field="formula") from None
    return Expression(expr, spec.variables, spec.params, name=spec.name, category=spec.category,
                      metadata=spec.metadata, constraints=spec.constraints, reduction=_default_reduction(spec))


def _default_reduction(spec: EntrySpec) -> str | None:
    """A loss reduces (``"mean"`` unless its entry says otherwise); other entries do not."""
    declared = spec.raw.get("reduction")
    return declared if declared is not None else ("mean" if spec.category == "loss" else None)


def _build_classes(spec: EntrySpec):
    """A ``kind: classes`` entry: ``cross_entropy(logits, target)`` over a class axis."""
    from .vector import ClassCrossEntropy

    called = []
    try:
        parse_formula(spec.formula, spec.variables, spec.params,
                      functions={"cross_entropy": lambda args, keywords: called.append(args) or sympy.S.Zero})
    except FormulaError as exc:
        raise RegistryError(str(exc), source=spec.source, entry=spec.name, field="formula") from None
    if len(called) != 1 or tuple(spec.variables) != ("logits", "target") or spec.params:
        raise RegistryError("a classes entry's formula is cross_entropy(logits, target), with variables "
                            "[logits, target] and no parameters", source=spec.source, entry=spec.name, field="formula")
    return ClassCrossEntropy(name=spec.name, category=spec.category, metadata=spec.metadata,
                             reduction=_default_reduction(spec) or "mean")


def _build_vector(spec: EntrySpec):
    """A ``kind: vector`` entry: its formula is one call of an axis function, e.g. ``softmax(x)``."""
    from .vector import AXIS_FUNCTIONS, VectorExpression

    called = []
    functions = {name: (lambda args, keywords, f=f: called.append(f) or f.textbook)
                 for name, f in AXIS_FUNCTIONS.items()}
    try:
        expr = parse_formula(spec.formula, spec.variables, spec.params, functions=functions)
    except FormulaError as exc:
        raise RegistryError(str(exc), source=spec.source, entry=spec.name, field="formula") from None
    if len(called) != 1 or expr != called[0].textbook or spec.params:
        raise RegistryError(f"a vector entry's formula is one call of {', '.join(AXIS_FUNCTIONS)} "
                            "on its variable, with no parameters", source=spec.source, entry=spec.name,
                            field="formula")
    return VectorExpression(called[0], name=spec.name, category=spec.category, metadata=spec.metadata)


# --- field checks -----------------------------------------------------------------------------


def _text(data: Mapping[str, Any], key: str, fail) -> str:
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise fail(f"must be a non-empty string, not {type(value).__name__} {value!r}", key)
    return value


def _string_list(data: Mapping[str, Any], key: str, fail, non_empty: bool = False) -> list[str]:
    value = data[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise fail(f"must be a list of non-empty strings, not {value!r}", key)
    if non_empty and not value:
        raise fail("must not be empty", key)
    return value


def _params(raw: Any, variables: Iterable[str], fail) -> tuple[dict[str, float], dict[str, Constraint]]:
    if not isinstance(raw, dict):
        raise fail("must map parameter names to {default, description, constraint}", "params")
    params: dict[str, float] = {}
    constraints: dict[str, Constraint] = {}
    for key, spec in raw.items():
        where = f"params.{key}"
        if not is_plain_identifier(key):
            raise fail(f"parameter name {key!r} is not a plain identifier", where)
        if key in variables:
            raise fail(f"{key!r} is both a variable and a parameter", where)
        if not isinstance(spec, dict):
            raise fail("must be a mapping with at least 'default'", where)
        unknown = sorted(set(spec) - PARAM_KEYS)
        if unknown:
            raise fail(f"unknown key(s) {unknown}; allowed: {sorted(PARAM_KEYS)}", where)
        default = spec.get("default")
        if isinstance(default, bool) or not isinstance(default, (int, float)) or not math.isfinite(default):
            raise fail(f"'default' must be a finite number, not {default!r}", where)
        if not isinstance(spec.get("description", ""), str):
            raise fail("'description' must be a string", where)
        if not isinstance(spec.get("trainable", False), bool):
            raise fail("'trainable' must be true or false", where)
        params[key] = float(default)
        if "constraint" in spec:
            try:
                constraints[key] = Constraint.parse(spec["constraint"])
            except ValueError as exc:
                raise fail(str(exc), where) from None
    for key, constraint in constraints.items():
        if isinstance(constraint.bound, str) and constraint.bound not in params:
            raise fail(f"constraint names unknown parameter {constraint.bound!r}", f"params.{key}")
        try:
            constraint.check(key, params[key], params)
        except ValueError as exc:
            raise fail(f"the default breaks the constraint: {exc}", f"params.{key}") from None
    return params, constraints


def _properties(raw: Any, fail) -> None:
    if not isinstance(raw, dict):
        raise fail("must map property names to values", "properties")
    for key, value in raw.items():
        where = f"properties.{key}"
        if key not in PROPERTY_KEYS:
            raise fail(f"unknown property; allowed: {', '.join(PROPERTY_KEYS)}", where)
        if not isinstance(value, PROPERTY_KEYS[key]):
            raise fail(f"must be a {PROPERTY_KEYS[key].__name__}", where)
        if key == "smoothness" and value not in SMOOTHNESS:
            raise fail(f"must be one of {', '.join(SMOOTHNESS)}", where)


def _references(raw: Any, fail) -> None:
    if not isinstance(raw, list) or not raw:
        raise fail("must be a non-empty list of {title, authors, year, url}", "references")
    for index, ref in enumerate(raw):
        where = f"references[{index}]"
        if not isinstance(ref, dict) or not {"title", "authors", "year"} <= set(ref):
            raise fail("needs title, authors and year", where)
        unknown = sorted(set(ref) - REFERENCE_KEYS)
        if unknown:
            raise fail(f"unknown key(s) {unknown}", where)
        if not isinstance(ref["year"], int) or isinstance(ref["year"], bool):
            raise fail("year must be an integer", where)
        if not all(isinstance(ref[k], str) for k in ref if k != "year"):
            raise fail("title, authors and url must be strings", where)
