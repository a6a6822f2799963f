"""The built wheel works on its own: installed outside the repository, the catalog ships with it.

The wheel is built from this source tree (hatchling, no network), installed with
``--no-deps`` into a fresh virtual environment in a temporary folder, and used from there.
SymPy, NumPy, PyYAML and SciPy come from the running environment through a path file, so
the test needs no network; mathforge itself can only come from the wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("hatchling", reason="the test extra (pip install -e '.[test]') provides hatchling")


def _run(args: list[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    dist = work / "dist"
    _run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
          "--wheel-dir", str(dist), "--quiet"], cwd=work)
    wheels = list(dist.glob("mathforge-*.whl"))
    assert len(wheels) == 1
    env_dir = work / "env"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site_packages = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              cwd=work).strip())
    # dependencies from the running environment; mathforge itself is not importable from there
    (site_packages / "_mathforge_test_deps.pth").write_text(
        "\n".join({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}) + "\n")
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site_packages),
          str(wheels[0])], cwd=work)
    return python


def test_installed_wheel_evaluates_relu_outside_the_repository(installed):
    script = ("import mathforge, pathlib; "
              "print(mathforge.__file__); "
              "print(mathforge.builtin_registry_path()); "
              "print(mathforge.MathForge().get('relu').eval(x=5)); "
              "print(len(mathforge.MathForge().list_all()))")
    out = _run([str(installed), "-c", script], cwd=installed.parents[1]).splitlines()
    package_file, registry, value, count = out
    assert str(ROOT) not in package_file, "mathforge was imported from the source tree, not the wheel"
    assert Path(registry).name == "_registry" and Path(registry).parent == Path(package_file).parent
    assert value == "5.0"
    assert int(count) == len(list((ROOT / "registry").rglob("*.yaml")))


def test_installed_command_line_runs(installed):
    out = _run([str(installed), "-m", "mathforge", "show", "relu"], cwd=installed.parents[1])
    assert out.startswith("relu: f(x) = Piecewise((x, x > 0), (0, True))")
