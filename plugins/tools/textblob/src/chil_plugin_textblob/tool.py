"""``sentiment:textblob``: TextBlob's pattern analyzer (adjective lexicon with negation and intensity).

The lexicon (``textblob/en/en-sentiment.xml``) ships inside the wheel; the pattern analyzer needs no NLTK
corpus, so nothing is downloaded.  Polarity is TextBlob's own, already in [-1, 1].
"""

from __future__ import annotations

from typing import Any, ClassVar

from chil_core.capabilities.sentiment import SentimentTool


class TextBlobSentiment(SentimentTool):
    name: ClassVar[str] = "textblob"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "TextBlob pattern-lexicon polarity, lexicon in the wheel"
    priority: ClassVar[int] = 10
    requires_modules: ClassVar[dict[str, str]] = {"textblob": "textblob"}

    _analyzer: Any = None

    def start(self) -> None:
        from textblob.en.sentiments import PatternAnalyzer

        self._analyzer = PatternAnalyzer()

    def polarities(self, texts: list[str]) -> list[float | None]:
        return [float(self._analyzer.analyze(t)[0]) for t in texts]
