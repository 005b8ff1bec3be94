"""A new IT report against the requester's open tickets: the description it is kept as, and the open ticket it
repeats in other words, if any."""

from __future__ import annotations

import re
from datetime import timedelta

import numpy as np

from bot.db import aware
from skills.base import SkillContext
from skills.it import service
from skills.it.classify import Triage
from skills.it.models import Ticket

MAX_DESCRIPTION = 4000
# One person's report repeating their own open ticket in other words: MiniLM cosine between the two. Our pairs
# (docs/benchmarks.md): repeats 0.59-0.80, different problems of the same category 0.15-0.52 (0.74 for "need a
# new mouse" / "my mouse stopped working", which may well be one ticket).
SAME_PROBLEM = 0.58
SECURITY_DETAILS_WINDOW = timedelta(hours=1)  # more about an incident reported this recently joins its ticket


def repeated_ticket(ctx: SkillContext, text: str, found: Triage, vectors: dict[str, np.ndarray]) -> Ticket | None:
    """The requester's open ticket this report repeats in other words ("my display keeps blinking" after
    "laptop screen is flickering"), if any: same or unsorted category and close in meaning (MiniLM cosine)
    or mostly the same words. A security report is never folded into another ticket."""
    if found.security:
        # The details of an incident just reported ("I want to report a security incident", then what
        # happened) belong to that ticket.
        since = ctx.now() - SECURITY_DETAILS_WINDOW
        recent = [
            t
            for t in service.open_tickets_of(ctx.session, ctx.employee)
            if t.security and (aware(t.created_at, since) or since) >= since
        ]
        return max(recent, key=lambda t: t.id) if recent else None
    mine = [t for t in service.open_tickets_of(ctx.session, ctx.employee) if same_kind(t, found)]
    if not mine:
        return None
    originals = [original_report(t) for t in mine]
    embedded = vectors_of(ctx, [text, *originals], vectors)
    scores = embedded[1:] @ embedded[0]
    best = max(range(len(mine)), key=lambda i: float(scores[i]))
    if float(scores[best]) >= SAME_PROBLEM or _same_words(originals[best], text):
        return mine[best]
    return None


def original_report(ticket: Ticket) -> str:
    """A ticket's description as first reported, without the reports added to it later."""
    return ticket.description.split("\n\nAdded later:", 1)[0]


def ticket_description(report: str, screenshot: str) -> str:
    """A new ticket's description: the report, and the text read from its screenshot."""
    return (report + (f"\n\nFrom the screenshot: {screenshot}" if screenshot else ""))[:MAX_DESCRIPTION]


def vectors_of(ctx: SkillContext, texts: list[str], vectors: dict[str, np.ndarray]) -> np.ndarray:
    """The texts' vectors, as embedded before the transaction; any not embedded then are embedded now."""
    missing = [t for t in dict.fromkeys(texts) if t not in vectors]
    if missing:
        vectors = {**vectors, **dict(zip(missing, ctx.index.embeddings.embed_array(missing), strict=True))}
    return np.stack([vectors[t] for t in texts])


def same_kind(ticket: Ticket, found: Triage) -> bool:
    """A ticket a new report may repeat: not a security one, and the same category (or one of them unsorted)."""
    return not ticket.security and (ticket.category == found.category or "other" in (ticket.category, found.category))


def _same_words(theirs: str, text: str) -> bool:
    words, their_words = _words(text), _words(theirs)
    return bool(words and their_words) and len(words & their_words) / len(words | their_words) >= 0.5


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2}
