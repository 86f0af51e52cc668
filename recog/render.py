"""Draw ink to an image file (matplotlib's Agg canvas; no display, no pyplot state).

Needs matplotlib (`pip install 'recog[render]'`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from recog.features.ink.strokes import Ink


def render_ink(ink: Ink, output: str | Path, title: str | None = None, guides: Sequence[float] = (),
               height_inches: float = 2.0, dpi: int = 100, linewidth: float = 1.5) -> Path:
    """Write `ink` as an image (format from the suffix: .png, .svg, .pdf, ...); returns the path.

    The drawing keeps the ink's aspect ratio with y growing downward (as captured).
    `guides` are y values drawn as thin horizontal lines (e.g. baseline 0 and corpus
    line -1 of a normalized ink); `title` is printed above the ink.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ModuleNotFoundError:
        raise ModuleNotFoundError("recog render needs matplotlib: pip install 'recog[render]'") from None
    output = Path(output)
    points, _ = ink.flat()
    if len(points):
        x0, x1 = float(points[:, 0].min()), float(points[:, 0].max())
        y0, y1 = float(points[:, 1].min()), float(points[:, 1].max())
    else:
        x0, x1, y0, y1 = 0.0, 1.0, 0.0, 1.0
    pad = 0.05 * max(x1 - x0, y1 - y0, 1e-9)
    aspect = (x1 - x0 + 2 * pad) / (y1 - y0 + 2 * pad)
    width = min(40.0, max(2.0, height_inches * aspect))
    fig = Figure(figsize=(width, height_inches + (0.4 if title else 0.0)), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.01, 0.01, 0.98, 0.98 * height_inches / (height_inches + (0.4 if title else 0.0))))
    for y in guides:
        ax.axhline(y, color="tab:blue", linewidth=0.6, alpha=0.6)
    for stroke in ink.strokes:
        if len(stroke) == 1:
            ax.plot(stroke[:, 0], stroke[:, 1], "k.", markersize=2 * linewidth)
        else:
            ax.plot(stroke[:, 0], stroke[:, 1], "k-", linewidth=linewidth, solid_capstyle="round")
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y1 + pad, y0 - pad)  # y down
    ax.set_aspect("equal", adjustable="datalim")
    ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=11, y=0.99, va="top")
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output)
    return output
