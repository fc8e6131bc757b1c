"""textblob sentiment backend: the shared sentiment suite (values: clear cases, empty, oversized, malformed)."""

from chil_plugin_textblob.tool import TextBlobSentiment

from chil_core.testing.sentiment import SentimentConformance


class TestTextBlobSentiment(SentimentConformance):
    tool_class = TextBlobSentiment
