"""The example plugin proves it honours the contracts by subclassing the core's conformance suites."""

from chil_plugin_example.framework import KeywordFramework
from chil_plugin_example.tool import StemTool

from chil_core import ToolCall
from chil_core.testing import score_direct
from chil_core.testing.conformance import FrameworkConformance, ToolConformance

RECORDS = [
    {"id": "1", "prompt": "Describe rain.", "completion": "Clouds are raining and winds blowing.",
     "reference": {"keywords": ["cloud", "rain", "wind"]}},
    {"id": "2", "prompt": "Describe rain.", "completion": "It is wet.", "reference": {"keywords": ["cloud"]}},
    {"id": "3", "prompt": "Anything", "completion": "no reference here"},
]


class TestStemTool(ToolConformance):
    tool_class = StemTool
    options = {"min_length": 3}

    def sample_calls(self):
        return [ToolCall("stemmer", "stem", {"words": ["raining", "clouds"]}), ToolCall("stemmer", "stem", {"words": ["wind"]})]

    def hostile_calls(self):
        return [ToolCall("stemmer", "stem", {"words": "'; DROP TABLE x"}), ToolCall("stemmer", "stem", {"words": ["a"] * 100_000})]


class TestKeywordFramework(FrameworkConformance):
    framework_name = "keywords"

    def sample_records(self):
        return RECORDS


def test_scores_are_what_the_keywords_say():
    r1, r2, r3 = score_direct(KeywordFramework(), RECORDS, {"stemmer": StemTool()})
    assert r1.score == 1.0 and r1.verdict == "complete"
    assert r2.score == 0.0 and r2.evidence[0].text == "missing 'cloud'"
    assert r3.status == "abstained"
