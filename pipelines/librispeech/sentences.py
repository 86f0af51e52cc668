"""English sentences from a small grammar, for the miniature LibriSpeech (`pipelines.librispeech.miniature`).

Narrative sentences in the manner of the audiobooks LibriSpeech is read from
("THE OLD CAPTAIN WALKED SLOWLY ACROSS THE BRIDGE"), written as its transcripts
are: upper-case words of the letters A-Z and the apostrophe ("CAPTAIN'S",
"COULDN'T"), single spaces, no punctuation. Deterministic for a seed; no
text is read from anywhere. About 210 words, enough for a word LM to have
something to learn and for a character model to meet every letter.
"""

from __future__ import annotations

import numpy as np

PEOPLE = ("the captain", "the old woman", "the doctor", "my brother", "her father", "the young man",
          "the king", "the farmer", "the soldier", "the girl", "his mother", "the stranger",
          "mary", "john", "thomas", "anne", "the merchant", "the priest", "the queen", "our neighbour")
PEOPLE_POSSESSIVE = ("the captain's", "the king's", "my brother's", "the doctor's", "mary's", "john's",
                     "the farmer's", "the queen's", "her father's", "the stranger's")
PRONOUNS = ("he", "she", "they", "we", "i")
THINGS = ("letter", "horse", "book", "door", "window", "garden", "river", "house", "table", "road",
          "ship", "bridge", "forest", "village", "church", "lamp", "key", "box", "coat", "boat",
          "field", "hill", "tower", "picture", "chair", "bread", "fire", "wall", "gate", "ring")
ADJECTIVES = ("old", "small", "dark", "quiet", "large", "cold", "bright", "strange", "heavy", "empty",
              "narrow", "beautiful", "broken", "little", "green", "white", "ancient", "warm", "frozen", "long")
PLACES = ("the garden", "the river", "the village", "the forest", "the church", "the house", "the road",
          "the bridge", "the hill", "the sea", "the castle", "the market", "the kitchen", "the town")
PREPOSITIONS = ("into", "across", "toward", "along", "through", "behind", "beyond", "past", "near", "around")
MOTION_VERBS = ("walked", "ran", "rode", "hurried", "wandered", "turned", "went", "came", "looked", "listened")
ADVERBS = ("slowly", "quickly", "quietly", "carefully", "suddenly", "silently", "alone", "again", "at once", "early")
TAKING_VERBS = ("found", "opened", "carried", "saw", "took", "lost", "closed", "broke", "brought", "painted",
                "watched", "remembered", "sold", "bought", "kept")
BASE_VERBS = ("find", "open", "carry", "see", "reach", "remember", "understand", "forget", "leave", "follow")
NEGATIONS = ("couldn't", "didn't", "wouldn't", "won't", "can't", "mustn't")  # the same for every subject
TIMES = ("in the morning", "at night", "after dinner", "the next day", "that evening", "before dawn",
         "in the winter", "at last", "for a long time", "on sunday", "by noon", "at twelve o'clock")
FEELINGS = ("tired", "happy", "afraid", "angry", "glad", "sorry", "sure", "puzzled", "silent", "ready")
SPEECH_VERBS = ("said", "thought", "knew", "believed", "remembered", "heard", "felt", "hoped")
CONNECTIVES = ("and", "but", "when", "because", "although", "so", "until", "while")


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _thing(rng: np.random.Generator) -> str:
    """A noun phrase for an object: "the letter", "a small box", "the captain's old coat"."""
    kind = rng.random()
    if kind < 0.2:
        return f"{_pick(rng, PEOPLE_POSSESSIVE)} {_pick(rng, THINGS)}"
    words = [_pick(rng, ADJECTIVES)] if rng.random() < 0.5 else []
    words.append(_pick(rng, THINGS))
    determiner = _pick(rng, ("the", "a", "his", "her", "their", "that")) if kind < 0.9 else "every"
    if determiner == "a" and words[0][0] in "aeiou":
        determiner = "an"
    return " ".join([determiner, *words])


def _subject(rng: np.random.Generator) -> str:
    return _pick(rng, PEOPLE) if rng.random() < 0.7 else _pick(rng, PRONOUNS)


def _was(subject: str) -> str:
    """The past of "to be" that agrees with `subject`."""
    return "were" if subject in ("they", "we") else "was"


def clause(rng: np.random.Generator) -> str:
    """One clause of one of eight shapes (lower case)."""
    shape = int(rng.integers(8))
    s = _subject(rng)
    if shape == 0:
        return f"{s} {_pick(rng, MOTION_VERBS)} {_pick(rng, ADVERBS)} {_pick(rng, PREPOSITIONS)} {_pick(rng, PLACES)}"
    if shape == 1:
        return f"{s} {_pick(rng, TAKING_VERBS)} {_thing(rng)} {_pick(rng, PREPOSITIONS)} {_pick(rng, PLACES)}"
    if shape == 2:
        return f"{_pick(rng, TIMES)} {s} {_pick(rng, TAKING_VERBS)} {_thing(rng)}"
    if shape == 3:
        return f"{s} {_pick(rng, NEGATIONS)} {_pick(rng, BASE_VERBS)} {_thing(rng)}"
    if shape == 4:
        return f"{_thing(rng)} was {_pick(rng, ADJECTIVES)} and {_pick(rng, ADJECTIVES)}"
    if shape == 5:
        article = "an" if (adjective := _pick(rng, ADJECTIVES))[0] in "aeiou" else "a"
        return f"there was {article} {adjective} {_pick(rng, THINGS)} near {_pick(rng, PLACES)}"
    if shape == 6:
        return f"{s} {_was(s)} {_pick(rng, FEELINGS)} {_pick(rng, TIMES)}"
    return f"{s} {_pick(rng, SPEECH_VERBS)} that {_subject(rng)} had {_pick(rng, TAKING_VERBS)} {_thing(rng)}"


def sentence(rng: np.random.Generator, two_clause_share: float = 0.35) -> str:
    """One transcript line: one clause, or two joined by a connective; upper case, single spaces."""
    text = clause(rng)
    if rng.random() < two_clause_share:
        text = f"{text} {_pick(rng, CONNECTIVES)} {clause(rng)}"
    return " ".join(text.split()).upper()


def sentences(n: int, seed: int) -> list[str]:
    """`n` sentences drawn from the grammar, the same for the same seed."""
    rng = np.random.default_rng(seed)
    return [sentence(rng) for _ in range(n)]


def vocabulary() -> set[str]:
    """Every upper-case word the grammar can produce."""
    tables = (PEOPLE, PEOPLE_POSSESSIVE, PRONOUNS, THINGS, ADJECTIVES, PLACES, PREPOSITIONS, MOTION_VERBS,
              ADVERBS, TAKING_VERBS, BASE_VERBS, NEGATIONS, TIMES, FEELINGS, SPEECH_VERBS, CONNECTIVES,
              ("the", "a", "an", "his", "her", "their", "that", "every", "was", "were", "and", "there", "near",
               "had"))
    return {w.upper() for table in tables for phrase in table for w in phrase.split()}
