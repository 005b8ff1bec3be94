"""Extractive answers: the sentences of the best passages that answer the question, with citations.
Also decides when the sources do not answer (the bot then says so and offers HR)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.messages import Citation
from knowledge.index import Hit, KnowledgeIndex, stem_terms

MAX_SENTENCES = 3
MAX_CHARS = 480
PASSAGES = 3
SIMILARITY_WEIGHT = 0.5
AGREEMENT_BONUS = 0.2


@dataclass(frozen=True)
class Answer:
    text: str
    citations: list[Citation]
    confident: bool
    score: float
    hits: list[Hit]


def answerability(question: str, hits: list[Hit], idf_weights: Callable[[Iterable[str]], dict[str, float]]) -> float:
    """How well the best passages answer the question (about 0..1.2). Three signals, measured on our dev
    sets (benchmarks/retrieval_*.jsonl):
    - embedding similarity of the top passages to the question;
    - the IDF-weighted share of the question's words found in them: rare words ("bike", "sabbatical")
      decide, common ones ("work", "company") barely count;
    - agreement: the top passage is in the top 3 of both the vector and the keyword ranking. For questions
      the documents don't answer, the two rankings rarely agree."""
    if not hits:
        return 0.0
    terms = set(stem_terms(question))
    context = set(stem_terms(" ".join(f"{h.title} {h.heading} {h.text}" for h in hits[:PASSAGES])))
    weights = idf_weights(terms)
    total = sum(weights.values())
    coverage = sum(w for term, w in weights.items() if term in context) / total if total else 0.0
    similarity = max(max(h.similarity for h in hits[:PASSAGES]), 0.0)
    top = hits[0]
    agree = (top.keyword_rank is not None and top.keyword_rank < 3) and (
        top.vector_rank is not None and top.vector_rank < 3
    )
    return SIMILARITY_WEIGHT * similarity + (1 - SIMILARITY_WEIGHT) * coverage + (AGREEMENT_BONUS if agree else 0.0)


_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_ITEM = re.compile(r"^\s*([-*•+]|\d{1,2}[.)])\s+")  # a list item starts a unit of its own
_ROW = re.compile(r"^\s*\|")  # so does a table row
_RULE = re.compile(r"^\s*\|?\s*:?-{3,}")  # a table's header rule
_LIST_AFTER_COLON = 4  # list items kept with the sentence that introduces them with a colon


def _units(text: str) -> list[tuple[str, str]]:
    """The text as ("prose" | "item" | "row", text) units: hard-wrapped lines of a paragraph joined again,
    list items and table rows kept whole (a table row with its header)."""
    units: list[tuple[str, str]] = []
    for block in re.split(r"\n\s*\n", text):
        header: str | None = None
        for line in block.splitlines():
            if not line.strip() or _RULE.match(line):
                continue
            if _ROW.match(line):
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                if header is None:
                    header = " | ".join(cells)
                    units.append(("row", header))
                else:
                    units.append(("row", f"{header}: {' | '.join(cells)}"))
                continue
            if line.lstrip().startswith("#"):  # a heading is cited, not quoted
                units.append(("break", ""))
            elif _ITEM.match(line):
                units.append(("item", _ITEM.sub("", line).strip()))
            elif units and units[-1][0] in ("prose", "item"):
                kind, previous = units[-1]
                units[-1] = (kind, f"{previous} {line.strip()}")
            else:
                units.append(("prose", line.strip()))
        units.append(("break", ""))
    return units


def _sentences(text: str) -> list[str]:
    """Whole sentences, list items (with the sentence that introduces them with a colon) and table rows."""
    found: list[str] = []
    units = _units(text)
    i = 0
    while i < len(units):
        kind, unit = units[i]
        i += 1
        if kind == "break":
            continue
        if kind != "prose":
            found.append(unit)
            continue
        parts = [p.strip() for p in _SENTENCE_SPLIT.split(unit) if p.strip()]
        if parts and parts[-1].endswith(":"):
            items: list[str] = []
            while i < len(units) and units[i][0] == "item" and len(items) < _LIST_AFTER_COLON:
                items.append(units[i][1].rstrip(".;"))
                i += 1
            if items:
                parts[-1] = f"{parts[-1]} {'; '.join(items)}."
        found += parts
    return [s for s in found if len(s) > 12]


def citations_for(hits: list[Hit], limit: int = PASSAGES) -> list[Citation]:
    seen: set[tuple[str, str]] = set()
    citations: list[Citation] = []
    for hit in hits:
        key = (hit.source, hit.heading)
        if key in seen:
            continue
        seen.add(key)
        citations.append(Citation(title=hit.title, heading=hit.heading, location=hit.location))
        if len(citations) >= limit:
            break
    return citations


def extract_answer(question: str, hits: list[Hit], index: KnowledgeIndex, *, min_score: float) -> Answer:
    """Pick the few sentences from the top passages that best match the question."""
    score = answerability(question, hits, index.idf_weights)
    if not hits or score < min_score:
        return Answer(text="", citations=citations_for(hits), confident=False, score=score, hits=hits)
    candidates, scored = _scored_sentences(question, hits, index)
    if not candidates:
        return Answer(text="", citations=citations_for(hits), confident=False, score=score, hits=hits)
    chosen: list[int] = []
    total = 0
    for _value, i in scored:
        sentence = candidates[i][2]
        if total + len(sentence) > MAX_CHARS and chosen:
            break
        chosen.append(i)
        total += len(sentence)
        if len(chosen) >= MAX_SENTENCES:
            break
    chosen.sort(key=lambda i: (candidates[i][0], candidates[i][1]))
    used_ranks = sorted({candidates[i][0] for i in chosen})
    text = " ".join(_ensure_period(candidates[i][2]) for i in chosen)
    cited = [hits[r] for r in used_ranks] + [h for r, h in enumerate(hits[:PASSAGES]) if r not in used_ranks]
    return Answer(text=text, citations=citations_for(cited), confident=True, score=score, hits=hits)


def _scored_sentences(
    question: str, hits: list[Hit], index: KnowledgeIndex
) -> tuple[list[tuple[int, int, str]], list[tuple[float, int]]]:
    """Sentences of the top passages as (passage rank, position, text), and (score, index) best first."""
    candidates: list[tuple[int, int, str]] = []
    for rank, hit in enumerate(hits[:PASSAGES]):
        for position, sentence in enumerate(_sentences(hit.text)):
            candidates.append((rank, position, sentence))
    if not candidates:
        return [], []
    embeddings = index.embeddings
    terms = set(stem_terms(question))
    vectors = embeddings.embed_array([c[2] for c in candidates])
    query = embeddings.embed_array([question])[0]
    similarity = vectors @ query
    scored: list[tuple[float, int]] = []
    for i, (rank, position, sentence) in enumerate(candidates):
        words = set(stem_terms(sentence))
        overlap = len(terms & words) / len(terms) if terms else 0.0
        has_number = 0.05 if re.search(r"\d", sentence) else 0.0
        value = 0.45 * float(similarity[i]) + 0.45 * overlap - 0.08 * rank - 0.01 * position + has_number
        scored.append((value, i))
    scored.sort(reverse=True)
    return candidates, scored


def best_sentence(statement: str, hits: list[Hit], index: KnowledgeIndex) -> str:
    """The one sentence of the top passages that best matches `statement` (e.g. a rule, to quote it)."""
    candidates, scored = _scored_sentences(statement, hits, index)
    return _ensure_period(candidates[scored[0][1]][2]) if scored else ""


def _ensure_period(sentence: str) -> str:
    return sentence if sentence[-1:] in ".!?:" else sentence + "."
