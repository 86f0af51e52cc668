import pytest

from recog.text import Alphabet, TextNormalizer, UnknownCharactersError


def test_round_trip_and_blank():
    a = Alphabet.from_string(" abc'")
    assert a.tokens[0] == "<blank>" and len(a) == 6
    ids = a.encode("ab c'")
    assert 0 not in ids
    assert a.decode(ids) == "ab c'"
    assert a.decode([0, *ids, 0]) == "ab c'"


def test_tokens_file_round_trip(tmp_path):
    a = Alphabet.from_texts(["hello world", "yes"])
    a.save(tmp_path / "tokens.txt")
    lines = (tmp_path / "tokens.txt").read_text().splitlines()
    assert lines[0] == "<blank>" and "<space>" in lines
    assert Alphabet.load(tmp_path / "tokens.txt") == a


def test_unknown_characters_listed_with_utterances():
    a = Alphabet.from_string(" ab")
    with pytest.raises(UnknownCharactersError) as err:
        a.check([("utt1", "ab c"), ("utt2", "b!"), ("utt3", "cab")])
    msg = str(err.value)
    assert "'c'" in msg and "utt1" in msg and "utt3" in msg and "'!'" in msg and "utt2" in msg
    with pytest.raises(UnknownCharactersError):
        a.encode("abz")


def test_bad_alphabets_rejected(tmp_path):
    with pytest.raises(ValueError, match="duplicate"):
        Alphabet(["a", "a"])
    (tmp_path / "t.txt").write_text("a\nb\n")
    with pytest.raises(ValueError, match="<blank>"):
        Alphabet.load(tmp_path / "t.txt")


def test_normalizer_explicit_mapping():
    n = TextNormalizer(lowercase=True, map={"’": "'", "-": " "})
    assert n("  Don’t   Stop-Now ") == "don't stop now"


def test_word_units_round_trip_spell_and_errors(tmp_path):
    a = Alphabet.from_string("zero one two", units="word")
    assert a.tokens == ["<blank>", "zero", "one", "two"] and a.units == "word"
    ids = a.encode("two  zero two")
    assert ids == [3, 1, 3] and a.decode([0, *ids]) == "two zero two"
    assert Alphabet.from_string(a.to_string(), "word") == a
    assert Alphabet(["a", "b"], "word") != Alphabet(["a", "b"])
    assert Alphabet.from_texts(["one two", "two zero"], units="word") == Alphabet(["one", "two", "zero"], "word")
    a.save(tmp_path / "tokens.txt")
    assert Alphabet.load(tmp_path / "tokens.txt", units="word") == a
    # words are spelled with spaces between them, each letter at its word's frame
    chars, frames = a.spell([3, 2], [4, 9])
    assert "".join(chars) == "two one" and frames == [4, 4, 4, 9, 9, 9, 9]
    assert a.spell([], []) == ([], [])
    with pytest.raises(UnknownCharactersError, match="'nine'.*u7"):
        a.check([("u7", "one nine")])
    with pytest.raises(ValueError, match="without spaces"):
        Alphabet(["one two"], units="word")
    with pytest.raises(ValueError, match="units"):
        Alphabet(["a"], units="phone")
