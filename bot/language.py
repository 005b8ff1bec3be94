"""Whether a message is clearly written in a language other than English, and which.

The skills, the examples and the documents are in English; a message in Spanish or Japanese that no skill takes
should be told so ("I can only read English"), not shown the generic menu as if it were about the weather.

langdetect alone calls many short English chat messages something else with near-certainty ("flip me a coin"
-> Romanian, "my luggage is missing" -> Tagalog): on 3,774 English messages of our dev sets and CLINC150's
validation split, 61 of those with three words or more came out as another language at p >= 0.99. So a
Latin-script message also needs a third of its words to be unknown to the English word-piece vocabulary that
ships with the embedding model (knowledge/models/minilm): 2 of those 3,774 then ("please delete my todo list",
and "pto next fri?", which the leave skill takes anyway), and 18 of 22 sentences we wrote in fourteen languages
(the misses: short French and Italian ones, Dutch, "gracias" alone). It is only asked about a message that got
the "not sure" menu (bot/assistant.py).
A message mostly in another script (Cyrillic, CJK, Arabic...) is not English whatever it says."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import LangDetectException
from tokenizers import Tokenizer

from knowledge.embeddings import MINILM_TOKENIZER

MIN_WORDS = 3
MIN_PROBABILITY = 0.99
MIN_UNKNOWN_SHARE = 0.34
_WORD = re.compile(r"[^\W\d_]{2,}")


@lru_cache(maxsize=1)
def _english_words() -> frozenset[str]:
    return frozenset(word for word in Tokenizer.from_file(str(MINILM_TOKENIZER)).get_vocab() if word.isalpha())


def _mostly_other_script(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return bool(letters) and sum("LATIN" not in unicodedata.name(ch, "") for ch in letters) > len(letters) / 2


_NAMES = {
    "ar": "Arabic", "bg": "Bulgarian", "cs": "Czech", "da": "Danish", "de": "German", "el": "Greek",
    "es": "Spanish", "fa": "Persian", "fi": "Finnish", "fr": "French", "he": "Hebrew", "hi": "Hindi",
    "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese", "ko": "Korean", "nl": "Dutch",
    "no": "Norwegian", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sk": "Slovak",
    "sv": "Swedish", "th": "Thai", "tr": "Turkish", "uk": "Ukrainian", "vi": "Vietnamese", "zh-cn": "Chinese",
    "zh-tw": "Chinese",
}  # fmt: skip


def _language_name(code: str) -> str:
    return _NAMES.get(code, "another language")


@lru_cache(maxsize=1)
def _detector_factory() -> DetectorFactory:
    """langdetect with English and the languages we can name (31 of its 55 profiles: 31 MB resident instead of
    63), seeded: it samples at random, and the same message must always get the same answer."""
    factory = DetectorFactory()
    factory.seed = 0
    profiles = Path(PROFILES_DIRECTORY)
    factory.load_json_profile([(profiles / code).read_text(encoding="utf-8") for code in ["en", *sorted(_NAMES)]])
    return factory


def _best_guess(text: str) -> tuple[str, float]:
    detector = _detector_factory().create()
    detector.append(text)
    best = detector.get_probabilities()[0]
    return str(best.lang), float(best.prob)


def other_language(text: str) -> str | None:
    """The English name of the language `text` is clearly written in ("Spanish"), when that is not English;
    None for English, and whenever that is not clear."""
    other_script = _mostly_other_script(text)
    words = _WORD.findall(text.lower())
    if not other_script and len(words) < MIN_WORDS:
        return None
    try:
        lang, probability = _best_guess(text)
    except LangDetectException:
        return "another language" if other_script else None
    if other_script:
        return _language_name(lang) if lang != "en" else "another language"
    if lang == "en" or probability < MIN_PROBABILITY:
        return None
    known = _english_words()
    unknown = sum(word not in known for word in words)
    return _language_name(lang) if unknown >= MIN_UNKNOWN_SHARE * len(words) else None
