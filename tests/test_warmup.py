"""`recog warmup`: it fills an empty numba cache, and what it compiled is all a transcription then needs.

Each test runs recog in subprocesses with a fresh cache folder (RECOG_CACHE_DIR; NUMBA_CACHE_DIR
unset), so that compilation really happens. No timings are asserted: a transcription after the
warmup must succeed and compile nothing new (no new file in the cache).
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from recog.decode.lm_build import build_lm
from recog.features.ink import write_ink_json

from .conftest import ROOT
from .ink_support import synth_ink

INK_MODEL = ROOT / "models" / "iam-ondb-en" / "model.int8.onnx"
DIGITS = ROOT / "models" / "digits-en"


def recog(args: list[str], cache: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["RECOG_CACHE_DIR"] = str(cache)
    proc = subprocess.run([sys.executable, "-m", "recog", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc


def compiled(cache: Path) -> set[str]:
    """The compiled functions in the numba cache (one .nbc file per function and signature)."""
    return {str(p.relative_to(cache)) for p in (cache / "numba").rglob("*.nbc")}


@pytest.fixture(scope="module")
def ink_and_lm(tmp_path_factory) -> tuple[Path, Path]:
    """A generated ink line and a small character LM."""
    root = tmp_path_factory.mktemp("warmup_inputs")
    ink = root / "line.json"
    write_ink_json(synth_ink("lol cix", seed=3, with_time=True), ink)
    text = root / "text.txt"
    text.write_text("lol cix\nox lil\ncoil oil\n")
    lm = root / "char.arpa"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # too little text to estimate the discounts
        build_lm(text, lm, order=3, unit="char")
    return ink, lm


def test_warmup_without_a_model_compiles_what_an_ink_beam_lm_transcription_uses(tmp_path, ink_and_lm):
    ink, lm = ink_and_lm
    cache = tmp_path / "cache"
    out = recog(["warmup"], cache).stdout
    assert "warmed up" in out and str(cache / "numba") in out
    before = compiled(cache)
    names = " ".join(before)
    for kernel in ("search_kernel.beam_search_kernel", "lm.lm_score", "bezier._fit_strokes",
                   "normalize._turning_points_kernel"):
        assert kernel in names, f"{kernel} not compiled: {sorted(before)}"
    text = recog(["transcribe", "--model", str(INK_MODEL), str(ink), "--decoder", "beam", "--lm", str(lm),
                  "--text-only"], cache).stdout
    assert text.startswith(f"{ink}\t")
    assert compiled(cache) == before  # loaded from the cache, nothing compiled again


def test_warmup_with_a_model_and_decoder(tmp_path, ink_and_lm):
    ink, lm = ink_and_lm
    cache = tmp_path / "cache"
    recog(["warmup", "--model", str(INK_MODEL), "--decoder", "beam", "--lm", str(lm)], cache)
    before = compiled(cache)
    assert any("beam_search_kernel" in name for name in before)
    recog(["transcribe", "--model", str(INK_MODEL), str(ink), "--decoder", "beam", "--lm", str(lm)], cache)
    assert compiled(cache) == before


@pytest.fixture(scope="module")
def single_and_ensemble(tmp_path_factory):
    """A one-network audio file and an ensemble file of two (untrained, digits-shaped, 8 kHz)."""
    from recog.export import export_onnx

    from .test_ensemble_export import random_checkpoint

    root = tmp_path_factory.mktemp("warm_models")
    ckpts = [random_checkpoint(root / f"s{s}.pt", s, hidden=16) for s in (0, 1)]
    single = export_onnx(ckpts[0], root / "single.onnx", parity_batches=(1,)).path
    return single, export_onnx(ckpts, root / "ensemble.onnx", parity_batches=(1,)).path


def test_greedy_audio_has_nothing_to_compile(tmp_path, single_and_ensemble):
    cache = tmp_path / "cache"
    model = str(single_and_ensemble[0])
    out = recog(["warmup", "--model", model], cache).stdout
    assert out.startswith("nothing to compile")
    recog(["transcribe", "--model", model, str(DIGITS / "samples"), "--text-only"], cache)
    assert not (cache / "numba").exists()  # greedy audio transcription imports no numba at all


def test_an_ensemble_compiles_its_ctc_scorer_once(tmp_path, single_and_ensemble):
    """Choosing among an ensemble's members scores texts with the numba CTC forward: the warmup compiles it."""
    cache = tmp_path / "cache"
    model = str(single_and_ensemble[1])
    assert "warmed up" in recog(["warmup", "--model", model], cache).stdout
    before = compiled(cache)
    assert any("ctc_score" in name for name in before), sorted(before)
    recog(["transcribe", "--model", model, str(DIGITS / "samples"), "--text-only"], cache)
    assert compiled(cache) == before


def test_numba_cache_folder_follows_the_environment(tmp_path):
    code = "import os, recog; print(os.environ['NUMBA_CACHE_DIR'])"
    base = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "RECOG_CACHE_DIR")}

    def folder(**env: str) -> str:
        return subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True,
                              check=True).stdout.strip()

    assert folder(RECOG_CACHE_DIR=str(tmp_path / "r")) == str(tmp_path / "r" / "numba")
    assert folder(XDG_CACHE_HOME=str(tmp_path / "x")) == str(tmp_path / "x" / "recog" / "numba")
    assert folder(NUMBA_CACHE_DIR=str(tmp_path / "n"), RECOG_CACHE_DIR=str(tmp_path / "r")) == str(tmp_path / "n")
