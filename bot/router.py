"""The embedded, offline router: logistic regression over stemmed word/bigram TF-IDF plus the
all-MiniLM-L6-v2 sentence embedding (the model the documents are embedded with), trained at start-up on our
own example utterances for each skill (skills/examples).

Measured on benchmarks/routing_dev.jsonl (our own held-out utterances, 366 lines), with the examples of
issue 15: TF-IDF + WordLlama 0.89, TF-IDF + MiniLM 0.945 accuracy; on CLINC150's validation split (never its
test split), MiniLM took the out-of-scope share the classifier keeps out of the skills from 0.81 to 0.89.
Training embeds ~1,700 examples (4-13 s) once per host: their vectors are kept in Settings.cache_dir.

Before the classifier, free text that discloses a medical matter, harassment or a grievance
(`bot.privacy.sensitive_topic`, deterministic patterns) goes to the `sensitive` skill: it must never be
answered in a shared channel or reach an LLM, so it is not left to a probability."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import Stemmer
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from bot.messages import Message
from bot.privacy import sensitive_topic
from knowledge.classifier import TextClassifier
from knowledge.embeddings import MiniLMEmbeddings
from skills.it.classify import triage
from skills.it.incidents import ROUTE_THRESHOLD, IncidentModel
from skills.leave.meanings import tells_of_a_death, tells_of_illness_and_absence

OUT_OF_SCOPE = "out_of_scope"
ROUTER_TOKENS = 64  # a message's first 64 tokens say what it is about; a 40 kB paste costs no more than that
SENSITIVE = "sensitive"
SMALLTALK = "smalltalk"
SMALLTALK_WORDS = 8  # small talk is short: a longer question the classifier calls small talk is looked up
_STEMMER = Stemmer.Stemmer("english")
_TOKEN = re.compile(r"[a-z0-9$€£]+|[^\sa-z0-9]")


# Chat shorthand read as the words it stands for before the classifier and `read_act` see a message ("ooo tmrw"
# is "out of office tomorrow"); only spellings that mean one thing at work.
_SHORTHAND = {
    "ooo": "out of office", "tmrw": "tomorrow", "tmr": "tomorrow", "tmw": "tomorrow",
    "2moro": "tomorrow", "2day": "today", "pls": "please", "plz": "please",
    "u": "you", "ur": "your", "b4": "before",
}  # fmt: skip
_SHORTHAND_WORD = re.compile(r"\b(" + "|".join(_SHORTHAND) + r")\b", re.IGNORECASE)


def spelled_out(text: str) -> str:
    """The text with chat shorthand written out (`_SHORTHAND`)."""
    return _SHORTHAND_WORD.sub(lambda m: _SHORTHAND[m.group(1).lower()], text)


def _terms(text: str) -> list[str]:
    """Stemmed words (numbers folded to <num>) plus word bigrams."""
    words = ["<num>" if w.isdigit() else _STEMMER.stemWord(w) for w in _TOKEN.findall(text.lower())]
    return words + [f"{a}_{b}" for a, b in zip(words, words[1:], strict=False)]


# What a message wants, read before a skill is chosen (`read_act`).
QUESTION = "question"  # wants information: answered from the documents
REQUEST = "request"  # wants something done (or reports something that needs doing): the skill's flow
PERSONAL = "personal"  # asks about the employee's own records: the skill's records

# A question on these skills' topics is answered from the documents, with the skill's action offered.
TOPIC_SKILLS = ("leave", "expense", "it")
POLICY = "policy"
DOCUMENTS_FIRST = "documents_first"
FILE_ALONE = "file_alone"  # a photo or PDF without a word: a receipt
_RECEIPT_TYPE = re.compile(r"image/|application/pdf$")  # as Slack types it; the skill sniffs the bytes again
AMBIGUOUS = "ambiguous"  # two skills about as likely: the assistant asks which one (once)

_RECORD = r"(request|claim|ticket|expense|reimbursement|voucher|leave|pto|vacation|holiday|time off|(\w+)?days? off|"
_RECORD += r"sick days?)s?"
_DECIDED = r"(approved|pending|status|paid|processed|denied|rejected|declined|decided|resolved|closed|through|"
_DECIDED += r"hear back|waiting (for|on)|approval|outstanding|recorded|logged|gone through|went through)"
_PERSONAL = re.compile(
    # what the records say about me: a balance, or where my own request, claim or ticket stands
    r"\b(i|i've|ive|me|my)\b.*\b(days?|hours?|pto|vacation|leave|holidays?|sick)\b.*\b(left|remaining)\b"
    r"|\bmy (\w+ ){0,2}(balance|accrual)s?\b|\bmy (\w+ )?(days?|leave|pto|vacation|holiday) (count|tally)\b"
    r"|\b(am i|i'm|im|i am) (still )?(waiting|owed)\b"
    r"|\bwhen (am i|do i (go|come|get)) back\b"
    r"|\b(will|would|do|did) i (still )?have\b(?! to)|\bhow (much|many)\b.*\b(have i|i have|i've)\b(?! to)"
    rf"|\bmy (\w+ )?{_RECORD}\b.*\b{_DECIDED}\b"
    r"|\b(status|update|progress|news) (of|on|about) (my|the)\b|\bi('m| am) owed\b"
    rf"|\b(i|i've|ive) (submitted|sent in|filed|put in|requested|opened|logged|raised)\b.*\b{_DECIDED}\b"
    r"|\b(when will i|have i been|did i) (get )?(paid|reimbursed)\b"
    r"|\bmy (\w+ ){0,2}(shipped|arrived|delivered|fixed|repaired)\b"
    # someone's decision on my request, and when my own leave or delivery starts, ends or arrives
    r"|\b(did|has|have)\b.*\b(approve|approved|reject|rejected|decline|declined|sign(ed)? off)\b"
    rf".*\bmy (\w+ ){{0,3}}{_RECORD}\b"
    r"|\bwhen (is|does|will|do) my\b.*\b(end|ends|finish|finishes|expire|expires|start|starts|begin|begins|ship|arrive|"
    r"arrives|due)\b"
    # where my own case is, what I have used, and my own records listed
    rf"|\b(where'?s|where is|what'?s happening with|what happened (to|with)|any (news|update) on) my (\w+ )?{_RECORD}\b"
    rf"|\bis my (\w+ ){{0,2}}{_RECORD}\b.*\b(still )?(open|closed|pending|approved|done)\b"
    r"|\b(have|did) i (already )?(used?|taken?)\b.*\bmy\b"
    rf"|^(show|list|pull up|give me|see)( me)?( all)? my\b.*\b{_RECORD}|^(show|list|pull up)( me)? my balance"
    r"|\bhow (much|many)\b.*\b(i can still|can i still|i still have|do i still have)\b",
    re.IGNORECASE,
)
# Worded about my own things, but asking how the rules or the process go, which the documents answer: "who
# should I contact about my voucher", "what happens to my unused donated hours", "do my balances come with me
# when I transfer", "how low does my balance need to be", "if I quit, is my award leave paid out", "how soon
# should I expect to hear back about my request".
_ASKS_THE_RULES = re.compile(
    r"\bwho (should|do|can|would|must|shall) i (contact|tell|ask|email|call|talk to|speak (to|with)|reach out to|"
    r"notify|inform|go to|send)\b|\bwho to (contact|tell|ask|email|call|notify)\b"
    r"|\bwhat happens (to|with)\b|\b(need|needs|has|have|got) to be\b"
    r"|\b(come|comes|carry|carries|roll|rolls|move|moves|transfer|transfers) (over|with me)\b"
    r"|\bhow (soon|long|quickly|fast) (should|does|do|would|will|can|might) (i|it|we)\b.*\b(expect|take|hear)\b"
    r"|\bif i (quit|resign|retire|leave (the|gsa|the company|my job)|don'?t|do not|never|transfer|move)\b",
    re.IGNORECASE,
)
# Asking for information, though worded as a request: "can you tell me how to submit a receipt", "walk me through
# setting up the VPN", "I need to know the deadline for claims".
_INDIRECT_QUESTION = re.compile(
    r"\b(can|could|would) (you|u|someone) (please )?(tell|explain|show|remind) (me|us)\b"
    r"|^(please )?(explain|walk me through|show me how|tell me (how|what|when|where|who|which|whether|if|why))\b"
    r"|\bi('d| would)? (need|want|like) to (know|understand|find out)\b"
    r"|\bi (don'?t|do not) (know|understand) (how|what|when|where|who|which|whether|if|why)\b",
    re.IGNORECASE,
)
_CONCRETE = re.compile(
    # a date or a weekday, or an amount of money: the details of a particular request
    r"\b(mon|tues|wednes|thurs|fri|satur|sun)day\b|\b(tomorrow|today|tonight|yesterday)\b|\b(next|this) (week|month)\b"
    r"|\b(next|this|on) (mon|tue|tues|wed|weds|thu|thur|thurs|fri|sat|sun)\b|\bthe \d{1,2}(st|nd|rd|th)\b"
    r"|\b(jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? ?\d|\b\d{1,2}(st|nd|rd|th)?\b (of )?"
    r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)|\b\d{1,2}[/.]\d{1,2}\b"
    r"|[$€£¥]\s?\d|\b\d+([.,]\d+)?\s?(usd|eur|gbp|chf|cad|dollars?|euros?|pounds?|bucks|quid)\b"
    r"|\b(some ?time soon|soon|later this (week|month))\b",
    re.IGNORECASE,
)
_MONEY = re.compile(
    r"[$€£¥]\s?\d|\b\d+([.,]\d+)?\s?(usd|eur|gbp|chf|cad|dollars?|euros?|pounds?|bucks|quid)\b", re.IGNORECASE
)
# Words a question is put with, as people type them in chat too; `_ASKING` wants one first, `_QUESTION_WORD` anywhere.
_QUESTION_WORDS = (
    r"how|how's|hows|what|what's|whats|wat|wats|when|whn|where|where's|wheres|who|who's|whos|which|why|"
    r"is|are|am|do|does|did|can|could|should|would|will|may|might|must"
)
_QUESTION_WORD = re.compile(rf"\b({_QUESTION_WORDS}|whether)\b", re.IGNORECASE)
_EITHER_OR = re.compile(r"\bor (is|are|do|does|must|should|can) (it|they|we|i|there)\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_MAY_I = re.compile(
    r"^\s*(can|could|may|might) (i|we)\b|^\s*(am i|are we) (able|allowed) to\b"
    r"|\b(is it|would it be) (ok|okay|fine|possible)\b",
    re.IGNORECASE,
)
_REQUEST = re.compile(
    r"^(please|pls|plz|book|submit|file|open|create|raise|log|request|reset|unlock|cancel|approve|put in|sign me|"
    r"register|order|send|give|grant|add me|remove|install|fix|i need|i want|i'd like|i would like|i'll be|"
    r"i will be|i'm taking|im taking|i am taking|i'm off|i'm out)\b"
    r"|\b(can|could|would|will) (you|u|someone|somebody|(?-i:IT|HR))\b|\byou could\b|\bbook me\b|\bput me (down|in)\b"
    # something broken: "my VPN isn't connecting", "Outlook keeps crashing", "the printer is broken" (not "is it
    # fine to use my work laptop for ...", a question)
    r"|\b(isn't|aren't|won't|doesn't|don't|can't|isnt|arent|wont|doesnt|dont|cant|cannot|not|no longer|keeps?|"
    r"stopped)\b.*\b(working|work|"
    r"crash\w*|loading|load|connect\w*|responding|respond|start|boot|turn on|print|sync\w*)\b"
    r"|\b(is|are|was|got|keeps? getting)\b.*\b(broken|crash\w*|locked|frozen|down)\b",
    re.IGNORECASE,
)
# Words before the point of a message ("wait, do I need a doctor's note?", "oh and how do I ..."), set aside when
# reading what it asks.
_LEAD_IN = re.compile(
    r"^((wait|oh|ok|okay|hmm+|um+|uh+|also|btw|so|and|actually|quick question|one more thing|sorry)\b[,:!.]?\s*)+",
    re.IGNORECASE,
)
_ASKING = re.compile(
    rf"^({_QUESTION_WORDS}|whom|whose|wht|hw|howto|shall|if|any|anyone|tell me|explain|wondering)\b(?!['’]t\b)"
    r"|\?\s*$"
    r"|\b(want|need|like) to know\b|\bwondering\b|\bnot sure (if|whether|how|what)\b",
    re.IGNORECASE,
)


# Error output pasted on its own or with a few words: a Python or Java stack trace, an exception line, a crash.
# Something broke, so it is for IT (the ticket keeps the trace), whatever words the trace happens to contain.
_ERROR_OUTPUT = re.compile(
    r"Traceback \(most recent call last\)|^\s*File \"[^\"]+\", line \d+|^\s+at [\w.$<>]+\([\w.]*:\d+\)"
    r"|^(Exception in thread|panic:|Segmentation fault|fatal error:)|^\s*[\w.]*(Error|Exception): ",
    re.MULTILINE,
)


def error_output(text: str) -> bool:
    """True for a pasted stack trace (two or more of its marks: a traceback header, frames, an exception line)."""
    return len(_ERROR_OUTPUT.findall(text)) >= 2


_RECORDS_OF = (
    (
        "it",
        re.compile(
            r"\b(tickets?|laptop|password|(?-i:IT)|software|access|account|licen[cs]e|yubikey|monitor|headset)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "expense",
        re.compile(
            r"\b(claims?|expenses?|reimburs\w*|receipts?|voucher|paid back|(have i|i('ve| have))( \w+)? spent)\b", re.I
        ),
    ),
    ("leave", re.compile(r"\b(leave|pto|vacation|time off|days? off|sick|requests?|balance)\b", re.IGNORECASE)),
)


def records_skill(text: str) -> str | None:
    """The skill whose records a text names: IT's tickets, expense claims or the leave ledger (whose records
    answer a personal question, and whose action a question on that subject is offered)."""
    return next((skill for skill, words in _RECORDS_OF if words.search(text)), None)


def read_act(text: str) -> str:
    """What a message wants, by its wording: PERSONAL ("how many vacation days do I have left", "has my claim
    been approved"), REQUEST (details of a particular case — dates, an amount —, an imperative, "can you…",
    something that is broken), or QUESTION ("do I get time off when a relative dies", "is home internet
    reimbursed", "how do I add a printer"). "Can I take Friday off?" names a day: a request."""
    return read_act_why(text)[0]


def read_act_why(text: str) -> tuple[str, str]:
    """`read_act`, with the rule that decided it (for `backoffice explain`)."""
    text = _LEAD_IN.sub("", spelled_out(text.strip()))
    if _PERSONAL.search(text) and not _ASKS_THE_RULES.search(text):
        return PERSONAL, "names my balance or where my own request, claim or ticket stands"
    if _INDIRECT_QUESTION.search(text) and not _CONCRETE.search(text):
        return QUESTION, "asks for information, though worded as a request ('can you tell me how…')"
    if _REQUEST.search(text):
        return REQUEST, "an imperative, 'can you…', or something that is broken"
    if _MONEY.search(text):
        return REQUEST, "names an amount of money"
    # The details of a case, then a question about it: "My anniversary is next week. When does the higher
    # accrual start?", "I got my booster yesterday, is there leave for that?". But "Can I take Friday off?" asks
    # for that day.
    last = [part for part in _SENTENCE_END.split(text) if part.strip()][-1:] or [text]
    concrete = bool(_CONCRETE.search(text))
    # "pto next fri?": a day with only a question mark asks for that day, as "can I take Friday off?" does; "is it
    # ok to take the afternoon off tomorrow or is it full days only" asks how the rules go.
    worded = _QUESTION_WORD.search(last[0])
    asks_for_the_day = concrete and (_MAY_I.search(last[0]) or not worded) and not _EITHER_OR.search(last[0])
    if _ASKING.search(last[0].strip()) and not asks_for_the_day:
        return QUESTION, "its last sentence asks"
    if concrete:
        return REQUEST, "names a date or a day ('can I…' with a date asks for that day)"
    if _ASKING.search(text):
        return QUESTION, "asks"
    return REQUEST, "no question in it"


# Where one message may hold a second request: a sentence end, "also", "separately", "btw", "+", ", and my ...".
_NEXT_REQUEST = re.compile(
    r"(?<=[.!?;])\s+(?=\S)"
    r"|,?\s+(?:and\s+)?(?:also|plus|separately|additionally|btw|by the way|fyi|oh and|one more thing|another thing)\b"
    r"[:,]?\s*"
    r"|\s+\+\s+|,\s*and\s+(?=(?:my|the|our|i|i'm|i've|im|can|could|please|pls)\b)",
    re.IGNORECASE,
)
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _mashed(word: str) -> bool:
    """A word typed by mashing keys: no vowel ("lkj", "mnbvcxz"), a chunk repeated ("sdfsdf", "jjjj"), or four or
    more letters all from one keyboard row ("qwpoeiru", "asdfgh")."""
    return (
        (len(word) >= 3 and not re.search(r"[aeiouy]", word))
        or re.fullmatch(r"(.{1,4})\1+.{0,3}", word) is not None
        or (len(word) >= 4 and any(set(word) <= set(row) for row in _KEYBOARD_ROWS))
    )


def _content_words(text: str) -> list[str]:
    words = re.findall(r"[a-z0-9$€£]+", text.lower())
    return [w for w in words if (len(w) > 2 and w not in ENGLISH_STOP_WORDS) or any(c.isdigit() for c in w)]


# The skills that act on a request; two of them in one message are two requests.
ACTION_SKILLS = ("leave", "expense", "it")
SPLIT_CONFIDENCE = 0.6  # each part must read clearly as its skill's request on its own
# Two skills that act on requests this close for a request ("I was ill on wednesday but didn't log it, can you add
# it": leave 0.46, IT 0.44): the bot asks which, once, rather than open the wrong form. 1 of the 845 lines of
# the routing dev set, both dialogue sets and the plain ticket reports is this close (docs/benchmarks.md).
CLARIFY_MARGIN = 0.1


@dataclass(frozen=True)
class Route:
    skill: str
    confidence: float
    # "action" | "sensitive" | "classifier" | "below_threshold" | "empty" | "gibberish" | "awaiting" | "thread"
    # | "question" (a question on `topic`'s subject, answered from the documents)
    # | "documents_first" (no skill fits a question: the documents answer it, or the menu is shown)
    # | "personal" (a question about the employee's own records, sent to the skill that keeps them)
    # | "error_output" (a pasted stack trace: something broke, for IT) | "file_alone" (a receipt without words)
    reason: str
    act: str = REQUEST
    topic: str | None = None  # the skill whose subject a question is on (its action is offered)
    off_topic: float = 0.0  # the classifier's probability that no skill fits (out of scope)
    runner_up: str | None = None  # the classifier's second choice
    runner_up_confidence: float = 0.0

    def explained(self) -> str:
        """The decision and its reasons, as stored with the message ("question; act question; topic leave;
        out of scope 0.02"); `backoffice explain` shows every step."""
        parts = [self.reason, f"act {self.act}"]
        if self.topic:
            parts.append(f"topic {self.topic}")
        parts.append(f"out of scope {self.off_topic:.2f}")
        return "; ".join(parts)[:200]


class Router:
    """Explicit action ids first (their prefix names the skill), then sensitive topics, then the classifier."""

    def __init__(
        self,
        examples: Mapping[str, Sequence[str]],
        embeddings: MiniLMEmbeddings,
        *,
        threshold: float,
        vector_cache: Path | None = None,
        incidents: IncidentModel | None = None,
    ) -> None:
        """`vector_cache`: a folder where the examples' vectors are kept between starts (Settings.cache_dir);
        `incidents`: the security-incident model, so an incident in words no skill example has still reaches IT."""
        self.incidents = incidents
        self.threshold = threshold
        texts = [text for label in sorted(examples) for text in examples[label]]
        labels = [label for label in sorted(examples) for _ in examples[label]]
        self._classifier = TextClassifier(
            texts,
            labels,
            embeddings,
            vectorizer=TfidfVectorizer(analyzer=_terms, sublinear_tf=True),
            c=30.0,
            max_tokens=ROUTER_TOKENS,
            vector_cache=vector_cache,
        )
        self.labels: list[str] = [str(c) for c in self._classifier.classes]
        # Every word the router or the embedding model knows: a message with none of them is keyboard mash.
        self._known = set(self._classifier.vectorizer.vocabulary_) | set(embeddings.vocabulary())

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return self._classifier.probabilities([spelled_out(text) for text in texts])

    def reads_as_incident(self, text: str) -> bool:
        """A security incident by the IT cue patterns, or surely so by the incident model."""
        if triage(text).security:
            return True
        return self.incidents is not None and self.incidents.probability(text) >= ROUTE_THRESHOLD

    def gibberish(self, text: str) -> bool:
        """Keyboard mash ("asdfghjkl", "sdfsdf", "lkj;lkj"): no word of the message is one the router's examples
        or the embedding model's vocabulary hold, and each looks mashed rather than like slang or another
        language ("heyyy", "gracias" are not). Asked again, never made a ticket or a form."""
        words = [w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 1]
        unknown = [w for w in words if w not in self._known and _STEMMER.stemWord(w) not in self._known]
        return bool(words) and len(unknown) == len(words) and all(_mashed(w) for w in unknown)

    def classify(self, text: str) -> Route:
        return self.classify_all([text])[0]

    def classify_all(self, texts: Sequence[str]) -> list[Route]:
        """`classify` for several texts, the classifier run once over those it is needed for."""
        routes = [self._before_classifier(text) for text in texts]
        waiting = [i for i, route in enumerate(routes) if route is None]
        if waiting:
            for i, probs in zip(waiting, self.probabilities([texts[i] for i in waiting]), strict=True):
                routes[i] = self._from_probabilities(probs)
        return [route for route in routes if route is not None]

    def _before_classifier(self, text: str) -> Route | None:
        if not text.strip():
            return Route(OUT_OF_SCOPE, 0.0, "empty")
        if self.gibberish(text):
            return Route(OUT_OF_SCOPE, 0.0, "gibberish")
        if sensitive_topic(text) is not None:
            return Route(SENSITIVE, 1.0, "sensitive")
        return None

    def _from_probabilities(self, probs: np.ndarray) -> Route:
        best, second = (int(i) for i in np.argsort(probs)[::-1][:2])
        label, confidence = self.labels[best], float(probs[best])
        off_topic = float(probs[self.labels.index(OUT_OF_SCOPE)]) if OUT_OF_SCOPE in self.labels else 0.0
        if label == OUT_OF_SCOPE:
            return Route(OUT_OF_SCOPE, confidence, "classifier", off_topic=off_topic)
        if confidence < self.threshold:
            return Route(OUT_OF_SCOPE, confidence, "below_threshold", off_topic=off_topic)
        return Route(
            label,
            confidence,
            "classifier",
            off_topic=off_topic,
            runner_up=self.labels[second],
            runner_up_confidence=float(probs[second]),
        )

    def requests_in(self, text: str) -> list[str]:
        """The separate requests in one message, when it holds requests for different skills ("monday off,
        also my keyboard is broken" → a leave request and an IT report); otherwise the whole text alone."""
        parts = [_LEAD_IN.sub("", part.strip(" ,.;")) for part in _NEXT_REQUEST.split(text)]
        # A part that only points back ("can you log it?") is not a request of its own.
        parts = [part for part in parts if len(_content_words(part)) >= 2]
        if len(parts) < 2 or len(parts) > 4 or sensitive_topic(text) is not None:
            return [text]
        if not all(read_act(part) == REQUEST for part in parts):
            return [text]  # a question among them (no classifier run for it)
        routes = self.classify_all(parts)
        skills = {route.skill for route in routes}
        if len(skills) < 2 or not all(
            route.skill in ACTION_SKILLS and route.confidence >= SPLIT_CONFIDENCE for route in routes
        ):
            return [text]
        # Neighbouring parts for the same skill stay together ("my laptop is broken. it won't start").
        joined: list[str] = []
        for index, part in enumerate(parts):
            if index and routes[index].skill == routes[index - 1].skill:
                joined[-1] = f"{joined[-1]}. {part}"
            else:
                joined.append(part)
        return joined

    def route(self, message: Message) -> Route:
        """The skill for a message, and why. A question about leave, expenses or IT is answered from the
        documents (with the skill's action offered), never taken as a request; a question no skill fits is
        looked up in the documents before the menu. (The conversation's own rules — an answer the skill asked
        for, a reply under a card — are applied by the assistant, which knows the conversation.)"""
        if message.action_id:
            return Route(message.action_id.split(":", 1)[0], 1.0, "action")
        if not message.text.strip() and message.files and all(_RECEIPT_TYPE.match(f.mimetype) for f in message.files):
            # A photo or PDF without a word is a receipt to claim (a screenshot for IT comes with what broke).
            return Route("expense", 1.0, FILE_ALONE)
        route = self.classify(message.text)
        if route.reason in ("sensitive", "empty", "gibberish"):
            return route
        if error_output(message.text):
            return replace(route, skill="it", confidence=1.0, reason="error_output", act=REQUEST)
        act = read_act(message.text)
        if act == PERSONAL and route.skill not in TOPIC_SKILLS:
            owner = records_skill(message.text)
            if owner is not None:
                return replace(route, skill=owner, reason="personal", act=act)
        if act == QUESTION and route.skill in TOPIC_SKILLS:
            return replace(route, skill=POLICY, reason="question", act=act, topic=route.skill)
        if route.skill == SMALLTALK and act == QUESTION and len(message.text.split()) > SMALLTALK_WORDS:
            # A long question that reads like chat with the bot ("how long do you need to have been here before
            # you can be an onboarding buddy?"): looked up like one no skill fits; neither skill acts on it.
            no_skill = route.off_topic + route.confidence
            return replace(route, skill=POLICY, reason=DOCUMENTS_FIRST, act=act, off_topic=no_skill)
        if route.skill not in ("it", "leave", "expense") and act != QUESTION and self.reads_as_incident(message.text):
            # "Got an alert that someone signed in to my account from brazil": a security incident, whatever else
            # the words look like.
            return replace(route, skill="it", confidence=1.0, reason="security incident", act=REQUEST)
        if route.skill in (SMALLTALK, OUT_OF_SCOPE) and act != QUESTION and tells_of_a_death(message.text):
            # "My dad died last night": time off to offer (bereavement leave), never the menu or small talk.
            return replace(route, skill="leave", confidence=1.0, reason="bereavement", act=REQUEST)
        if route.skill != "leave" and act != QUESTION and tells_of_illness_and_absence(message.text):
            # "Migraine, not coming in": a sick day to record, not an IT ticket or the menu.
            return replace(route, skill="leave", confidence=1.0, reason="sick and away", act=REQUEST)
        if route.skill == OUT_OF_SCOPE:
            # Looked up before the menu, whatever the phrasing ("wen is the summer bbq", "business cards budget");
            # the policy skill weighs what the documents return against `off_topic`.
            return replace(route, skill=POLICY, reason=DOCUMENTS_FIRST, act=act)
        if (
            act == REQUEST
            and route.skill in ACTION_SKILLS
            and route.runner_up in ACTION_SKILLS
            and route.confidence - route.runner_up_confidence < CLARIFY_MARGIN
        ):
            return replace(route, reason=AMBIGUOUS, act=act)
        return replace(route, act=act)


# ---------------------------------------------------------------------------------------------- the conversation

# "Never mind", "forget it", "scrap that", "stop"...: the whole message drops what the bot was asking about.
_DROP = re.compile(
    r"(oh,? )?(never ?mind|nvm|forget (it|that|about it)|scrap (it|that)|"
    r"cancel( it| that| this)?( one| claim| request| draft| expense| booking)?|stop|drop (it|that)|"
    r"no thanks|actually,? no|leave it|don'?t bother|not anymore|ignore (it|that|this))"
    r"( please| thanks| then| for now)?",
    re.IGNORECASE,
)


def drops_it(text: str) -> bool:
    """The message says to drop what the bot was asking about, alone or followed by why ("forget it, feeling
    better now", "drop it - the team card covers it"); not "never mind the receipt, it was 30 usd"."""
    stripped = text.strip(" .!?\n\t")
    if _DROP.fullmatch(stripped) is not None:
        return True
    first = re.split(r"\s*[,;:!.–—-]\s+|\s*[,;:!]\s*", stripped, maxsplit=1)[0]
    return first != stripped and _DROP.fullmatch(first) is not None
