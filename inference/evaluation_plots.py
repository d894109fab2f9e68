"""The evaluations' generic plots as small PNGs: Bland-Altman, predicted against true, error by
group, a confusion matrix and a reliability diagram (``evaluate_models --plots DIR``).

matplotlib is a development dependency (requirements-dev.txt), imported only inside these
functions, so serving code never pays for it (nor needs it installed); ``require`` raises
``PlottingUnavailable`` with what to install.  Each figure is drawn on its own
``Figure`` with the Agg canvas (no pyplot, no global state, no display) and saved at
``DPI``, which keeps a plot near 50 KB.  Products' evaluation modules choose what to draw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

DPI = 100
SIZE = (6.4, 5.0)
#: The Bland-Altman limits: bias +/- this many standard deviations of the differences.
LIMITS_Z = 1.96


class PlottingUnavailable(RuntimeError):
    """matplotlib is not installed here."""


def require() -> None:
    """Raise ``PlottingUnavailable`` unless matplotlib can be imported; call before the
    (long) evaluation so a missing package fails at once."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise PlottingUnavailable(
            "--plots needs matplotlib: pip install -r requirements-dev.txt"
        ) from exc


def _figure() -> tuple[Any, Any]:
    require()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=SIZE, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _save(figure: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, format="png")
    return path


def _wrapped(title: str, width: int = 60) -> str:
    """Long titles on two lines rather than cut off at the figure's edge."""
    import textwrap

    return "\n".join(textwrap.wrap(title, width))


def bland_altman(
    path: Path, measured: Sequence[float], truth: Sequence[float], title: str, unit: str = ""
) -> Path:
    """Difference (measured - truth) against the truth, with the bias and the 95 % limits
    of agreement drawn as lines.  The truth is on the x axis rather than the pair's mean
    because the truth here is exact (Bland and Altman's mean is for two noisy methods)."""
    figure, axes = _figure()
    a, b = np.asarray(measured, float), np.asarray(truth, float)
    difference = a - b
    axes.scatter(b, difference, s=12, alpha=0.5, color="tab:blue", edgecolors="none")
    if difference.size >= 2:
        bias, sd = float(difference.mean()), float(difference.std(ddof=1))
        for value, style, text in (
            (bias, "-", f"bias {bias:+.3f}"),
            (bias + LIMITS_Z * sd, "--", f"+1.96 sd {bias + LIMITS_Z * sd:+.3f}"),
            (bias - LIMITS_Z * sd, "--", f"-1.96 sd {bias - LIMITS_Z * sd:+.3f}"),
        ):
            axes.axhline(value, linestyle=style, color="tab:red", linewidth=1)
            axes.annotate(
                text,
                (1.0, value),
                xycoords=("axes fraction", "data"),
                xytext=(-4, 3),
                textcoords="offset points",
                ha="right",
                fontsize=8,
                color="tab:red",
            )
    axes.axhline(0, color="grey", linewidth=0.6)
    axes.set_xlabel(f"true {unit}".strip())
    axes.set_ylabel(f"measured - true {unit}".strip())
    axes.set_title(_wrapped(title), fontsize=10)
    axes.grid(alpha=0.3)
    return _save(figure, path)


def scatter(
    path: Path,
    measured: Sequence[float],
    truth: Sequence[float],
    title: str,
    band: float = 0.5,
    unit: str = "",
) -> Path:
    """Measured against true with the identity line and a +/- ``band`` band around it."""
    figure, axes = _figure()
    a, b = np.asarray(measured, float), np.asarray(truth, float)
    low = float(min(a.min(initial=np.inf), b.min(initial=np.inf))) - band
    high = float(max(a.max(initial=-np.inf), b.max(initial=-np.inf))) + band
    if not np.isfinite(low):
        low, high = 0.0, 1.0
    line = np.array([low, high])
    axes.fill_between(
        line, line - band, line + band, color="tab:green", alpha=0.15, label=f"within ±{band:g}"
    )
    axes.plot(line, line, color="tab:green", linewidth=1, label="identity")
    axes.scatter(b, a, s=12, alpha=0.6, color="tab:blue", edgecolors="none", label="phantoms")
    axes.set_xlim(low, high)
    axes.set_ylim(low, high)
    axes.set_aspect("equal")
    axes.set_xlabel(f"true {unit}".strip())
    axes.set_ylabel(f"measured {unit}".strip())
    axes.set_title(_wrapped(title), fontsize=10)
    axes.legend(loc="upper left", fontsize=8)
    axes.grid(alpha=0.3)
    return _save(figure, path)


