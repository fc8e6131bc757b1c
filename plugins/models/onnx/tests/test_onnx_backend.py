from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from chil_plugin_onnx.backend import OnnxRuntimeModel
from chil_plugin_onnx.export import ExportError, run_export
from chil_plugin_transformers.backend import TransformersModel
from chil_plugin_transformers.demo import demo_rows

from chil_core.testing.model import ModelConformance, label_agreement


class TestOnnxInt8Conformance(ModelConformance):
    tool_class = OnnxRuntimeModel
    extra_options = {"threads": 1, "precision": "int8"}


class TestOnnxFp32Conformance(ModelConformance):
    tool_class = OnnxRuntimeModel
    extra_options = {"threads": 1, "precision": "fp32"}


def _start(cls, **options):  # type: ignore[no-untyped-def]
    tool = cls(cls.Options(**options))
    tool.start()
    return tool


def test_int8_and_fp32_agree_with_the_original(model_dir: Path) -> None:
    """The export's own check, repeated through the backends on 300 fresh texts."""
    texts = [t for t, _ in demo_rows(300, seed=7)]
    hf = _start(TransformersModel, path=str(model_dir), threads=1, device="cpu")
    i8 = _start(OnnxRuntimeModel, path=str(model_dir), threads=1)
    f32 = _start(OnnxRuntimeModel, path=str(model_dir), threads=1, precision="fp32")
    try:
        assert label_agreement(hf, f32, texts) == 1.0
        assert label_agreement(hf, i8, texts) >= 0.99
    finally:
        for t in (hf, i8, f32):
            t.close()
    card = json.loads((model_dir / "chil-model.json").read_text())
    assert card["onnx"]["int8_label_agreement"] >= 0.99 and card["onnx"]["fp32_label_agreement"] == 1.0
    assert card["onnx"]["int8_bytes"] < card["onnx"]["fp32_bytes"]


def test_export_refuses_and_writes_nothing(model_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "m"
    shutil.copytree(model_dir, d)
    for f in ("model.onnx", "model.int8.onnx"):
        (d / f).unlink()
    # INT8 agreement can never exceed 1.0 and the FP32 graph is never within 1e-30 of torch: refused
    with pytest.raises(ExportError, match="export not written"):
        run_export(d, fp32_tolerance=1e-30)
    assert not (d / "model.onnx").exists() and not (d / "model.int8.onnx").exists()
    assert not list(d.glob(".export-*")), "the temporary export folder is removed"
    (d / "samples.jsonl").unlink()
    with pytest.raises(ExportError, match=r"samples\.jsonl: no sample texts"):
        run_export(d)
    (d / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ExportError, match=r"model\.safetensors"):
        run_export(d, samples=model_dir / "samples.jsonl")


def test_export_command_reports_bad_sample_lines(model_dir: Path, tmp_path: Path) -> None:
    from chil_plugin_onnx.export import export
    from click.testing import CliRunner

    d = tmp_path / "m"
    shutil.copytree(model_dir, d)
    samples = tmp_path / "s.jsonl"
    samples.write_bytes(b'{"text": "a cat"}\n\xff\xfe bad bytes\n{"text": "12 dogs"}\nnot json\n')
    res = CliRunner().invoke(export, [str(d), "--samples", str(samples)])
    assert res.exit_code == 0, res.output
    assert f"{samples}:2: skipped: not UTF-8" in res.output and f"{samples}:4: skipped: not JSON" in res.output
    assert json.loads(res.stdout.strip().splitlines()[-1])["samples"] == 4  # 2 good lines + empty + over-long


def test_corrupt_weights_name_the_file(model_dir: Path, tmp_path: Path) -> None:
    """A corrupt ONNX graph is the directory's fault: an error naming the file, typed, and the same error
    on the next call (remembered, not re-read per call); the same for truncated safetensors weights."""
    from chil_core.contracts import ToolCall, ToolResult

    d = tmp_path / "m"
    shutil.copytree(model_dir, d)
    (d / "model.int8.onnx").write_bytes(b"\x00" * 64)
    good = (d / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(good[: len(good) // 3])
    call = ToolCall(capability="model", op="classify", payload={"texts": ["12 + 3 = 15"]})
    i8 = _start(OnnxRuntimeModel, path=str(d), threads=1, precision="int8")
    hf = _start(TransformersModel, path=str(d), threads=1, device="cpu")
    try:
        for tool, name in ((i8, "model.int8.onnx"), (hf, "model.safetensors")):
            first, again = tool.run_batch([call])[0], tool.run_batch([call])[0]
            for bad in (first, again):
                assert isinstance(bad, ToolResult) and bad.status == "error"
                assert str(d / name) in (bad.error or "") and "cannot load" in (bad.error or "")
    finally:
        i8.close()
        hf.close()


def test_default_labels_do_not_depend_on_the_batch(model_dir: Path) -> None:
    """The default graph is FP32, which has no per-batch activation scale: a text's label alone, in one
    call with the others, and with the others reversed (other length buckets) is the same.  (Dynamic INT8
    does not promise this: the README gives the measured share of texts whose label moves.)"""
    from chil_core.contracts import ToolCall

    assert OnnxRuntimeModel.Options().precision == "fp32"
    texts = [t for t, _ in demo_rows(200, seed=11)]
    tool = _start(OnnxRuntimeModel, path=str(model_dir), threads=1)

    def call(ts: list[str]) -> ToolCall:
        return ToolCall(capability="model", op="classify", payload={"texts": ts})

    try:
        alone = [tool.run_batch([call([t])])[0]["predicted"][0] for t in texts]
        batched = tool.run_batch([call(texts)])[0]["predicted"]
        reversed_ = tool.run_batch([call(texts[::-1])])[0]["predicted"][::-1]
    finally:
        tool.close()
    assert alone == batched == reversed_
    assert len(set(alone)) > 1, "the demo model gives both labels on these texts"
