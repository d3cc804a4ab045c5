"""The pages' words in Chinese and English: a view of the message catalogue
(:mod:`customer_tiering.i18n.catalogue`, ``i18n/messages/{zh,en}.yaml``), kept for callers that
read ``TEXT[lang][key]``. New words go into the catalogue files, in both languages."""

from __future__ import annotations

from customer_tiering.i18n.catalogue import LANGS, messages

__all__ = ["TEXT"]

TEXT: dict[str, dict[str, str]] = {lang: messages(lang) for lang in LANGS}
