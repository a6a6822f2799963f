"""The ``mathforge`` command through ``main(argv)``: exit codes, stdout, stderr, JSON."""

from __future__ import annotations

import json
import math
import re

import pytest

from mathforge.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


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
