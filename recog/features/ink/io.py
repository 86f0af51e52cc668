"""Reading and writing ink: JSON ink files, IAM-OnDB lineStrokes XML, ink packs (numpy only).

Formats:
    JSON ink      `{"strokes": [[[x, y, t], ...], ...]}` (t optional, milliseconds); the house format.
    IAM XML       IAM-OnDB `lineStrokes` files: `<StrokeSet><Stroke><Point x= y= time=/>...`
                  (time in seconds; read as milliseconds from the first point).
    ink pack      `NAME.npz` holding many lines (see `recog.features.ink.pack`); one line is
                  addressed as `NAME.npz#<index>`, which is what prepared manifests reference.

`load_ink(path)` picks the reader by the suffix.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from recog.features.ink.pack import load_pack, split_pack_address
from recog.features.ink.strokes import Ink, InkError

INK_EXTENSIONS = (".json", ".xml")


def load_ink(path: str | Path) -> Ink:
    """Read an ink from a `.json` ink file, an IAM-OnDB `.xml` file or `pack.npz#index`.

    Raises `InkError` naming the file when it is missing, malformed or holds no points.
    """
    text = str(path)
    pack, index = split_pack_address(text)
    if pack is not None:
        return load_pack(pack).ink(index)
    p = Path(text)
    if not p.is_file():
        raise InkError(f"{p}: file not found")
    suffix = p.suffix.lower()
    if suffix == ".json":
        return read_ink_json(p)
    if suffix == ".xml":
        return read_iam_xml(p)
    if suffix == ".npz":
        raise InkError(f"{p}: an ink pack holds many lines; address one as {p}#<index>")
    raise InkError(f"{p}: unknown ink format {suffix!r} (expected .json, .xml or pack.npz#index)")


# ---- JSON -------------------------------------------------------------------------------------
def ink_from_json(data: object, source: str = "<json>") -> Ink:
    """A parsed JSON object `{"strokes": [[[x, y(, t)], ...], ...]}` -> Ink (empty strokes dropped)."""
    if not isinstance(data, dict) or not isinstance(data.get("strokes"), list):
        raise InkError(f"{source}: expected an object with a 'strokes' list")
    strokes = []
    for k, stroke in enumerate(data["strokes"]):
        if not isinstance(stroke, list):
            raise InkError(f"{source}: stroke {k} is not a list of points")
        if not stroke:
            continue
        try:
            a = np.asarray(stroke, dtype=np.float64)
        except (TypeError, ValueError):
            raise InkError(f"{source}: stroke {k}: points must be [x, y] or [x, y, t] numbers") from None
        if a.ndim != 2 or a.shape[1] not in (2, 3):
            raise InkError(f"{source}: stroke {k}: points must be [x, y] or [x, y, t] (got shape {a.shape})")
        strokes.append(a)
    if strokes and len({s.shape[1] for s in strokes}) > 1:
        raise InkError(f"{source}: some strokes have timestamps and others not")
    return Ink(strokes, source)


def read_ink_json(path: str | Path) -> Ink:
    """Read a JSON ink file; raises `InkError` naming the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InkError(f"{path}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InkError(f"{path}: not valid JSON ({err})") from None
    return ink_from_json(data, str(path))


def ink_to_json(ink: Ink, decimals: int | None = 3) -> dict:
    """Ink -> `{"strokes": [[[x, y(, t)], ...], ...]}` with values rounded to `decimals` (None: exact)."""

    def num(v: float) -> float | int:
        v = float(v) if decimals is None else round(float(v), decimals)
        return int(v) if v.is_integer() else v

    return {"strokes": [[[num(v) for v in point] for point in stroke] for stroke in ink.strokes]}


def write_ink_json(ink: Ink, path: str | Path, decimals: int | None = 3) -> None:
    """Write `ink` as a JSON ink file (atomically: temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(ink_to_json(ink, decimals), separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)


# ---- IAM-OnDB XML -----------------------------------------------------------------------------
def read_iam_xml(path: str | Path) -> Ink:
    """Read an IAM-OnDB lineStrokes XML file: every `<Stroke>` under `<StrokeSet>`, in order.

    Points carry `x`, `y` (whiteboard units, y down) and, when every point has it,
    `time` (seconds), returned as milliseconds since the first point.
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise InkError(f"{path}: file not found") from None
    except ET.ParseError as err:
        raise InkError(f"{path}: not valid XML ({err})") from None
    stroke_set = root if root.tag == "StrokeSet" else root.find(".//StrokeSet")
    if stroke_set is None:
        raise InkError(f"{path}: no <StrokeSet> element (not an IAM-OnDB lineStrokes file)")
    strokes, times = [], []
    for k, stroke in enumerate(stroke_set.iter("Stroke")):
        pts = stroke.findall("Point")
        if not pts:
            continue
        try:
            strokes.append(np.array([[float(p.attrib["x"]), float(p.attrib["y"])] for p in pts]))
            times.append([float(p.attrib["time"]) if "time" in p.attrib else np.nan for p in pts])
        except (KeyError, ValueError) as err:
            raise InkError(f"{path}: stroke {k}: a <Point> lacks a numeric x/y ({err})") from None
    all_times = np.concatenate([np.asarray(t) for t in times]) if times else np.zeros(0)
    if all_times.size and np.all(np.isfinite(all_times)):
        t0 = all_times[0]
        strokes = [np.column_stack([s, (np.asarray(t) - t0) * 1000.0]) for s, t in zip(strokes, times, strict=True)]
    return Ink(strokes, str(path))


def write_iam_xml(ink: Ink, path: str | Path) -> None:
    """Write `ink` in the IAM-OnDB lineStrokes layout (times, when present, as seconds)."""
    session = ET.Element("WhiteboardCaptureSession")
    stroke_set = ET.SubElement(session, "StrokeSet")
    for stroke in ink.strokes:
        el = ET.SubElement(stroke_set, "Stroke", colour="black")
        for point in stroke:
            attrs = {"x": _fmt(point[0]), "y": _fmt(point[1])}
            if stroke.shape[1] == 3:
                attrs["time"] = _fmt(point[2] / 1000.0)
            ET.SubElement(el, "Point", attrs)
    ET.indent(session)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(session).write(path, encoding="utf-8", xml_declaration=True)


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))
