"""``sentiment:afinn``: the AFINN-165 word list (2,477 words and phrases scored -5..+5).

The word list ships inside the ``afinn`` package (``afinn/data/AFINN-en-165.txt``).  AFINN sums the
scores of the words it finds; the sum is squashed into (-1, 1) by ``tanh(sum / scale)``.  A text with no
listed word has polarity 0 (neutral).  On SST-2 dev it is the most accurate of the three lexicons
(about 69 %), and the default sentiment backend of a fresh install.
"""

from __future__ import annotations

import importlib.util
from typing import Any, ClassVar

from pydantic import Field

from chil_core.capabilities.sentiment import SentimentOptions, SentimentTool, squash


class AfinnOptions(SentimentOptions):
    """``[tools.afinn]``."""

    scale: float = Field(default=4.0, gt=0, le=100, description="polarity = tanh(sum of word scores / scale).")
    emoticons: bool = Field(default=True, description="Also score emoticons such as :-).")


class AfinnSentiment(SentimentTool):
    name: ClassVar[str] = "afinn"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "AFINN-165 word list, squashed sum (list in the package)"
    Options: ClassVar[type[AfinnOptions]] = AfinnOptions  # type: ignore[assignment]
    isolation: ClassVar[str] = "thread"  # type: ignore[assignment]
    max_batch: ClassVar[int] = 512
    priority: ClassVar[int] = 30
    options: AfinnOptions

    _afinn: Any = None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if importlib.util.find_spec("afinn") is None:
            return "afinn is not installed (pip install chil-plugin-afinn)"
        return None

    def start(self) -> None:
        from afinn import Afinn

        self._afinn = Afinn(language="en", emoticons=self.options.emoticons)

    def polarities(self, texts: list[str]) -> list[float | None]:
        return [squash(float(self._afinn.score(t)), self.options.scale) for t in texts]
