"""Content words of a text, stemmed as the keyword index stems them."""

from __future__ import annotations

import re

import Stemmer

STEMMER = Stemmer.Stemmer("english")


def stem_terms(text: str) -> list[str]:
    """Content words of `text`, stemmed like the keyword index."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return [STEMMER.stemWord(w) for w in words if w not in _STOPWORDS and len(w) > 1]


_STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours yourself yourselves
    get got im ive id whats hey hi please thanks thank tell know need want like much many also us lot""".split()
)
