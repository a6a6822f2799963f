"""MathForge: lookup, laziness, create/register/compose, search, explain, compare."""

from __future__ import annotations

import math

import pytest
import sympy

import mathforge.catalog as catalog_module
import mathforge.catalog_cache as catalog_cache
import mathforge.forge as forge_module
from mathforge import Expression, FormulaError, MathForge, RegistryError, UnknownNameError, symbol


@pytest.fixture
def forge() -> MathForge:
    return MathForge()


def test_construction_parses_no_formula(monkeypatch):
    parsed = []
    original = catalog_module.parse_formula
    monkeypatch.setattr(catalog_module, "parse_formula", lambda *a, **k: parsed.append(a[0]) or original(*a, **k))
    forge = MathForge()
    assert parsed == []
    forge.get("relu")
    assert parsed == ["Piecewise((x, x > 0), (0, True))"]
    forge.get("relu")
    assert len(parsed) == 1  # built once


def test_entries_are_validated_when_needed(monkeypatch):
    """Start-up validates nothing; get(name) that one entry; an alias or category all of them."""
    validated = []
    original = forge_module.validate_entry
    monkeypatch.setattr(forge_module, "validate_entry",
                        lambda data, **kw: validated.append(kw["expected_name"]) or original(data, **kw))
    forge = MathForge()
    assert validated == []
    assert forge.get("relu").eval(x=5) == 5.0 and validated == ["relu"]
    assert "swish" in forge.list_all() and validated == ["relu"]  # names are file names
    assert forge.get("SiLU").name == "swish"  # an alias (of swish): every entry is read to find it
    assert sorted(validated) == sorted(forge.list_all())
    assert len(validated) == len(set(validated))  # each entry read once


def test_catalog_cache_spares_yaml_parsing(monkeypatch, tmp_path):
    """The first read stores the YAML data as JSON; later forges parse no YAML; a bad cache is ignored."""
    monkeypatch.setenv("MATHFORGE_CACHE_DIR", str(tmp_path))
    parsed = []
    original = catalog_cache.yaml.safe_load
    monkeypatch.setattr(catalog_cache.yaml, "safe_load", lambda stream: parsed.append(1) or original(stream))
    assert MathForge().get("relu").eval(x=2.0) == 2.0
    files = list(tmp_path.glob("catalog-*.json"))
    assert len(files) == 1 and len(parsed) == len(MathForge().list_all())
    parsed.clear()
    assert MathForge().get("mse").eval(y_pred=3.0, y_true=1.0) == 4.0 and parsed == []
    files[0].write_text("{not json", encoding="utf-8")
    assert MathForge().get("relu").eval(x=2.0) == 2.0 and parsed  # read from YAML again
    monkeypatch.setenv("MATHFORGE_CACHE_DIR", "")  # turned off: nothing written, YAML every time
    files[0].unlink()
    parsed.clear()
    assert MathForge().get("relu").eval(x=2.0) == 2.0 and parsed and not list(tmp_path.glob("catalog-*.json"))


def test_catalog_cache_key_follows_the_files(tmp_path):
    for name in ("a", "b"):
        (tmp_path / f"{name}.yaml").write_text(f"name: {name}\n", encoding="utf-8")
    files = {"a": tmp_path / "a.yaml", "b": tmp_path / "b.yaml"}
    key = catalog_cache.catalog_key(files)
    assert catalog_cache.catalog_key(dict(files)) == key
    (tmp_path / "a.yaml").write_text("name: a\nformula: x\n", encoding="utf-8")  # edited
    assert catalog_cache.catalog_key(files) != key
    assert catalog_cache.catalog_key({"a": files["a"]}) != catalog_cache.catalog_key(files)  # removed


def test_list_all_sorted_and_by_category(forge):
    names = forge.list_all()
    assert names == sorted(names)
    activations, losses = forge.list_all(category="activation"), forge.list_all(category="loss")
    assert sorted(activations + losses) == names and "relu" in activations and "mse" in losses
    assert forge.categories() == ["activation", "loss"]
    with pytest.raises(UnknownNameError, match="category"):
        forge.list_all(category="activatoin")


def test_lookup_is_case_insensitive_and_resolves_aliases(forge):
    assert forge.get("ReLU").name == "relu"
    assert forge.get("SiLU").name == "swish"
    assert "silu" in forge and "nope" not in forge
    assert forge.aliases("swish") == ["silu"]


def test_get_returns_independent_immutable_objects(forge):
    a = forge.get("leaky_relu", params={"alpha": 0.3})
    b = forge.get("leaky_relu")
    assert a.params["alpha"] == 0.3 and b.params["alpha"] == 0.01
    assert forge.get("leaky_relu").eval(x=-1.0) == -0.01


