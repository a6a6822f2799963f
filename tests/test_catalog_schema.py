"""Catalog loading: every built-in entry is valid, and bad packs fail naming file, entry and field."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import sympy
import yaml

from mathforge import MathForge, RegistryError
from mathforge.catalog import builtin_registry_path, load_entry, load_pack
from mathforge.parsing import parse_formula

BUILTIN_FILES = sorted(builtin_registry_path().rglob("*.yaml"))

GOOD = {
    "name": "scaled_tanh",
    "category": "activation",
    "aliases": ["stanh"],
    "variables": ["x"],
    "params": {"gamma": {"default": 1.7159, "description": "scale", "constraint": "> 0"},
               "beta": {"default": 0.6667, "description": "slope"}},
    "formula": "gamma*tanh(beta*x)",
    "range": "(-gamma, gamma)",
    "description": "LeCun's scaled tanh.",
    "pros": ["zero-centred", "bounded"],
    "cons": ["saturates"],
    "best_for": "small MLPs",
    "usage": "hidden layers",
    "references": [{"title": "Efficient BackProp", "authors": "LeCun et al.", "year": 1998}],
}


def write_pack(folder: Path, *entries: dict, file_names: list[str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, entry in enumerate(entries):
        name = file_names[index] if file_names else entry["name"]
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(entry, sort_keys=False))
    return folder


def variant(**changes) -> dict:
    entry = copy.deepcopy(GOOD)
    for key, value in changes.items():
        if value is None:
            entry.pop(key)
        else:
            entry[key] = value
    return entry


# --- the built-in catalog ------------------------------------------------------------------

@pytest.mark.parametrize("path", BUILTIN_FILES, ids=[p.stem for p in BUILTIN_FILES])
def test_every_builtin_entry_is_valid_and_its_formula_parses(path):
    spec = load_entry(path)
    assert spec.name == path.stem
    entry = MathForge().get(spec.name)
    if entry.kind in ("vector", "classes"):  # a textbook formula over x[1..n]: tested in test_vector/test_losses
        assert entry.symbolic_expr.has(sympy.Indexed)
        return
    expr = entry.symbolic_expr
    declared = {sympy.Symbol(n, real=True) for n in (*spec.variables, *spec.params)}
    assert expr.free_symbols <= declared
    assert not expr.atoms(sympy.core.function.AppliedUndef), "undefined function in formula"
    parse_formula(spec.formula, spec.variables, spec.params)  # the whitelist accepts it as written
    meta = spec.metadata
    assert len(meta["pros"]) >= 2 and len(meta["cons"]) >= 1
    assert all(ref["year"] > 1900 for ref in meta["references"])


def test_builtin_names_and_aliases_are_unique():
    specs = load_pack(builtin_registry_path())
    labels = [label for s in specs.values() for label in (s.name, *s.aliases)]
    assert len(labels) == len(set(labels))


def test_first_catalog_is_complete():
    names = set(MathForge().list_all(category="activation"))
    required = {"relu", "leaky_relu", "sigmoid", "tanh", "softplus", "elu", "selu", "swish", "gelu",
                "gelu_tanh", "softsign", "linear"}
    assert required <= names
    forge = MathForge()
    assert forge.get("silu").name == "swish" and forge.get("identity").name == "linear"


# --- bad packs -----------------------------------------------------------------------------

@pytest.mark.parametrize(("entry", "field", "words"), [
    (variant(colour="blue"), "colour", "unknown key"),
    (variant(description=None), "description", "missing"),
    (variant(pros="fast"), "pros", "list"),
    (variant(pros=[]), "pros", "empty"),
    (variant(variables="x"), "variables", "list"),
    (variant(name="Scaled Tanh"), "name", "identifier"),
    (variant(aliases=["scaled_tanh"]), "aliases", "other than the name"),
    (variant(params={"gamma": {"default": "big"}}), "params.gamma", "finite number"),
    (variant(params={"gamma": {"default": 1.0, "constraint": "positive"}}), "params.gamma", "constraint"),
    (variant(params={"gamma": {"default": -1.0, "constraint": "> 0"}}), "params.gamma", "breaks the constraint"),
    (variant(params={"gamma": {"default": 1.0, "colour": 1}}), "params.gamma", "unknown key"),
    (variant(params={"x": {"default": 1.0}}), "params.x", "both a variable and a parameter"),
    (variant(references=[{"title": "t"}]), "references[0]", "authors"),
    (variant(references=[{"title": "t", "authors": "a", "year": "1998"}]), "references[0]", "integer"),
    (variant(frameworks=["torch"]), "frameworks", "map"),
])
def test_schema_errors_name_file_entry_and_field(tmp_path, entry, field, words):
    pack = write_pack(tmp_path / "pack", entry, file_names=["scaled_tanh"])
    with pytest.raises(RegistryError) as info:
        MathForge(paths=[pack])
    message = str(info.value)
    assert "scaled_tanh.yaml" in message
    assert f"entry {info.value.entry!r}" in message and f"field {field!r}" in message
    assert info.value.field == field
    assert words in message


@pytest.mark.parametrize(("formula", "words"), [
    ("gamma*tanh(beta*x) + y", "unknown name 'y'"),
    ("gamma*exq(beta*x)", "unknown function 'exq'"),
    ("__import__('os').system('touch PWNED')", "attribute access"),
    ("gamma*tanh(beta*x", "not a valid expression"),
])
def test_formula_errors_are_registry_errors_on_field_formula(tmp_path, monkeypatch, formula, words):
    monkeypatch.chdir(tmp_path)
    pack = write_pack(tmp_path / "pack", variant(formula=formula))
    with pytest.raises(RegistryError) as info:
        MathForge(paths=[pack])
    assert info.value.field == "formula" and info.value.entry == "scaled_tanh"
    assert words in str(info.value)
    assert not (tmp_path / "PWNED").exists()


def test_file_name_must_equal_name(tmp_path):
    pack = write_pack(tmp_path / "pack", GOOD, file_names=["other_name"])
    with pytest.raises(RegistryError, match="differs from the file name"):
        MathForge(paths=[pack])


def test_duplicate_name_or_alias_against_builtin(tmp_path):
    with pytest.raises(RegistryError, match="already used by entry 'relu'"):
        MathForge(paths=[write_pack(tmp_path / "a", variant(name="relu"))])
    with pytest.raises(RegistryError, match="'silu' is already used by entry 'swish'"):
        MathForge(paths=[write_pack(tmp_path / "b", variant(aliases=["silu"]))])


def test_not_a_mapping_and_invalid_yaml(tmp_path):
    (tmp_path / "p1").mkdir()
    (tmp_path / "p1" / "a.yaml").write_text("- just\n- a list\n")
    with pytest.raises(RegistryError, match="one mapping"):
        MathForge(paths=[tmp_path / "p1"])
    (tmp_path / "p2").mkdir()
    (tmp_path / "p2" / "b.yaml").write_text("name: [unclosed\n")
    with pytest.raises(RegistryError, match="not valid YAML"):
        MathForge(paths=[tmp_path / "p2"])


def test_yaml_tags_that_would_run_code_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "evil.yaml").write_text(
        "name: !!python/object/apply:os.system ['touch PWNED']\n")
    with pytest.raises(RegistryError):
        MathForge(paths=[tmp_path / "p"])
    assert not (tmp_path / "PWNED").exists()


def test_good_pack_loads_with_gamma_and_beta_as_parameters(tmp_path):
    forge = MathForge(paths=[write_pack(tmp_path / "pack", GOOD)])
    e = forge.get("stanh")
    assert e.name == "scaled_tanh" and e.params == {"gamma": 1.7159, "beta": 0.6667}
    assert e.eval(x=1.0) == pytest.approx(1.7159 * math.tanh(0.6667), rel=1e-15)
    # gamma and beta are plain symbols here, not SymPy's gamma/beta functions
    assert all(isinstance(s, sympy.Symbol) for s in e.symbolic_expr.free_symbols)
    assert not e.symbolic_expr.has(sympy.gamma, sympy.beta)


def test_bad_pack_leaves_the_catalog_unchanged(tmp_path):
    forge = MathForge()
    before = forge.list_all()
    good = variant(name="fine_one", aliases=[])
    bad = variant(name="broken_one", aliases=[], formula="x + nope")
    with pytest.raises(RegistryError):
        forge.load(write_pack(tmp_path / "mixed", good, bad))
    assert forge.list_all() == before
    assert "fine_one" not in forge


def test_missing_pack_folder(tmp_path):
    with pytest.raises(RegistryError, match="no catalog file or folder"):
        MathForge(paths=[tmp_path / "nowhere"])
