"""The message catalogues: both languages with the same keys and parameters, nothing empty; codes
in words; numbers as people read them."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import yaml

from customer_tiering.core.errors import TieringError
from customer_tiering.i18n import catalogue as i18n
from customer_tiering.i18n.numbers import number, percent, points, value


def _raw() -> dict[str, Any]:
    from importlib import resources

    folder = resources.files("customer_tiering.i18n") / "messages"
    return {lang: yaml.safe_load((folder / f"{lang}.yaml").read_text(encoding="utf-8"))
            for lang in ("zh", "en")}


def test_the_shipped_catalogues_load_with_the_same_keys_in_both_languages() -> None:
    cat = i18n.catalogue()
    assert set(cat.messages["zh"]) == set(cat.messages["en"]) and len(cat.messages["zh"]) > 100
    assert cat.codes["zh"].keys() == cat.codes["en"].keys()
    # the pages' words kept their keys (web/text.py reads the catalogue)
    from customer_tiering.web.text import TEXT

    assert TEXT["zh"]["grades"] == "客户等级" and TEXT["en"]["grades"] == "Grades"


@pytest.mark.parametrize(("change", "named"), [
    (lambda raw: raw["en"]["messages"].pop("grades"), "messages.grades: in zh.yaml only"),
    (lambda raw: raw["zh"]["messages"].update(grades=" "), "zh.yaml: messages.grades is empty"),
    (lambda raw: raw["zh"]["codes"]["region"].update(华西="华西"), "codes.region.华西: in zh.yaml"),
    (lambda raw: raw["en"]["messages"].update(per_days="{days} days"),
     "messages.per_days: parameters ['days', 'priority'] in zh.yaml but ['days'] in en.yaml"),
])
def test_a_catalogue_with_a_missing_empty_or_mismatched_entry_is_refused_naming_it(
        change: Any, named: str) -> None:
    raw = copy.deepcopy(_raw())
    change(raw)
    with pytest.raises(TieringError) as refused:
        i18n.Catalogue(raw)
    assert named in str(refused.value)


def test_codes_become_words_and_unknown_values_stay_as_data() -> None:
    assert i18n.policy_value("account_manager", "dedicated_team", "zh") == "专属客户经理团队"
    assert i18n.policy_value("discount_tier", "tier-1", "en") == "discount tier 1"
    assert i18n.policy_value("programmes", ["academic-events", "vip-channel"], "zh") == (
        "学术活动、VIP 专属通道")
    assert i18n.policy_value("visits_per_month", 0.25, "en") == "0.25"
    assert i18n.customer_type_name("chain_pharmacy", "zh") == "连锁药店"
    assert i18n.customer_type_name("veterinary", "en") == "veterinary"  # another book's type
    assert i18n.region_name("华东", "en") == "East China" and i18n.region_name("华东", "zh") == "华东"
    assert i18n.segment_name("高价值活跃 champions", "zh") == "高价值活跃"
    assert i18n.segment_name("高价值活跃 champions", "en") == "Champions"
    assert i18n.segment_name("新兴 emerging", "en") == "emerging"  # an unknown bilingual name
    assert i18n.segment_name("segment_7", "zh") == "细分 7"
    assert i18n.band_name("missing", "zh") == "缺失"
    assert i18n.metric_name("holdout_roc_auc", "zh") == "ROC AUC（留出集）"
    assert i18n.grade_name({"VIP": {"zh": "VIP客户", "en": "VIP"}}, "VIP", "zh") == "VIP客户"


def test_an_error_with_a_key_reads_in_the_pages_language_and_keeps_its_english_message() -> None:
    error = TieringError("reason: a review needs a reason", key="error_reason_required")
    assert i18n.error_text(error, "zh") == "请填写原因：每次复核都需要说明原因"
    assert str(error) == "reason: a review needs a reason"  # the API's and the CLI's words
    assert i18n.error_text(TieringError("plain"), "zh") == "plain"


def test_numbers_read_with_separators_fixed_decimals_and_percentages() -> None:
    assert value(189735.49999999997) == "189,735.5"
    assert value(4.0) == "4" and value(None) == ""
    assert number(1234567.891) == "1,234,568" and number(-0.2) == "0"
    assert percent(0.0173) == "1.7%"
    assert points(13.849, sign=True) == "+13.85" and points(float("nan")) == ""
    with pytest.raises(TieringError, match="use zh or en"):
        i18n.text("grades", "fr")


def test_the_promotion_gates_reasons_read_in_either_language_with_numbers_formatted() -> None:
    from customer_tiering.i18n.catalogue import gate_reason
    from customer_tiering.registry.gate import promotion_gate

    lines = [*promotion_gate({"roc_auc": 0.81}, {"roc_auc": 0.8},
                             {"days_since_last_order": {"roc_auc": 0.9}, "rfm_score": {}},
                             metric="roc_auc", margin=0.005).reasons,
             *promotion_gate({"roc_auc": float("nan")}, None, {}, metric="roc_auc").reasons,
             *promotion_gate({"roc_auc": 0.8}, None, {}, metric="roc_auc").reasons]
    assert len(lines) == 5
    zh = [gate_reason(line, "zh") for line in lines]
    en = [gate_reason(line, "en") for line in lines]
    assert zh[0] == "优于现用模型：ROC AUC 0.8100 对 0.8000（提升 +0.0100，门槛 0.0050）"
    assert en[1] == ("does not beat the baseline days-since-last-order rule: ROC AUC 0.8100 vs "
                     "0.9000 (improvement -0.0900, margin 0.0050)")
    # no code and no word of the other language in either
    for line in zh:
        assert not re.search(r"[a-z]{2,}|_", line.replace("ROC AUC", "").replace("RFM", "")), line
    for line in en:
        assert not re.search(r"[\u4e00-\u9fff]|_", line), line
    assert gate_reason("a reason typed by hand", "zh") == "a reason typed by hand"  # data
