"""Shipped models by name: the index matches the files, names resolve (checkout, cache), pulling.

Network traffic stays on 127.0.0.1: a `http.server` in a thread serves a folder, stopped in
the fixture's teardown.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import tomllib
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from recog.cli import main
from recog.runtime import Recognizer, read_model_info
from recog.runtime.model_index import (
    ModelNameError,
    PullError,
    cache_dir,
    index_path,
    load_index,
    pull,
    resolve_model,
    sha256_of,
)

from .conftest import ROOT

MODELS = ROOT / "models"
SAMPLE = MODELS / "digits-en" / "samples" / "nine_four_three.wav"
PROXY_VARS = ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]


@pytest.fixture(autouse=True)
def _local_only(monkeypatch):
    """No proxy between the tests and 127.0.0.1; the checkout lookup on unless a test turns it off."""
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.delenv("RECOG_NO_CHECKOUT_MODELS", raising=False)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty cache, and resolution as in an installed package (no checkout lookup)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("RECOG_CACHE_DIR", str(folder))
    monkeypatch.setenv("RECOG_NO_CHECKOUT_MODELS", "1")
    return folder


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def serve():
    """serve(folder) -> base URL of a HTTP server on 127.0.0.1 for `folder`; all stopped at teardown."""
    servers = []

    def start(folder: Path) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _corrupt_copy(src: Path, dst: Path) -> None:
    """`src` copied to `dst` with one byte changed (same size, other sha256)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dst.write_bytes(bytes(data))


# ---- the index ---------------------------------------------------------------------------

def test_index_matches_the_shipped_files():
    index = load_index()
    assert list(index) == ["digits-en", "iam-ondb-en"]
    for entry in index.values():
        for item in entry.files:
            path = MODELS / item.file
            assert path.stat().st_size == item.size, f"{item.file}: size; run python tools/update_model_index.py"
            assert sha256_of(path) == item.sha256, f"{item.file}: sha256; run python tools/update_model_index.py"
        info = read_model_info(MODELS / entry.model.file)
        assert entry.modality == info.modality
        assert entry.dev == {"metrics": info.metrics, "about": info.metrics_about}
        assert entry.licence["model"] and entry.licence["training_data"] and entry.language == "en"
    assert [x.file for x in index["iam-ondb-en"].extra_files] == ["iam-ondb-en/char6.arpa", "iam-ondb-en/model.onnx"]
    assert "non-commercial" in index["iam-ondb-en"].licence["model"]
    assert index["digits-en"].licence["model"] == "CC BY-SA 4.0"


