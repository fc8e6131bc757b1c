"""Conformance suite of the ``model`` capability: what every model backend (transformers, ONNX…) must show.

```python
from chil_core.testing.model import ModelConformance

class TestMyModel(ModelConformance):
    tool_class = MyModelBackend
    extra_options = {"threads": 1}

@pytest.fixture(scope="session")
def model_dir(tmp_path_factory): ...       # a classifier directory this backend can load
```

The suite runs against a *classifier* directory given by a ``model_dir`` fixture (the plugins use the
embedded demo model, :mod:`chil_plugin_transformers.demo`: ``number`` / ``word``, built locally in
seconds).  Besides the generic tool contract it checks values: probabilities that sum to 1 over the
card's labels, ``predicted`` the most probable label, the right label on :data:`DEMO_LABELLED`, unit
``embed`` vectors with paraphrase-like texts closer than unlike ones, an empty text answered with the
prior and listed in ``empty``, a 1 MB text cut and listed in ``truncated`` (answered, not raised, and
within a time bound), malformed payloads and an op the model cannot do answered with an error naming
the field or the model's kind, a missing or corrupt model directory answered with an error naming the
file.  :func:`label_agreement` compares two backends on the same texts.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from chil_core.capabilities.model import CARD
from chil_core.components import Tool
from chil_core.contracts import ToolCall, ToolResult
from chil_core.testing.conformance import ToolConformance

#: held-out texts of the demo model with their right labels
DEMO_LABELLED: list[tuple[str, str]] = [
    ("The cat sat on the mat.", "word"),
    ("She reads old books by the window", "word"),
    ("Birds sing loud in spring!", "word"),
    ("We like green tea every morning", "word"),
    ("The dog ran 42 far away", "number"),
    ("His answer 7 + 5 seems right", "number"),
    ("Rain falls softly over 1200 quiet hills.", "number"),
    ("31 cats sat on a mat", "number"),
]
HUGE = "the cat sat on the mat " * 45_000  # ~1 MB


def classify(texts: list[str], **extra: Any) -> ToolCall:
    return ToolCall(capability="model", op="classify", payload={"texts": texts, **extra})


def embed(texts: list[str], **extra: Any) -> ToolCall:
    return ToolCall(capability="model", op="embed", payload={"texts": texts, **extra})


def _ok(item: Any) -> Any:
    r = item if isinstance(item, ToolResult) else ToolResult.success(item)
    assert r.ok, f"expected an ok answer, got {r}"
    return r.value


def _err(item: Any) -> str:
    assert isinstance(item, ToolResult) and item.status == "error", f"expected an error result, got {item!r}"
    return item.error or ""


def label_agreement(a: Tool, b: Tool, texts: list[str], extra_a: dict[str, Any] | None = None,
                    extra_b: dict[str, Any] | None = None) -> float:
    """Fraction of ``texts`` that backends ``a`` and ``b`` give the same label."""
    pa = _ok(a.run_batch([classify(texts, **(extra_a or {}))])[0])["predicted"]
    pb = _ok(b.run_batch([classify(texts, **(extra_b or {}))])[0])["predicted"]
    return sum(int(x == y) for x, y in zip(pa, pb, strict=True)) / max(1, len(texts))


class ModelConformance(ToolConformance):
    """Contract and value tests for a ``model`` backend; needs a ``model_dir`` fixture (a classifier)."""

    extra_options: ClassVar[dict[str, Any]] = {}
    labelled: ClassVar[list[tuple[str, str]]] = DEMO_LABELLED
    #: seconds a batch with a 1 MB text may take (it is cut to max_chars, then max_length tokens)
    huge_text_seconds: ClassVar[float] = 5.0

    @pytest.fixture(autouse=True)
    def _options(self, model_dir: Path) -> None:
        type(self).options = {"path": str(model_dir), **self.extra_options}
        self.model_dir = Path(model_dir)

    def card(self) -> dict[str, Any]:
        return json.loads((self.model_dir / CARD).read_text(encoding="utf-8"))

    def sample_calls(self) -> list[ToolCall]:
        return [classify([t for t, _ in self.labelled[:4]]), classify([self.labelled[5][0]]), embed(["a cat", "a dog", "12 34"])]

    def hostile_calls(self) -> list[ToolCall]:
        return [classify([HUGE]), classify([""]), classify(["\x00\ufffd\udcff" * 50]), embed([HUGE, ""]),
                ToolCall(capability="model", op="classify", payload={"texts": "not a list"}),
                ToolCall(capability="model", op="generate", payload={"prompt": "x", "max_new_tokens": 10**9})]

    # a call's answer must not depend on its batch: equal labels, probabilities within float noise
    # (batches are padded to their longest text, which may move the last bits of a float32 sum)
    def test_batch_answers_each_call_in_order(self) -> None:
        self._skip_if_unavailable()
        calls = self.sample_calls()
        tool = self.make_tool()
        try:
            batched = tool.run_batch(calls)
            single = [tool.run_batch([c])[0] for c in calls]
            reversed_ = tool.run_batch(list(reversed(calls)))[::-1]
        finally:
            tool.close()
        for b, s, r in zip(batched, single, reversed_, strict=True):
            vb, vs, vr = _ok(b), _ok(s), _ok(r)
            if "predicted" in vb:
                assert vb["predicted"] == vs["predicted"] == vr["predicted"]
                rows = zip(vb["probs"], vs["probs"], vr["probs"], strict=True)
            else:
                rows = zip(vb["vectors"], vs["vectors"], vr["vectors"], strict=True)
            for x, y, z in rows:
                assert max(abs(p - q) for p, q in zip(x, y, strict=True)) < 1e-4
                assert max(abs(p - q) for p, q in zip(x, z, strict=True)) < 1e-4

    def test_classify_values(self) -> None:
        self._skip_if_unavailable()
        tool = self.make_tool()
        try:
            value = _ok(tool.run_batch([classify([t for t, _ in self.labelled])])[0])
        finally:
            tool.close()
        assert value["labels"] == self.card()["labels"]
        assert value["empty"] == [] and value["truncated"] == []
        for probs, predicted in zip(value["probs"], value["predicted"], strict=True):
            assert len(probs) == len(value["labels"]) and all(0.0 <= p <= 1.0 for p in probs)
            assert abs(sum(probs) - 1.0) < 2e-3  # rounded to 3 decimals for INT8 graphs
            assert predicted == value["labels"][probs.index(max(probs))]
        assert value["predicted"] == [y for _, y in self.labelled], "the model must give the right label on the labelled texts"

    def test_embed_values(self) -> None:
        self._skip_if_unavailable()
        tool = self.make_tool()
        try:
            value = _ok(tool.run_batch([embed(["the cat sat on a mat", "the cat sat on the mat", "12 + 34 = 46", ""])])[0])
        finally:
            tool.close()
        v = value["vectors"]
        assert value["dim"] == len(v[0]) > 0 and value["empty"] == [3]
        for row in v[:3]:
            assert abs(sum(x * x for x in row) - 1.0) < 1e-3
        assert all(x == 0.0 for x in v[3])

        def cos(a: list[float], b: list[float]) -> float:
            return sum(x * y for x, y in zip(a, b, strict=True))

        assert cos(v[0], v[1]) > cos(v[0], v[2])

    def test_empty_and_huge_texts(self) -> None:
        self._skip_if_unavailable()
        tool = self.make_tool()
        try:
            t0 = time.perf_counter()
            value = _ok(tool.run_batch([classify(["", HUGE, "The cat sat."])])[0])
            elapsed = time.perf_counter() - t0
        finally:
            tool.close()
        assert value["empty"] == [0] and value["truncated"] == [1]
        prior = self.card().get("prior") or [1.0 / len(value["labels"])] * len(value["labels"])
        assert value["probs"][0] == pytest.approx(prior, abs=1e-6), "an empty text gets the model's prior"
        assert elapsed < self.huge_text_seconds, f"a 1 MB text took {elapsed:.1f}s"

    def test_malformed_payloads_name_the_field(self) -> None:
        self._skip_if_unavailable()
        tool = self.make_tool()
        try:
            out = tool.run_batch([
                ToolCall(capability="model", op="classify", payload={"texts": "x"}),
                ToolCall(capability="model", op="classify", payload={"texts": ["ok", 3]}),
                ToolCall(capability="model", op="classify", payload={"texts": ["ok"], "temperature": 2}),
                ToolCall(capability="model", op="score", payload={"prompt": "x", "continuations": []}),
                ToolCall(capability="model", op="generate", payload={"prompt": "x", "max_new_tokens": 10**9}),
                ToolCall(capability="model", op="generate", payload={"prompt": "x", "max_new_tokens": 4}),
                classify(["fine"]),
            ])
        finally:
            tool.close()
        assert "payload.texts" in _err(out[0])
        assert "payload.texts[1]" in _err(out[1])
        assert "payload.temperature" in _err(out[2])
        assert "payload.continuations" in _err(out[3])
        assert "payload.max_new_tokens" in _err(out[4])
        assert "classifier" in _err(out[5]) and "classify" in _err(out[5])
        assert _ok(out[6])["predicted"] == ["word"]  # a bad neighbour does not spoil a good call

    def test_missing_and_corrupt_model_dirs_name_the_file(self, tmp_path: Path) -> None:
        self._skip_if_unavailable()
        import shutil

        corrupt = tmp_path / "corrupt"
        shutil.copytree(self.model_dir, corrupt)
        (corrupt / CARD).write_text("{not json", encoding="utf-8")
        truncated = tmp_path / "truncated"
        shutil.copytree(self.model_dir, truncated)
        for f in truncated.iterdir():
            if f.suffix in (".onnx", ".safetensors"):
                f.write_bytes(f.read_bytes()[:100])
        tool = self.make_tool()
        try:
            out = tool.run_batch([classify(["x"], model=str(tmp_path / "nowhere")), classify(["x"], model=str(corrupt)),
                                  classify(["x"], model=str(truncated)), classify(["The cat sat."])])
            again = tool.run_batch([classify(["y"], model=str(corrupt))])
        finally:
            tool.close()
        assert "nowhere" in _err(out[0]) and "does not exist" in _err(out[0])
        assert CARD in _err(out[1]) and "JSON" in _err(out[1])
        assert str(truncated) in _err(out[2])
        assert _ok(out[3])["predicted"] == ["word"], "the default model still answers"
        assert CARD in _err(again[0]), "a corrupt directory keeps failing with its error"
