"""tools/peer_pocketsphinx.py: the digits recipe's peer yardstick decodes real FSDD clips."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("pocketsphinx", reason="bench extra (make bench-deps) not installed")

TOOL = Path(__file__).resolve().parents[1] / "tools" / "peer_pocketsphinx.py"
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _load_tool():
    spec = importlib.util.spec_from_file_location("peer_pocketsphinx", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_grammar_loops_over_the_vocabulary() -> None:
    text = _load_tool().grammar_for(["one", "two"])
    assert text.startswith("#JSGF V1.0;")
    assert "public <utt> = ( one | two )+ ;" in text


def test_decodes_fsdd_clips_with_a_digit_grammar_and_reports_a_bad_file(fsdd_dir: Path, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture) -> None:
    tool = _load_tool()
    rows = []
    for digit, word in enumerate(DIGITS):
        wav = fsdd_dir / "recordings" / f"{digit}_george_0.wav"
        rows.append({"audio_filepath": str(wav), "duration": 0.5, "text": word})
    (tmp_path / "broken.wav").write_bytes(b"RIFF not audio")
    rows.append({"audio_filepath": "broken.wav", "duration": 0.5, "text": "one"})
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))

    assert tool.main([str(manifest), "--json"]) == 0
    out = capsys.readouterr()
    result = json.loads(out.out.strip().splitlines()[-1])
    assert result["utterances"] == 10 and result["failed"] == 1
    assert "broken.wav" in out.err
    assert 0.0 <= result["wer"] <= 100.0
    # Every word it hears is one of the grammar's ten.
    decoder = tool.make_decoder(DIGITS)
    heard = tool.decode_file(decoder, fsdd_dir / "recordings" / "7_george_0.wav").split()
    assert heard and set(heard) <= set(DIGITS)
