"""``sentiment:vader``: VADER's rule-based valence model; its ``compound`` score is the polarity.

The lexicon (``vader_lexicon.txt``) and emoji table ship inside the ``vaderSentiment`` wheel; nothing is
downloaded.  VADER reads negation, intensifiers ("very"), "but" and capitals, so it is the lexicon that
handles social-media text best; on SST-2 dev it labels about 66 % of sentences right.
"""

from __future__ import annotations

from typing import Any, ClassVar

from chil_core.capabilities.sentiment import SentimentTool


class VaderSentiment(SentimentTool):
    name: ClassVar[str] = "vader"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "VADER rule-based sentiment (compound score), lexicon in the wheel"
    priority: ClassVar[int] = 20
    requires_modules: ClassVar[dict[str, str]] = {"vaderSentiment": "vaderSentiment"}

    _analyzer: Any = None

    def start(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()

    def polarities(self, texts: list[str]) -> list[float | None]:
        out: list[float | None] = []
        for text in texts:
            scores = self._analyzer.polarity_scores(text)
            out.append(None if scores["neu"] == 0 and scores["pos"] == 0 and scores["neg"] == 0 else scores["compound"])
        return out
