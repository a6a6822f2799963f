"""benchmarks/run.py --quick runs to the end and writes its JSON (a smoke test: no timing assertions).

The checks are structural: which sections, rows and fields the report has, never how fast
anything is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mathforge import MathForge

ROOT = Path(__file__).resolve().parents[1]
FORGE = MathForge()


def _names(category: str, kind: str) -> set[str]:
    return {n for n in FORGE.list_all(category=category) if getattr(FORGE.get(n), "kind", "elementwise") == kind}


ELEMENTWISE_ACTIVATIONS = _names("activation", "elementwise")
ELEMENTWISE_LOSSES = _names("loss", "elementwise")
CLASS_LOSSES = _names("loss", "classes")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One ``--quick`` run for the whole module: (completed process, parsed JSON)."""
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done, json.loads(out.read_text())


def _rows(data: dict, key: str) -> dict[str, dict]:
    return {row["entry"]: row for row in data["sections"][key]["rows"]}


def test_quick_benchmark_runs(quick_run):
    done, data = quick_run
    assert "| entry |" in done.stdout
    assert data, "the benchmark wrote no results"


def test_every_section_is_reported(quick_run):
    done, data = quick_run
    expected = {"summary", "scalar_eval", "array_eval", "loss_eval", "derivative_eval", "loss_derivative_eval",
                "vector_eval", "fused", "startup", "first_get"}
    assert expected <= set(data["sections"])
    for section in data["sections"].values():
        assert f"## {section['title']}" in done.stdout


def test_losses_have_rows_in_every_relevant_section(quick_run):
    _, data = quick_run
    assert ELEMENTWISE_LOSSES, "the catalog has no elementwise losses"
    assert ELEMENTWISE_LOSSES <= set(_rows(data, "scalar_eval"))
    assert set(_rows(data, "loss_eval")) == ELEMENTWISE_LOSSES
    assert set(_rows(data, "loss_derivative_eval")) == ELEMENTWISE_LOSSES
    assert ELEMENTWISE_LOSSES | CLASS_LOSSES <= set(_rows(data, "first_get"))
    assert CLASS_LOSSES <= set(_rows(data, "vector_eval"))
    for name in ELEMENTWISE_LOSSES:
        point = _rows(data, "scalar_eval")[name]["point"]
        assert set(point) == set(FORGE.get(name).variables), name
    for name, row in _rows(data, "loss_eval").items():  # measured against a reference, not only timed
        assert row["error"] is None, (name, row["error"])
        assert row["ratio"] is not None and row["f32_ratio"] is not None and row["agreement"] is not None, name
    for name, row in _rows(data, "loss_derivative_eval").items():
        assert row["error"] is None, (name, row["error"])
        assert row["ratio"] is not None and row["agreement"] is not None, name


def test_fused_section_covers_every_elementwise_entry(quick_run):
    _, data = quick_run
    section = data["sections"]["fused"]
    rows = _rows(data, "fused")
    assert set(rows) == ELEMENTWISE_ACTIVATIONS | ELEMENTWISE_LOSSES
    for name, row in rows.items():
        assert row["error"] is None, (name, row["error"])
        assert row["value_ms"] is not None and row["separate_ms"] is not None, name
        assert isinstance(row["smooth"], bool), name
        if section["available"]:
            assert row["ratio"] is not None and row["fused_vs_separate"] is not None, name
            assert row["agrees"] is not None, name
        if not row["smooth"]:
            assert row["within_budget"] is None, name  # the budget is held for smooth entries only
    summary = [row["what"] for row in data["sections"]["summary"]["rows"]]
    assert any("value_and_grad" in what for what in summary)
    assert any(what.startswith("loss `eval`") for what in summary)


def test_fused_section_without_value_and_grad(monkeypatch):
    """A checkout without ``Expression.value_and_grad`` gives n/a cells and a note, not a crash."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import run
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    monkeypatch.setattr(run, "ARRAY_SIZE", 1000)
    monkeypatch.setattr(run, "has_value_and_grad", lambda: False)
    monkeypatch.setattr(run, "_names", lambda forge, category, kind="elementwise": {
        "activation": ["relu"], "loss": ["mse"]}[category])
    run.array_input.cache_clear()
    run._family_arrays.cache_clear()
    try:
        config = run.Config.quick()
        rows, available = run.run_fused(FORGE, config)
        section = run.fused_section(rows, available, config)
    finally:
        run.array_input.cache_clear()
        run._family_arrays.cache_clear()
    assert not available
    assert [r.entry for r in rows] == ["relu", "mse"]
    assert all(r.error is None and r.fused_ms is None and r.ratio is None and r.value_ms is not None for r in rows)
    assert any("does not exist" in note for note in section.notes)
    assert all(cell == "n/a" for row in section.cells for cell in (row[4], row[6], row[8]))
