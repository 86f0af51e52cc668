"""Shipped models by name: the index, where a name's files are, and fetching them into a cache.

    from recog.runtime.model_index import resolve_model, pull
    resolve_model("digits-en")            # Path of the model file (checkout or cache)
    pull("digits-en", "https://host/recog/models/")   # into the cache, sha256-checked

The index (`model_index.json`, shipped inside this package) lists each model's file
relative to a `models/` folder (`digits-en/model.int8.onnx`), its sha256 and size, its
extra files (an LM), modality, language, licences and dev figures. A name resolves to:

1. a path, when a file of that name exists or the value has a folder part or a suffix;
2. the checkout's `models/<file>`, when this package runs from a source checkout
   (found next to the package, whatever the working directory; `RECOG_NO_CHECKOUT_MODELS=1`
   skips it);
3. the cache's `models/<file>`: `$RECOG_CACHE_DIR`, else `$XDG_CACHE_HOME/recog`, else
   `~/.cache/recog` (the cache has the layout of `models/`, so it can serve as a source);
4. otherwise `ModelNameError`: a known name says how to pull it; an unknown one lists the names.

Standard library only (no torch, no onnxruntime): `urllib` fetches, `hashlib` checks.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

from recog._cache import cache_dir

INDEX_FORMAT = "recog-model-index-1"
INDEX_RESOURCE = "model_index.json"
CHUNK = 1 << 20


class ModelNameError(FileNotFoundError):
    """A `--model` that is neither an existing path nor an available model name."""


class PullError(RuntimeError):
    """Fetching a model failed (source unreachable, missing file, checksum mismatch)."""


@dataclass(frozen=True)
class IndexedFile:
    """One file of a model: its path relative to `models/`, sha256 (hex) and size in bytes."""

    file: str
    sha256: str
    size: int
    about: str = ""


@dataclass(frozen=True)
class ModelEntry:
    """One shipped model as the index describes it."""

    name: str
    description: str
    modality: str
    language: str
    model: IndexedFile
    licence: dict[str, str]
    dev: dict[str, Any]
    extra_files: tuple[IndexedFile, ...] = field(default=())

    @property
    def files(self) -> tuple[IndexedFile, ...]:
        """The model file first, then the extras."""
        return (self.model, *self.extra_files)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


# ---- the index -----------------------------------------------------------------------

def index_path() -> Path:
    """The index file inside the installed package (or the checkout's `recog/runtime/`)."""
    return Path(str(resources.files("recog.runtime").joinpath(INDEX_RESOURCE)))


def parse_index(data: dict[str, Any]) -> dict[str, ModelEntry]:
    """The index JSON -> {name: ModelEntry}; raises ValueError on a malformed index."""
    if data.get("format") != INDEX_FORMAT:
        raise ValueError(f"model index: format {data.get('format')!r}, expected {INDEX_FORMAT!r}")
    out: dict[str, ModelEntry] = {}
    for row in data["models"]:
        extras = tuple(IndexedFile(x["file"], x["sha256"], int(x["size"]), x.get("about", ""))
                       for x in row.get("extra_files", []))
        out[row["name"]] = ModelEntry(
            name=row["name"], description=row["description"], modality=row["modality"],
            language=row["language"], model=IndexedFile(row["file"], row["sha256"], int(row["size"])),
            licence=dict(row["licence"]), dev=dict(row.get("dev", {})), extra_files=extras)
    return out


def load_index(path: str | Path | None = None) -> dict[str, ModelEntry]:
    """{name: ModelEntry} of the shipped index (or of `path`), in index order."""
    text = Path(path).read_text(encoding="utf-8") if path else \
        resources.files("recog.runtime").joinpath(INDEX_RESOURCE).read_text(encoding="utf-8")
    return parse_index(json.loads(text))


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


# ---- where files are -----------------------------------------------------------------

def checkout_models_dir() -> Path | None:
    """The source checkout's `models/` when this package runs from one (and not disabled), else None.

    Found from this file's location (`<root>/recog/runtime/model_index.py`), never from the
    working directory; a root is a checkout when it has `pyproject.toml` and `models/`.
    `RECOG_NO_CHECKOUT_MODELS=1` turns the lookup off (an installed package's behaviour).
    """
    if os.environ.get("RECOG_NO_CHECKOUT_MODELS", "") not in ("", "0"):
        return None
    root = Path(__file__).resolve().parents[2]
    models = root / "models"
    return models if (root / "pyproject.toml").is_file() and models.is_dir() else None


def cached_path(item: IndexedFile, cache: str | Path | None = None) -> Path:
    """Where `item` lives in the cache: `<cache>/models/<file>`."""
    return Path(cache or cache_dir()) / "models" / item.file


def locate(item: IndexedFile, cache: str | Path | None = None) -> tuple[str, Path | None]:
    """("checkout" | "cache", path) of an indexed file, or ("not downloaded", None).

    A cached file whose size differs from the index (an older version) does not count.
    """
    models = checkout_models_dir()
    if models is not None and (models / item.file).is_file():
        return "checkout", models / item.file
    path = cached_path(item, cache)
    if path.is_file() and path.stat().st_size == item.size:
        return "cache", path
    return "not downloaded", None


def pull_command(name: str) -> str:
    return f"recog models pull {name} --from URL_OR_DIR"


def resolve_model(model: str | Path, cache: str | Path | None = None) -> Path:
    """A `--model` value -> the file to open: an existing file as it is, else a model name.

    A value that looks like a path (has a folder part or a suffix) is returned unchanged even
    when it does not exist, so that the loader reports the missing file; a bare name that is
    a folder (`digits-en` run inside `models/`) resolves as the model name. Raises `ModelNameError`
    for a known name that is not downloaded (with the pull command) or an unknown name
    (listing the known ones).
    """
    path = Path(model)
    if path.is_file():
        return path
    index = load_index()
    entry = index.get(str(model))
    if entry is None and (path.suffix or len(path.parts) != 1 or path.exists()):
        return path  # the loader says what is missing or wrong
    if entry is None:
        raise ModelNameError(f"{model}: no such file, and not a model name (known models: "
                             f"{', '.join(index)}; `recog models` lists them)")
    _, found = locate(entry.model, cache)
    if found is not None:
        return found
    cached = cached_path(entry.model, cache)
    state = ("differs in size from the index (an older or damaged copy)" if cached.is_file()
             else "is not there")
    raise ModelNameError(f"{model}: a known model, but not downloaded ({cached} {state}); "
                         f"fetch it with: {pull_command(entry.name)}")


# ---- pulling ---------------------------------------------------------------------------

def _is_url(source: str) -> bool:
    return "://" in source


def _open_source(source: str, item: IndexedFile, timeout: float) -> tuple[BinaryIO, str]:
    """An open binary stream of `item` at `source` (base URL or local folder) and its address."""
    if _is_url(source):
        url = source.rstrip("/") + "/" + urllib.parse.quote(item.file)
        try:
            return urllib.request.urlopen(url, timeout=timeout), url
        except urllib.error.HTTPError as err:
            raise PullError(f"cannot fetch {url}: HTTP {err.code} {err.reason}") from None
        except urllib.error.URLError as err:
            raise PullError(f"cannot reach {url}: {err.reason}") from None
        except (TimeoutError, OSError) as err:
            raise PullError(f"cannot reach {url}: {err}") from None
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise PullError(f"{source}: no such folder (give a base URL http(s)://... or a folder laid out like models/)")
    path = folder / item.file
    try:
        return open(path, "rb"), str(path)
    except OSError as err:
        raise PullError(f"cannot read {path}: {err.strerror or err}") from None


def _fetch_to_temp(source: str, item: IndexedFile, target: Path, timeout: float) -> Path:
    """Stream `item` into a temporary file beside `target`, checking size and sha256.

    Returns the temporary path; on any failure the temporary file is removed and PullError raised.
    """
    stream, where = _open_source(source, item, timeout)
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.part")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask decides, as for any file
    except OSError as err:
        stream.close()
        raise PullError(f"cannot write in {target.parent}: {err.strerror or err}") from None
    digest, size = hashlib.sha256(), 0
    try:
        with stream, os.fdopen(fd, "wb") as out:
            while block := stream.read(CHUNK):
                size += len(block)
                if size > item.size:
                    raise PullError(f"{where}: larger than the index says ({item.size} bytes); not the "
                                    f"file recog expects")
                digest.update(block)
                out.write(block)
        if size != item.size or digest.hexdigest() != item.sha256:
            raise PullError(f"{where}: checksum mismatch (got {size} bytes, sha256 {digest.hexdigest()}; "
                            f"the index says {item.size} bytes, sha256 {item.sha256}); nothing was kept")
        return temp
    except OSError as err:  # connection dropped, timeout, disk full
        temp.unlink(missing_ok=True)
        raise PullError(f"{where}: transfer failed: {err}") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def pull(name: str, source: str | Path, cache: str | Path | None = None, timeout: float = 60.0,
         log=None) -> list[Path]:
    """Fetch model `name` (its file and extras) from `source` into the cache; returns their paths.

    `source` is a base URL (`http(s)://host/path/` + each file's relative path) or a folder
    laid out like `models/`. Every file is streamed to a temporary file in its target folder and
    checked against the index (size, sha256); only when all match are they renamed into place,
    so a failure leaves no temporary file and no target. Files already cached with the right
    sha256 are kept. Raises `ModelNameError` for an unknown name and `PullError` otherwise.
    """
    index = load_index()
    entry = index.get(name)
    if entry is None:
        raise ModelNameError(f"{name}: not a model name (known models: {', '.join(index)})")
    source = str(source)
    log = log or (lambda message: None)
    created: list[Path] = []
    temps: list[tuple[Path, Path]] = []
    done: list[Path] = []
    try:
        for item in entry.files:
            target = cached_path(item, cache)
            if target.is_file() and target.stat().st_size == item.size and sha256_of(target) == item.sha256:
                log(f"{item.file}: already in {target}")
                done.append(target)
                continue
            missing = [p for p in [target.parent, *target.parent.parents] if not p.exists()]
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise PullError(f"cannot create {target.parent}: {err.strerror or err}") from None
            created.extend(reversed(missing))
            log(f"{item.file}: fetching {item.size / 1e6:.1f} MB from {source}")
            temps.append((_fetch_to_temp(source, item, target, timeout), target))
    except BaseException:
        for temp, _ in temps:
            temp.unlink(missing_ok=True)
        for folder in reversed(created):  # deepest first; only folders this call made, only if empty
            try:
                folder.rmdir()
            except OSError:
                pass
        raise
    for temp, target in temps:
        os.replace(temp, target)
        log(f"{target.relative_to(Path(cache or cache_dir()))}: sha256 ok")
        done.append(target)
    return done

