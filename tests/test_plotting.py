"""Plots (the ``plot`` extra): files of the requested size that show both curves, kinks
found from the formula, legends, and clear errors for bad input or a missing matplotlib."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import sympy

matplotlib = pytest.importorskip("matplotlib")

import matplotlib.image  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402

import mathforge  # noqa: E402
from mathforge import MathForge  # noqa: E402
from mathforge import plotting  # noqa: E402
from mathforge.plotting import (  # noqa: E402
    kink_points,
    plot_expression,
    plot_many,
    require_matplotlib,
    save_figure,
)

INSTALL_HINT = 'pip install "mathforge[plot]"'


@pytest.fixture(scope="module")
def forge() -> MathForge:
    return MathForge()


def _rgb(path) -> np.ndarray:
    image = matplotlib.image.imread(path)
    assert image.dtype.kind == "f" and image.max() <= 1.0  # PNGs read as floats in [0, 1]
    return image[..., :3]


def _blue(rgb: np.ndarray) -> np.ndarray:  # tab:blue is (0.12, 0.47, 0.71)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return (b > 0.55) & (r < 0.3) & (b - g > 0.15)


def _red(rgb: np.ndarray) -> np.ndarray:  # tab:red is (0.84, 0.15, 0.16)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return (r > 0.65) & (g < 0.35) & (b < 0.35)


# --- files ------------------------------------------------------------------------------------


def test_png_has_the_requested_size_and_shows_function_and_derivative(forge, tmp_path):
    fig = plot_expression(forge.get("gelu"))
    path = save_figure(fig, tmp_path / "gelu.png", width_px=640, height_px=480)
    assert path == tmp_path / "gelu.png" and path.is_file()
    image = matplotlib.image.imread(path)
    assert image.shape[:2] == (480, 640) and image.shape[2] in (3, 4)
    rgb = image[..., :3]
    assert rgb.std() > 0.05, "the image is (nearly) blank"
    colours = np.unique(np.round(rgb.reshape(-1, 3) * 255).astype(int), axis=0)
    assert len(colours) > 50
    assert _blue(rgb).sum() > 300, "no blue function curve"
    assert _red(rgb).sum() > 300, "no red derivative curve"


def test_png_without_derivative_has_no_red_curve(forge, tmp_path):
    path = save_figure(plot_expression(forge.get("gelu"), show_derivative=False), tmp_path / "f.png")
    rgb = _rgb(path)
    assert _blue(rgb).sum() > 300 and _red(rgb).sum() == 0


@pytest.mark.parametrize(("width", "height", "dpi"), [(640, 480, 100), (333, 217, 72), (801, 599, 150)])
def test_png_pixel_size_is_exact(forge, tmp_path, width, height, dpi):
    path = save_figure(forge.get("relu").plot(), tmp_path / "relu.png", width_px=width, height_px=height, dpi=dpi)
    assert matplotlib.image.imread(path).shape[:2] == (height, width)


def test_png_one_side_given_keeps_the_aspect_ratio(forge, tmp_path):
    fig = forge.get("relu").plot()  # 8 x 5 inches
    path = save_figure(fig, tmp_path / "relu.png", width_px=400)
    assert matplotlib.image.imread(path).shape[:2] == (250, 400)


def test_svg_is_valid_xml(forge, tmp_path):
    path = save_figure(plot_expression(forge.get("hard_tanh")), tmp_path / "hard_tanh.SVG")
    text = path.read_text(encoding="utf-8")
    assert "<svg" in text
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag in ("svg", "{http://www.w3.org/2000/svg}svg")


@pytest.mark.parametrize("name", ["plot.jpg", "plot.pdf", "plot", "plot.png.txt"])
def test_other_suffixes_are_refused(forge, tmp_path, name):
    fig = forge.get("relu").plot()
    with pytest.raises(ValueError, match=r"\.png or \.svg") as info:
        save_figure(fig, tmp_path / name)
    assert name in str(info.value)
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize("size", [{"width_px": 0}, {"height_px": -5}, {"width_px": 64.5}, {"dpi": 0}])
def test_bad_sizes_are_refused(forge, tmp_path, size):
    with pytest.raises(ValueError):
        save_figure(forge.get("relu").plot(), tmp_path / "relu.png", **size)


# --- kinks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "params", "x_range", "expected"), [
    ("relu", {}, (-5, 5), [0.0]),
    ("relu6", {}, (-10, 10), [0.0, 6.0]),
    ("relu6", {}, (-5, 5), [0.0]),  # 6 lies outside
    ("hard_tanh", {}, (-5, 5), [-1.0, 1.0]),
    ("hard_tanh", {"min_val": -2.0, "max_val": 3.0}, (-5, 5), [-2.0, 3.0]),  # current parameters
    ("hard_shrink", {}, (-5, 5), [-0.5, 0.5]),  # lambd < |x|: not at 0
    ("soft_shrink", {"lambd": 1.5}, (-5, 5), [-1.5, 1.5]),
    ("hard_sigmoid", {}, (-5, 5), [-3.0, 3.0]),
    ("hard_mish", {}, (-5, 5), [-2.0, 0.0]),
    ("threshold", {"threshold": 1.0, "value": -1.0}, (-5, 5), [1.0]),
    ("selu", {}, (-5, 5), [0.0]),  # a constant times a Piecewise
    ("softsign", {}, (-5, 5), [0.0]),  # Abs(x)
    ("sigmoid", {}, (-5, 5), []),
    ("gelu", {}, (-5, 5), []),
    ("swish", {}, (-5, 5), []),
])
def test_kink_points(forge, name, params, x_range, expected):
    kinks = kink_points(forge.get(name, params), *x_range)
    assert kinks == pytest.approx(expected, abs=1e-12)
    assert all(type(k) is float for k in kinks)


def test_kink_points_of_every_elementwise_entry_are_real_switches(forge):
    switches = (sympy.Piecewise, sympy.Abs, sympy.Max, sympy.Min, sympy.sign, sympy.Heaviside)
    h = 1e-6
    for name in forge.list_all(category="activation"):
        expr = forge.get(name)
        if expr.kind == "vector":
            continue
        kinks = kink_points(expr, -8.0, 8.0)
        assert kinks == sorted(set(kinks)) and all(-8.0 <= k <= 8.0 for k in kinks), name
        if not expr.symbolic_expr.has(*switches):
            assert kinks == [], name
        for k in kinks:  # f, f' or f'' (the slope of the red curve) differs just left and right
            jumps = [abs(g.eval(k - h) - g.eval(k + h)) for g in (expr, expr.gradient(), expr.derivative(2))]
            assert max(jumps) > 1e-3, (name, k, jumps)


def test_kink_points_of_custom_formulas():
    from mathforge import Expression
    from mathforge.primitives import sigmoid
    from mathforge.symbols import symbol

    x = symbol("x")

    def kinks(formula):
        return kink_points(Expression(formula, ["x"], name="custom"), -5, 5)

    assert kinks(sympy.Piecewise((1, x < 0), (2, x < -1), (x, True))) == [0.0]  # x < -1 is shadowed
    assert kinks(sympy.Max(0, sympy.Min(x, 2))) == [0.0, 2.0]
    assert kinks(sympy.Piecewise((x, x**2 > 2), (0, True))) == pytest.approx([-2**0.5, 2**0.5])
    # sigmoid(x) > 1/3 has no closed form in SymPy: found numerically at log(1/2)
    assert kinks(sympy.Piecewise((x, sigmoid(x) > sympy.Rational(1, 3)), (0, True))) == pytest.approx(
        [np.log(0.5)], abs=1e-12)


def test_kink_points_refuses_bad_ranges(forge):
    for bad in [(1, 1), (2, -2), (0, float("inf")), (float("nan"), 1)]:
        with pytest.raises(ValueError, match="x_range"):
            kink_points(forge.get("relu"), *bad)


# --- what is drawn ------------------------------------------------------------------------------


def _line(ax, label):
    (line,) = [line for line in ax.lines if line.get_label() == label]
    return line


def test_plot_expression_draws_values_of_f_and_its_derivative(forge):
    swish = forge.get("swish")
    fig = plot_expression(swish, (-4, 3), points=301)
    ax = fig.axes[0]
    f, df = _line(ax, "f(x)"), _line(ax, "f'(x)")
    assert matplotlib.colors.to_hex(f.get_color()) == "#1f77b4"
    assert matplotlib.colors.to_hex(df.get_color()) == "#d62728"
    xs = np.asarray(f.get_xdata(), dtype=float)
    assert xs[0] == -4 and xs[-1] == 3 and len(xs) == 301
    np.testing.assert_allclose(f.get_ydata(), swish.eval(xs), rtol=1e-15)
    np.testing.assert_allclose(df.get_ydata(), swish.gradient().eval(np.asarray(df.get_xdata(), dtype=float)),
                               rtol=1e-15)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["f(x)", "f'(x)"]  # no kinks
    assert ax.get_title().startswith("swish(x) = x*sigmoid(beta*x)") and "beta = 1" in ax.get_title()
    assert ax.get_xlabel() == "x" and ax.get_xlim() == (-4, 3)
    assert isinstance(fig.canvas, FigureCanvasAgg)


def test_kinks_are_marked_and_jumps_are_not_drawn_as_lines(forge):
    hard_shrink = forge.get("hard_shrink")
    ax = plot_expression(hard_shrink).axes[0]
    dots = _line(ax, "kink")
    assert list(dots.get_xdata()) == [-0.5, 0.5] and list(dots.get_ydata()) == [0.0, 0.0]
    assert dots.get_marker() == "o" and matplotlib.colors.to_hex(dots.get_color()) == "#000000"
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert sorted(line.get_xdata()[0] for line in dashed) == [-0.5, 0.5]
    # f jumps from -0.5 to 0 at x = -0.5: the pieces are separated by a NaN gap
    xs, ys = np.asarray(_line(ax, "f(x)").get_xdata(), float), np.asarray(_line(ax, "f(x)").get_ydata(), float)
    gaps = np.flatnonzero(np.isnan(ys))
    assert len(gaps) == 2 and np.all(np.isnan(xs[gaps]))
    assert xs[gaps[0] - 1] == pytest.approx(-0.5, abs=1e-5) and ys[gaps[0] - 1] == pytest.approx(-0.5, abs=1e-5)
    assert xs[gaps[0] + 1] == pytest.approx(-0.5, abs=1e-5) and ys[gaps[0] + 1] == 0.0
    # relu' has exactly the values 0 and 1, separated by one gap at 0
    ax = plot_expression(forge.get("relu")).axes[0]
    dys = np.asarray(_line(ax, "f'(x)").get_ydata(), float)
    assert set(dys[np.isfinite(dys)]) == {0.0, 1.0} and np.isnan(dys).sum() == 1


def test_plot_options(forge):
    fig = plot_expression(forge.get("relu6"), (-2, 8), title="mine", show_derivative=False, mark_kinks=False)
    ax = fig.axes[0]
    assert ax.get_title() == "mine"
    assert [line.get_label() for line in ax.lines if not line.get_label().startswith("_")] == ["f(x)"]
    with pytest.raises(ValueError, match="points"):
        plot_expression(forge.get("relu"), points=1)


def test_plot_expression_draws_on_a_given_axes(forge):
    from matplotlib.figure import Figure

    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert plot_expression(forge.get("relu"), ax=right) is fig
    assert not left.lines and _line(right, "f(x)")


def test_expression_plot_method_uses_plot_expression(forge):
    ax = forge.get("leaky_relu").plot((-2, 2)).axes[0]
    assert ax.get_xlim() == (-2, 2) and list(_line(ax, "kink").get_xdata()) == [0.0]


def test_plot_many_overlays_with_a_legend_of_names(forge):
    names = ["relu", "gelu", "swish"]
    fig = plot_many([forge.get(n) for n in names])
    assert len(fig.axes) == 1
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == names
    assert len({matplotlib.colors.to_hex(line.get_color()) for line in fig.axes[0].lines if
                line.get_label() in names}) == 3


def test_plot_many_with_derivatives_below_in_the_same_colours(forge):
    names = ["relu", "gelu", "swish"]
    fig = forge.plot(names, (-3, 3), derivative=True)
    top, bottom = fig.axes
    assert [t.get_text() for t in top.get_legend().get_texts()] == names
    assert [t.get_text() for t in bottom.get_legend().get_texts()] == [f"{n}'" for n in names]
    for name in names:
        assert _line(top, name).get_color() == _line(bottom, f"{name}'").get_color()
    np.testing.assert_allclose(_line(top, "relu").get_xdata()[[0, -1]], [-3, 3])


def test_plot_many_needs_expressions(forge):
    with pytest.raises(ValueError, match="at least one"):
        plot_many([])


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["softmax", "glu"])
def test_vector_entries_are_not_plotted_as_curves(forge, name):
    expr = forge.get(name)
    for call in (lambda: plot_expression(expr), lambda: plot_many([forge.get("relu"), expr]),
                 lambda: kink_points(expr, -1, 1)):
        with pytest.raises(TypeError, match="vector-valued"):
            call()


def test_functions_of_two_variables_are_refused(forge):
    from mathforge import Expression
    from mathforge.symbols import symbol

    x, y = symbol("x"), symbol("y")
    with pytest.raises(TypeError, match="one variable"):
        plot_expression(Expression(x * y, ["x", "y"], name="product"))


def test_missing_matplotlib_names_the_extra(monkeypatch, forge):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    hint = re.escape(INSTALL_HINT)
    with pytest.raises(ImportError, match=hint):
        require_matplotlib()
    with pytest.raises(ImportError, match=hint):
        plot_expression(forge.get("relu"))
    with pytest.raises(ImportError, match=hint):
        forge.plot(["relu", "gelu"])
    # The module itself imports without matplotlib: only drawing needs it.
    monkeypatch.delitem(sys.modules, "mathforge.plotting")
    monkeypatch.setattr(mathforge, "plotting", plotting)
    fresh = importlib.import_module("mathforge.plotting")
    assert fresh is not plotting
    with pytest.raises(ImportError, match=hint):
        fresh.require_matplotlib()
    assert fresh.kink_points(forge.get("relu6"), -10, 10) == [0.0, 6.0]  # kinks need no matplotlib


def test_plotting_never_imports_pyplot_or_a_gui_backend(tmp_path):
    code = (
        "import sys\n"
        "from mathforge import MathForge\n"
        "from mathforge.plotting import save_figure\n"
        "forge = MathForge()\n"
        f"save_figure(forge.get('relu').plot(), {str(tmp_path / 'a.png')!r})\n"
        f"save_figure(forge.plot(['relu', 'gelu'], derivative=True), {str(tmp_path / 'b.svg')!r})\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
        "gui = [m for m in sys.modules if m.startswith('matplotlib.backends.backend_') and\n"
        "       m not in ('matplotlib.backends.backend_agg', 'matplotlib.backends.backend_svg',\n"
        "                 'matplotlib.backends.backend_mixed')]\n"
        "assert not gui, gui\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "a.png").is_file() and (tmp_path / "b.svg").is_file()
