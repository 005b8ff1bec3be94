"""Extractive answers: the sentences of the best passages that answer the question, with citations.
Also decides when the sources do not answer (the bot then says so and offers HR)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.messages import Citation
from knowledge.index import Hit, KnowledgeIndex
from knowledge.terms import stem_terms

MAX_SENTENCES = 3
MAX_CHARS = 480
PASSAGES = 3  # passages cited, and read for answerability
# Passages whose sentences may be quoted. Each sentence's score counts its passage's similarity to the question
# (PASSAGE_WEIGHT) more than the passage's rank (RANK_PENALTY): the fused ranking puts keyword matches first,
# but the sentence that answers is more often in the passage closest in meaning. On our dev sets (in-process,
# the gold sentence among those quoted; same embedding cost, RERANK 4): TTS 0.68 -> 0.68, GitLab 0.58 -> 0.64
# against 3 passages ranked at 0.08 a place; 5 passages gained nothing more.
QUOTED_PASSAGES = 4
PASSAGE_WEIGHT = 0.5
RANK_PENALTY = 0.04
# Sentences re-scored with the embedding model, and their tokens embedded: on our dev sets (both handbooks) 4 and
# 48 kept nearly all of the fact hits of 10 and 256 (0.61 vs 0.63, 0.50 vs 0.51) at a quarter of the time.
RERANK = 4
SENTENCE_TOKENS = 48


@dataclass(frozen=True)
class Answer:
    text: str
    citations: list[Citation]
    confident: bool
    score: float
    hits: list[Hit]


def answerability(hits: list[Hit], sentence_similarity: float) -> float:
    """How well the sources answer the question (about 0..1): the mean of the embedding similarity of the best
    passage and of the best sentence to the question. On our dev sets (benchmarks/answers, both handbooks) this
    told answerable from unanswerable questions best: ROC AUC 0.82 / 0.74, against 0.73 / 0.63 for the earlier
    mix of similarity, IDF-weighted word coverage and vector/keyword agreement (coverage alone: 0.62 / 0.60)."""
    if not hits:
        return 0.0
    passage = max(h.similarity for h in hits[:PASSAGES])
    return max(0.5 * passage + 0.5 * sentence_similarity, 0.0)


# A question that asks for a quantity (an amount, a number of days, a limit, a rate, how often) ...
_ASKS_QUANTITY = re.compile(
    r"\b(how (much|many|long|often|soon|far in advance)|what (percent(age)?|share|portion|rate)|"
    r"(maximum|minimum|limit|cap)\b|up to how)",
    re.IGNORECASE,
)
# ... is answered only by sentences that state one.
_STATES_QUANTITY = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|"
    r"sixty|ninety|hundred|half|once|twice|daily|weekly|monthly|annual(ly)?|yearly|quarterly|unlimited|"
    r"no (set )?(limit|maximum|cap)|"
    r"per (hour|day|week|month|year)|every)\b",
    re.IGNORECASE,
)


_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_ITEM = re.compile(r"^\s*([-*•+]|\d{1,2}[.)])\s+")  # a list item starts a unit of its own
_ROW = re.compile(r"^\s*\|")  # so does a table row
_RULE = re.compile(r"^\s*\|?\s*:?-{3,}")  # a table's header rule
# A sentence that states a quantity (a number, "twice", "per month", "unlimited"...) scores this much more when
# the question asks for one ("how long", "how many", "what percentage"), 0.05 otherwise. It changes which
# sentences are quoted, not whether the question counts as answered (see _scored_sentences and extract_answer).
# In-process on the dev sets (TTS / GitLab, answerability >= 0.50): fact hits 62 / 50 -> 64 / 51, unanswerable
# questions answered unchanged (12 / 15). Letting the bonus also decide those gave 65 / 52 but 14 / 15.
QUANTITY_BONUS = 0.20
_LIST_AFTER_COLON = 4  # list items kept with the sentence that introduces them with a colon
_LIST_ITEM_CHARS = 200  # ... when they are this short
_QUOTE = re.compile(r"^\s*(>\s?)+")


def _units(text: str) -> list[tuple[str, str]]:
    """The text as ("prose" | "item" | "row", text) units: hard-wrapped lines of a paragraph joined again,
    list items and table rows kept whole (a table row with its header); ("break" | "heading", "") between blocks
    and before a heading."""
    units: list[tuple[str, str]] = []
    for block in re.split(r"\n\s*\n", text):
        header: str | None = None
        for raw in block.splitlines():
            line = _QUOTE.sub("", raw)  # a block quote ("> Note") is read as its text
            if raw.strip() and not line.strip():  # a quote's blank line ends a paragraph
                units.append(("break", ""))
                continue
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
            if line.lstrip().startswith("#"):  # a heading is cited, not quoted, and ends what came before
                units.append(("heading", ""))
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
    """Whole sentences (of paragraphs and of list items), short list items with the sentence that introduces them
    with a colon, and table rows."""
    found: list[str] = []
    units = _units(text)
    i = 0
    while i < len(units):
        kind, unit = units[i]
        i += 1
        if kind in ("break", "heading"):
            continue
        if kind == "row":
            found.append(unit)
            continue
        # A paragraph or a list item, in sentences: an item may hold several.
        parts = [p.strip() for p in _SENTENCE_SPLIT.split(unit) if p.strip()]
        if parts and parts[-1].endswith(":"):
            items: list[str] = []
            while i < len(units) and len(items) < _LIST_AFTER_COLON:
                # Markdown often leaves a blank line before the list, or between its items.
                if units[i][0] == "break" and i + 1 < len(units) and units[i + 1][0] == "item":
                    i += 1
                # Short items only: a list of paragraphs is quoted sentence by sentence.
                if units[i][0] != "item" or len(units[i][1]) > _LIST_ITEM_CHARS:
                    break
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
    """Pick the few sentences from the top passages that best answer the question, or none (not confident) when
    the sources don't: too far from the question, or no sentence states the quantity the question asks for."""
    candidates, scored, plain, sentence_similarity = _scored_sentences(question, hits, index)
    score = answerability(hits, sentence_similarity)
    if not candidates or score < min_score:
        return Answer(text="", citations=citations_for(hits), confident=False, score=score, hits=hits)
    chosen = _choose(candidates, scored)
    # Whether the sources state the quantity asked for is judged on the sentences chosen without favouring those
    # that state one: otherwise any number in the top passages would do.
    if _ASKS_QUANTITY.search(question) and not any(
        _STATES_QUANTITY.search(candidates[i][2]) for i in _choose(candidates, plain)
    ):
        return Answer(text="", citations=citations_for(hits), confident=False, score=score, hits=hits)
    # The answer leads: the passage of the best sentence first, each passage's sentences in their order there.
    passage_order = list(dict.fromkeys(candidates[i][0] for i in chosen))
    chosen.sort(key=lambda i: (passage_order.index(candidates[i][0]), candidates[i][1]))
    text = " ".join(_ensure_period(candidates[i][2]) for i in chosen)
    cited = [hits[r] for r in passage_order] + [h for r, h in enumerate(hits[:PASSAGES]) if r not in passage_order]
    return Answer(text=text, citations=citations_for(cited), confident=True, score=score, hits=hits)


