"""Ticket titles: the first meaningful clause of a message, greeting dropped and words tidied."""

from __future__ import annotations

import re
import unicodedata

from skills.it.normalise import WORD_FOLDS, fold_typo

MAX_TITLE = 80

_GREETING = re.compile(
    r"^\s*((hi|hey|hello|hiya|yo|morning|good (morning|afternoon|evening)|dear|ok so|so|um+|uh+|fyi|urgent|help|"
    r"quick question|please|pls|plz|i think)\b( (it|team|there|all|folks|guys|everyone|support|helpdesk|"
    r"it team|it support)\b)?[\s,!.:;-]*)+",
    re.IGNORECASE,
)
_CLAUSE_END = re.compile(r"[.!?;\n]+(?:\s|$)|[,:]\s|\s[-–—]+\s|\s+but\s+", re.IGNORECASE)
_PLEASANTRY = re.compile(
    r"(hope (you|you're|youre|all|everyone)|how are you|happy (monday|friday)|thanks in advance|sorry to bother|"
    r"quick question|good (morning|afternoon|evening)|not sure (if|who|where))\b",
    re.IGNORECASE,
)
_LEADING_POSSESSIVE = re.compile(r"^(my|our)\s+", re.IGNORECASE)
_JOINER = re.compile(r"\s+(?:and|since|because|so)\s+", re.IGNORECASE)
_LONG_CLAUSE = 60
_TITLE_WORDS = {
    "cant": "can't",
    "wont": "won't",
    "dont": "don't",
    "doesnt": "doesn't",
    "isnt": "isn't",
    "didnt": "didn't",
    "arent": "aren't",
    "wasnt": "wasn't",
    "havent": "haven't",
    "couldnt": "couldn't",
    "im": "I'm",
    "ive": "I've",
    "i": "I",
    "pls": "please",
    "plz": "please",
    "u": "you",
    "vpn": "VPN",
    "mfa": "MFA",
    "2fa": "2FA",
    "sso": "SSO",
    "aws": "AWS",
    "crm": "CRM",
    "usb": "USB",
    "hdmi": "HDMI",
    "pc": "PC",
    "tv": "TV",
    "dns": "DNS",
    "wifi": "Wi-Fi",
    "hr": "HR",
    "whats": "what's",
    "thats": "that's",
    "theres": "there's",
    "ceo": "CEO",
    "pdf": "PDF",
    "sharepoint": "SharePoint",
    "onedrive": "OneDrive",
}


def _tidy_word(word: str) -> str:
    lower = word.lower()
    if lower in _TITLE_WORDS:
        return _TITLE_WORDS[lower]
    if word.islower() and word.isalpha():
        folded = WORD_FOLDS.get(word, word)
        return fold_typo(folded) if " " not in folded and folded else word
    return word


def make_title(text: str) -> str:
    """A short ticket title from the first meaningful clause: greeting dropped, typos tidied, capitalised."""
    cleaned = "".join(ch for ch in text if unicodedata.category(ch)[0] != "S" or ch in "'’$%&+/#@")
    cleaned = " ".join(cleaned.split())
    letters = [ch for ch in cleaned if ch.isalpha()]
    if len(letters) > 10 and sum(ch.isupper() for ch in letters) > 0.6 * len(letters):
        cleaned = cleaned.lower()  # SHOUTED text reads better in sentence case; acronyms come back below.
    cleaned = _GREETING.sub("", cleaned)
    clauses = [c.strip(" \t,.;:!?-–—\"'()") for c in _CLAUSE_END.split(cleaned)]
    clauses = [c for c in clauses if c]
    # Skip pleasantries and one-word openers ("Help", "Hmm") when there is more to say.
    useful = [c for c in clauses if len(c.split()) >= 2 and not _PLEASANTRY.match(c)]
    clause = useful[0] if useful else (clauses[0] if clauses else "")
    if len(clause) > _LONG_CLAUSE:
        # "X is broken and the meeting starts in 10 minutes": the first half is the title, the rest is detail.
        head = _JOINER.split(clause, maxsplit=1)[0]
        if len(head.split()) >= 3:
            clause = head
    clause = _LEADING_POSSESSIVE.sub("", clause)
    title = " ".join(_tidy_word(word) for word in clause.split())
    if not title:
        return "IT request"
    title = title[0].upper() + title[1:]
    if len(title) > MAX_TITLE:
        cut = title[: MAX_TITLE - 1].rsplit(" ", 1)[0].rstrip(" ,.;:-")
        title = cut + "…"
    return title
