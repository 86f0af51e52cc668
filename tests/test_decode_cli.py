"""`recog lm build` and `recog tune-lm` command lines."""

from __future__ import annotations

import pytest

from recog.cli import build_parser, main
from recog.decode import NgramLM


def test_lm_build_writes_a_loadable_arpa(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("one two three\ntwo three four\nthree four five one\n" * 10)
    out = tmp_path / "lm.arpa"
    assert main(["lm", "build", str(text), "-o", str(out), "--order", "3", "--unit", "word"]) == 0
    assert "wrote" in capsys.readouterr().out
    lm = NgramLM.from_arpa(out)
    assert lm.order == 3 and lm.unit == "word"
    assert lm.score("one two three") > lm.score("three two one")
    char = tmp_path / "char.arpa"
    assert main(["lm", "build", str(text), "-o", str(char), "--order", "5", "--unit", "char"]) == 0
    assert NgramLM.from_arpa(char).unit == "char"


def test_lm_build_reports_a_missing_file(tmp_path, capsys):
    assert main(["lm", "build", str(tmp_path / "nope.txt"), "-o", str(tmp_path / "x.arpa")]) == 1
    assert "nope.txt" in capsys.readouterr().err


def test_tune_lm_parses_grids():
    args = build_parser().parse_args(["tune-lm", "--model", "m.pt", "dev.jsonl", "--lm", "lm.arpa", "--alphas", "0,0.5", "--betas", "1"])
    assert args.alphas == [0.0, 0.5] and args.betas == [1.0] and callable(args.func)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["tune-lm", "--model", "m.pt", "dev.jsonl", "--lm", "x", "--alphas", "a,b"])
