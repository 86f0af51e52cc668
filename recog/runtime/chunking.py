"""Long recordings: overlapping windows in, one stitched transcript out, in bounded memory.

A recording of any length is cut into windows of `chunk_frames` output frames
that overlap by `context_frames` on each side. Each window is run through the
model on its own; only its middle (the frames that had `context_frames` of
audio on both sides) is kept, so the kept frames tile the recording exactly.
Windows start on output-frame boundaries (multiples of hop x subsampling
samples), so window frame k is recording frame `start_frame + k`.

The kept log-probs are decoded by `StreamingDecoder` in segments cut inside
pauses (runs of confident blank frames). Greedy decoding cut after a blank
frame gives exactly what decoding the whole sequence would; beam search loses
only LM context across a pause. Memory is bounded by the window and the
segment length, never by the recording.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from recog.decode.config import Decoder
from recog.decode.member_choice import mean_of_members


@dataclass
class Window:
    """One model input cut from a long recording.

    Attributes:
        start, stop: samples [start, stop) at the model rate.
        start_frame: recording output frame of the window's first output frame.
        keep_from, keep_to: output frames of this window to keep ([keep_from, keep_to);
            keep_to None = to the end).
    """

    start: int
    stop: int
    start_frame: int
    keep_from: int
    keep_to: int | None


def plan_windows(num_samples: int, frame_samples: int, chunk_frames: int, context_frames: int) -> Iterator[Window]:
    """Windows covering `num_samples` samples; consecutive kept regions tile the recording.

    Args:
        num_samples: recording length at the model rate.
        frame_samples: samples per output frame (hop length x subsampling).
        chunk_frames: window length in output frames.
        context_frames: frames of context dropped at each inner window edge.
    """
    step = chunk_frames - 2 * context_frames
    if step <= 0:
        raise ValueError(f"chunk of {chunk_frames} frames leaves nothing between two contexts of {context_frames}")
    frame = 0
    while True:
        start = frame * frame_samples
        stop = min(num_samples, start + chunk_frames * frame_samples)
        last = stop >= num_samples
        yield Window(start, stop, frame, 0 if frame == 0 else context_frames, None if last else chunk_frames - context_frames)
        if last:
            return
        frame += step


@dataclass
class StreamingDecoder:
    """Decodes an unbounded stream of log-prob frames [n, V] in segments cut inside pauses.

    Args:
        decoder: per-segment decoder (greedy or beam).
        segment_frames: a cut is looked for once this many frames are buffered.
        min_pause_frames: a pause is a run of at least this many confident blank frames.
        blank_prob: a frame is a confident blank when P(blank) >= this.

    The buffer never exceeds 2 x segment_frames plus one pushed block: past that
    a cut is forced at the last blank-argmax frame (or the buffer's end).
    """

    decoder: Decoder
    segment_frames: int
    min_pause_frames: int = 5
    blank_prob: float = 0.99
    tokens: list[int] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)
    score: float = 0.0
    _buffer: list[np.ndarray] = field(default_factory=list)
    _buffered: int = 0
    _offset: int = 0
    _held: int | None = None  # non-blank best token of the previous segment's last frame

    def push(self, log_probs: np.ndarray) -> None:
        """Append frames [n, V] (recording order; [n, M, V] from an ensemble's members) and decode
        whatever can be cut off."""
        if log_probs.shape[0]:
            self._buffer.append(log_probs)
            self._buffered += log_probs.shape[0]
        while self._buffered >= self.segment_frames:
            buf = np.concatenate(self._buffer) if len(self._buffer) > 1 else self._buffer[0]
            cut = self._cut(buf)
            if cut is None:
                self._buffer = [buf]
                return
            self._decode(buf[: cut + 1])
            rest = buf[cut + 1 :]
            self._buffer, self._buffered = ([rest] if rest.shape[0] else []), rest.shape[0]

    def finish(self) -> tuple[list[int], list[int], float]:
        """Decode what is left; returns (tokens, recording start frame of each token, total score)."""
        if self._buffered:
            self._decode(np.concatenate(self._buffer))
            self._buffer, self._buffered = [], 0
        return self.tokens, self.frames, self.score

    def _cut(self, buf: np.ndarray) -> int | None:
        """Last frame of the next segment, or None to wait for more frames (an ensemble's pauses are
        those of its members' mean posteriors)."""
        buf = mean_of_members(buf)
        confident = buf[:, 0] >= math.log(self.blank_prob)
        run_end = None
        run = 0
        for t in range(buf.shape[0] - 1, -1, -1):  # latest pause first
            if confident[t]:
                run += 1
                run_end = t if run == 1 else run_end
                if run >= self.min_pause_frames:
                    return t + (run_end - t) // 2  # middle of the pause
            else:
                run = 0
        if buf.shape[0] < 2 * self.segment_frames:
            return None
        blank_best = np.flatnonzero(buf.argmax(axis=1) == 0)
        return int(blank_best[-1]) if blank_best.size else buf.shape[0] - 1

    def _decode(self, segment: np.ndarray) -> None:
        result = self.decoder(segment)
        tokens, frames = list(result.tokens), list(result.token_frames)
        confidences = list(result.token_confidences) or [1.0] * len(tokens)
        if tokens and self._held is not None and tokens[0] == self._held and frames[0] == 0:
            # a forced cut split one token's frames: count it once, with the better of its two halves
            if self.confidences:
                self.confidences[-1] = max(self.confidences[-1], confidences[0])
            tokens, frames, confidences = tokens[1:], frames[1:], confidences[1:]
        self.tokens.extend(tokens)
        self.confidences.extend(confidences)
        self.frames.extend(self._offset + f for f in frames)
        self.score += result.score
        self._offset += segment.shape[0]
        last = int(mean_of_members(segment[-1:])[0].argmax()) if segment.shape[0] else 0
        self._held = last if last != 0 else None
