"""Ink features: readers agree, JSON round trip, normalization invariance, resampling, vector layout, Bezier."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from recog.features.ink import (
    Ink,
    InkError,
    InkFeatureConfig,
    ink_features,
    load_ink,
    normalize_ink,
    read_iam_xml,
    read_ink_json,
    write_iam_xml,
    write_ink_json,
)
from recog.features.ink import vectors as V
from recog.features.ink.augment import AffineDraw, draw_affine
from recog.features.ink.bezier import fit_bezier
from recog.features.ink.config import InkAugmentConfig
from recog.features.ink.iam_ondb import IamOnDb
from recog.features.ink.normalize import clean_points, normalize_points
from recog.features.ink.pack import InkPack, write_pack
from recog.features.ink.resample import resample_strokes

from . import ink_support
from .conftest import ROOT
from .ink_support import synth_ink

iam_dir = ink_support.iam_dir  # fixture: the shared IAM-OnDB folder, or skip


def _affine(ink: Ink, scale: float, shift: tuple[float, float]) -> Ink:
    return Ink([np.column_stack([s[:, :2] * scale + shift, s[:, 2:]]) for s in ink.strokes])


# ---- readers and writers -------------------------------------------------------------------
def test_npy_reader_and_generated_xml_agree(iam_dir, tmp_path):
    db = IamOnDb(iam_dir)
    for index in (0, 1, 4321):
        ink = db.ink(index)
        raw = db.points(index)
        assert ink.num_points == len(raw) and ink.num_strokes == int(raw[:, 2].sum())
        np.testing.assert_array_equal(np.concatenate(ink.strokes), raw[:, :2])
        np.testing.assert_array_equal(ink.pen_up(), raw[:, 2])
        write_iam_xml(ink, tmp_path / f"{index}.xml")
        back = read_iam_xml(tmp_path / f"{index}.xml")
        assert [len(s) for s in back.strokes] == [len(s) for s in ink.strokes]
        for a, b in zip(back.strokes, ink.strokes, strict=True):
            np.testing.assert_array_equal(a, b)
    assert db.rows[0].text == "A MOVE to stop Mr . Gaitskell" and set(db.splits()) >= {"train", "val1", "val2"}


def test_xml_reader_reads_iam_layout_with_times(tmp_path):
    xml = tmp_path / "line.xml"
    xml.write_text(
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<WhiteboardCaptureSession>'
        '<WhiteboardDescription><SensorLocation corner="top_left"/></WhiteboardDescription>'
        '<StrokeSet><Stroke colour="black" start_time="10.5" end_time="10.6">'
        '<Point x="100" y="200" time="10.50"/><Point x="104" y="203" time="10.52"/></Stroke>'
        '<Stroke colour="black"><Point x="120" y="190" time="10.80"/></Stroke></StrokeSet>'
        '</WhiteboardCaptureSession>', encoding="iso-8859-1")
    ink = read_iam_xml(xml)
    assert ink.has_time and [len(s) for s in ink.strokes] == [2, 1]
    np.testing.assert_allclose(ink.strokes[0], [[100, 200, 0.0], [104, 203, 20.0]], atol=1e-9)
    np.testing.assert_allclose(ink.strokes[1], [[120, 190, 300.0]], atol=1e-9)


@pytest.mark.parametrize("with_time", [False, True])
def test_json_round_trip(tmp_path, with_time):
    ink = synth_ink("lox ci", seed=1, with_time=with_time)
    write_ink_json(ink, tmp_path / "a.json", decimals=None)
    back = load_ink(tmp_path / "a.json")
    assert back.has_time == with_time and back.num_strokes == ink.num_strokes
    for a, b in zip(back.strokes, ink.strokes, strict=True):
        np.testing.assert_array_equal(a, b)
    write_ink_json(ink, tmp_path / "b.json")  # default rounding: 3 decimals
    np.testing.assert_allclose(read_ink_json(tmp_path / "b.json").flat()[0], ink.flat()[0], atol=5e-4)


def test_pack_round_trip_and_addresses(tmp_path):
    inks = [synth_ink(t, seed=i) for i, t in enumerate(["lo", "xic", "o"])]
    assert write_pack(tmp_path / "p.npz", inks) == 3
    assert len(InkPack(tmp_path / "p.npz")) == 3
    back = load_ink(f"{tmp_path / 'p.npz'}#1")
    np.testing.assert_allclose(back.flat()[0], inks[1].flat()[0], rtol=1e-6)  # float32 storage
    assert [len(s) for s in back.strokes] == [len(s) for s in inks[1].strokes]
    with pytest.raises(InkError, match="out of range"):
        load_ink(f"{tmp_path / 'p.npz'}#3")
    with pytest.raises(InkError, match="#<index>"):
        load_ink(tmp_path / "p.npz")


def test_bad_inks_raise_errors_naming_the_file(tmp_path):
    (tmp_path / "bad.json").write_text('{"strokes": [[[1, 2], [3]]]}')
    with pytest.raises(InkError, match=r"bad\.json: stroke 0"):
        load_ink(tmp_path / "bad.json")
    (tmp_path / "mixed.json").write_text('{"strokes": [[[1, 2]], [[1, 2, 3]]]}')
    with pytest.raises(InkError, match="timestamps"):
        load_ink(tmp_path / "mixed.json")
    (tmp_path / "x.xml").write_text("<a><b></a>")
    with pytest.raises(InkError, match=r"x\.xml: not valid XML"):
        load_ink(tmp_path / "x.xml")
    with pytest.raises(InkError, match="file not found"):
        load_ink(tmp_path / "missing.json")
    with pytest.raises(InkError, match="NaN"):
        Ink([np.array([[0.0, np.nan]])])


# ---- normalization -------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["points", "bezier"])
def test_features_invariant_under_translation_and_scale(encoding):
    config = InkFeatureConfig(encoding=encoding, slant=True)
    ink = synth_ink("lox cil oxo", seed=4)
    ref = ink_features(ink, config)
    for scale, shift in [(2.5, (123.25, -77.5)), (0.37, (-4000.0, 9000.0))]:
        other = ink_features(_affine(ink, scale, shift), config)
        assert other.shape == ref.shape
        np.testing.assert_allclose(other, ref, atol=1e-5)


def test_invariance_on_a_real_line(iam_dir):
    ink = IamOnDb(iam_dir).ink(7)
    config = InkFeatureConfig()
    np.testing.assert_allclose(ink_features(_affine(ink, 3.0, (555.0, -1234.0)), config),
                               ink_features(ink, config), atol=1e-5)


def test_core_height_ignores_ascenders_and_deskews():
    ink = synth_ink("olo xlcl oil", seed=2)  # many ascenders ("l"), size 40..80, slope up to 0.05
    xy, _, band = normalize_points(*ink.flat(), InkFeatureConfig())
    assert not band.fallback
    size = float(np.median([np.ptp(s[:, 1]) for s in ink.strokes if len(s) > 20 and np.ptp(s[:, 1]) < 100]))
    assert band.height == pytest.approx(size * 0.9, rel=0.15)  # an "o" spans 0.9 core heights
    assert np.percentile(xy[:, 1], 95) == pytest.approx(0.0, abs=0.15)  # baseline at 0
    assert xy[:, 1].min() == pytest.approx(-2.05, abs=0.25)  # "l" tops: 2 core heights up
    assert xy[:, 0].min() == 0.0


def test_cleaning_drops_duplicates_and_spikes():
    stroke = np.column_stack([np.arange(20.0), np.zeros(20)])
    stroke = np.insert(stroke, 5, stroke[4], axis=0)  # a duplicate
    stroke[10] = [9.0, 50.0]  # a spike: out and back
    points, offsets = clean_points(stroke, np.array([0, len(stroke)]), outlier_factor=8.0)
    assert len(points) == len(stroke) - 2 and offsets.tolist() == [0, len(points)]
    assert not np.any(points[:, 1] == 50.0)
    kept, _ = clean_points(stroke, np.array([0, len(stroke)]), outlier_factor=0.0)
    assert len(kept) == len(stroke) - 1  # outlier removal off: only the duplicate goes


# ---- resampling ----------------------------------------------------------------------------
def test_resampling_is_equidistant_along_each_stroke():
    rng = np.random.default_rng(0)
    strokes = [np.cumsum(rng.uniform(-0.3, 0.3, size=(n, 2)), axis=0) for n in (40, 7, 1, 90)]
    xy = np.concatenate(strokes)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in strokes])])
    spacing = 0.2
    out, new_offsets = resample_strokes(xy, offsets, spacing)
    assert len(new_offsets) == len(offsets)
    for k, s in enumerate(strokes):
        r = out[new_offsets[k] : new_offsets[k + 1]]
        np.testing.assert_allclose(r[0], s[0])
        np.testing.assert_allclose(r[-1], s[-1])
        if len(s) == 1:
            assert len(r) == 1
            continue
        length = np.hypot(*np.diff(s, axis=0).T).sum()
        n = max(1, round(length / spacing))
        assert len(r) == n + 1
        # consecutive points are L/n apart along the trace; chords can only be shorter
        chords = np.hypot(*np.diff(r, axis=0).T)
        assert np.all(chords <= length / n + 1e-9) and abs(length / n - spacing) <= spacing / (2 * n) + 1e-9
        assert np.median(chords) > 0.8 * length / n


# ---- feature vectors -----------------------------------------------------------------------
def test_point_vector_layout():
    # Stroke 1: right along y = 0 then down (a corner at (1, 0)); stroke 2: a dot at (3, -1).
    right = np.column_stack([np.linspace(0, 1, 5), np.zeros(5)])
    down = np.column_stack([np.ones(4), np.linspace(0.25, 1, 4)])
    xy = np.concatenate([right, down, [[3.0, -1.0]]])
    offsets = np.array([0, 9, 10])
    f = V.point_vectors(xy, offsets, position=True)
    assert f.shape == (10, 8) and f.dtype == np.float32 and V.NAMES[V.HEIGHT] == "height"
    np.testing.assert_allclose(f[1, [V.DX, V.DY]], [0.25, 0.0])
    np.testing.assert_allclose(f[0, [V.DX, V.DY]], [0.0, 0.0])
    np.testing.assert_allclose(f[9, [V.DX, V.DY]], [2.0, -2.0])  # pen-up jump to the dot
    assert f[:, V.PEN_UP].tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    np.testing.assert_allclose(f[2, [V.COS_DIR, V.SIN_DIR]], [1, 0], atol=1e-6)  # rightward
    np.testing.assert_allclose(f[7, [V.COS_DIR, V.SIN_DIR]], [0, 1], atol=1e-6)  # downward (y down)
    np.testing.assert_allclose(f[9, [V.COS_DIR, V.SIN_DIR]], [0, 0])  # a dot has no direction
    np.testing.assert_allclose(f[2, [V.COS_CURV, V.SIN_CURV]], [1, 0], atol=1e-6)  # straight
    np.testing.assert_allclose(f[4, [V.COS_CURV, V.SIN_CURV]], [0, 1], atol=1e-6)  # right -> down: 90 deg clockwise
    np.testing.assert_allclose(f[[0, 8], V.COS_CURV], [1, 1])  # stroke ends: no turn
    np.testing.assert_allclose(f[:, V.HEIGHT], -xy[:, 1])
    assert V.point_vectors(xy, offsets, position=False).shape == (10, 7)


@pytest.mark.parametrize("encoding", ["points", "bezier"])
def test_feature_shapes(encoding):
    for position in (True, False):
        config = InkFeatureConfig(encoding=encoding, position=position)
        f = ink_features(synth_ink("lox", seed=0), config)
        assert f.ndim == 2 and f.shape[1] == config.dim == 7 + position and f.dtype == np.float32
        assert np.all(np.isfinite(f))
    assert ink_features(Ink([]), InkFeatureConfig(encoding=encoding)).shape == (0, 8)


# ---- Bezier --------------------------------------------------------------------------------
def _distance_to_curves(points: np.ndarray, curves) -> np.ndarray:
    dense = curves.evaluate(np.linspace(0, 1, 200)).reshape(-1, 2)
    return np.min(np.hypot(points[:, None, 0] - dense[None, :, 0], points[:, None, 1] - dense[None, :, 1]), axis=1)


def test_bezier_shortens_and_reconstructs_the_trace():
    config = InkFeatureConfig(encoding="bezier", bezier_tolerance=0.05)
    ink = synth_ink("lox cil oxo", seed=5)
    xy, offsets, _ = normalize_points(*ink.flat(), config)
    xy, offsets = resample_strokes(xy, offsets, config.spacing)
    curves = fit_bezier(xy, offsets, config.bezier_tolerance)
    for k in range(len(offsets) - 1):
        mine = curves.stroke == k
        assert np.any(mine)
        pts = xy[offsets[k] : offsets[k + 1]]
        sub = type(curves)(curves.p0[mine], curves.c1[mine], curves.c2[mine], curves.p3[mine], curves.stroke[mine])
        assert _distance_to_curves(pts, sub).max() <= config.bezier_tolerance + 1e-9
    bez = ink_features(ink, config)
    pts = ink_features(ink, InkFeatureConfig())
    assert len(bez) == len(curves) + len(offsets) - 1  # one pen-up move per stroke + the curves
    assert len(bez) < 0.4 * len(pts), (len(bez), len(pts))
    np.testing.assert_allclose(bez[:, 0:2].sum(0), xy[-1] - xy[0], atol=1e-4)  # the moves add up
    assert bez[:, 6].sum() == len(offsets) - 1


def test_bezier_on_a_real_line(iam_dir):
    ink = IamOnDb(iam_dir).ink(3)
    n_bez = len(ink_features(ink, InkFeatureConfig(encoding="bezier")))
    n_pts = len(ink_features(ink, InkFeatureConfig()))
    assert n_bez < 0.5 * n_pts and n_bez < 0.4 * ink.num_points


# ---- augmentation and purity ---------------------------------------------------------------
def test_affine_augmentation_draws():
    config = InkAugmentConfig(prob=1.0, scale=0.1, stretch=0.2, shear=10.0, rotation=3.0)
    assert draw_affine(config, np.array([0.99, 0.5, 0.5, 0.5, 0.5])).matrix() == pytest.approx(np.eye(2))
    extreme = draw_affine(config, np.array([0.0, 1.0, 0.0, 1.0, 0.0]))
    assert extreme.scale == pytest.approx(1.1) and extreme.stretch == pytest.approx(1 / 1.2)
    assert extreme.shear == pytest.approx(10.0) and extreme.rotation == pytest.approx(-3.0)
    assert draw_affine(InkAugmentConfig(prob=0.5), np.zeros(5) + 0.7) == AffineDraw()


def test_normalize_ink_keeps_stroke_structure():
    ink = synth_ink("oxi", seed=3)
    norm = normalize_ink(ink, InkFeatureConfig())
    assert norm.num_strokes == ink.num_strokes and not norm.has_time


def test_ink_features_do_not_import_torch(tmp_path):
    write_ink_json(synth_ink("lox", seed=0), tmp_path / "a.json")
    code = (f"import sys\nfrom recog.features.ink import load_ink, ink_features, InkFeatureConfig\n"
            f"f = ink_features(load_ink({str(tmp_path / 'a.json')!r}), InkFeatureConfig(encoding='bezier'))\n"
            "assert f.shape[1] == 8\nassert 'torch' not in sys.modules, 'torch imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
