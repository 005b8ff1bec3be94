"""IT service levels and incident grouping, read from YAML (skills/it/it_config.yml by default)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

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


def _blank_is(empty: Any) -> BeforeValidator:
    """A key left blank in the file (`sla:`) counts as empty, as it always has."""
    return BeforeValidator(lambda value: empty if value is None else value)


class _SlaFile(BaseModel):
    response_minutes: Annotated[timedelta, _counted_in("minutes")]
    resolution_hours: Annotated[timedelta, _counted_in("hours")]


class _ItFile(BaseModel):
    """The whole file. Keys it does not name are ignored, as they always were."""

    warn_at: float = 0.75
    sla: Annotated[dict[str, _SlaFile], _blank_is({})] = Field(default_factory=dict, validate_default=True)
    incident_window_minutes: Annotated[timedelta, _counted_in("minutes")] = timedelta(minutes=60)
    incident_min_reports: int = 2

    @field_validator("sla")
    @classmethod
    def _every_priority(cls, sla: dict[str, _SlaFile]) -> dict[str, _SlaFile]:
        missing = [priority for priority in PRIORITIES if priority not in sla]
        if missing:
            raise ValueError(f"no SLA for {', '.join(missing)}")
        return sla


def _where(source: Path, tree: yaml.Node | None, error: ErrorDetails) -> str:
    """`file, line N, key.path: message` for one error: its location followed through the YAML nodes."""
    keys: list[str] = []
    node, line = tree, 1
    for part in error["loc"]:
        if isinstance(node, yaml.MappingNode):
            keys.append(str(part))
            found = [(k, v) for k, v in node.value if k.value == str(part)]
            if not found:  # a missing key: the line of the key whose mapping lacks it
                break
            key, node = found[-1]  # the last of duplicate keys is the one read
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            keys.append(str(part))
            node = node.value[part]
            line = node.start_mark.line + 1
        else:  # pydantic's own steps (a union's member, "[key]") are not keys of the file
            break
    if error["type"] == "value_error":  # our own checks, without pydantic's "Value error, " in front
        message = str(error.get("ctx", {}).get("error"))
    elif error["type"] == "model_type":  # pydantic's words would name a private class
        message = "Input should be a mapping"
    else:
        message = error["msg"]
    if not isinstance(error["input"], dict | list):
        message += f" (got {error['input']!r})"
    return f"{source}, line {line}, {'.'.join(keys) or 'the top level'}: {message}"


def load_it_config(path: Path | None = None) -> ItConfig:
    """Read and check the IT configuration; a bad file's error names the file, the key and its line."""
    source = path or DEFAULT_CONFIG
    try:
        text = source.read_text(encoding="utf-8")
        tree = yaml.compose(text, Loader=yaml.SafeLoader)  # the nodes know their lines
        raw = yaml.safe_load(text) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ItConfigError(f"cannot read IT configuration {source}: {exc}") from exc
    try:
        spec = _ItFile.model_validate(raw)
    except ValidationError as exc:
        raise ItConfigError("\n".join(_where(source, tree, error) for error in exc.errors())) from exc
    return ItConfig(
        sla={
            priority: Sla(response=levels.response_minutes, resolution=levels.resolution_hours)
            for priority, levels in spec.sla.items()
        },
        warn_at=spec.warn_at,
        incident_window=spec.incident_window_minutes,
        incident_min_reports=spec.incident_min_reports,
    )
