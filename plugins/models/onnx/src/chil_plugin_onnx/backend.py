"""The ``model:onnx`` backend: ONNX Runtime sessions over a model directory written by ``chil model export``.

The directory holds ``model.onnx`` (float32, run by default) and ``model.int8.onnx`` (dynamic INT8
quantization, ``precision = "int8"``: a reward must not depend on which other completions shared its
batch, and dynamic INT8's per-batch activation scale breaks that on a few texts; at the distilled
students' 64 width INT8 is no faster than FP32 either), the
tokenizer as ``tokenizer.json`` (read with the ``tokenizers`` library: no torch, no transformers at
run time) and the card.  The graph takes ``input_ids`` and ``attention_mask`` and gives ``logits`` and
``pooled`` (the mean of the last hidden layer), so the backend answers ``classify`` and ``embed``.

Texts are tokenized in one ``encode_batch`` call, cut to ``max_length`` tokens, sorted by length and
run in batches padded only to their longest text.  Providers: CUDA when onnxruntime has it and
``device`` allows it, else CPU; ``threads`` sets the intra-op threads.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from chil_core.capabilities.model import (
    LoadedModel,
    ModelDirError,
    ModelOptions,
    ModelTool,
    bucket_batches,
    check_model_dir,
    effective_max_length,
)

log = logging.getLogger(__name__)

FILES = {"int8": "model.int8.onnx", "fp32": "model.onnx"}


class OnnxOptions(ModelOptions):
    precision: Literal["fp32", "int8"] = Field(
        default="fp32", description="Which exported graph to run.  fp32 (default): a text's answer never depends on the "
        "other texts of its batch.  int8 (dynamic quantization, one activation scale per batch): faster from ~256 wide, "
        "but a label can move with its batch (0.55 % of texts on the distilled GSM8K student).")


def load_fast_tokenizer(directory: Path) -> tuple[Any, int]:
    """The ``tokenizers`` tokenizer of a directory and its pad id."""
    import json

    from tokenizers import Tokenizer

    path = directory / "tokenizer.json"
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as exc:  # noqa: BLE001 - name the file
        raise ModelDirError(f"{path}: cannot load the tokenizer: {type(exc).__name__}: {str(exc)[:300]}") from None
    tok.no_truncation()
    tok.no_padding()
    pad = None
    cfg = directory / "tokenizer_config.json"
    if cfg.is_file():
        try:
            name = json.loads(cfg.read_text(encoding="utf-8")).get("pad_token")
            if isinstance(name, dict):
                name = name.get("content")
            pad = tok.token_to_id(name) if isinstance(name, str) else None
        except (ValueError, UnicodeDecodeError):
            pad = None
    return tok, int(pad if pad is not None else 0)


class OnnxModel(LoadedModel):
    def __init__(self, directory: Path, options: OnnxOptions) -> None:
        import onnxruntime as ort

        name = FILES[options.precision]
        card = check_model_dir(directory, need=("tokenizer.json", name))
        if card["kind"] != "classifier":
            raise ModelDirError(f"{directory / 'chil-model.json'}: the onnx backend runs exported classifiers; kind is {card['kind']!r}")
        self.directory, self.card, self.kind = directory, card, "classifier"
        self.labels = list(card["labels"])
        self.options = options
        # dynamic INT8 quantizes activations with one scale per batch: answers move in the 5th decimal
        # with the batch's other texts, so they are rounded to 3 (a label moves only between near-equal probabilities)
        self.digits = 3 if options.precision == "int8" else 6
        self.tokenizer, self.pad = load_fast_tokenizer(directory)
        self.max_length = effective_max_length(options.max_length, card)
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if options.threads:
            so.intra_op_num_threads = options.threads
            so.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        if options.device != "cpu" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        elif options.device == "cuda":
            raise ModelDirError("device = 'cuda' but onnxruntime has no CUDAExecutionProvider here")
        try:
            self.session = ort.InferenceSession(str(directory / name), so, providers=providers)
        except Exception as exc:  # noqa: BLE001 - a truncated or foreign file: name it
            raise ModelDirError(f"{directory / name}: cannot load the ONNX graph: {type(exc).__name__}: {str(exc)[:300]}") from None
        outputs = {o.name for o in self.session.get_outputs()}
        if not {"logits", "pooled"} <= outputs:
            raise ModelDirError(f"{directory / name}: graph outputs {sorted(outputs)}; expected logits and pooled (export with `chil model export`)")
        self.providers = self.session.get_providers()

    def _run(self, texts: list[str], output: str) -> tuple[Any, list[bool]]:
        import numpy as np

        enc = self.tokenizer.encode_batch(texts, add_special_tokens=True)
        limit = self.max_length
        ids = [e.ids[:limit] for e in enc]
        cut = [len(e.ids) > limit for e in enc]
        rows: Any = None
        for idx in bucket_batches([len(x) for x in ids], self.options.batch_size):
            width = max(1, max(len(ids[i]) for i in idx))
            x = np.full((len(idx), width), self.pad, dtype=np.int64)
            m = np.zeros((len(idx), width), dtype=np.int64)
            for k, i in enumerate(idx):
                x[k, : len(ids[i])] = ids[i]
                m[k, : len(ids[i])] = 1
            (y,) = self.session.run([output], {"input_ids": x, "attention_mask": m})
            if rows is None:
                rows = np.zeros((len(texts), y.shape[1]), dtype=np.float32)
            rows[idx] = y
        return rows, cut

    def logits(self, texts: list[str]) -> tuple[Any, list[bool]]:
        return self._run(texts, "logits")

    def vectors(self, texts: list[str]) -> tuple[Any, list[bool]]:
        return self._run(texts, "pooled")

    def close(self) -> None:
        self.session = None


class OnnxRuntimeModel(ModelTool):
    """``model:onnx``: an exported classifier run by ONNX Runtime (see the module docstring)."""

    name: ClassVar[str] = "onnx"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "ONNX Runtime (INT8 or FP32) over a model directory written by `chil model export`."
    Options: ClassVar[type[OnnxOptions]] = OnnxOptions  # type: ignore[assignment]
    options: OnnxOptions
    requires_modules: ClassVar[dict[str, str]] = {"onnxruntime": "onnxruntime", "tokenizers": "tokenizers"}
    priority: ClassVar[int] = 10

    def load(self, directory: Path) -> LoadedModel:
        return OnnxModel(directory, self.options)
