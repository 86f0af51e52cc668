"""Reading and writing ink: JSON ink files, IAM-OnDB lineStrokes XML, ink packs (numpy only).

Formats:
    JSON ink      `{"strokes": [[[x, y, t], ...], ...]}` (t optional, milliseconds); the house format.
    IAM XML       IAM-OnDB `lineStrokes` files: `<StrokeSet><Stroke><Point x= y= time=/>...`
                  (time in seconds; read as milliseconds from the first point).
    ink pack      `NAME.npz` holding many lines (see `recog.features.ink.pack`); one line is
                  addressed as `NAME.npz#<index>`, which is what prepared manifests reference.

`load_ink(path)` picks the reader by the suffix. Every reader checks the file against
`InputLimits` (size, JSON nesting, XML elements, points, strokes) before it builds
anything in proportion to the file, and refuses with an `InkError` naming the limit.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from recog.features.ink.pack import load_pack, split_pack_address
from recog.features.ink.strokes import Ink, InkError
from recog.features.io import check_regular_file
from recog.features.limits import InputLimits, above, current

INK_EXTENSIONS = (".json", ".xml")
XML_OTHER_ELEMENTS = 1024  # elements besides <Point> and <Stroke> an XML ink may hold (headers)
JSON_OTHER_ARRAYS = 1024  # arrays besides points and strokes a JSON ink may hold (the strokes list, metadata)


def load_ink(path: str | Path, limits: InputLimits | None = None) -> Ink:
    """Read an ink from a `.json` ink file, an IAM-OnDB `.xml` file or `pack.npz#index`.

    Raises `InkError` naming the file when it is missing, malformed, holds no points,
    or is beyond `limits` (default `recog.features.limits.DEFAULT_LIMITS`).
    """
    limits = current(limits)
    text = str(path)
    pack, index = split_pack_address(text)
    if pack is not None:
        loaded = load_pack(pack)
        if 0 <= index < len(loaded):
            a, b = loaded.offsets[index], loaded.offsets[index + 1]
            lifts = int(np.count_nonzero(loaded.pen_up[a:b])) + int(b > a and loaded.pen_up[b - 1] == 0)
            check_counts(f"{loaded.path}#{index}", int(b - a), lifts, limits)
        return loaded.ink(index)
    p = Path(text)
    check_regular_file(p, InkError)
    suffix = p.suffix.lower()
    if suffix == ".json":
        return read_ink_json(p, limits)
    if suffix == ".xml":
        return read_iam_xml(p, limits)
    if suffix == ".npz":
        raise InkError(f"{p}: an ink pack holds many lines; address one as {p}#<index>")
    raise InkError(f"{p}: unknown ink format {suffix!r} (expected .json, .xml or pack.npz#index)")


def check_counts(source: str, points: int, strokes: int, limits: InputLimits) -> None:
    """InkError when an ink of `points` points in `strokes` strokes is beyond `limits`."""
    if points > limits.max_ink_points:
        raise InkError(above(source, "point count", points, limits.max_ink_points, "max_ink_points"))
    if strokes > limits.max_ink_strokes:
        raise InkError(above(source, "stroke count", strokes, limits.max_ink_strokes, "max_ink_strokes"))


def check_file_size(path: Path, limits: InputLimits) -> None:
    """InkError when the file at `path` is larger than `limits.max_file_bytes`."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InkError(f"{path}: file not found") from None
    if size > limits.max_file_bytes:
        raise InkError(above(str(path), "file size", size, limits.max_file_bytes, "max_file_bytes", " bytes"))


# ---- JSON -------------------------------------------------------------------------------------
_ESCAPED = re.compile(rb"\\.", re.S)
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP = np.zeros(256, np.int8)
_DEPTH_STEP[[ord("["), ord("{")]] = 1
_DEPTH_STEP[[ord("]"), ord("}")]] = -1


def json_structure(raw: bytes) -> tuple[int, int]:
    """(deepest nesting of [ and {, number of arrays) outside strings in JSON text, by scanning
    its bytes (no parsing, no recursion; time and memory linear in the text)."""
    brackets = _STRING.sub(b"", _ESCAPED.sub(b"", raw)).translate(None, _NOT_BRACKET)
    steps = _DEPTH_STEP[np.frombuffer(brackets, np.uint8)]
    depth = deepest = 0
    for i in range(0, len(steps), 1 << 20):
        levels = np.cumsum(steps[i : i + (1 << 20)], dtype=np.int64) + depth
        deepest, depth = max(deepest, int(levels.max())), int(levels[-1])
    return deepest, brackets.count(b"[")


