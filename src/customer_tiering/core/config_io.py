"""Versioned YAML configuration -> validated pydantic models, with errors that say where.

A broken file fails with :class:`~customer_tiering.core.errors.ConfigError` naming the file, the field
path (``criteria[1].scoring.bands[2].points``) and the line of that field in the file, so a person
editing the YAML goes straight to it. Line numbers come from the YAML node tree (``yaml.compose``),
not from re-reading the text.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from customer_tiering.core.errors import ConfigError

__all__ = [
    "StrictModel",
    "Version",
    "config_dict",
    "config_hash",
    "default_config_dir",
    "format_loc",
    "line_of",
    "load_yaml_model",
]

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of every configuration model: unknown fields are errors (a typo never passes
    silently) and a loaded configuration cannot be changed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# `version: 2025.1` or `version: 3` in YAML reads as a number; a version is text.
Version = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int | float) else v)]


def default_config_dir() -> Path:
    """The folder of the serving configs.

    Returns
    -------
    pathlib.Path
        ``serving/config`` of the working directory, else the one beside the installed sources.
    """
    here = Path("serving/config")
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[3] / "serving" / "config"


def format_loc(loc: tuple[int | str, ...]) -> str:
    """A field path as the config files spell it.

    Parameters
    ----------
    loc : tuple of int or str
        Keys and list indexes, e.g. ``('criteria', 1, 'bands', 0, 'points')``.

    Returns
    -------
    str
        ``criteria[1].bands[0].points``; ``(top level)`` for an empty path.
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the node at ``loc`` (or of its deepest existing parent)."""
    line = None if node is None else node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    line, node = key.start_mark.line + 1, value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def line_of(path: str | os.PathLike[str], loc: tuple[int | str, ...]) -> int | None:
    """The line of a field in a YAML file.

    Parameters
    ----------
    path : str or os.PathLike
        The YAML file.
    loc : tuple of int or str
        The field's path (keys and list indexes).

    Returns
    -------
    int or None
        The 1-based line of the field, or of its deepest existing parent; None when the file
        cannot be read or parsed.
    """
    try:
        node = yaml.compose(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return _line_of(node, loc)


def _message(err: Any) -> str:
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _parse_subpath(text: str) -> tuple[int | str, ...]:
    """``bands[2].lower`` -> ``('bands', 2, 'lower')``."""
    parts: list[int | str] = []
    for piece in text.split("."):
        name, *indexes = piece.replace("]", "").split("[")
        if name:
            parts.append(name)
        parts.extend(int(i) for i in indexes)
    return tuple(parts)


def _locate(data: object, err: Any) -> tuple[tuple[int | str, ...], str]:
    """The error's field path in the file's terms, and its message.

    A validator may name a field below the one it validates by starting its message with
    ``@sub.path: ``; union tags that pydantic adds to the path (``steps``, ``judgement``) are
    dropped, since they are not keys of the file.
    """
    loc = tuple(err["loc"])
    message = _message(err)
    if message.startswith("@"):
        head, _, message = message[1:].partition(": ")
        sub = _parse_subpath(head)
        if loc and sub and sub[0] == loc[-1]:
            loc = loc[:-1]
        loc = loc + sub
    cleaned: list[int | str] = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        elif isinstance(node, dict) and i < len(loc) - 1 and isinstance(part, str) and (
            loc[i + 1] in node or not isinstance(loc[i + 1], int)
        ):
            continue  # a union tag, not a key of the file
        else:
            node = None
        cleaned.append(part)
    return tuple(cleaned), message


def load_yaml_model(path: str | os.PathLike[str], model: type[M]) -> M:
    """Read ``path`` and validate it as ``model``.

    Parameters
    ----------
    path : str or os.PathLike
        A YAML file holding a mapping.
    model : type of pydantic.BaseModel
        The model to validate it as.

    Returns
    -------
    pydantic.BaseModel
        The validated ``model``.

    Raises
    ------
    ConfigError
        Naming the file, the field path and its line, for the first problem found (pydantic's
        other problems are listed in the message too); also when the file cannot be read, is not
        YAML or is not a mapping.
    """
    name = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(name, "(file)", f"cannot be read: {exc.strerror}") from None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(name, "(file)", f"is not valid YAML: {getattr(exc, 'problem', exc)}",
                          None if mark is None else mark.line + 1) from None
    if not isinstance(data, dict):
        raise ConfigError(name, "(top level)", "must be a mapping of fields", 1)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        loc, message = _locate(data, errors[0])
        if len(errors) > 1:
            others = []
            for err in errors[1:5]:
                other_loc, other_message = _locate(data, err)
                others.append(f"{format_loc(other_loc)}: {other_message}")
            message += f" (also: {'; '.join(others)})"
        raise ConfigError(name, format_loc(loc), message, _line_of(node, loc)) from None


def config_dict(config: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    """A validated config (or a plain mapping) as JSON-ready data.

    Parameters
    ----------
    config : pydantic.BaseModel or Mapping
        The config.

    Returns
    -------
    dict
        Dates, paths and tuples as JSON has them, the same for a model and a mapping.
    """
    if isinstance(config, BaseModel):
        return config.model_dump(mode="json")
    # Round-trip through JSON so dates, paths and tuples compare the same way as in a model.
    return dict(json.loads(json.dumps(dict(config), default=str)))


def config_hash(config: BaseModel | Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a validated config.

    Canonical: keys sorted, no whitespace, UTF-8. Hash the *validated* pydantic model, so that
    defaults filled in and values coerced on load count, and two YAML files that mean the same
    thing (comments, key order, ``1`` vs ``1.0`` where the field is a float) hash the same.

    Parameters
    ----------
    config : pydantic.BaseModel or Mapping
        The config.

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    canonical = json.dumps(
        config_dict(config), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
