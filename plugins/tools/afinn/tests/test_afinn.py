"""afinn sentiment backend: the shared sentiment suite (values: clear cases, empty, oversized, malformed)."""

from chil_plugin_afinn.tool import AfinnSentiment

from chil_core.testing.sentiment import SentimentConformance


class TestAfinnSentiment(SentimentConformance):
    tool_class = AfinnSentiment
