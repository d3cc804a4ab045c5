"""The message catalogues: every string a person reads, in Chinese and in English.

The words live as versioned data in ``messages/zh.yaml`` and ``messages/en.yaml``, loaded and
checked once: both files have the same keys (messages and every code group), no value is empty,
and a message takes the same ``{parameters}`` in both languages. Pages, charts, the errors shown
on pages, the CLI tables, the exports and the reason lines all read them through :func:`text` and
the helpers below, so a word is changed in one place and a language is never half done.

Codes from the data and the configs (policy values such as ``dedicated_team``, customer types,
regions, segment names, score bands, review actions, rating kinds) become words through
:func:`code` and its helpers. Where a config carries its own ``{zh, en}`` labels (grade names,
criteria, recommended actions) those are used; an unknown code (a customer type of another book,
say) is data and is shown as it is.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Mapping
from importlib import resources
from typing import Any, Literal

import yaml

from customer_tiering.core.errors import TieringError

__all__ = ["LANGS", "Catalogue", "Lang", "action_name", "band_name", "catalogue", "check_lang",
           "code", "customer_type_name", "error_text", "gate_reason", "grade_name", "messages", "metric_name",
           "policy_value",
           "rating_kind_name", "region_name", "segment_name", "text"]

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


class Catalogue:
    """Both languages' messages and code words, checked against each other."""

    def __init__(self, raw: Mapping[str, Mapping[str, Any]]) -> None:
        problems: list[str] = []
        self.version = str(raw["zh"].get("version", ""))
        self.messages: dict[str, dict[str, str]] = {}
        self.codes: dict[str, dict[str, dict[str, str]]] = {}
        for lang in LANGS:
            doc = raw[lang]
            if doc.get("lang") != lang:
                problems.append(f"{lang}.yaml: lang is {doc.get('lang')!r}, not {lang!r}")
            self.messages[lang] = {str(k): v for k, v in (doc.get("messages") or {}).items()}
            self.codes[lang] = {str(g): {str(k): v for k, v in (values or {}).items()}
                                for g, values in (doc.get("codes") or {}).items()}
        problems += _differences("messages", self.messages["zh"], self.messages["en"])
        problems += _differences("codes", self.codes["zh"], self.codes["en"])
        for group in set(self.codes["zh"]) & set(self.codes["en"]):
            problems += _differences(f"codes.{group}", self.codes["zh"][group],
                                     self.codes["en"][group])
        for lang in LANGS:
            for key, value in self.messages[lang].items():
                if not isinstance(value, str) or not value.strip():
                    problems.append(f"{lang}.yaml: messages.{key} is empty or not text")
            for group, values in self.codes[lang].items():
                for key, value in values.items():
                    if not isinstance(value, str) or not value.strip():
                        problems.append(f"{lang}.yaml: codes.{group}.{key} is empty or not text")
        for key in set(self.messages["zh"]) & set(self.messages["en"]):
            zh, en = (_fields(self.messages[lang][key]) for lang in LANGS)
            if zh != en:
                problems.append(f"messages.{key}: parameters {sorted(zh)} in zh.yaml but "
                                f"{sorted(en)} in en.yaml")
        if problems:
            raise TieringError("message catalogue (src/customer_tiering/i18n/messages): "
                               + "; ".join(sorted(problems)))

    def text(self, key: str, lang: str, **params: Any) -> str:
        template = self.messages[check_lang(lang)].get(key)
        if template is None:
            raise KeyError(f"no message {key!r} in the catalogue")
        return template.format(**params) if params or "{" in template else template


def _differences(where: str, zh: Mapping[str, Any], en: Mapping[str, Any]) -> list[str]:
    return ([f"{where}.{k}: in zh.yaml only" for k in sorted(set(zh) - set(en))]
            + [f"{where}.{k}: in en.yaml only" for k in sorted(set(en) - set(zh))])


def _fields(template: Any) -> set[str]:
    if not isinstance(template, str):
        return set()
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@functools.cache
def catalogue() -> Catalogue:
    """The catalogue, loaded and checked on first use."""
    folder = resources.files("customer_tiering.i18n") / "messages"
    raw: dict[str, Any] = {lang: yaml.safe_load((folder / f"{lang}.yaml").read_text(
        encoding="utf-8")) for lang in LANGS}
    return Catalogue(raw)


def check_lang(lang: str) -> Lang:
    """``lang`` when it is ``zh`` or ``en``; otherwise a :class:`TieringError`."""
    if lang not in LANGS:
        raise TieringError(f"language {lang!r}: use zh or en")
    return lang


def text(key: str, lang: str, **params: Any) -> str:
    """The message ``key`` in ``lang``, with ``{parameters}`` filled in.

    Raises
    ------
    KeyError
        For a key the catalogue does not have (a programming error, found by the tests).
    """
    return catalogue().text(key, lang, **params)


def messages(lang: str) -> dict[str, str]:
    """Every message of ``lang`` without parameters filled in (what the page templates read)."""
    return catalogue().messages[check_lang(lang)]


