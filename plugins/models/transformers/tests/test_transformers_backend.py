from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from chil_plugin_transformers.backend import TransformersModel

from chil_core.capabilities.model import check_model_dir, write_card
from chil_core.contracts import ToolCall, ToolResult
from chil_core.plugins import get_registry
from chil_core.testing.model import ModelConformance


class TestTransformersConformance(ModelConformance):
    tool_class = TransformersModel
    extra_options = {"threads": 1, "device": "cpu"}


def test_registered_as_a_model_backend() -> None:
    reg = get_registry()
    assert reg.tool("model", "transformers") is TransformersModel
    assert "model:transformers" in reg.plugins["transformers"].models


def test_length_bucketing_pads_only_to_each_batch(model_dir: Path) -> None:
    """Sorted by length, cut every batch_size: the short texts never ride in the long text's batch."""
    tool = TransformersModel(TransformersModel.Options(path=str(model_dir), batch_size=2, threads=1))
    tool.start()
    try:
        model = tool.model(None)
        ids, _ = model.encode(["a", "bb", "a much longer text here", "cc"])
        widths = [x.shape[1] for _, x, _ in model._batches(ids)]
    finally:
        tool.close()
    assert widths == [3, 24], "two buckets: the three short texts padded to 3 tokens (2 + <s>), the long one alone"


def test_fast_encoding_gives_the_tokenizers_own_ids(model_dir: Path) -> None:
    """The backend encodes with the ``tokenizers`` object directly: the same ids as transformers' call."""
    tool = TransformersModel(TransformersModel.Options(path=str(model_dir), threads=1, max_length=16))
    tool.start()
    try:
        model = tool.model(None)
        assert model.fast is not None
        texts = ["", "12 + 3 = 15", "héllo wörld ✓", "x" * 40, "a\nb\tc"]
        ids, cut = model.encode(texts)
        want = model.tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]
    finally:
        tool.close()
    assert ids == [w[:16] for w in want]
    assert cut == [len(w) > 16 for w in want] == [False, False, True, True, False]  # byte-level: é ö take 2, ✓ 3


@pytest.fixture(scope="module")
def causal_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-init Llama on the byte tokenizer, saved as a causal_lm model directory."""
    from chil_core.training.policy import byte_tokenizer, tiny_policy

    d = tmp_path_factory.mktemp("models") / "causal"
    tok = byte_tokenizer()
    model = tiny_policy(tok, hidden_size=32, num_layers=1, num_heads=2, max_positions=128)
    model.save_pretrained(str(d), safe_serialization=True)
    tok.save_pretrained(str(d))
    write_card(d, {"kind": "causal_lm", "task": "test"})
    return d


def test_causal_lm_score_and_generate(causal_dir: Path) -> None:
    import torch

    tool = TransformersModel(TransformersModel.Options(path=str(causal_dir), max_length=64, threads=1))
    tool.start()
    try:
        out = tool.run_batch([
            ToolCall(capability="model", op="score", payload={"prompt": "Is 2+2=4? Answer:", "continuations": [" Yes", " No"]}),
            ToolCall(capability="model", op="generate", payload={"prompt": "abc", "max_new_tokens": 5}),
            ToolCall(capability="model", op="classify", payload={"texts": ["x"]}),
        ])
        model = tool.model(None)
        # the same sum computed by hand from one forward pass
        tok = model.tokenizer
        p = tok("Is 2+2=4? Answer:")["input_ids"]
        c = tok(" Yes", add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logp = torch.log_softmax(model.model(input_ids=torch.tensor([p + c])).logits.float(), -1)[0]
        manual = sum(float(logp[len(p) + t - 1, c[t]]) for t in range(len(c)))
    finally:
        tool.close()
    lps = out[0]["logprobs"]
    assert len(lps) == 2 and all(math.isfinite(x) and x < 0 for x in lps)
    assert lps[0] == pytest.approx(manual, abs=1e-4)
    assert isinstance(out[1]["text"], str) and len(out[1]["text"].encode("utf-8", "replace")) <= 5 * 4
    assert isinstance(out[2], ToolResult) and "causal_lm" in (out[2].error or "")


def test_card_check_names_the_file(tmp_path: Path, model_dir: Path) -> None:
    import shutil

    from chil_core.capabilities.model import ModelDirError

    d = tmp_path / "m"
    shutil.copytree(model_dir, d)
    (d / "config.json").write_text("{", encoding="utf-8")
    with pytest.raises(ModelDirError, match=r"config\.json: not valid JSON"):
        check_model_dir(d)
    card = json.loads((d / "chil-model.json").read_text())
    card["labels"] = ["only-one"]
    (d / "chil-model.json").write_text(json.dumps(card))
    with pytest.raises(ModelDirError, match="labels"):
        check_model_dir(d)
