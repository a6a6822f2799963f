"""The ``mathforge`` command through ``main(argv)``: exit codes, stdout, stderr, JSON."""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import re
import struct
import sys
from pathlib import Path

import pytest
import sympy
import yaml

from mathforge.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


needs_properties = pytest.mark.skipif(not has_module("mathforge.properties"),
                                      reason="mathforge.properties (compute_properties) is not written yet")


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def run_json(capsys, *argv: str):
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    return json.loads(out)


@needs_properties  # the tour's tables use the computed properties
def test_tour_walks_through_the_catalog(capsys):
    code, out, err = run(capsys, "tour")
    assert code == 0 and err == ""
    for name in ("relu", "leaky_relu", "sigmoid", "gelu", "swish", "softplus"):
        assert re.search(rf"^\s+{name}\s", out, re.MULTILINE), name
    # e**1 = 2.718 beats squareplus(1) = (1 + sqrt 5)/2 = 1.618 and softplus(1) = log(1 + e) = 1.313
    assert f"The largest at x = 1 is exponential ({math.e:.6g})" in out
    assert "the largest gradient at x = 0 is selu's" in out  # lambda*alpha = 1.758
    assert f"{1 / (1 + math.exp(-1)) * (1 - 1 / (1 + math.exp(-1))):.10g}" in out  # sigmoid'(1)
    assert "f(x)  = x*sigmoid(2*x)" in out
    assert "d/dx relu(x) = Piecewise((1, x > 0), (0, True))" in out


