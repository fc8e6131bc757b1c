"""``chil model export DIR``: a transformers classifier → ``model.onnx`` (float32) + ``model.int8.onnx``
(dynamic INT8 quantization of the weights), each checked against the original before it is written.

The check runs the original (torch, float32) and both ONNX graphs on sample texts (``--samples``, else
the directory's ``samples.jsonl`` that ``chil model fit|distill`` writes from held-out rows) plus an empty
text and one longer than ``max_length``.  FP32 must give the same label on every sample and logits within
``--fp32-tolerance``; INT8 must give the same label on at least ``--min-agreement`` of them.  When a check
fails nothing is written: the directory is left as it was and the command exits 1.  The figures go into
the card (``onnx``: agreement, largest logit difference, sizes, opset).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from chil_core.capabilities.model import ModelDirError, check_model_dir, read_jsonl_rows, write_card

OPSET = 17

log = logging.getLogger(__name__)


def _die(message: str, code: int = 2) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def export_onnx(model: Any, path: Path, max_length: int) -> str:
    """Trace ``model`` (a sequence classifier) to ONNX with outputs ``logits`` and ``pooled``; returns the attention traced."""
    import torch

    class Wrapper(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
            h = out.hidden_states[-1]
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            return out.logits, (h * m).sum(1) / m.sum(1).clamp(min=1.0)

    w = Wrapper(model).eval()
    x = torch.randint(3, 200, (2, min(16, max_length)), dtype=torch.long)
    m = torch.ones_like(x)
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
            "logits": {0: "batch"}, "pooled": {0: "batch"}}
    # trace the eager attention (MatMul, Softmax), not SDPA: SDPA's traced mask adds ~20 nodes per layer
    # (Where, IsNaN, ...) that ONNX Runtime runs on every call; same arithmetic, checked against the original below
    before = getattr(model.config, "_attn_implementation", None)
    eager = before not in (None, "eager") and hasattr(model, "set_attn_implementation")
    if eager:
        try:
            model.set_attn_implementation("eager")
        except (ValueError, ImportError, AttributeError) as exc:  # an architecture without eager attention: trace as it is
            log.info("export: keeping attention %r (%s)", before, exc)
            eager = False
    try:
        with torch.inference_mode():
            torch.onnx.export(w, (x, m), str(path), input_names=["input_ids", "attention_mask"], output_names=["logits", "pooled"],
                              dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    finally:
        if eager:
            model.set_attn_implementation(before)
    return "eager" if eager else str(before or "eager")


def quantize(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)


def _session(path: Path) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def compare(model: Any, tokenizer: Any, texts: list[str], max_length: int, fp32: Path, int8: Path) -> dict[str, Any]:
    """Labels and logits of torch vs the two graphs on ``texts`` (one text at a time and batched)."""
    import numpy as np
    import torch

    ids = [x[:max_length] for x in tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]]
    pad = int(tokenizer.pad_token_id)
    s32, s8 = _session(fp32), _session(int8)
    ref, got32, got8 = [], [], []
    for k in range(0, len(ids), 32):
        part = ids[k:k + 32]
        width = max(len(x) for x in part)
        x = np.full((len(part), width), pad, dtype=np.int64)
        m = np.zeros_like(x)
        for r, row in enumerate(part):
            x[r, : len(row)] = row
            m[r, : len(row)] = 1
        with torch.inference_mode():
            ref.append(model(input_ids=torch.from_numpy(x), attention_mask=torch.from_numpy(m)).logits.float().numpy())
        feed = {"input_ids": x, "attention_mask": m}
        got32.append(s32.run(["logits"], feed)[0])
        got8.append(s8.run(["logits"], feed)[0])
    r, a, b = np.concatenate(ref), np.concatenate(got32), np.concatenate(got8)
    return {
        "samples": len(texts),
        "fp32_label_agreement": float((r.argmax(1) == a.argmax(1)).mean()),
        "fp32_max_logit_diff": float(np.abs(r - a).max()),
        "int8_label_agreement": float((r.argmax(1) == b.argmax(1)).mean()),
        "int8_max_logit_diff": float(np.abs(r - b).max()),
    }


class ExportError(RuntimeError):
    """The export was refused (nothing written): the message says why, naming the file at fault."""


def run_export(directory: Path, samples: Path | None = None, min_agreement: float = 0.99,
               fp32_tolerance: float = 1e-3, echo: Any = None) -> dict[str, Any]:
    """Export, check, write; returns the card's ``onnx`` section.  :class:`ExportError` otherwise."""
    try:
        import torch
        from chil_plugin_transformers.backend import load_tokenizer
    except ImportError as exc:
        raise ExportError(f"export needs torch and chil-plugin-transformers (pip install 'chil-plugin-onnx[export]'): {exc}") from None
    try:
        card = check_model_dir(directory, need=("config.json", "tokenizer.json", "model.safetensors"))
    except ModelDirError as exc:
        raise ExportError(str(exc)) from None
    if card["kind"] != "classifier":
        raise ExportError(f"{directory / 'chil-model.json'}: only classifiers are exported; kind is {card['kind']!r}")
    sample_path = samples or directory / "samples.jsonl"
    if not sample_path.is_file():
        raise ExportError(f"{sample_path}: no sample texts to check the export on (pass --samples FILE.jsonl with a 'text' per line)")
    rows, bad = read_jsonl_rows(sample_path)
    for msg in bad:
        (echo or print)(msg)
    texts = [r["text"] for _, r in rows if isinstance(r.get("text"), str)]
    if len(texts) < 2:
        raise ExportError(f"{sample_path}: need at least 2 lines with a 'text' string, got {len(texts)}")
    max_length = int(card.get("max_length") or 128)
    texts += ["", "x" * (4 * max_length)]  # empty, and longer than max_length
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Loading weights" bar on the command's stderr

    threads = torch.get_num_threads()
    torch.set_num_threads(min(threads, 2))
    try:
        try:
            tokenizer = load_tokenizer(directory)
            model = AutoModelForSequenceClassification.from_pretrained(str(directory), local_files_only=True, use_safetensors=True,
                                                                       dtype=torch.float32).eval()
        except ModelDirError as exc:
            raise ExportError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - a corrupt weights file: name it
            raise ExportError(f"{directory / 'model.safetensors'}: cannot load the model: {type(exc).__name__}: {str(exc)[:300]}") from None
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(dir=directory, prefix=".export-") as tmp:
            fp32, int8 = Path(tmp) / "model.onnx", Path(tmp) / "model.int8.onnx"
            attention = export_onnx(model, fp32, max_length)
            quantize(fp32, int8)
            check = compare(model, tokenizer, texts, max_length, fp32, int8)
            problems = []
            if check["fp32_label_agreement"] < 1.0 or check["fp32_max_logit_diff"] > fp32_tolerance:
                problems.append(f"FP32 graph differs from the original: label agreement {check['fp32_label_agreement']:.4f}, "
                                f"largest logit difference {check['fp32_max_logit_diff']:.2e} (tolerance {fp32_tolerance:g})")
            if check["int8_label_agreement"] < min_agreement:
                problems.append(f"INT8 graph gives the original's label on {check['int8_label_agreement']:.4f} of the samples "
                                f"(min agreement {min_agreement})")
            if problems:
                raise ExportError(f"{directory}: export not written: " + "; ".join(problems))
            sizes = {"fp32_bytes": fp32.stat().st_size, "int8_bytes": int8.stat().st_size}
            os.replace(fp32, directory / "model.onnx")
            os.replace(int8, directory / "model.int8.onnx")
    finally:
        torch.set_num_threads(threads)
    card = {k: v for k, v in card.items() if k != "format"}
    card["onnx"] = {**{k: round(v, 6) if isinstance(v, float) else v for k, v in check.items()}, **sizes, "opset": OPSET, "attention_traced": attention,
                    "quantization": "dynamic INT8 (weights QInt8, activations quantized at run time)",
                    "seconds": round(time.perf_counter() - t0, 1)}
    write_card(directory, card)
    return card["onnx"]


@click.command("export")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--samples", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="JSONL with a 'text' per line to check the export on (default: DIRECTORY/samples.jsonl).")
@click.option("--min-agreement", type=click.FloatRange(0.0, 1.0), default=0.99, show_default=True,
              help="Fraction of samples on which INT8 must give the original's label.")
@click.option("--fp32-tolerance", type=click.FloatRange(min=0.0, min_open=True), default=1e-3, show_default=True,
              help="Largest logit difference allowed between the FP32 graph and the original.")
def export(directory: Path, samples: Path | None, min_agreement: float, fp32_tolerance: float) -> None:
    """Export the transformers classifier in DIRECTORY to ONNX (FP32 and INT8), checked before writing."""
    import logging

    logging.getLogger().setLevel(logging.ERROR)  # onnxruntime.quantization's advice on pre-processing
    try:
        section = run_export(directory, samples, min_agreement, fp32_tolerance, echo=lambda m: click.echo(m, err=True))
    except ExportError as exc:
        _die(str(exc), 1)
    click.echo(json.dumps({"directory": str(directory), **section}))
