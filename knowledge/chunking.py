"""Split sections into retrieval-sized chunks that keep their title and heading path."""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.loaders import LoadedDocument

MAX_CHARS = 900


@dataclass(frozen=True)
class Chunk:
    title: str
    headings: tuple[str, ...]
    text: str

    @property
    def heading(self) -> str:
        return " › ".join(self.headings)

    @property
    def indexed_text(self) -> str:
        """What is embedded and keyword-indexed: the title and headings carry much of the meaning."""
        return indexed_text(self.title, self.heading, self.text)


def indexed_text(title: str, heading: str, text: str) -> str:
    """A chunk as it is embedded: title and heading path first, then the text (also rebuilt from the stored
    title, heading and text when a store is re-embedded for a new model)."""
    prefix = f"{title} › {heading}" if heading else title
    return f"{prefix}\n{text}"


def _paragraphs(text: str) -> list[str]:
    parts = [re.sub(r"[ \t]+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    return [p for p in parts if p]


def _split_long(paragraph: str) -> list[str]:
    if len(paragraph) <= MAX_CHARS:
        return [paragraph]
    pieces: list[str] = []
    current = ""
    for sentence in re.split(r"(?<=[.!?])\s+|\n", paragraph):
        if current and len(current) + len(sentence) + 1 > MAX_CHARS:
            pieces.append(current)
            current = ""
        current = f"{current} {sentence}".strip()
        while len(current) > MAX_CHARS:
            pieces.append(current[:MAX_CHARS])
            current = current[MAX_CHARS:]
    if current:
        pieces.append(current)
    return pieces


def chunk_document(document: LoadedDocument) -> list[Chunk]:
    chunks: list[Chunk] = []
    for section in document.sections:
        current = ""
        for paragraph in _paragraphs(section.text):
            for piece in _split_long(paragraph):
                if current and len(current) + len(piece) + 2 > MAX_CHARS:
                    chunks.append(Chunk(document.title, section.headings, current))
                    current = ""
                current = f"{current}\n\n{piece}".strip()
        if current:
            chunks.append(Chunk(document.title, section.headings, current))
    return chunks
