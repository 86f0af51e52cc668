"""Training curves of a run: loss and dev error rates against optimizer steps and wall time.

Reads `RUN_DIR/log.jsonl` as `recog train` writes it (one JSON object per
epoch: epoch, step, loss, minutes, lr and `<devset>_wer` / `<devset>_cer` in
percent, or `train_wer` / `train_cer`). Rows without `epoch` (per-step rows)
are drawn as a thin loss line under the per-epoch points; any row may lack a
key, and a curve simply skips the rows without it. Drawing uses matplotlib's
Agg canvas (no display, no pyplot state); it needs `pip install 'recog[plot]'`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from recog.data.jsonl import iter_json_objects

LOG_NAME = "log.jsonl"
METRIC_SUFFIXES = ("_wer", "_cer")


class RunLogError(ValueError):
    """The run folder has no readable log; the message names the file and the problem."""


def log_path(run: str | Path) -> Path:
    """`run/log.jsonl` for a run folder, or `run` itself when it is a file."""
    run = Path(run)
    path = run if run.is_file() else run / LOG_NAME
    if not path.is_file():
        if not run.exists():
            raise RunLogError(f"{run}: no such run folder")
        raise RunLogError(f"{path}: not found ({run} is not a training run folder: `recog train` writes "
                          f"{LOG_NAME} there after its first epoch)")
    return path


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """The JSON objects of a log.jsonl file, in order; blank lines are skipped."""
    path = Path(path)
    rows = [row for _, row in iter_json_objects(path, RunLogError)]
    if not rows:
        raise RunLogError(f"{path}: empty log (no epoch finished yet?)")
    return rows


def metric_names(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Error-rate keys present in any row (`dev_wer`, `train_cer`, ...), in first-seen order; not `best_wer`."""
    names: list[str] = []
    for row in rows:
        for key in row:
            if key.endswith(METRIC_SUFFIXES) and key != "best_wer" and key not in names:
                names.append(key)
    return names


def series(rows: Sequence[dict[str, Any]], x: str, y: str) -> tuple[list[float], list[float]]:
    """(xs, ys) over the rows that have numeric `x` and `y`."""
    xs, ys = [], []
    for row in rows:
        a, b = row.get(x), row.get(y)
        if _number(a) and _number(b):
            xs.append(float(a))
            ys.append(float(b))
    return xs, ys


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v == v  # v == v: not NaN


def plot_run(run: str | Path, output: str | Path, title: str | None = None, dpi: int = 110) -> Path:
    """Draw the curves of `run` (a run folder or a log.jsonl) into `output` (.png, .svg, .pdf); returns it.

    Layout: two rows (training loss; dev error rates in percent, WER solid and CER
    dashed, one colour per set) by two columns (against optimizer steps; against
    wall-clock minutes of training).
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ModuleNotFoundError:
        raise ModuleNotFoundError("recog plot needs matplotlib: pip install 'recog[plot]'") from None
    path = log_path(run)
    rows = read_log(path)
    epochs = [r for r in rows if "epoch" in r]
    steps = [r for r in rows if "epoch" not in r]
    metrics = metric_names(epochs or rows)
    fig = Figure(figsize=(11, 7), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2, sharex="col")
    for col, (x, label) in enumerate((("step", "optimizer step"), ("minutes", "wall time (minutes)"))):
        loss_ax, err_ax = axes[0][col], axes[1][col]
        drawn = _draw_loss(loss_ax, steps, epochs, x)
        drawn |= _draw_metrics(err_ax, epochs or rows, metrics, x)
        loss_ax.set_ylabel("training loss (nats / token)")
        err_ax.set_ylabel("error rate (%)")
        err_ax.set_xlabel(label)
        for ax in (loss_ax, err_ax):
            ax.grid(True, alpha=0.3)
        if not drawn:
            loss_ax.text(0.5, 0.5, f"no '{x}' in the log", transform=loss_ax.transAxes, ha="center")
    fig.suptitle(title or _title(path, epochs, metrics))
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output)
    return output


def _draw_loss(ax: Any, steps: list[dict], epochs: list[dict], x: str) -> bool:
    """Per-step loss as a thin line, per-epoch loss as points joined; True if anything was drawn."""
    drawn = False
    xs, ys = series(steps, x, "loss")
    if xs:
        ax.plot(xs, ys, lw=0.7, alpha=0.5, color="tab:gray", label="per step")
        drawn = True
    xs, ys = series(epochs, x, "loss")
    if xs:
        ax.plot(xs, ys, marker="o", ms=3, color="tab:blue", label="epoch mean")
        drawn = True
    if drawn:
        values = [v for r in steps + epochs if _number(v := r.get("loss"))]
        if values and min(values) > 0 and max(values) / min(values) > 20:
            ax.set_yscale("log")
        ax.legend(fontsize=8)
    return drawn


def _draw_metrics(ax: Any, rows: list[dict], metrics: list[str], x: str) -> bool:
    """One colour per set (`dev_strings`, ...): WER solid, CER dashed; True if anything was drawn."""
    sets = list(dict.fromkeys(m[: -len("_wer")] for m in metrics))
    drawn = False
    for i, name in enumerate(sets):
        colour = f"C{i % 10}"
        for suffix, style in (("_wer", "-"), ("_cer", "--")):
            xs, ys = series(rows, x, name + suffix)
            if xs:
                ax.plot(xs, ys, style, marker=".", color=colour, label=f"{name} {suffix[1:].upper()}")
                drawn = True
    if drawn:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no WER/CER in the log", transform=ax.transAxes, ha="center")
    return drawn


def _title(path: Path, epochs: list[dict], metrics: list[str]) -> str:
    """Run name, epochs, and the best value of the first WER (the checkpoint-selection metric)."""
    title = f"{path.parent.name}: {len(epochs)} epochs"
    wers = [m for m in metrics if m.endswith("_wer")]
    if wers:
        _, ys = series(epochs, "epoch", wers[0])
        if ys:
            title += f", best {wers[0]} {min(ys):.2f} %"
    return title
