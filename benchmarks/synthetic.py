"""A deterministic synthetic knowledge base for the benchmarks, made only from our own sample SOPs.

Each synthetic page recombines the sentences of one sample SOP (knowledge/samples/sops) for an invented
office or team, with numbers varied, so it reads like a plausible regional variant of a real policy. Every
section is one paragraph of at most ~850 characters, so each section becomes exactly one chunk and a
knowledge base of N chunks is N / SECTIONS_PER_PAGE pages."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from knowledge.loaders import parse_markdown

SOPS = Path(__file__).resolve().parent.parent / "knowledge" / "samples" / "sops"
SECTIONS_PER_PAGE = 20
MAX_SECTION_CHARS = 850
OFFICES = (
    "Lisbon", "Berlin", "Toronto", "Austin", "Nairobi", "Osaka", "Dublin", "Melbourne", "Bogotá", "Warsaw",
    "Singapore", "Oslo", "Denver", "Cape Town", "Seoul", "Lyon", "Manchester", "Bangalore", "Tallinn", "Porto",
)  # fmt: skip
TEAMS = (
    "Field Sales", "Platform Engineering", "Customer Success", "Finance Operations", "Warehouse", "Design",
    "Data Science", "Legal", "Facilities", "Research", "Support Tier 2", "Marketing", "Procurement", "Security",
)  # fmt: skip
AUDIENCES = ("everyone",) * 8 + ("managers", "hr", "it")
_NUMBER = re.compile(r"\b\d+(?:,\d{3})*(?:\.\d+)?\b")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])|\n+")


def _sentences(text: str) -> list[str]:
    parts = (p.strip(" -*\t") for p in _SENTENCE_END.split(text))
    return [p if p[-1] in ".!?" else p + "." for p in parts if len(p) > 20]


@dataclass(frozen=True)
class _Sop:
    title: str
    headings: tuple[str, ...]
    sentences: tuple[str, ...]


def _load_sops() -> list[_Sop]:
    sops = []
    for path in sorted(SOPS.glob("*.md")):
        document = parse_markdown(path.read_text(encoding="utf-8"), path.stem)
        headings = tuple(s.headings[-1] for s in document.sections if s.headings) or ("Overview",)
        sentences = tuple(s for section in document.sections for s in _sentences(section.text))
        sops.append(_Sop(document.title, headings, sentences))
    return sops


def _vary_numbers(sentence: str, rng: random.Random) -> str:
    def replace(match: re.Match[str]) -> str:
        value = float(match.group(0).replace(",", ""))
        if 1990 <= value <= 2100:  # a year: keep it a plausible year
            return str(int(value) + rng.randint(-1, 1))
        varied = max(1.0, value * rng.uniform(0.5, 1.8))
        return f"{varied:,.0f}" if "." not in match.group(0) else f"{varied:.2f}"

    return _NUMBER.sub(replace, sentence)


def page(number: int, sops: list[_Sop], seed: int) -> str:
    """The markdown of synthetic page `number` (the same for the same seed, on every machine)."""
    rng = random.Random(seed * 1_000_003 + number)
    sop = sops[rng.randrange(len(sops))]
    office, team = rng.choice(OFFICES), rng.choice(TEAMS)
    lines = [
        "---",
        f"title: {sop.title} ({office}, {team}) v{number}",
        f"audience: {rng.choice(AUDIENCES)}",
        "---",
        "",
    ]
    for section in range(SECTIONS_PER_PAGE):
        heading = rng.choice(sop.headings)
        lines.append(f"## {heading} — {office} {section + 1}")
        lines.append("")
        text = ""
        for sentence in rng.sample(sop.sentences, k=min(8, len(sop.sentences))):
            sentence = _vary_numbers(sentence, rng).replace("Larkspur", f"Larkspur {office}")
            if text and len(text) + len(sentence) + 1 > MAX_SECTION_CHARS:
                break
            text = f"{text} {sentence}".strip()
        lines.append(text[:MAX_SECTION_CHARS])
        lines.append("")
    return "\n".join(lines)


def write_corpus(directory: Path, chunks: int, *, seed: int = 7) -> int:
    """Write enough synthetic pages for `chunks` chunks into `directory`; returns the number of pages."""
    directory.mkdir(parents=True, exist_ok=True)
    sops = _load_sops()
    pages = max(1, -(-chunks // SECTIONS_PER_PAGE))
    for number in range(pages):
        (directory / f"synthetic-{number:06d}.md").write_text(page(number, sops, seed), encoding="utf-8")
    return pages
