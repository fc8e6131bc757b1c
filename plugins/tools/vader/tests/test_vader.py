"""vader sentiment backend: the shared sentiment suite (values: clear cases, empty, oversized, malformed)."""

from chil_plugin_vader.tool import VaderSentiment

from chil_core.testing.sentiment import SentimentConformance


class TestVaderSentiment(SentimentConformance):
    tool_class = VaderSentiment
