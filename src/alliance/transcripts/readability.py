"""How easy speech is to follow: Flesch reading ease and Flesch-Kincaid grade, with our own syllable counter.

Words are runs of letters or digits (``wouldn't``, ``full-length`` and ``3.5`` are one word each); a sentence
ends at ``.``, ``!`` or ``?`` followed by a space (an ellipsis is a pause, not an end), and at the end of each
utterance (speech has no full stops, and a
turn that stops is a unit of sense). Figures count as one syllable, as Flesch (1948) asks.

The syllable counter counts vowel groups and corrects for the commonest silent and split vowels of English:
a final silent ``e`` (``prove``; not ``table``), ``-ed`` and ``-es`` that add no syllable (``used``, ``makes``;
not ``wanted``, ``places``), ``-ing`` after a vowel (``be-ing``), ``u-a`` and ``i-ou`` split across syllables
(``ac-tu-al-ly``, ``se-ri-ous``), the suffixes ``-ly``, ``-ful``, ``-ment``, ``-ness``, ``-less`` after a silent
``e`` (``lone-ly``), and compounds of ``some-``, ``every-``, ``any-`` (``some-thing``). A short list of
frequent exceptions covers the rest that matter in conversation. It is a heuristic: on ordinary words it agrees
with a dictionary most of the time, and it follows the published worked examples of both formulas (which
count ``Australian`` and ``reptilian`` as three syllables).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["WORD", "Readability", "count_sentences", "count_syllables", "readability", "words"]

WORD = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+(?:['’-][^\W_]+)*")
"""A word: a number (``3.5``, ``1,000``) or a run of letters or digits joined across apostrophes and hyphens."""
_ELLIPSIS = re.compile(r"\.{2,}|…")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")
_VOWELS = re.compile(r"[aeiouy]+")
# Syllable counts a rule would get wrong, among words frequent in talk.
_EXCEPTIONS = {
    "any": 2,
    "area": 3,
    "areas": 3,
    "business": 2,
    "create": 2,
    "created": 3,
    "diet": 2,
    "every": 2,
    "experience": 4,
    "experienced": 4,
    "experiences": 5,
    "idea": 3,
    "ideas": 3,
    "maybe": 2,
    "period": 3,
    "poem": 2,
    "quiet": 2,
    "react": 2,
    "reaction": 3,
    "science": 2,
    "video": 3,
    "violence": 3,
    "violent": 3,
}
_PREFIXES = ("some", "every", "any")
_SUFFIXES = ("fully", "ly", "ful", "ments", "ment", "ness", "less")


def words(text: str) -> list[str]:
    """Return the words of ``text``: runs of letters and digits, joined across ``'`` and ``-``."""
    return WORD.findall(text)


def count_sentences(text: str) -> int:
    """Count the sentences of one utterance: pieces with a word ended by ``.``, ``!``, ``?`` or the end."""
    # An ellipsis is a pause or a trailing off in transcribed speech, not the end of a sentence.
    pieces = _SENTENCE_END.split(_ELLIPSIS.sub(" ", text))
    return sum(1 for piece in pieces if WORD.search(piece))


@lru_cache(maxsize=1 << 16)  # a session repeats its words: most are counted once
def count_syllables(word: str) -> int:
    """Count the syllables of one English word (at least one; figures and abbreviations count one)."""
    lowered = word.lower().replace("’", "'")
    if any(c.isdigit() for c in lowered):
        return 1
    if lowered.endswith("n't") and len(lowered) > 3:
        # "did-n't", "is-n't", "have-n't" add a syllable; "don't", "can't", "aren't", "weren't" do not.
        stem = lowered[:-3]
        return count_syllables(stem) + (1 if re.search(r"(?:[^aeiouyr]|ve)$", stem) else 0)
    parts = [re.sub(r"[^a-z]", "", part) for part in lowered.split("-")]
    counted = sum(_syllables(part) for part in parts if part)
    return max(1, counted)


def _syllables(word: str) -> int:
    if word in _EXCEPTIONS:
        return _EXCEPTIONS[word]
    if len(word) <= 3:
        return 1
    for prefix in _PREFIXES:
        if word.startswith(prefix) and len(word) > len(prefix) + 2:
            return _syllables(prefix) + _syllables(word[len(prefix) :])
    for suffix in _SUFFIXES:
        stem = word[: -len(suffix)]
        if word.endswith(suffix) and len(stem) >= 3 and stem.endswith("e") and stem[-2] not in "aeiouyl":
            # "lonely", "hopeful", "movement": the stem's e stays silent before the suffix.
            return _syllables(stem) + _syllables(suffix)
    stem = word
    if re.search(r"(?:[^sxzcgh]|[^cs]h)es$|[^td]ed$", stem):
        stem = stem[:-2]
    elif stem.endswith("e") and not re.search(r"(?:[^aeiouy]le|ee|ye|oe)$", stem):
        stem = stem[:-1]
    # A y that starts the word is a consonant ("you", "yes").
    stem = stem.removeprefix("y")
    count = len(_VOWELS.findall(stem))
    count += len(re.findall(r"[aeiouy]ing", stem))  # be-ing, go-ing, say-ing
    count += len(re.findall(r"(?<![qg])ua", stem))  # ac-tu-al-ly, but qua-lity, lan-guage
    count += len(re.findall(r"(?<![ctxg])iou", stem))  # se-ri-ous, but pre-cious, anx-ious, reli-gious
    return max(1, count)


@dataclass(frozen=True)
class Readability:
    """Counts and readability of a stretch of speech (``NaN`` scores when there are no words).

    ``reading_ease`` runs from about 0 (hard) to 100 (easy) and can leave that range on short samples;
    ``grade_level`` is a US school grade.
    """

    words: int
    sentences: int
    syllables: int
    reading_ease: float
    grade_level: float

    @property
    def mean_sentence_length(self) -> float:
        """Words per sentence."""
        return self.words / self.sentences if self.sentences else float("nan")


def readability(texts: str | Iterable[str]) -> Readability:
    """Compute Flesch reading ease and Flesch-Kincaid grade over ``texts`` (one string per utterance).

    Reading ease ``= 206.835 - 1.015 W/S - 84.6 Y/W`` and grade ``= 0.39 W/S + 11.8 Y/W - 15.59``, with
    ``W`` words, ``S`` sentences and ``Y`` syllables summed over all texts.

    References
    ----------
    Flesch, R. (1948). A new readability yardstick. Journal of Applied Psychology, 32(3), 221-233.
    Kincaid, J. P., Fishburne, R. P., Rogers, R. L., & Chissom, B. S. (1975). Derivation of new readability
    formulas for Navy enlisted personnel (Research Branch Report 8-75). Naval Technical Training Command.
    """
    items = [texts] if isinstance(texts, str) else list(texts)
    found = [words(text) for text in items]
    n_words = sum(len(w) for w in found)
    n_sentences = sum(count_sentences(text) for text, w in zip(items, found, strict=True) if w)
    n_syllables = sum(count_syllables(word) for w in found for word in w)
    if not n_words:
        return Readability(0, 0, 0, float("nan"), float("nan"))
    per_sentence = n_words / n_sentences
    per_word = n_syllables / n_words
    return Readability(
        words=n_words,
        sentences=n_sentences,
        syllables=n_syllables,
        reading_ease=206.835 - 1.015 * per_sentence - 84.6 * per_word,
        grade_level=0.39 * per_sentence + 11.8 * per_word - 15.59,
    )
