"""Looking inside the LSTM: one input through the numpy reference network, drawn against time.

    found = inspect_input("models/digits-en/member0.onnx", "a.wav", layer=0, direction="fwd", units=24)
    plot_inspection(found, "inside.png")      # matplotlib Agg, imported here only
    inspection_json(found)                    # the same arrays as lists

The figure stacks, on one time axis (seconds for audio, feature vectors for ink): the input
(log-mel spectrogram; an ink line is drawn beside it coloured by time instead), the CTC
posteriors with the greedy-decoded tokens at their frames, and for one layer and direction
heatmaps of the forget, input and output gates and the cell state of the N most active units
(largest standard deviation of h_t over time), ordered by when each peaks. The network is
`recog.model.lstm_cell.ReferenceNetwork`: it needs an fp32 ONNX file or a checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recog.decode.greedy import greedy_spans
from recog.features.ink.strokes import Ink
from recog.model.lstm_cell import DIRECTIONS, GATES, InspectionError, LstmTrace, ReferenceNetwork
from recog.runtime.modality import modality_of
from recog.runtime.model_file import ModelInfo

DRAWN_GATES = ("forget", "input", "output", "cell")


@dataclass
class Inspection:
    """One input looked at through one layer and direction.

    Attributes:
        source: the input as given.
        model: the model file.
        info: the model's description (alphabet, features, frame rate, modality).
        raw: what the input reader gave (waveform [N] or `Ink`).
        features: the model's input features [T, F].
        feature_rate: feature frames per second (audio) or 1 (ink: one per vector).
        log_probs: CTC log-probabilities [T', V].
        recognized: (token, first frame, last frame) of each greedy-decoded token.
        text: the greedy transcript.
        trace: every gate of the chosen layer and direction, all units ([T', H] each).
        units: indices of the drawn units, in drawing order (top to bottom).
        member: of an ensemble file, which member was inspected ("0 of 3: digits seed 0"); "" otherwise.
    """

    source: str
    model: str
    info: ModelInfo
    raw: Any
    features: np.ndarray
    feature_rate: float
    log_probs: np.ndarray
    recognized: list[tuple[str, int, int]]
    text: str
    trace: LstmTrace
    units: np.ndarray
    member: str = ""

    @property
    def frame_rate(self) -> float:
        """Output frames per second (per feature vector for ink)."""
        return self.info.frame_rate


def most_active_units(hidden: np.ndarray, n: int) -> np.ndarray:
    """The n units whose h_t varies most over time (standard deviation), ordered by the frame where
    each reaches its largest |h_t| (so the heatmaps read left-to-right, top-to-bottom)."""
    n = max(1, min(n, hidden.shape[1]))
    chosen = np.argsort(-hidden.std(axis=0), kind="stable")[:n]
    peaks = np.abs(hidden[:, chosen]).argmax(axis=0)
    return chosen[np.argsort(peaks, kind="stable")]


def load_network(model: str | Path, member: int = 0) -> tuple[ReferenceNetwork, ModelInfo, Path]:
    """(reference network, model description, resolved path) of a model file or shipped model name
    (of an ensemble file: its member `member`, counted from 0)."""
    from recog.runtime.model_index import resolve_model

    path = resolve_model(model)
    if path.suffix == ".pt":
        from recog.runtime.backends import load_acoustic_model

        info = load_acoustic_model(path).info  # names a damaged checkpoint; imports torch
        if member:
            raise InspectionError(f"{path}: a checkpoint holds one network; there is no member {member}")
        return ReferenceNetwork.from_checkpoint(path), info, path
    net = ReferenceNetwork.from_onnx(path, member=member)
    return net, ModelInfo.from_props(net.metadata, path), path


def inspect_input(model: str | Path, source: str, layer: int = 0, direction: str = "fwd",
                  units: int = 24, member: int = 0) -> Inspection:
    """Read, featurize and run one input through the reference network (of an ensemble file:
    member `member`'s); keep one layer's trace."""
    net, info, path = load_network(model, member)
    if not 0 <= layer < len(net.layers):
        raise InspectionError(f"{path}: layer {layer} does not exist (the model has layers 0..{len(net.layers) - 1})")
    if direction not in DIRECTIONS:
        raise InspectionError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    modality = modality_of(info.modality)
    raw = modality.read(source, info.features)
    features = modality.featurize(raw, info.features)
    inside = net.forward(features)
    trace = inside.layers[layer][direction]
    tokens, firsts, lasts = greedy_spans(inside.log_probs)
    alphabet = info.alphabet
    recognized = [(alphabet.tokens[k], a, b) for k, a, b in zip(tokens, firsts, lasts, strict=True)]
    feature_rate = info.frame_rate * info.subsampling
    return Inspection(str(source), str(path), info, raw, features, feature_rate, inside.log_probs,
                      recognized, alphabet.decode(tokens).strip(), trace, most_active_units(trace.hidden, units),
                      net.metadata.get("recog.inspected_member", ""))


def inspection_json(found: Inspection) -> dict[str, Any]:
    """The drawn arrays as plain lists: features [T][F], log_probs [T'][V], and per gate
    (forget, input, candidate, cell, output, hidden) [T'][N] for the drawn units."""
    row: dict[str, Any] = {
        "source": found.source,
        "model": found.model,
        "modality": found.info.modality,
        "text": found.text,
        "feature_rate": found.feature_rate,
        "frame_rate": found.frame_rate,
        "alphabet": list(found.info.alphabet.tokens),
        "features": found.features.tolist(),
        "log_probs": found.log_probs.tolist(),
        "recognized": [{"token": t, "first": a, "last": b} for t, a, b in found.recognized],
        "layer": found.trace.layer,
        "direction": found.trace.direction,
        "units": found.units.tolist(),
        "gates": {name: found.trace.gate(name)[:, found.units].tolist() for name in GATES},
    }
    if isinstance(found.raw, Ink):
        row["ink"] = [stroke[:, :2].tolist() for stroke in found.raw.strokes]
    return row


def _ink_progress(ink: Ink) -> list[np.ndarray]:
    """Per stroke, the fraction (0..1) of the pen's path drawn when each point is reached."""
    lengths = [np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(s[:, :2], axis=0), axis=1))])
               for s in ink.strokes]
    total = sum(float(x[-1]) for x in lengths) or 1.0
    out, done = [], 0.0
    for x in lengths:
        out.append((done + x) / total)
        done += float(x[-1])
    return out


def plot_inspection(found: Inspection, output: str | Path, dpi: int = 100) -> Path:
    """Draw the figure (format from the suffix: .png, .svg, .pdf); returns the path."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.collections import LineCollection
        from matplotlib.figure import Figure
    except ModuleNotFoundError:
        raise ModuleNotFoundError("recog inspect needs matplotlib: pip install 'recog[plot]'") from None
    output = Path(output)
    is_ink = isinstance(found.raw, Ink)
    fr = found.frame_rate
    n_frames = found.log_probs.shape[0]
    span = n_frames / fr  # the time axis: output frames [t, t + 1) / frame rate
    unit = "feature vectors" if is_ink else "seconds"

    heights = [1.8, 1.6] + [1.1] * len(DRAWN_GATES)  # inches: input, posteriors, gates
    top, gap, bottom = 0.5, 0.28, 0.55
    total = top + bottom + sum(heights) + gap * (len(heights) - 1)
    width = float(np.clip(6.0 + 1.6 * (span if not is_ink else span / 40.0), 9.0, 22.0))
    fig = Figure(figsize=(width, total), dpi=dpi)
    FigureCanvasAgg(fig)
    left, right = 0.9 / width, 1.0 - 1.1 / width
    axes, y = [], total - top
    for h in heights:
        y -= h
        axes.append(fig.add_axes((left, y / total, right - left, h / total)))
        y -= gap

    def colorbar(image, ax, label: str) -> None:
        box = ax.get_position()
        cax = fig.add_axes((box.x1 + 0.15 / width, box.y0, 0.12 / width, box.height))
        fig.colorbar(image, cax=cax)
        cax.tick_params(labelsize=7)
        cax.set_ylabel(label, fontsize=7)

    # 1. the input
    ax = axes[0]
    if is_ink:
        progress = _ink_progress(found.raw)
        for stroke, p in zip(found.raw.strokes, progress, strict=True):
            if len(stroke) == 1:
                ax.scatter(stroke[:, 0], stroke[:, 1], c=p, cmap="viridis", vmin=0, vmax=1, s=4)
                continue
            segments = np.stack([stroke[:-1, :2], stroke[1:, :2]], axis=1)
            lines = LineCollection(segments, cmap="viridis", linewidths=1.6)
            lines.set_array(0.5 * (p[:-1] + p[1:]))
            lines.set_clim(0.0, 1.0)
            ax.add_collection(lines)
        ax.autoscale()
        ax.invert_yaxis()  # y grows downward, as captured
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title("ink, coloured by how much of the line is written (the strip under the posteriors)",
                     fontsize=8, loc="left")
    else:
        T = found.features.shape[0]
        image = ax.imshow(found.features.T, origin="lower", aspect="auto", cmap="magma", interpolation="nearest",
                          extent=(0.0, T / found.feature_rate, 0, found.features.shape[1]))
        ax.set_ylabel("mel band", fontsize=8)
        ax.set_xlim(0.0, span)
        colorbar(image, ax, "log-mel (normalized)")
    fig.suptitle(f"{Path(found.source).name}: \u201c{found.text}\u201d   (layer {found.trace.layer}, "
                 f"{'forward' if found.trace.direction == 'fwd' else 'backward'} direction"
                 f"{'; ensemble member ' + found.member if found.member else ''})", fontsize=10,
                 y=1.0 - 0.12 / total, va="top")

    # 2. the CTC posteriors with the recognized tokens
    ax = axes[1]
    posteriors = np.exp(found.log_probs)
    times = (np.arange(n_frames) + 0.5) / fr
    ax.plot(times, posteriors[:, 0], color="0.6", linewidth=0.9, linestyle="--", label="blank")
    shown = [k for k in range(1, posteriors.shape[1]) if posteriors[:, k].max() >= 0.1]
    colours = {k: f"C{i % 10}" for i, k in enumerate(shown)}
    for k in shown:
        ax.plot(times, posteriors[:, k], color=colours[k], linewidth=1.1)
    for token, first, last in found.recognized:
        k = found.info.alphabet.tokens.index(token)
        peak = first + int(posteriors[first : last + 1, k].argmax())
        ax.text((peak + 0.5) / fr, 1.04, "\u2423" if token == " " else token, ha="center", va="bottom",
                fontsize=8, color=colours.get(k, "k"), clip_on=False)
    if is_ink:
        strip = np.linspace(0.0, 1.0, 256)[None, :]
        ax.imshow(strip, aspect="auto", cmap="viridis", extent=(0.0, span, -0.12, -0.05))
    ax.set_ylim(-0.13 if is_ink else -0.02, 1.02)
    ax.set_xlim(0.0, span)
    ax.set_ylabel("posterior", fontsize=8)
    ax.legend(loc="upper right", fontsize=7, frameon=False)

    # 3. the gates and the cell state of the chosen units
    labels = {"forget": "forget gate f_t", "input": "input gate i_t", "output": "output gate o_t",
              "cell": "cell state C_t"}
    for ax, name in zip(axes[2:], DRAWN_GATES, strict=True):
        values = found.trace.gate(name)[:, found.units].T  # [N, T']
        if name == "cell":
            limit = float(np.percentile(np.abs(values), 98)) or 1.0  # a few large counters would wash out the rest
            style = {"cmap": "RdBu_r", "vmin": -limit, "vmax": limit}
        else:
            style = {"cmap": "viridis", "vmin": 0.0, "vmax": 1.0}
        image = ax.imshow(values, aspect="auto", interpolation="nearest", origin="upper",
                          extent=(0.0, span, len(found.units), 0), **style)
        ax.set_ylabel(f"{len(found.units)} units", fontsize=8)
        ax.set_yticks([])
        ax.set_xlim(0.0, span)
        ax.set_title(labels[name], fontsize=8, loc="left")
        colorbar(image, ax, "C_t (98th pct. clip)" if name == "cell" else name)
    for ax in axes[1:]:
        ax.tick_params(labelsize=7)
    for ax in axes[1:-1]:
        ax.set_xticklabels([])
    if not is_ink:
        axes[0].tick_params(labelsize=7)
        axes[0].set_xticklabels([])
    axes[-1].set_xlabel(f"time ({unit})", fontsize=8)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output)
    return output
