"""A YAML configuration file read into a pydantic model, with errors that name the file, the key and its line."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ValidationError
from pydantic_core import ErrorDetails

Model = TypeVar("Model", bound=BaseModel)


def blank_is(empty: Any) -> BeforeValidator:
    """A key left blank in the file (`limits:`) counts as `empty`."""
    return BeforeValidator(lambda value: empty if value is None else value)


def read_config(source: Path, model: type[Model], error: type[Exception], *, what: str) -> Model:
    """The file checked against `model`; `error` (naming the file, each bad key and its line) when it isn't
    readable YAML or doesn't fit. `what` names the file for a person ("leave configuration")."""
    try:
        text = source.read_text(encoding="utf-8")
        tree = yaml.compose(text, Loader=yaml.SafeLoader)  # the nodes know their lines
        raw = yaml.safe_load(text) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise error(f"cannot read {what} {source}: {exc}") from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise error("\n".join(_where(source, tree, problem) for problem in exc.errors())) from exc


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
