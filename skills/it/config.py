"""IT service levels and incident grouping, read from YAML (skills/it/it_config.yml by default)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, field_validator

from bot.config_files import blank_is, read_config
from skills.it.classify import PRIORITIES

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


def _counted_in(unit: str) -> BeforeValidator:
    """A number in the file counts `unit` (minutes, hours); pydantic alone would read a number as seconds."""

    def duration(value: Any) -> timedelta:
        try:
            return timedelta(**{unit: float(value)})
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"expected a number of {unit}") from None

    return BeforeValidator(duration)


class _SlaFile(BaseModel):
    response_minutes: Annotated[timedelta, _counted_in("minutes")]
    resolution_hours: Annotated[timedelta, _counted_in("hours")]


class _ItFile(BaseModel):
    """The whole file. Keys it does not name are ignored, as they always were."""

    warn_at: float = 0.75
    sla: Annotated[dict[str, _SlaFile], blank_is({})] = Field(default_factory=dict, validate_default=True)
    incident_window_minutes: Annotated[timedelta, _counted_in("minutes")] = timedelta(minutes=60)
    incident_min_reports: int = 2

    @field_validator("sla")
    @classmethod
    def _every_priority(cls, sla: dict[str, _SlaFile]) -> dict[str, _SlaFile]:
        missing = [priority for priority in PRIORITIES if priority not in sla]
        if missing:
            raise ValueError(f"no SLA for {', '.join(missing)}")
        return sla


def load_it_config(path: Path | None = None) -> ItConfig:
    """Read and check the IT configuration; a bad file's error names the file, the key and its line."""
    source = path or DEFAULT_CONFIG
    spec = read_config(source, _ItFile, ItConfigError, what="IT configuration")
    return ItConfig(
        sla={
            priority: Sla(response=levels.response_minutes, resolution=levels.resolution_hours)
            for priority, levels in spec.sla.items()
        },
        warn_at=spec.warn_at,
        incident_window=spec.incident_window_minutes,
        incident_min_reports=spec.incident_min_reports,
    )
