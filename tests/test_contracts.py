import math

import pytest
from pydantic import ValidationError

from chil_core.contracts import FrameworkResult, Record, ToolCall


def test_score_present_exactly_when_scored():
    assert FrameworkResult.scored(0.5).score == 0.5
    with pytest.raises(ValidationError, match="requires a score"):
        FrameworkResult(status="scored")
    with pytest.raises(ValidationError, match="must not carry a score"):
        FrameworkResult(status="abstained", score=1.0)
    with pytest.raises(ValidationError, match="finite"):
        FrameworkResult(status="scored", score=math.nan)
    with pytest.raises(ValidationError):
        FrameworkResult(status="maybe")


def test_record_keeps_unknown_fields_and_names_missing_ones():
    r = Record.model_validate({"id": "a", "prompt": "p", "completion": "c", "source": "gsm8k"})
    assert r.model_dump()["source"] == "gsm8k"
    with pytest.raises(ValidationError) as exc:
        Record.model_validate({"id": "a", "prompt": "p"})
    assert exc.value.errors()[0]["loc"] == ("completion",)


def test_tool_call_key_is_canonical():
    a = ToolCall(capability="smt", op="check", payload={"x": 1, "y": [1, 2]})
    b = ToolCall(capability="smt", op="check", payload={"y": [1, 2], "x": 1})
    c = ToolCall(capability="smt", op="check", payload={"x": 2, "y": [1, 2]})
    assert a.key() == b.key() and a.digest() == b.digest()
    assert a.key() != c.key()
