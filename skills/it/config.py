"""IT service levels and incident grouping, read from YAML (skills/it/it_config.yml by default)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import yaml

DEFAULT_CONFIG = Path(__file__).parent / "it_config.yml"


class ItConfigError(ValueError):
    """The IT configuration file is invalid."""


@dataclass(frozen=True)
class Sla:
    response: timedelta
    resolution: timedelta


@dataclass(frozen=True)
class ItConfig:
    sla: dict[str, Sla]
    warn_at: float = 0.75
    incident_window: timedelta = timedelta(minutes=60)
    incident_min_reports: int = 2


def load_it_config(path: Path | None = None) -> ItConfig:
    source = path or DEFAULT_CONFIG
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
        sla = {
            str(priority): Sla(
                response=timedelta(minutes=float(values["response_minutes"])),
                resolution=timedelta(hours=float(values["resolution_hours"])),
            )
            for priority, values in (raw.get("sla") or {}).items()
        }
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise ItConfigError(f"cannot read IT configuration {source}: {exc}") from exc
    missing = {"P1", "P2", "P3", "P4"} - set(sla)
    if missing:
        raise ItConfigError(f"{source}: no SLA for {', '.join(sorted(missing))}")
    return ItConfig(
        sla=sla,
        warn_at=float(raw.get("warn_at", 0.75)),
        incident_window=timedelta(minutes=float(raw.get("incident_window_minutes", 60))),
        incident_min_reports=int(raw.get("incident_min_reports", 2)),
    )