def ink_from_json(data: object, source: str = "<json>", limits: InputLimits | None = None) -> Ink:
    """A parsed JSON object `{"strokes": [[[x, y(, t)], ...], ...]}` -> Ink (empty strokes dropped).

    The point and stroke counts are checked against `limits` before any array is made.
    """
    if not isinstance(data, dict) or not isinstance(data.get("strokes"), list):
        raise InkError(f"{source}: expected an object with a 'strokes' list")
    check_counts(source, sum(len(s) for s in data["strokes"] if isinstance(s, list)),
                 sum(1 for s in data["strokes"] if s), current(limits))
    strokes = []
    for k, stroke in enumerate(data["strokes"]):
        if not isinstance(stroke, list):
            raise InkError(f"{source}: stroke {k} is not a list of points")
        if not stroke:
            continue
        try:
            a = np.asarray(stroke, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise InkError(f"{source}: stroke {k}: points must be [x, y] or [x, y, t] numbers") from None
        if a.ndim != 2 or a.shape[1] not in (2, 3):
            raise InkError(f"{source}: stroke {k}: points must be [x, y] or [x, y, t] (got shape {a.shape})")
        strokes.append(a)
    if strokes and len({s.shape[1] for s in strokes}) > 1:
        raise InkError(f"{source}: some strokes have timestamps and others not")
    return Ink(strokes, source)


def read_ink_json(path: str | Path, limits: InputLimits | None = None) -> Ink:
    """Read a JSON ink file; raises `InkError` naming the file.

    Its size, bracket nesting and number of arrays (one per point and per stroke, plus
    `JSON_OTHER_ARRAYS`) are checked against `limits` before it is parsed.
    """
    path, limits = Path(path), current(limits)
    check_file_size(path, limits)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InkError(f"{path}: file not found") from None
    return ink_from_json_bytes(raw, str(path), limits)


def parse_json_checked(raw: bytes, source: str, limits: InputLimits | None = None,
                       max_arrays: int | None = None) -> object:
    """JSON text -> its value, after checking its size (`max_file_bytes`), bracket nesting
    (`max_json_depth`) and number of arrays (default: one per point and stroke of one ink,
    plus `JSON_OTHER_ARRAYS`) against `limits`; `InkError` naming `source` otherwise."""
    limits = current(limits)
    if len(raw) > limits.max_file_bytes:
        raise InkError(above(source, "size", len(raw), limits.max_file_bytes, "max_file_bytes", " bytes"))
    depth, arrays = json_structure(raw)
    if depth > limits.max_json_depth:
        raise InkError(above(source, "JSON nesting depth", depth, limits.max_json_depth, "max_json_depth"))
    if max_arrays is None and arrays > limits.max_ink_points + limits.max_ink_strokes + JSON_OTHER_ARRAYS:
        raise InkError(above(source, "JSON array count (one per point and stroke)", arrays,
                             limits.max_ink_points + limits.max_ink_strokes + JSON_OTHER_ARRAYS,
                             f"max_ink_points + max_ink_strokes + {JSON_OTHER_ARRAYS} others"))
    if max_arrays is not None and arrays > max_arrays:
        raise InkError(f"{source}: JSON array count {arrays} above the limit of {max_arrays}")
    try:
        return json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InkError(f"{source}: not valid JSON ({err})") from None
    except RecursionError:
        raise InkError(f"{source}: JSON nested deeper than the parser can follow "
                       f"(InputLimits.max_json_depth {limits.max_json_depth} is too high)") from None
    except ValueError as err:  # an integer of more digits than Python converts
        raise InkError(f"{source}: not usable JSON ({err})") from None


def ink_from_json_bytes(raw: bytes, source: str = "<json>", limits: InputLimits | None = None) -> Ink:
    """JSON ink text (a file's bytes, an upload) -> Ink; checked as `parse_json_checked` does,
    then as `ink_from_json`. Raises `InkError` naming `source`."""
    return ink_from_json(parse_json_checked(raw, source, limits), source, limits)


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
def read_iam_xml(path: str | Path, limits: InputLimits | None = None) -> Ink:
    """Read an IAM-OnDB lineStrokes XML file: every `<Stroke>` under `<StrokeSet>`, in order.

    Points carry `x`, `y` (whiteboard units, y down) and, when every point has it,
    `time` (seconds), returned as milliseconds since the first point. The file's size,
    its number of elements (while parsing), points and strokes are checked against `limits`.
    """
    path, limits = Path(path), current(limits)
    check_file_size(path, limits)
    root = _parse_xml(path, limits.max_ink_points + limits.max_ink_strokes + XML_OTHER_ELEMENTS)
    stroke_set = root if root.tag == "StrokeSet" else root.find(".//StrokeSet")
    if stroke_set is None:
        raise InkError(f"{path}: no <StrokeSet> element (not an IAM-OnDB lineStrokes file)")
    stroke_points = [stroke.findall("Point") for stroke in stroke_set.iter("Stroke")]
    check_counts(str(path), sum(len(pts) for pts in stroke_points), sum(1 for pts in stroke_points if pts), limits)
    strokes, times = [], []
    for k, pts in enumerate(stroke_points):
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


def _parse_xml(path: Path, max_elements: int) -> ET.Element:
    """The root of the XML file at `path`, refused (InkError) as soon as it holds more than `max_elements`."""
    count = 0
    try:
        with path.open("rb") as f:
            parser = ET.iterparse(f, events=("start",))
            for _ in parser:
                count += 1
                if count > max_elements:
                    raise InkError(above(str(path), "XML element count", f"{count - 1}+", max_elements,
                                         f"max_ink_points + max_ink_strokes + {XML_OTHER_ELEMENTS} others"))
            return parser.root
    except FileNotFoundError:
        raise InkError(f"{path}: file not found") from None
    except ET.ParseError as err:
        raise InkError(f"{path}: not valid XML ({err})") from None


def write_iam_xml(ink: Ink, path: str | Path) -> None:
    """Write `ink` in the IAM-OnDB lineStrokes layout (times, when present, as seconds)."""
    root = ET.Element("WhiteboardCaptureSession")
    stroke_set = ET.SubElement(root, "StrokeSet")
    for stroke in ink.strokes:
        el = ET.SubElement(stroke_set, "Stroke", colour="black")
        for point in stroke:
            attrs = {"x": _fmt(point[0]), "y": _fmt(point[1])}
            if stroke.shape[1] == 3:
                attrs["time"] = _fmt(point[2] / 1000.0)
            ET.SubElement(el, "Point", attrs)
    ET.indent(root)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))