def test_create_registers_and_calls_catalog_entries(forge):
    swish2 = forge.create("swish2", "x*sigmoid(2*x)", description="swish, beta 2")
    assert swish2.variables == ("x",)
    assert forge.get("swish2").eval(x=1.0) == pytest.approx(1 / (1 + math.exp(-2)), rel=1e-15)
    leaky = forge.create("my_leaky", "leaky_relu(x, alpha=0.2) + relu(x)")
    assert leaky.eval(x=-5.0) == pytest.approx(-1.0, rel=1e-15)
    assert leaky.params == {}
    kept = forge.create("kept_alpha", "2*leaky_relu(t)")
    assert kept.variables == ("t",) and kept.params == {"alpha": 0.01}
    assert kept.eval(t=-1.0, alpha=0.5) == -1.0
    with pytest.raises(RegistryError, match="already registered"):
        forge.create("swish2", "x")
    assert forge.create("swish2", "2*x", overwrite=True).eval(x=1.0) == 2.0


def test_create_with_declared_variables_and_params(forge):
    e = forge.create("scaled", "gamma*tanh(beta*u)", variables=["u"], params={"gamma": 2.0, "beta": 0.5})
    assert e.params == {"gamma": 2.0, "beta": 0.5}
    assert e.eval(u=1.0) == pytest.approx(2 * math.tanh(0.5), rel=1e-15)
    with pytest.raises(FormulaError, match="unknown name 'v'"):
        forge.create("bad", "u + v", variables=["u"])


def test_create_refuses_hostile_formula(forge, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FormulaError):
        forge.create("evil", "__import__('os').system('touch PWNED')")
    assert not (tmp_path / "PWNED").exists()
    assert "evil" not in forge


def test_register_rules(forge):
    x = symbol("x")
    e = Expression(x**2, ["x"], name="square")
    registered = forge.register(e)
    assert forge.get("square") is registered
    with pytest.raises(RegistryError, match="overwrite=True"):
        forge.register(e)
    with pytest.raises(RegistryError, match="alias of 'swish'"):
        forge.register(e, name="silu")
    with pytest.raises(RegistryError, match="lower-case identifier"):
        forge.register(e, name="Bad Name")
    replaced = forge.register(Expression(x**3, ["x"]), name="relu", overwrite=True)
    assert forge.get("relu") is replaced
    assert MathForge().get("relu").eval(x=-2.0) == 0.0  # other forges keep the built-in


def test_compose_over_catalog_names(forge):
    mix = forge.compose("relu + 0.1*softsign")
    assert mix.variables == ("x",)
    assert mix.eval(x=-1.0) == pytest.approx(0.1 * -0.5, rel=1e-15)
    g = mix.gradient("x")
    assert g.eval(x=1.0) == pytest.approx(1 + 0.1 * 0.25, rel=1e-15)
    both = forge.compose("leaky_relu + swish")
    assert both.params == {"alpha": 0.01, "beta": 1.0}
    with pytest.raises(FormulaError):
        forge.compose("relu + nothing_here")


def test_search_ranks_names_then_text(forge):
    assert forge.search("gelu")[0] == "gelu"
    assert forge.search("silu")[0] == "swish"
    assert set(forge.search("dead neurons")[:2]) == {"relu", "leaky_relu"}
    assert forge.search("transformer")[0] in {"gelu", "gelu_tanh"}
    assert forge.search("") == []
    assert forge.search("zzzqqq xyzzy") == []


@pytest.mark.parametrize("level", ["beginner", "intermediate", "advanced"])
def test_explain_levels_grow(forge, level):
    text = forge.explain("elu", level=level)
    assert text.startswith("elu: f(x) = ")
    assert ("Derivative:" in text) == (level != "beginner")
    assert ("Reference:" in text) == (level == "advanced")


def test_explain_rejects_unknown_level(forge):
    with pytest.raises(ValueError, match="beginner"):
        forge.explain("relu", level="expert")


def test_compare_table_has_data_and_renders(forge):
    table = forge.compare(["relu", "sigmoid", "tanh"], at=[-1.0, 0.0, 1.0])
    rows = {r["name"]: r for r in table.rows}
    assert rows["sigmoid"]["f(0)"] == 0.5 and rows["sigmoid"]["f'(0)"] == 0.25
    assert rows["relu"]["f'(0)"] == 0.0
    assert rows["tanh"]["f(1)"] == pytest.approx(math.tanh(1.0), rel=1e-15)
    assert rows["sigmoid"]["max |f'|"] == pytest.approx(0.25, rel=1e-12)
    assert rows["tanh"]["|f'(10)|"] == pytest.approx(1 / math.cosh(10) ** 2, rel=1e-12)
    assert rows["relu"]["smoothness"] == "C0" and rows["tanh"]["zero-centred"] is True
    assert all(r["ns/elem"] > 0 for r in table.rows)
    text = str(table)
    assert text.splitlines()[0].split()[:7] == ["name", "f(-1)", "f(0)", "f(1)", "f'(-1)", "f'(0)", "f'(1)"]
    assert len(text.splitlines()) == 4
    assert table.to_dict()["rows"][0]["name"] == "relu"
    assert "<table>" in table._repr_html_()


def test_symbol_is_the_registry_symbol(forge):
    assert forge.symbol("x") == sympy.Symbol("x", real=True)
    assert forge.symbol("x") in forge.get("relu").symbolic_expr.free_symbols