def error_by_group(
    path: Path, groups: Mapping[str, Sequence[float]], title: str, ylabel: str
) -> Path:
    """A box plot per group with every point strewn over it, and each group's n below."""
    figure, axes = _figure()
    names = list(groups)
    values = [np.asarray(groups[name], float) for name in names]
    positions = np.arange(1, len(names) + 1)
    shown = [v if v.size else np.array([np.nan]) for v in values]
    axes.boxplot(shown, positions=positions, widths=0.5, showfliers=False)
    rng = np.random.default_rng(0)  # the jitter only spreads the points; fixed, so reruns match
    for position, v in zip(positions, values, strict=True):
        jitter = rng.uniform(-0.15, 0.15, v.size)
        axes.scatter(position + jitter, v, s=9, alpha=0.45, color="tab:blue", edgecolors="none")
    axes.set_xticks(positions)
    axes.set_xticklabels([f"{name}\nn = {v.size}" for name, v in zip(names, values, strict=True)])
    axes.set_ylabel(ylabel)
    axes.set_title(_wrapped(title), fontsize=10)
    axes.grid(alpha=0.3, axis="y")
    return _save(figure, path)


def confusion_matrix(
    path: Path,
    matrix: Sequence[Sequence[int]],
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    title: str,
    rows_name: str = "true",
    columns_name: str = "predicted",
) -> Path:
    """Counts in each cell, shaded by the row's share (so a class's recall reads as the
    diagonal's shade whatever the class sizes)."""
    figure, axes = _figure()
    counts = np.asarray(matrix, float)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for (i, j), count in np.ndenumerate(counts):
        axes.text(
            j,
            i,
            f"{int(count)}\n{shares[i, j]:.1%}",
            ha="center",
            va="center",
            fontsize=9,
            color="white" if shares[i, j] > 0.6 else "black",
        )
    axes.set_xticks(range(len(column_labels)), column_labels)
    axes.set_yticks(range(len(row_labels)), row_labels)
    axes.set_xlabel(columns_name)
    axes.set_ylabel(rows_name)
    axes.set_title(_wrapped(title), fontsize=10)
    return _save(figure, path)


def reliability_diagram(path: Path, calibration: Mapping[str, Any], title: str) -> Path:
    """Accuracy against mean confidence per bin (``agreement.calibration``'s table), the
    diagonal a calibrated model lies on, and below it how many answers fell in each bin."""
    require()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=SIZE, layout="constrained")
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    table = calibration["table"]
    lower = np.array([row["lower"] for row in table])
    width = float(table[0]["upper"] - table[0]["lower"]) if table else 1.0
    accuracy = np.array([np.nan if row["accuracy"] is None else row["accuracy"] for row in table])
    counts = np.array([row["n"] for row in table])
    top.bar(
        lower,
        np.nan_to_num(accuracy),
        width=width,
        align="edge",
        color="tab:blue",
        alpha=0.7,
        edgecolor="white",
        label="accuracy in bin",
    )
    top.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="calibrated")
    filled = counts > 0
    confidence = np.array(
        [np.nan if row["confidence"] is None else row["confidence"] for row in table]
    )
    top.scatter(
        confidence[filled],
        accuracy[filled],
        color="tab:red",
        s=14,
        zorder=3,
        label="mean confidence in bin",
    )
    ece = calibration.get("ece")
    top.set_title(
        _wrapped(
            f"{title}; ECE {ece:.4f} ({calibration['bins']} equal-width bins)"
            if ece is not None
            else title
        ),
        fontsize=10,
    )
    top.set_ylabel("accuracy")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1.02)
    top.legend(loc="upper left", fontsize=8)
    top.grid(alpha=0.3)
    bottom.bar(lower, counts, width=width, align="edge", color="tab:grey", edgecolor="white")
    bottom.set_yscale("symlog", linthresh=10)
    bottom.set_xlabel("top-class confidence")
    bottom.set_ylabel("answers")
    bottom.grid(alpha=0.3)
    return _save(figure, path)
