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


@pytest.mark.parametrize("table,line,key", [
    ("augment", "trim_prob = 0.5", "augment.trim_prob"),
    ("augment", "shelf_db = [-6.0, 0.0]", "augment.shelf_db"),
    ("augment", "expand_prob = 0.5", "augment.expand_prob"),
    ("features", "pcen_gain = 0.9", "features.pcen_gain"),
])
def test_config_naming_a_retired_option_is_rejected(tmp_path, table, line, key):
    """Options tried and not adopted (docs/tried.md) are unknown keys, like any misspelt one."""
    p = tmp_path / "c.toml"
    p.write_text(f'name = "x"\n[{table}]\n{line}\n')
    with pytest.raises(ConfigError, match=rf"unknown key\(s\) {key}; known: "):
        load_config(p)


@pytest.mark.parametrize("kind", ["pcen", "tilt", "speaker"])
def test_retired_normalization_is_rejected_with_the_choices(tmp_path, kind):
    p = tmp_path / "c.toml"
    p.write_text(f'name = "x"\n[features]\nnormalize = "{kind}"\n')
    with pytest.raises(ConfigError, match=rf"features.normalize must be one of utterance, scalar, none, got '{kind}'"):
        load_config(p)