def test_update_tool_finds_the_index_current():
    spec = importlib.util.spec_from_file_location("update_model_index", ROOT / "tools" / "update_model_index.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main(["--check"]) == 0


def test_every_shipped_model_file_is_indexed():
    indexed = {item.file for entry in load_index().values() for item in entry.files}
    shipped = {str(p.relative_to(MODELS)) for p in MODELS.rglob("*") if p.suffix in (".onnx", ".arpa")}
    assert shipped <= indexed


def test_the_index_is_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "model_index.json" in config["tool"]["setuptools"]["package-data"]["recog.runtime"]
    assert index_path() == ROOT / "recog" / "runtime" / "model_index.json"


# ---- resolution ----------------------------------------------------------------------------

def test_names_resolve_to_the_checkout_and_paths_stay_paths(tmp_path):
    assert resolve_model("digits-en") == MODELS / "digits-en" / "model.int8.onnx"
    assert resolve_model("iam-ondb-en") == MODELS / "iam-ondb-en" / "model.int8.onnx"
    assert resolve_model(str(SAMPLE)) == SAMPLE
    assert resolve_model("missing/model.onnx") == Path("missing/model.onnx")  # the loader names the missing file
    (tmp_path / "digits-en").write_bytes(b"x")
    (tmp_path / "iam-ondb-en").mkdir()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert resolve_model("digits-en") == Path("digits-en")  # an existing file wins over a name
        assert resolve_model("iam-ondb-en") == MODELS / "iam-ondb-en" / "model.int8.onnx"  # a folder does not
    finally:
        os.chdir(cwd)


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RECOG_CACHE_DIR", str(tmp_path / "a"))
    assert cache_dir() == tmp_path / "a"
    monkeypatch.delenv("RECOG_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "recog"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "recog"


def test_unknown_name_lists_the_known_ones(cache, capsys):
    with pytest.raises(ModelNameError, match="known models: digits-en, iam-ondb-en"):
        resolve_model("digits-fr")
    with pytest.raises(SystemExit, match="digits-fr: no such file, and not a model name"):
        main(["transcribe", "--model", "digits-fr", str(SAMPLE)])
    assert main(["models", "pull", "digits-fr", "--from", str(MODELS)]) == 1
    assert "known models: digits-en, iam-ondb-en" in capsys.readouterr().err
    assert _files(cache) == []


def test_known_name_not_downloaded_says_how_to_pull(cache, capsys):
    with pytest.raises(ModelNameError, match="recog models pull digits-en --from URL_OR_DIR"):
        resolve_model("digits-en")
    with pytest.raises(SystemExit, match="not downloaded"):
        main(["transcribe", "--model", "digits-en", str(SAMPLE)])
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "digits-en/model.int8.onnx: not downloaded: recog models pull digits-en --from URL_OR_DIR" in out
    from recog.runtime import read_model_info

    wer = read_model_info(ROOT / "models" / "digits-en" / "model.int8.onnx").metrics["dev_strings_wer"]
    assert "CC BY-SA 4.0" in out and "non-commercial" in out and f"dev_strings_wer {wer:g}" in out


def test_a_cached_file_of_the_wrong_size_is_not_used(cache):
    target = cache / "models" / "digits-en" / "model.int8.onnx"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"an older model")
    with pytest.raises(ModelNameError, match="differs in size from the index"):
        resolve_model("digits-en")


# ---- pulling ---------------------------------------------------------------------------------

def test_pull_over_http_then_transcribe_by_name_from_the_cache(cache, serve, capsys):
    url = serve(MODELS)
    assert main(["models", "pull", "digits-en", "--from", url]) == 0
    target = cache / "models" / "digits-en" / "model.int8.onnx"
    assert capsys.readouterr().out.split() == [str(target), str(target.with_name("member0.onnx"))]
    # the extra file (member 0 alone in fp32) comes along
    assert _files(cache) == [target.with_name("member0.onnx"), target]
    assert sha256_of(target) == load_index()["digits-en"].model.sha256
    assert resolve_model("digits-en") == target
    assert main(["transcribe", "--model", "digits-en", str(SAMPLE), "--text-only", "--quiet-progress"]) == 0
    assert capsys.readouterr().out == f"{SAMPLE}\tnine four three\n"
    assert Recognizer.from_onnx("digits-en", threads=1).transcribe(str(SAMPLE))[0].text == "nine four three"
    assert main(["models", "pull", "digits-en", "--from", url]) == 0  # already there: kept
    assert "already in" in capsys.readouterr().err


def test_pull_from_a_folder_fetches_the_extra_files(cache, capsys):
    assert main(["models", "pull", "iam-ondb-en", "--from", str(MODELS)]) == 0
    assert _files(cache) == [cache / "models" / "iam-ondb-en" / "char6.arpa",
                             cache / "models" / "iam-ondb-en" / "model.int8.onnx",
                             cache / "models" / "iam-ondb-en" / "model.onnx"]
    capsys.readouterr()
    assert main(["models", "list", "--json"]) == 0
    rows = {r["name"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert [(f["where"], f["path"]) for f in rows["iam-ondb-en"]["files"]] == [
        ("cache", str(cache / "models" / "iam-ondb-en" / "model.int8.onnx")),
        ("cache", str(cache / "models" / "iam-ondb-en" / "char6.arpa")),
        ("cache", str(cache / "models" / "iam-ondb-en" / "model.onnx"))]
    assert rows["digits-en"]["files"][0]["where"] == "not downloaded"
    assert rows["iam-ondb-en"]["dev"]["metrics"]["val2_cer"] == pytest.approx(7.713)


def test_checksum_mismatch_leaves_nothing_behind(cache, tmp_path, serve, capsys):
    source = tmp_path / "source"
    _corrupt_copy(MODELS / "digits-en" / "model.int8.onnx", source / "digits-en" / "model.int8.onnx")
    assert main(["models", "pull", "digits-en", "--from", str(source)]) == 1
    assert "checksum mismatch" in capsys.readouterr().err
    assert _files(cache) == [] and not (cache / "models" / "digits-en").exists()
    # a good model with a bad extra file: neither is kept
    (source / "iam-ondb-en").mkdir()
    shutil.copyfile(MODELS / "iam-ondb-en" / "model.int8.onnx", source / "iam-ondb-en" / "model.int8.onnx")
    _corrupt_copy(MODELS / "iam-ondb-en" / "char6.arpa", source / "iam-ondb-en" / "char6.arpa")
    with pytest.raises(PullError, match="char6.arpa: checksum mismatch"):
        pull("iam-ondb-en", serve(source))
    assert _files(cache) == []


def test_a_larger_file_is_cut_off(cache, tmp_path):
    source = tmp_path / "source" / "digits-en"
    source.mkdir(parents=True)
    (source / "model.int8.onnx").write_bytes((MODELS / "digits-en" / "model.int8.onnx").read_bytes() + b"more")
    with pytest.raises(PullError, match="larger than the index says"):
        pull("digits-en", tmp_path / "source")
    assert _files(cache) == []


def test_a_missing_file_on_the_server_is_reported_with_its_url(cache, tmp_path, serve, capsys):
    url = serve(tmp_path)  # an empty folder
    assert main(["models", "pull", "digits-en", "--from", url]) == 1
    assert f"cannot fetch {url}digits-en/model.int8.onnx: HTTP 404" in capsys.readouterr().err
    assert _files(cache) == []


def test_an_unreachable_source_says_so(cache, tmp_path, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/models"
    assert main(["models", "pull", "digits-en", "--from", url, "--timeout", "5"]) == 1
    err = capsys.readouterr().err
    assert f"cannot reach {url}/digits-en/model.int8.onnx" in err and "refused" in err.lower()
    assert main(["models", "pull", "digits-en", "--from", str(tmp_path / "nowhere")]) == 1
    assert "no such folder" in capsys.readouterr().err
    assert _files(cache) == []


def test_a_name_works_from_any_working_directory(tmp_path):
    """Checkout resolution depends on where the package is, not on the working directory."""
    env = {k: v for k, v in os.environ.items() if k != "RECOG_NO_CHECKOUT_MODELS"}
    env.update(RECOG_CACHE_DIR=str(tmp_path / "empty-cache"), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "recog", "transcribe", "--model", "digits-en", str(SAMPLE),
                           "--text-only", "--quiet-progress", "--threads", "1"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == f"{SAMPLE}\tnine four three\n"
    assert not (tmp_path / "empty-cache").exists()
