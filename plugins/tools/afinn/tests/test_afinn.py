"""afinn sentiment backend: the shared sentiment suite (values: clear cases, empty, oversized, malformed)."""

from chil_plugin_afinn.tool import AfinnSentiment

from chil_core.testing.sentiment import SentimentConformance


class TestAfinnSentiment(SentimentConformance):
    tool_class = AfinnSentiment


def test_fast_matcher_agrees_with_afinn_score() -> None:
    import os
    from pathlib import Path

    path = Path(os.environ.get("CHIL_DATA", Path(__file__).resolve().parents[4].parent / "shared" / "data")) / "sst2" / "stsa.binary.dev"
    texts = [line.partition(" ")[2] for line in path.read_text().splitlines()] if path.exists() else []
    texts += ["I can't stand it :)", "no fun at all", "It is not good, it's bad!! :-(", "a dont-like moment"]
    tool = AfinnSentiment()
    tool.start()
    same = sum(tool.score_text(t) == tool._afinn.score(t) for t in texts)
    assert same >= 0.98 * len(texts), f"{same}/{len(texts)}"
