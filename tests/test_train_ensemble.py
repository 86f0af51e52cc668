"""`train.ensemble = K`: K seeds of one recipe, side by side, kept when done, a failing one reported."""

import json
import shutil

import torch

from recog.cli import main
from recog.config import load_config
from recog.model.checkpoint import load_state
from recog.runtime import read_model_info
from recog.train.checkpoint import save_checkpoint
from recog.train.ensemble import finished_run, members

from .conftest import tone_config_toml


def write_recipe(tmp_path, manifest, epochs=1):
    path = tmp_path / "ens.toml"
    path.write_text(tone_config_toml(manifest, tmp_path / "ens", epochs, extra="threads = 1\n").replace(
        "threads = 2\n", ""))
    return path


def test_members_train_side_by_side_with_their_seeds_and_export_as_one(tmp_path, tone_corpus, capsys):
    recipe = write_recipe(tmp_path, tone_corpus)
    code = main(["train", str(recipe), "--set", "train.ensemble=2", "--set", "train.ensemble_jobs=2"])
    err = capsys.readouterr().err
    assert code == 0, err
    manifest = json.loads((tmp_path / "ens" / "ensemble.json").read_text())
    assert sorted(manifest["members"]) == ["0", "1"] and manifest["failed"] == []
    states = [load_state(tmp_path / "ens" / f"seed{s}" / "best.pt") for s in (0, 1)]
    assert [s["config"]["seed"] for s in states] == [0, 1]
    assert [s["config"]["train"]["ensemble"] for s in states] == [1, 1]
    assert not torch.allclose(states[0]["model"]["output.weight"], states[1]["model"]["output.weight"])
    assert "recog export" in err and "seed1" in err

    # Run again: finished members are not trained twice.
    code = main(["train", str(recipe), "--set", "train.ensemble=2"])
    err = capsys.readouterr().err
    assert code == 0 and err.count("already trained") == 2

    # A third member whose folder already holds a whole run of its seed is adopted, not retrained.
    shutil.copytree(tmp_path / "ens" / "seed1", tmp_path / "ens" / "seed2")
    config = load_config(recipe, ["train.ensemble=3"])
    third = members(config)[2]
    assert third.seed == 2 and not finished_run(third, config)  # seed 1's run is not seed 2's
    state = load_state(tmp_path / "ens" / "seed2" / "best.pt")
    state["config"]["seed"] = 2
    save_checkpoint(tmp_path / "ens" / "seed2" / "best.pt", state)
    assert finished_run(third, config)
    code = main(["train", str(recipe), "--set", "train.ensemble=3"])
    err = capsys.readouterr().err
    assert code == 0 and err.count("already trained") == 3 and "training into" not in err
    assert json.loads((tmp_path / "ens" / "ensemble.json").read_text())["members"]["2"]["adopted"] is True

    # The printed export line writes one graph naming both members.
    ckpts = [manifest["members"][s]["checkpoint"] for s in ("0", "1")]
    assert main(["export", *ckpts, "-o", str(tmp_path / "ens.onnx")]) == 0
    assert read_model_info(tmp_path / "ens.onnx").members == ["tones seed 0", "tones seed 1"]


def test_a_failing_member_is_reported_with_its_log_and_the_rest_still_train(tmp_path, tone_corpus, capsys):
    recipe = write_recipe(tmp_path, tone_corpus)
    (tmp_path / "ens").mkdir()
    (tmp_path / "ens" / "seed4").write_text("a file where the run folder of seed 4 belongs")
    code = main(["train", str(recipe), "--set", "seed=3", "--set", "train.ensemble=2"])
    err = capsys.readouterr().err
    assert code == 1
    assert "member seed 4: FAILED" in err and "seed4.log" in err and "seed4" in err.split("FAILED", 1)[1]
    manifest = json.loads((tmp_path / "ens" / "ensemble.json").read_text())
    assert list(manifest["members"]) == ["3"] and [f["seed"] for f in manifest["failed"]] == [4]

    # Fix the cause, run the same command: only the failed member trains.
    (tmp_path / "ens" / "seed4").unlink()
    code = main(["train", str(recipe), "--set", "seed=3", "--set", "train.ensemble=2"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "member seed 3: already trained" in err and "member seed 4: done" in err