def code(group: str, value: Any, lang: str) -> str:
    """The word for code ``value`` of ``group`` (``customer_type``, ``region``, ...) in ``lang``;
    a value the catalogue does not know is data and comes back as it is ('' for none)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    words = catalogue().codes[check_lang(lang)].get(group, {})
    return words.get(str(value), str(value))


def grade_name(labels: Mapping[str, Mapping[str, str]], grade: Any, lang: str) -> str:
    """A grade's name from the scheme's ``{grade: {zh, en}}`` labels ('' for no grade)."""
    if grade is None or (isinstance(grade, float) and grade != grade) or grade == "":
        return ""
    return str(labels.get(str(grade), {}).get(lang, grade))


def policy_value(field: str, value: Any, lang: str) -> str:
    """A service policy's value in words: ``account_manager``, ``discount_tier`` and
    ``programmes`` (a list) through the catalogue, numbers formatted."""
    from customer_tiering.i18n.numbers import number

    if isinstance(value, list | tuple):
        separator = "、" if lang == "zh" else ", "
        return separator.join(code("programme", v, lang) for v in value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number(value, 2, trim=True)
    return code(field, value, lang)


def customer_type_name(value: Any, lang: str) -> str:
    """A customer type (``hospital``...) in words."""
    return code("customer_type", value, lang)


def region_name(value: Any, lang: str) -> str:
    """A region (``华东``...) in words."""
    return code("region", value, lang)


def rating_kind_name(value: Any, lang: str) -> str:
    """``periodic`` or ``special`` in words."""
    return code("rating_kind", value, lang)


def action_name(value: Any, lang: str) -> str:
    """A review action (``override``, ``accept``, ``reject``) in words."""
    return code("action", value, lang)


def band_name(value: Any, lang: str) -> str:
    """A score band's name; the stored ``missing`` (input missing) in words."""
    return code("band", value, lang) if value else ""


def segment_name(value: Any, lang: str) -> str:
    """A segment's name in ``lang``.

    The segment model stores bilingual names (``高价值活跃 champions``), or ``segment_3`` for a
    rank beyond its list of names. The English part is the code the catalogue knows; an unknown
    bilingual name shows the part in ``lang``; any other name is data, shown as it is.
    """
    if value is None or (isinstance(value, float) and value != value) or value == "":
        return ""
    name = str(value)
    words = catalogue().codes[check_lang(lang)]["segment"]
    if name in words:
        return words[name]
    numbered = re.fullmatch(r"segment_(\d+)", name)
    if numbered:
        return f"{words['segment']} {numbered.group(1)}"
    first, _, rest = name.partition(" ")
    if rest and _CJK.search(first) and not _CJK.search(rest):
        return words.get(rest, first if lang == "zh" else rest)
    return name


def metric_name(value: str, lang: str) -> str:
    """A model metric's name (``holdout_roc_auc`` reads "ROC AUC (holdout)")."""
    if value.startswith("holdout_"):
        return text("metric_holdout", lang, metric=code("metric", value[len("holdout_"):], lang))
    return code("metric", value, lang)


def error_text(exc: BaseException, lang: str) -> str:
    """What a person reads for an error: its catalogue message when it carries a key
    (:class:`~customer_tiering.core.errors.TieringError` ``key``), else its own words."""
    key = getattr(exc, "key", None)
    if key:
        return text(key, lang, **(getattr(exc, "params", None) or {}))
    return str(exc)


_GATE_COMPARE = re.compile(r"(beats|does not beat) (champion|baseline (\S+)): (\S+) (\S+) vs (\S+) "
                           r"\(improvement (\S+), margin (\S+)\)")
_GATE_NO_METRIC = re.compile(r"(champion|baseline (\S+)) has no (\S+) to compare against")
_GATE_CANDIDATE = re.compile(r"candidate has no (\S+)")


def gate_reason(line: str, lang: str) -> str:
    """One line of the promotion gate's reasons (``registry.gate``, stored in English as a
    model version's ``gate.reasons`` tag) in ``lang``: who was compared, the metric by name and
    the numbers formatted. A line of another form is data and is shown as it is."""
    from customer_tiering.i18n.numbers import number

    def who(found: str, baseline: str | None) -> str:
        return (text("gate_baseline", lang, name=code("scorer", baseline, lang)) if baseline
                else code("scorer", "champion", lang))

    def num(raw: str, sign: bool = False) -> str:
        try:
            value = float(raw)
        except ValueError:
            return raw
        shown = number(value, 4)
        return f"+{shown}" if sign and value >= 0 else shown

    line = line.strip()
    if line == "no champion and no baselines to compare against":
        return text("gate_nothing_to_compare", lang)
    found = _GATE_COMPARE.fullmatch(line)
    if found:
        verb, whom, baseline, metric, cand, other, gain, margin = found.groups()
        return text("gate_beats" if verb == "beats" else "gate_does_not_beat", lang,
                    who=who(whom, baseline), metric=metric_name(metric, lang),
                    candidate=num(cand), other=num(other), gain=num(gain, sign=True),
                    margin=num(margin))
    found = _GATE_NO_METRIC.fullmatch(line)
    if found:
        whom, baseline, metric = found.groups()
        return text("gate_no_metric", lang, who=who(whom, baseline),
                    metric=metric_name(metric, lang))
    found = _GATE_CANDIDATE.fullmatch(line)
    if found:
        return text("gate_candidate_no_metric", lang, metric=metric_name(found.group(1), lang))
    return code("why", line, lang)
