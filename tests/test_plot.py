"""`recog plot RUN_DIR`: curves from a run's log.jsonl, tolerant of missing keys; clear errors."""

from __future__ import annotations

import json

import pytest

from recog.cli import main
from recog.plot import RunLogError, metric_names, read_log, series

pytest.importorskip("matplotlib")


def _write_log(run, rows):
    run.mkdir(parents=True, exist_ok=True)
    (run / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")


def _fake_rows():
    rows = []
    for e in range(1, 6):
        rows.append({"step": e * 10 - 5, "loss": 4.0 / e + 0.1})  # a per-step row: no epoch, no minutes
        rows.append({"epoch": e, "step": e * 10, "loss": 3.0 / e, "minutes": 0.5 * e, "lr": 1e-3,
                     "dev_a_wer": 100 / e, "dev_a_cer": 50 / e, "dev_b_wer": 90 / e, "best_wer": 100 / e})
    rows[-1].pop("dev_b_wer")  # a row lacking a metric
    rows[-1].pop("minutes")  # and the wall time
    return rows


def test_plot_writes_a_png(tmp_path, capsys):
    run = tmp_path / "run"
    _write_log(run, _fake_rows())
    out = tmp_path / "curves.png"
    assert main(["plot", str(run), "-o", str(out)]) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # four panels with lines, not an empty canvas
    assert str(out) in capsys.readouterr().out


def test_plot_default_output_and_train_metrics(tmp_path):
    run = tmp_path / "run"
    _write_log(run, [{"epoch": 1, "step": 3, "loss": 1.5, "train_wer": 80.0, "train_cer": 40.0},
                     {"epoch": 2, "step": 6, "loss": 0.9, "train_wer": 60.0, "train_cer": 20.0}])
    assert main(["plot", str(run)]) == 0
    assert (run / "curves.png").stat().st_size > 10_000


def test_log_reading_skips_rows_without_a_key(tmp_path):
    run = tmp_path / "run"
    _write_log(run, _fake_rows())
    rows = read_log(run / "log.jsonl")
    assert metric_names(rows) == ["dev_a_wer", "dev_a_cer", "dev_b_wer"]
    xs, ys = series(rows, "minutes", "dev_b_wer")
    assert xs == [0.5, 1.0, 1.5, 2.0] and ys == pytest.approx([90, 45, 30, 22.5])


def test_missing_log_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty_run").mkdir()
    assert main(["plot", str(tmp_path / "empty_run")]) == 1
    assert "empty_run/log.jsonl: not found" in capsys.readouterr().err


def test_bad_line_names_file_and_line(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.jsonl").write_text('{"epoch": 1, "step": 1, "loss": 1}\n{oops\n')
    with pytest.raises(RunLogError, match=r"log.jsonl:2: not valid JSON"):
        read_log(run / "log.jsonl")
