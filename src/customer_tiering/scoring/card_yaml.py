"""Writing a fitted card and blend as YAML people can read and diff.

The file starts with a comment header saying what it was fitted on and how to check it; bands are
written one per line (flow style), so a fitted card reads like the shipped one. The text is a pure
function of the configs: fitting twice on the same data gives the same file.
"""

from __future__ import annotations

from typing import Any

import yaml

from customer_tiering.scoring.blend import BlendConfig
from customer_tiering.scoring.criteria import ScorecardConfig

__all__ = ["blend_yaml", "card_yaml"]


class _FlowList(list[Any]):
    """A list written on one line."""


class _FlowDict(dict[str, Any]):
    """A mapping written on one line."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_FlowList, lambda d, v: d.represent_sequence(
    "tag:yaml.org,2002:seq", v, flow_style=True))
_Dumper.add_representer(_FlowDict, lambda d, v: d.represent_mapping(
    "tag:yaml.org,2002:map", v, flow_style=True))


def _flow_leaves(value: Any, key: str | None = None) -> Any:
    """Bands, labels and share lists on one line each; the rest in block style."""
    if isinstance(value, dict):
        if key in ("label", "name", "note") or (key == "band"):
            return _FlowDict(value)
        return {k: _flow_leaves(v, k) for k, v in value.items()}
    if isinstance(value, list):
        if key == "bands":
            return [_FlowDict({k: _flow_leaves(v, k) for k, v in b.items()}) for b in value]
        if all(not isinstance(v, dict | list) for v in value):
            return _FlowList(_flow_leaves(v) for v in value)
        return [_flow_leaves(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)  # 50 points, not 50.0
    return value


def _dump(data: dict[str, Any], header: list[str]) -> str:
    body = yaml.dump(_flow_leaves(data), Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     width=100, default_flow_style=False)
    return "".join(f"# {line}\n" if line else "#\n" for line in header) + body


def card_yaml(card: ScorecardConfig, header: list[str]) -> str:
    """The card as YAML, after a comment header.

    Parameters
    ----------
    card : ScorecardConfig
        A validated card.
    header : list of str
        Comment lines (without ``#``).

    Returns
    -------
    str
    """
    return _dump(card.model_dump(mode="json", exclude_none=True), header)


def blend_yaml(blend: BlendConfig, header: list[str]) -> str:
    """The blend as YAML, after a comment header.

    Parameters
    ----------
    blend : BlendConfig
        A validated blend.
    header : list of str
        Comment lines (without ``#``).

    Returns
    -------
    str
    """
    data = blend.model_dump(mode="json", exclude_none=True)
    data.setdefault("segment", None)
    return _dump(data, header)
