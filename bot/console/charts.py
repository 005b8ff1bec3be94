"""The insight charts: plotly figures built on the server from `bot.insights` results, drawn in the browser by the
plotly.js that ships in the `plotly` wheel (served by the console, no CDN)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import plotly.graph_objects as go

from bot import insights
from bot.digest import NO_DATA
from bot.digest import format_duration as span
from bot.digest import format_share as percent

# No toolbar (plotly's modebar): it sat over the charts' titles, and these charts are read, not explored.
CONFIG = {"displayModeBar": False, "displaylogo": False, "responsive": True}
COLOURS = ("#1264a3", "#2e7d32", "#b26a00", "#6a1b9a", "#c62828", "#00838f", "#5f6670")


@dataclass(frozen=True)
class Figures:
    messages: insights.MessagesPerDay
    deflection: insights.Deflection
    feedback: insights.FeedbackSummary
    tickets: insights.ResponseTimes
    escalations: insights.ResponseTimes
    sla: insights.SlaCompliance
    leave: insights.ApprovalTimes
    expenses: insights.ApprovalTimes


@dataclass(frozen=True)
class Tile:
    """One key figure: the headline and the words under it."""

    id: str
    value: str
    text: str


def headline(value: str | None, waiting: int) -> str:
    """A tile's figure; "pending" while it waits on items not decided yet; "no data" only when there is nothing."""
    if value is not None:
        return value
    return "pending" if waiting else NO_DATA


def _share(value: float | None) -> str | None:
    return None if value is None else percent(value)


def _span(seconds: float | None) -> str | None:
    return None if seconds is None else span(seconds)


def _p90(seconds: float | None) -> str:
    return "" if seconds is None else f" (p90 {span(seconds)})"


def _waiting(count: int, what: str) -> str:
    return f", {count} {what}" if count else ""


def tiles(figures: Figures) -> list[Tile]:
    """The insights page's key figures, in order."""
    d, f, sla = figures.deflection, figures.feedback, figures.sla.resolution
    out = [
        Tile(
            "deflection",
            headline(_share(d.rate), d.pending),
            f"deflected: {d.deflected} of {d.deflected + d.followed_up} questions had no ticket or HR request within "
            f"{d.window_days} days ({d.pending} still in their window)",
        ),
        Tile(
            "feedback",
            headline(_share(f.share_positive), 0),
            f"positive feedback ({f.up} helpful, {f.down} not helpful)",
        ),
    ]
    for key, label, times in (("tickets", "ticket", figures.tickets), ("escalations", "HR", figures.escalations)):
        first = times.first_response
        out.append(
            Tile(
                f"{key}-response",
                headline(_span(first.median_seconds), times.awaiting_response),
                f"{label} first response, median{_p90(first.p90_seconds)}"
                f"{_waiting(times.awaiting_response, 'awaiting one')}",
            )
        )
        if key == "tickets":
            done = times.resolution
            out.append(
                Tile(
                    "tickets-resolution",
                    headline(_span(done.median_seconds), times.unresolved),
                    f"ticket resolution, median{_p90(done.p90_seconds)}{_waiting(times.unresolved, 'unresolved')}",
                )
            )
            out.append(
                Tile(
                    "sla",
                    headline(_share(sla.share_met), sla.pending),
                    f"tickets resolved within SLA ({sla.breached} breached{_waiting(sla.pending, 'still open')})",
                )
            )
    for key, approvals in (("leave", figures.leave), ("expenses", figures.expenses)):
        timing = approvals.time_to_decision
        out.append(
            Tile(
                key,
                headline(_span(timing.median_seconds), approvals.pending),
                f"{'leave' if key == 'leave' else 'expense'} time to approval, median"
                f"{_waiting(approvals.pending, 'awaiting a decision')}",
            )
        )
    return out


def _layout(title: str, **extra: object) -> dict[str, object]:
    return {
        "title": {"text": title, "font": {"size": 15}},
        "margin": {"l": 50, "r": 20, "t": 50, "b": 50},
        "legend": {"orientation": "h"},
        "colorway": list(COLOURS),
        **extra,
    }


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def chart_json(figures: Figures) -> str:
    """Every chart as {"id": plotly figure JSON with the chart's `config`}, for the page's data block."""
    built: dict[str, go.Figure] = {}
    days = [d.isoformat() for d in figures.messages.days]
    built["messages"] = go.Figure(
        [go.Bar(name=s.skill, x=days, y=list(s.counts)) for s in figures.messages.series],
        _layout("Messages per skill per day", barmode="stack"),
    )
    d = figures.deflection
    built["deflection"] = go.Figure(
        [
            go.Bar(
                x=["deflected", "followed by a ticket or HR request", "window still open"],
                y=[d.deflected, d.followed_up, d.pending],
                marker_color=[COLOURS[1], COLOURS[4], COLOURS[6]],
            )
        ],
        _layout(f"Questions: deflection {headline(_share(d.rate), d.pending)} (within {d.window_days} days)"),
    )
    f = figures.feedback
    built["feedback"] = go.Figure(
        [go.Bar(x=["helpful", "not helpful"], y=[f.up, f.down], marker_color=[COLOURS[1], COLOURS[4]])],
        _layout(
            "Answer feedback: no votes yet"
            if f.share_positive is None
            else f"Answer feedback: {percent(f.share_positive)} positive"
        ),
    )
    kinds = ["tickets", "HR requests"]
    times = (figures.tickets, figures.escalations)
    built["response"] = go.Figure(
        [
            go.Bar(name="first response, median", x=kinds, y=[_hours(t.first_response.median_seconds) for t in times]),
            go.Bar(name="first response, p90", x=kinds, y=[_hours(t.first_response.p90_seconds) for t in times]),
            go.Bar(name="resolution, median", x=kinds, y=[_hours(t.resolution.median_seconds) for t in times]),
            go.Bar(name="resolution, p90", x=kinds, y=[_hours(t.resolution.p90_seconds) for t in times]),
        ],
        _layout("Time to first response and to resolution (hours)", barmode="group"),
    )
    sla = figures.sla
    targets = ["response", "resolution"]
    built["sla"] = go.Figure(
        [
            go.Bar(name="met", x=targets, y=[sla.response.met, sla.resolution.met], marker_color=COLOURS[1]),
            go.Bar(
                name="breached", x=targets, y=[sla.response.breached, sla.resolution.breached], marker_color=COLOURS[4]
            ),
            go.Bar(
                name="pending", x=targets, y=[sla.response.pending, sla.resolution.pending], marker_color=COLOURS[6]
            ),
        ],
        _layout(
            f"Ticket SLA met: response {headline(_share(sla.response.share_met), sla.response.pending)}, "
            f"resolution {headline(_share(sla.resolution.share_met), sla.resolution.pending)}",
            barmode="stack",
        ),
    )
    approvals = ["leave", "expenses"]
    decided = (figures.leave, figures.expenses)
    built["approval"] = go.Figure(
        [
            go.Bar(name="median", x=approvals, y=[_hours(a.time_to_decision.median_seconds) for a in decided]),
            go.Bar(name="p90", x=approvals, y=[_hours(a.time_to_decision.p90_seconds) for a in decided]),
        ],
        _layout("Time to approval (hours)", barmode="group"),
    )
    drawn = {name: {**json.loads(figure.to_json()), "config": CONFIG} for name, figure in built.items()}
    return json.dumps(drawn).replace("</", "<\\/")
