"""Latency percentiles as every eval reports them."""

from __future__ import annotations


def latency_figures(ms: list[float], *, digits: int = 1) -> dict[str, float | None]:
    """p50 and p95 of the latencies, in ms (None for none)."""
    latencies = sorted(ms)
    if not latencies:
        return {"latency_ms_p50": None, "latency_ms_p95": None}
    return {
        "latency_ms_p50": round(latencies[len(latencies) // 2], digits),
        "latency_ms_p95": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))], digits),
    }
