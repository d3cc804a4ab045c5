"""Both languages: one message catalogue per language (``messages/zh.yaml``, ``messages/en.yaml``)
and one way to format numbers for people (:mod:`customer_tiering.i18n.numbers`)."""

from customer_tiering.i18n.catalogue import LANGS, Lang, text

__all__ = ["LANGS", "Lang", "text"]
