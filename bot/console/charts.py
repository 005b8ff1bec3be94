"""The insight charts: plotly figures built on the server from `bot.insights` results, drawn in the browser by the
plotly.js that ships in the `plotly` wheel (served by the console, no CDN)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import plotly.graph_objects as go

from bot import insights
from bot.digest import format_share as percent

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
    """Every chart as {"id": plotly figure JSON}, for the page's data block."""
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
        _layout(f"Questions: deflection {percent(d.rate)} (within {d.window_days} days)"),
    )
    f = figures.feedback
    built["feedback"] = go.Figure(
        [go.Bar(x=["helpful", "not helpful"], y=[f.up, f.down], marker_color=[COLOURS[1], COLOURS[4]])],
        _layout(f"Answer feedback: {percent(f.share_positive)} positive"),
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
            f"Ticket SLA met: response {percent(sla.response.share_met)}, "
            f"resolution {percent(sla.resolution.share_met)}",
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
    return json.dumps({name: json.loads(figure.to_json()) for name, figure in built.items()}).replace("</", "<\\/")
