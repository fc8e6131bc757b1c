"""The example plugin proves it honours the contracts by subclassing the core's conformance suites."""

from chil_plugin_example.framework import ExampleFramework
from chil_plugin_example.tool import ExampleTool

from chil_core import ToolCall
from chil_core.testing import score_direct
from chil_core.testing.conformance import FrameworkConformance, ToolConformance

RECORDS = [
    {"id": "1", "prompt": "Describe rain.", "completion": "Clouds are raining and winds blowing.",
     "reference": {"keywords": ["cloud", "rain", "wind"]}},
    {"id": "2", "prompt": "Describe rain.", "completion": "It is wet.", "reference": {"keywords": ["cloud"]}},
    {"id": "3", "prompt": "Anything", "completion": "no reference here"},
]


class TestExampleTool(ToolConformance):
    tool_class = ExampleTool
    options = {"min_length": 3}

    def sample_calls(self):
        return [ToolCall("stemmer", "stem", {"words": ["raining", "clouds"]}), ToolCall("stemmer", "stem", {"words": ["wind"]})]

    def hostile_calls(self):
        return [ToolCall("stemmer", "stem", {"words": "'; DROP TABLE x"}), ToolCall("stemmer", "stem", {"words": ["a"] * 100_000})]


class TestExampleFramework(FrameworkConformance):
    framework_name = "example"

    def sample_records(self):
        return RECORDS


def test_scores_are_what_the_keywords_say():
    r1, r2, r3 = score_direct(ExampleFramework(), RECORDS, {"stemmer": ExampleTool()})
    assert r1.score == 1.0 and r1.verdict == "complete" and r1.explanation == "mentions 3 of 3 keywords"
    assert r2.score == 0.0 and r2.evidence[0].text == "missing 'cloud'"
    assert r2.explanation == "mentions 0 of 1 keywords; missing cloud"
    assert r3.status == "abstained"
