import pytest

from recog.config import ConfigError, load_config


def test_unknown_key_is_an_error(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('name = "x"\n[model]\nhidden = 3\n')
    with pytest.raises(ConfigError, match="model.hidden"):
        load_config(p)


def test_overrides_and_types(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('name = "x"\n[train]\nepochs = 3\n')
    c = load_config(p, ["train.epochs=7", "train.lr=0.01", "data.train=[\"a.jsonl\"]", "model.hidden_size=64"])
    assert c.train.epochs == 7 and c.train.lr == 0.01 and c.data.train == ["a.jsonl"]
    assert c.model.hidden_size == 64
    assert c.resolve("a.jsonl") == tmp_path / "a.jsonl"
    with pytest.raises(ConfigError, match="train.epochs"):
        load_config(p, ["train.epochs=\"many\""])
    with pytest.raises(ConfigError, match="key=value"):
        load_config(p, ["train.epochs"])
