"""Ticket text as the triage cues read it: lower case, shorthand and spellings folded, typos of cue words fixed."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Word-level folds applied before matching: texting shorthand, spellings and frequent misspellings.
WORD_FOLDS = {
    "pls": "please",
    "plz": "please",
    "pleas": "please",
    "plse": "please",
    "u": "you",
    "ur": "your",
    "thx": "thanks",
    "ty": "thanks",
    "cannot": "cant",
    "cnt": "cant",
    "couldnt": "cant",
    "wnt": "wont",
    "dosnt": "doesnt",
    "doesent": "doesnt",
    "recieve": "receive",
    "recieving": "receiving",
    "recieved": "received",
    "signin": "sign in",
    "signon": "sign on",
    "logon": "log in",
    "login": "log in",
    "loggin": "log in",
    "licence": "license",
    "licences": "licenses",
    "laptp": "laptop",
    "labtop": "laptop",
    "lapotp": "laptop",
    "urgnet": "urgent",
    "ugent": "urgent",
    "eveyone": "everyone",
    "evryone": "everyone",
    "everyones": "everyone",
    "nobodys": "nobody",
    "noone": "no one",
}
_PHRASE_FOLDS = (
    (re.compile(r"\bwi fi\b"), "wifi"),
    (re.compile(r"\be mail"), "email"),
    (re.compile(r"\bcan not\b|\bunable to\b"), "cant"),
    (re.compile(r"\b(two|2) (factor|step)( auth\w*| verification)?\b"), "2fa"),
    (re.compile(r"\bmulti (factor|step)\b"), "mfa"),
    (re.compile(r"\banti (virus|malware)\b"), "antivirus"),
    (re.compile(r"\bpop ups?\b"), "popups"),
    (re.compile(r"\blap top\b"), "laptop"),
    (re.compile(r"\bsingle sign on\b"), "sso"),
    (re.compile(r"\bsign on\b"), "sign in"),
    (re.compile(r"\blog on\b"), "log in"),
    # Apps that are called "clients" must not read as customers.
    (re.compile(r"\b(vpn|email|mail|desktop|web|git|ssh|sftp|ftp) client\b"), r"\1 app"),
    (re.compile(r"\bwork from home\b|\bwfh\b"), "working from home"),
)


# Words worth recognising when misspelt: the ones our cues hinge on. Folding onto any cue word at all would turn
# real words into wrong ones ("contract" → "contact"), so the targets are listed, not derived from the patterns.
_TYPO_TARGETS = frozenset(
    """
    access account antivirus attachment authenticator battery broken browser building calendar charger client
    computer conference connect connection crashing crashes customer deadline disconnecting docking dropping
    emergency encrypt ethernet everyone everybody expired firewall folder freezing frozen hacked hardware headset
    immediately install internet keyboard laptop license locked macbook mailbox malware meeting microphone monitor
    network nobody office onboarding outlook password permission permissions phishing printer printing projector
    ransomware replacement request screen security sharepoint software stolen suspicious syncing teams
    trojan update urgent virus webcam whole wireless working
    """.split()
)
_TYPO_TARGETS_BY_INITIAL: dict[str, tuple[str, ...]] = {
    initial: tuple(sorted(w for w in _TYPO_TARGETS if w[0] == initial)) for initial in {w[0] for w in _TYPO_TARGETS}
}
# Real words one edit away from a target, found by checking a general English vocabulary against the targets.
_REAL_WORDS = frozenset(
    "charged charges computed looked locker painter painting pointer pointing printed shares tears terms while whose"
    " share".split()
)


def _one_edit_apart(a: str, b: str) -> bool:
    """True when one insertion, deletion, substitution or swap of neighbours turns a into b."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        return len(diff) == 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
        )
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


@lru_cache(maxsize=4096)
def fold_typo(token: str) -> str:
    """The cue word a misspelt token most likely meant ("pasword" → "password"), or the token itself.

    Deliberately narrow, because a wrong fold is worse than a missed one: one edit away only, 5+ letters, same
    first letter, never from a longer form of the word ("printers" is a plural, not a typo), and never from a
    common word that sits one edit from a target ("looked" is not "locked").
    """
    if len(token) < 5 or token in _TYPO_TARGETS or token in _REAL_WORDS or not token.isalpha():
        return token
    for word in _TYPO_TARGETS_BY_INITIAL.get(token[0], ()):
        if not token.startswith(word) and _one_edit_apart(token, word):
            return word
    return token


def normalise(text: str) -> str:
    lowered = unicodedata.normalize("NFKC", text).lower().replace("’", "'").replace("‘", "'")
    # "team's" is a possessive, not the Teams app; "can't" folds to "cant".
    lowered = re.sub(r"(\w)'s\b", r"\1", lowered)
    lowered = re.sub(r"(\w)'(\w)", r"\1\2", lowered)
    spaced = re.sub(r"[^a-z0-9]+", " ", lowered)
    words = [WORD_FOLDS.get(word, word) for word in spaced.split()]
    joined = " ".join(fold_typo(word) for word in words if word)
    for pattern, replacement in _PHRASE_FOLDS:
        joined = pattern.sub(replacement, joined)
    return " ".join(joined.split())