def test_list_plain_and_json(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0 and "relu" in out.split()
    code, out, _ = run(capsys, "list", "--category", "activation", "--json")
    names = json.loads(out)
    assert code == 0 and names == sorted(names) and "gelu_tanh" in names


def test_show_text_and_json(capsys):
    code, out, _ = run(capsys, "show", "silu")
    assert code == 0
    assert out.startswith("swish: f(x) = x*sigmoid(beta*x)")
    assert "Derivative:" in out and "Reference:" in out and "f(1)=0.731059" in out
    code, out, _ = run(capsys, "show", "leaky_relu", "--json")
    data = json.loads(out)
    assert data["params"] == {"alpha": 0.01}
    assert data["values"]["-1"] == -0.01 and data["derivative_values"]["0"] == 0.01
    assert data["metadata"]["pros"]


@pytest.mark.parametrize(("argv", "words"), [
    (["show", "rleu"], "did you mean 'relu'"),
    (["list", "--category", "activatoin"], "did you mean 'activation'"),
])
def test_user_mistakes_exit_1_with_a_message_and_no_traceback(capsys, argv, words):
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.startswith("mathforge: error:") and words in err
    assert "Traceback" not in err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


# --- eval ---------------------------------------------------------------------------------------


def test_eval_prints_a_two_column_table(capsys):
    code, out, err = run(capsys, "eval", "tanh", "-1", "0", "0.5", "2")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["x", "f(x)"] and len(lines) == 5
    for line, x in zip(lines[1:], (-1.0, 0.0, 0.5, 2.0)):
        left, right = line.split()
        assert float(left) == x
        assert float(right) == pytest.approx(math.tanh(x), rel=1e-15, abs=1e-300)


def test_eval_json_against_closed_forms(capsys):
    points = [-3.0, -0.5, 0.0, 1.0, 4.0]
    data = run_json(capsys, "eval", "sigmoid", *map(str, points), "--json")
    assert data["name"] == "sigmoid" and data["params"] == {}
    assert [x for x, _ in data["values"]] == points
    for x, y in data["values"]:
        assert y == pytest.approx(sigmoid(x), rel=1e-14)
    data = run_json(capsys, "eval", "softplus", "-2", "0", "3", "--json")
    for x, y in data["values"]:
        assert y == pytest.approx(math.log1p(math.exp(x)), rel=1e-14)


def test_eval_grad_evaluates_the_derivative(capsys):
    data = run_json(capsys, "eval", "sigmoid", "-2", "0", "1.5", "--grad", "--json")
    assert data["grad"] is True
    for x, y in data["values"]:
        assert y == pytest.approx(sigmoid(x) * (1 - sigmoid(x)), rel=1e-13)
    data = run_json(capsys, "eval", "tanh", "-1", "0.3", "--grad", "--json")
    for x, y in data["values"]:
        assert y == pytest.approx(1 - math.tanh(x) ** 2, rel=1e-13)
    code, out, _ = run(capsys, "eval", "relu", "-1", "2", "--grad")
    assert code == 0 and out.splitlines()[0].split() == ["x", "f'(x)"]
    assert [line.split() for line in out.splitlines()[1:]] == [["-1.0", "0.0"], ["2.0", "1.0"]]


def test_eval_with_a_parameter(capsys):
    code, out, err = run(capsys, "eval", "leaky_relu", "-5", "--param", "alpha=0.2")
    assert code == 0 and err == ""
    assert out.splitlines()[1].split() == ["-5.0", "-1.0"]
    data = run_json(capsys, "eval", "leaky_relu", "-5", "3", "--param", "alpha=0.2", "--json")
    assert data == {"name": "leaky_relu", "grad": False, "params": {"alpha": 0.2},
                    "values": [[-5.0, -1.0], [3.0, 3.0]]}
    data = run_json(capsys, "eval", "leaky_relu", "-5", "--param", "alpha=0.2", "--grad", "--json")
    assert data["values"] == [[-5.0, 0.2]]
    data = run_json(capsys, "eval", "elu", "-1", "--param", "alpha=2", "--json")
    assert data["values"][0][1] == pytest.approx(2 * math.expm1(-1), rel=1e-15)


def test_eval_accepts_inf_and_nan_and_writes_valid_json(capsys):
    code, out, err = run(capsys, "eval", "relu", "-inf", "inf", "nan", "-1e-3", "--json")
    assert code == 0 and err == ""
    assert "NaN" not in out and "Infinity" not in out
    data = json.loads(out)
    assert data["values"] == [["-inf", 0.0], ["inf", "inf"], ["nan", "nan"], [-0.001, 0.0]]
    data = run_json(capsys, "eval", "tanh", "-inf", "inf", "--json")
    assert data["values"] == [["-inf", -1.0], ["inf", 1.0]]
    code, out, _ = run(capsys, "eval", "exponential", "-inf", "inf")
    assert code == 0 and [line.split() for line in out.splitlines()[1:]] == [["-inf", "0.0"], ["inf", "inf"]]


@pytest.mark.parametrize(("argv", "words"), [
    (["eval", "relu", "1", "--param", "alpah=1"], "'alpah'"),
    (["eval", "leaky_relu", "1", "--param", "alpah=1"], "alpha"),  # the valid names are listed
    (["eval", "rleu", "1"], "did you mean 'relu'"),
    (["eval", "softplus", "1", "--param", "beta=0"], "beta"),  # constraint beta > 0
    (["eval", "softmax", "1", "2"], "vector-valued"),
    (["grad", "swihs"], "did you mean 'swish'"),
    (["grad", "relu", "--order", "-1"], "non-negative"),
    (["grad", "softmax"], "vector-valued"),
    (["compare", "relu", "tnah"], "did you mean 'tanh'"),
    (["explain", "selu_"], "did you mean 'selu'"),
    (["properties", "rleu"], "did you mean 'relu'"),
    (["plot", "rleu", "-o", "never.png"], "did you mean 'relu'"),
])
def test_more_user_mistakes_exit_1_with_a_message(capsys, argv, words):
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.startswith("mathforge: error:") and words in err
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_eval_unknown_parameter_names_it_and_the_valid_ones(capsys):
    code, _, err = run(capsys, "eval", "leaky_relu", "1", "--param", "alpah=1")
    assert code == 1 and "alpah" in err and "parameters: alpha" in err
    code, _, err = run(capsys, "eval", "relu", "1", "--param", "alpah=1")
    assert code == 1 and "alpah" in err


@pytest.mark.parametrize("argv", [
    ["eval", "relu"],  # no values
    ["eval", "relu", "one"],  # not a number
    ["eval", "relu", "1", "--param", "alpha"],  # no '='
    ["eval", "relu", "1", "--param", "alpha=big"],
    ["explain", "relu", "--level", "expert"],
    ["plot", "relu"],  # no -o
])
def test_malformed_command_lines_are_usage_errors(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


# --- grad, search, explain --------------------------------------------------------------------


def test_grad_prints_the_derivative_and_its_latex(capsys):
    code, out, err = run(capsys, "grad", "relu")
    assert code == 0 and err == ""
    assert out.splitlines() == ["d/dx relu(x) = Piecewise((1, x > 0), (0, True))",
                                r"LaTeX: \begin{cases} 1 & \text{for}\: x > 0 \\0 & \text{otherwise} \end{cases}"]
    x = sympy.Symbol("x", real=True)

    def printed(argv, head):
        code, out, err = run(capsys, *argv)
        assert code == 0 and err == ""
        first, second = out.splitlines()
        assert first.startswith(head) and second.startswith("LaTeX: ")
        return sympy.sympify(first.split(" = ", 1)[1], locals={"x": x})

    # the printed derivatives agree with closed forms: tanh' = 1 - tanh^2, tanh'' = -2 tanh (1 - tanh^2)
    first = printed(["grad", "tanh"], "d/dx tanh(x) = ")
    second = printed(["grad", "tanh", "--order", "2"], "d^2/dx^2 tanh(x) = ")
    for value in (-1.3, 0.2, 2.0):
        t = math.tanh(value)
        assert float(first.subs(x, value)) == pytest.approx(1 - t * t, rel=1e-12)
        assert float(second.subs(x, value)) == pytest.approx(-2 * t * (1 - t * t), rel=1e-12)


def test_search_ranks_names_with_their_first_sentence(capsys):
    code, out, err = run(capsys, "search", "dead", "neurons")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert {lines[0].split()[0], lines[1].split()[0]} == {"relu", "leaky_relu"}
    relu = next(line for line in lines if line.split()[0] == "relu")
    assert relu.split(None, 1)[1] == "Rectified linear unit, max(x, 0)."
    for line in lines:  # one sentence each
        assert line.rstrip().endswith((".", "!", "?")) and line.count(". ") == 0


def test_search_without_matches_exits_0(capsys):
    code, out, err = run(capsys, "search", "qwertyuiop")
    assert code == 0 and err == ""
    assert out.strip() == "no matches for 'qwertyuiop'"


def test_explain_levels(capsys):
    code, beginner, _ = run(capsys, "explain", "selu")
    assert code == 0 and beginner.startswith("selu: f(x) = ") and "Pros:" in beginner
    assert "Derivative:" not in beginner
    code, advanced, _ = run(capsys, "explain", "selu", "--level", "advanced")
    assert code == 0 and "Derivative:" in advanced and "LaTeX:" in advanced and "Reference:" in advanced


# --- compare and properties (computed by mathforge.properties) --------------------------------


@needs_properties
def test_compare_json(capsys):
    data = run_json(capsys, "compare", "relu", "tanh", "--at", "-1", "1", "--json")
    assert [row["name"] for row in data["rows"]] == ["relu", "tanh"]
    assert data["columns"][:5] == ["name", "f(-1)", "f(1)", "f'(-1)", "f'(1)"]
    relu, tanh = data["rows"]
    assert (relu["f(-1)"], relu["f(1)"], relu["f'(-1)"], relu["f'(1)"]) == (0.0, 1.0, 0.0, 1.0)
    assert tanh["f(-1)"] == pytest.approx(math.tanh(-1), rel=1e-15)
    assert tanh["f'(1)"] == pytest.approx(1 - math.tanh(1) ** 2, rel=1e-13)
    assert all(set(row) == set(data["columns"]) for row in data["rows"])


@needs_properties
def test_compare_text_with_default_points(capsys):
    code, out, err = run(capsys, "compare", "sigmoid", "relu", "--no-cost")
    assert code == 0 and err == ""
    header, sigmoid_row, relu_row = out.splitlines()
    assert header.split()[:6] == ["name", "f(-2)", "f(-1)", "f(0)", "f(1)", "f(2)"]
    assert "ns/elem" not in header
    assert sigmoid_row.split()[:4] == ["sigmoid", f"{sigmoid(-2):.4g}", f"{sigmoid(-1):.4g}", "0.5"]
    assert relu_row.split()[:6] == ["relu", "0", "0", "0", "1", "2"]


def test_compare_refuses_vector_entries(capsys):
    code, out, err = run(capsys, "compare", "softmax", "relu", "--no-cost")
    assert code == 1 and out == "" and "vector-valued" in err


@needs_properties
def test_properties_text_and_json(capsys):
    from mathforge.properties import compute_properties
    from mathforge import MathForge

    expected = compute_properties(MathForge().get("tanh")).to_dict()
    data = run_json(capsys, "properties", "tanh", "--json")
    assert set(data) == {str(k) for k in expected}
    code, out, err = run(capsys, "properties", "tanh")
    assert code == 0 and err == ""
    keys = [line.split()[0] for line in out.splitlines()]
    assert keys == [str(k) for k in expected]
    data = run_json(capsys, "properties", "sigmoid", "--json")
    if "max_abs_gradient" in data:
        assert data["max_abs_gradient"] == pytest.approx(0.25)
    code, _, err = run(capsys, "properties", "softmax")
    assert code == 1 and "vector-valued" in err


@needs_properties
def test_show_includes_the_computed_properties(capsys):
    code, out, _ = run(capsys, "show", "tanh")
    assert code == 0 and "Properties (computed from the formula):" in out
    data = run_json(capsys, "show", "tanh", "--json")
    assert isinstance(data["properties"], dict) and data["properties"]


def test_every_json_output_is_valid_for_vector_and_elementwise_entries(capsys):
    for argv in (["show", "softmax", "--json"], ["show", "glu", "--json"], ["show", "exponential", "--json"],
                 ["list", "--json"], ["eval", "exponential", "1000", "-1000", "--json"]):
        code, out, err = run(capsys, *argv)
        assert code == 0, (argv, err)
        json.loads(out)
    data = run_json(capsys, "eval", "exponential", "1000", "--json")
    assert data["values"] == [[1000.0, "inf"]]


# --- plot ------------------------------------------------------------------------------------------


def test_plot_writes_png_and_svg(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "relu.png"
    code, out, err = run(capsys, "plot", "relu", "-o", str(png))
    assert code == 0 and err == "" and out.strip() == str(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    many = tmp_path / "many.png"
    code, out, err = run(capsys, "plot", "relu", "gelu", "swish", "-o", str(many), "--range", "-3", "3",
                         "--width", "640", "--height", "400")
    assert code == 0 and err == "" and out.strip() == str(many)
    width, height = struct.unpack(">II", many.read_bytes()[16:24])  # the PNG IHDR chunk
    assert (width, height) == (640, 400)
    svg = tmp_path / "tanh.svg"
    code, out, _ = run(capsys, "plot", "tanh", "-o", str(svg))
    assert code == 0 and svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()


@pytest.mark.parametrize(("extra", "words"), [
    (["-o", "f.pdf"], ".png or .svg"),
    (["-o", "f.png", "--range", "3", "1"], "lo < hi"),
    (["-o", "f.png", "--width", "0"], "positive"),
    (["-o", "no/such/folder/f.png"], "no/such/folder/f.png"),
])
def test_plot_mistakes_exit_1(capsys, tmp_path, monkeypatch, extra, words):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "plot", "relu", *extra)
    assert code == 1 and out == "" and err.startswith("mathforge: error:") and words in err
    assert not any(tmp_path.iterdir())
    code, _, err = run(capsys, "plot", "softmax", "-o", "f.png")
    assert code == 1 and "vector-valued" in err


def test_plot_without_matplotlib_names_the_extra(capsys, tmp_path, monkeypatch):
    if not has_module("mathforge.plotting"):
        pytest.skip("mathforge.plotting is not written yet")
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    code, out, err = run(capsys, "plot", "relu", "-o", str(tmp_path / "f.png"))
    assert code == 1 and out == ""
    assert err.startswith("mathforge: error:") and 'pip install "mathforge[plot]"' in err
    assert "Traceback" not in err and not (tmp_path / "f.png").exists()


# --- validate -------------------------------------------------------------------------------------

PACK_ENTRY = {
    "name": "scaled_tanh",
    "category": "activation",
    "aliases": ["stanh"],
    "variables": ["x"],
    "params": {"gamma": {"default": 1.7159, "description": "scale", "constraint": "> 0"},
               "beta": {"default": 0.6667, "description": "slope"}},
    "formula": "gamma*tanh(beta*x)",
    "range": "(-gamma, gamma)",
    "description": "LeCun's scaled tanh.",
    "pros": ["zero-centred"],
    "cons": ["saturates"],
    "best_for": "small MLPs",
    "usage": "hidden layers",
    "references": [{"title": "Efficient BackProp", "authors": "LeCun et al.", "year": 1998}],
}


def write_entry(folder: Path, **changes) -> Path:
    entry = {**copy.deepcopy(PACK_ENTRY), **changes}
    entry = {k: v for k, v in entry.items() if v is not None}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{changes.get('name', entry.get('name'))}.yaml"
    path.write_text(yaml.safe_dump(entry, sort_keys=False))
    return path


def test_validate_a_good_pack(capsys, tmp_path):
    pack = tmp_path / "good"
    write_entry(pack)
    write_entry(pack, name="gated", aliases=["gated_lrelu"], params=None,
                formula="x*sigmoid(x) + leaky_relu(x, alpha=0.2)")  # calls a catalog entry
    write_entry(pack, name="twice_scaled", aliases=[], formula="2*scaled_tanh(x)")  # calls the pack
    code, out, err = run(capsys, "validate", str(pack))
    assert (code, out, err) == (0, "ok: 3 entries\n", "")
    code, out, _ = run(capsys, "validate", str(pack / "scaled_tanh.yaml"))  # one file
    assert (code, out) == (0, "ok: 1 entries\n")


def test_validate_reports_every_problem(capsys, tmp_path):
    pack = tmp_path / "broken"
    write_entry(pack)  # fine
    write_entry(pack, name="no_pros", aliases=[], pros=None)  # schema: a required key is missing
    write_entry(pack, name="typo", aliases=[], formula="gamma*tahn(beta*x)")  # formula: unknown function
    code, out, err = run(capsys, "validate", str(pack))
    assert code == 1 and out == ""
    assert "Traceback" not in err
    problems = [line for line in err.splitlines() if line.startswith("mathforge: error:")]
    assert len(problems) == 2, err
    missing = next(p for p in problems if "no_pros.yaml" in p)
    assert "entry 'no_pros'" in missing and "field 'pros'" in missing and "missing" in missing
    formula = next(p for p in problems if "typo.yaml" in p)
    assert "entry 'typo'" in formula and "field 'formula'" in formula and "unknown function 'tahn'" in formula
    assert err.splitlines()[-1] == f"mathforge: 2 problems in {pack}"


def test_validate_reports_collisions_with_the_builtin_catalog_and_within_the_pack(capsys, tmp_path):
    pack = tmp_path / "clashes"
    write_entry(pack, name="relu", aliases=[])  # a built-in name
    write_entry(pack, name="my_swish", aliases=["silu"])  # a built-in alias (of swish)
    write_entry(pack, name="first", aliases=["shared"])
    write_entry(pack, name="second", aliases=["shared"])  # an alias already used in this pack
    write_entry(pack, name="bad_yaml")
    (pack / "bad_yaml.yaml").write_text("name: [unclosed\n")
    code, out, err = run(capsys, "validate", str(pack))
    assert code == 1 and out == ""
    problems = [line for line in err.splitlines() if line.startswith("mathforge: error:")]
    assert any("relu.yaml" in p and "'relu' is already used by entry 'relu'" in p for p in problems)
    assert any("my_swish.yaml" in p and "'silu' is already used by entry 'swish'" in p
               and "field 'aliases'" in p for p in problems)
    assert any("second.yaml" in p and "'shared' is already used by entry 'first'" in p for p in problems)
    assert any("bad_yaml.yaml" in p and "not valid YAML" in p for p in err.split("mathforge: error:"))
    assert err.splitlines()[-1] == f"mathforge: 4 problems in {pack}"


def test_validate_missing_or_empty_pack(capsys, tmp_path):
    code, out, err = run(capsys, "validate", str(tmp_path / "nowhere"))
    assert code == 1 and out == "" and "no catalog file or folder" in err
    (tmp_path / "empty").mkdir()
    code, out, err = run(capsys, "validate", str(tmp_path / "empty"))
    assert code == 1 and "no *.yaml files" in err


def test_module_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("tour", "list", "show", "eval", "grad", "compare", "search", "explain", "properties", "plot",
                    "validate"):
        assert re.search(rf"^\s+{command}\s", out, re.MULTILINE), command
