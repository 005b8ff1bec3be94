"""Security incidents read by meaning, besides the cue patterns of `skills.it.classify`: a report in plain
words ("the page asked for my login and I typed it in", "someone rang from the helpdesk and I read out the
code") names no cue the patterns know. Logistic regression over the all-MiniLM-L6-v2 sentence vector and word
TF-IDF, trained at start-up on our own examples (skills/examples/security_incident.txt and
not_security_incident.txt: incidents, and look-alikes that are not: a phishing mail not acted on, a forgotten
password, a Wi-Fi outage, a question about phishing). The patterns still decide first; the model only adds
incidents they miss, and never for a how-to question or a follow-up."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer

from knowledge.classifier import TextClassifier
from knowledge.embeddings import MiniLMEmbeddings
from skills.it.classify import Triage, triage

# Probability above which a report is an incident. Chosen on benchmarks/tickets_plain.jsonl and
# tickets_dev.jsonl (docs/benchmarks.md): at 0.5 recall 1.0 / 1.0 with precision 0.95 / 0.91; at 0.6 precision
# 0.97 / 1.0 but recall 0.95 on the plain-worded set. A missed incident costs more than a look at a false alarm.
INCIDENT_THRESHOLD = 0.5
# Surer still: a message the router would send elsewhere (out of scope, small talk) goes to IT as an incident.
ROUTE_THRESHOLD = 0.8
_TOKENS = 96


class IncidentModel:
    def __init__(
        self,
        embeddings: MiniLMEmbeddings,
        incidents: Sequence[str],
        others: Sequence[str],
        *,
        vector_cache: Path | None = None,
    ) -> None:
        """`incidents` and `others`: example reports that are and are not security incidents (the runtime passes
        skills/examples/security_incident.txt and not_security_incident.txt)."""
        self._classifier = TextClassifier(
            [*incidents, *others],
            [1] * len(incidents) + [0] * len(others),
            embeddings,
            vectorizer=TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
            c=10.0,
            max_tokens=_TOKENS,
            vector_cache=vector_cache,
        )

    @classmethod
    def from_examples(cls, embeddings: MiniLMEmbeddings, *, vector_cache: Path | None = None) -> IncidentModel:
        """Trained on skills/examples: the incident examples against the look-alikes and the IT skill's own
        examples that the cue patterns don't take for incidents (everyday problems and requests)."""
        from skills.base import load_examples  # skills import this module

        read = [(line, triage(line)) for line in load_examples("it")]
        everyday = [line for line, found in read if not found.security and found.category != "security"]
        others = [*load_examples("not_security_incident"), *everyday]
        return cls(embeddings, load_examples("security_incident"), others, vector_cache=vector_cache)

    def probability(self, text: str) -> float:
        """How surely the text reports a security incident (0-1)."""
        return float(self._classifier.probabilities([text])[0][self._classifier.classes.index(1)])


# Said outright that the lure was not acted on: a report of an attempt, which the cue patterns file as such.
_NOT_ACTED_ON = re.compile(
    r"\b(hung up|put the phone down|did(n'?t| not) (click|open|enter|give|reply|respond|do anything|download|"
    r"type|fall for)\w*|ha(ve|s)(n'?t| not) (clicked|opened|done anything|entered|replied)|deleted it|ignored it|"
    r"didn'?t do anything|before i click)\b",
    re.IGNORECASE,
)


def triage_report(text: str, incidents: IncidentModel | None) -> Triage:
    """`triage`, with an incident the cue patterns miss added when the model reads one (a problem report, not
    a how-to question or a follow-up): category security, P1, and the probability among the reasons."""
    found = triage(text)
    if found.security or incidents is None or not found.is_problem or _NOT_ACTED_ON.search(text):
        return found
    probability = incidents.probability(text)
    if probability < INCIDENT_THRESHOLD:
        return found
    return replace(
        found,
        category="security",
        priority="P1",
        security=True,
        reasons=(*found.reasons, f"reads like a security incident ({probability:.2f}) → P1"),
    )