def _choose(candidates: list[tuple[int, int, str]], scored: list[tuple[float, int]]) -> list[int]:
    """The best sentences, up to MAX_SENTENCES and MAX_CHARS, each quoted once (overlapping chunks repeat them)."""
    chosen: list[int] = []
    said: set[str] = set()
    total = 0
    for _value, i in scored:
        sentence = candidates[i][2]
        same = " ".join(sentence.lower().split()).rstrip(".")
        if same in said:
            continue
        if total + len(sentence) > MAX_CHARS and chosen:
            break
        said.add(same)
        chosen.append(i)
        total += len(sentence)
        if len(chosen) >= MAX_SENTENCES:
            break
    return chosen


def _scored_sentences(
    question: str, hits: list[Hit], index: KnowledgeIndex
) -> tuple[list[tuple[int, int, str]], list[tuple[float, int]], list[tuple[float, int]], float]:
    """Sentences of the top passages as (passage rank, position, text); (score, index) best first, favouring
    sentences that state a quantity when the question asks for one; the same without favouring them; and the
    embedding similarity to the question of the best sentence of the latter."""
    candidates: list[tuple[int, int, str]] = []
    for rank, hit in enumerate(hits[:QUOTED_PASSAGES]):
        for position, sentence in enumerate(_sentences(hit.text)):
            candidates.append((rank, position, sentence))
    if not candidates:
        return [], [], [], 0.0
    terms = set(stem_terms(question))
    asks_quantity = bool(_ASKS_QUANTITY.search(question))
    # Two passes: every sentence scored on its words and place, then the best RERANK of them again with the
    # embedding model (each embedded sentence costs ~3 ms on a laptop core; a passage holds up to ~15).
    # Answerability reads the best sentence as scored without the quantity bonus (a digit counts 0.05), so that
    # favouring a sentence with a number picks the quoted sentence but does not make a question look answered.
    plain: list[tuple[float, int]] = []
    favoured: list[tuple[float, int]] = []
    for i, (rank, position, sentence) in enumerate(candidates):
        words = set(stem_terms(sentence))
        overlap = len(terms & words) / len(terms) if terms else 0.0
        value = 0.45 * overlap + PASSAGE_WEIGHT * hits[rank].similarity - RANK_PENALTY * rank - 0.01 * position
        plain.append((value + (0.05 if re.search(r"\d", sentence) else 0.0), i))
        states = bool(_STATES_QUANTITY.search(sentence))
        favoured.append((value + (QUANTITY_BONUS if asks_quantity and states else 0.05 if states else 0.0), i))
    plain.sort(reverse=True)
    favoured.sort(reverse=True)
    shortlist = list(dict.fromkeys([i for _v, i in plain[:RERANK]] + [i for _v, i in favoured[:RERANK]]))
    embeddings = index.embeddings
    vectors = embeddings.embed_array([candidates[i][2] for i in shortlist], max_tokens=SENTENCE_TOKENS)
    query = embeddings.embed_array([question])[0]
    similarity = dict(zip(shortlist, (vectors @ query).tolist(), strict=True))

    def reranked(cheap: list[tuple[float, int]]) -> list[tuple[float, int]]:
        """Its own best RERANK with their similarity added; the rest after them."""
        top = {i for _value, i in cheap[:RERANK]}
        return sorted(
            ((value + 0.45 * similarity[i] if i in top else value - 1.0, i) for value, i in cheap), reverse=True
        )

    unfavoured = reranked(plain)
    return candidates, reranked(favoured), unfavoured, similarity[unfavoured[0][1]]


def best_sentence(statement: str, hits: list[Hit], index: KnowledgeIndex) -> str:
    """The one sentence of the top passages that best matches `statement` (e.g. a rule, to quote it)."""
    candidates, scored, _plain, _similarity = _scored_sentences(statement, hits, index)
    return _ensure_period(candidates[scored[0][1]][2]) if scored else ""


def _ensure_period(sentence: str) -> str:
    return sentence if sentence[-1:] in ".!?:" else sentence + "."
