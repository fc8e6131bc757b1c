"""Model backends on a GPU: transformers in bfloat16 on CUDA and the ONNX Runtime CUDA provider, against
FP32 transformers on the CPU, on the same distilled student.  One script, one table.

    # a student with its ONNX export, e.g. from the CPU benchmark (no speed figures, no lock needed):
    .venv/bin/python benchmarks/bench_models.py --train-only --keep /tmp/bm
    .venv/bin/python benchmarks/bench_models_gpu.py --model /tmp/bm/empirical-student --texts /tmp/bm/steps.jsonl
    .venv/bin/python benchmarks/bench_models_gpu.py            # the embedded demo model, built here (no data)

Rows (every figure from this run): records/s of batched ``classify`` (best of 3), records per CPU-second of
this process, label agreement with the CPU FP32 reference, peak GPU memory (torch's allocator for
transformers; ``nvidia-smi`` for the whole process otherwise), and the execution providers the ONNX
session really uses (a CUDA session that silently fell back to the CPU is reported, not counted as GPU).
Without a GPU it says so and exits 2: nothing is measured on a machine that cannot.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import table  # noqa: E402


def gpu_mem_mb() -> float | None:
    """This process's GPU memory per nvidia-smi (None when it cannot tell)."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.splitlines():
        pid, _, mem = line.partition(",")
        if pid.strip() == str(os.getpid()):
            return float(mem)
    return None


def measure(backend: str, options: dict[str, Any], texts: list[str], batch: int) -> dict[str, Any]:
    from chil_core.capabilities.model import start_model
    from chil_core.contracts import ToolCall, ToolResult

    tool = start_model(backend, {**options, "batch_size": batch})

    def call(ts: list[str]) -> ToolCall:
        return ToolCall(capability="model", op="classify", payload={"texts": ts})

    try:
        warm = tool.run_batch([call(texts[:64])])[0]  # load + warm up (CUDA kernels, cuDNN autotune)
        if isinstance(warm, ToolResult):
            raise SystemExit(f"{backend} {options}: {warm.status}: {warm.error}")
        loaded = next(iter(tool._models.values()))  # the one loaded model: its device / providers
        used = getattr(loaded, "providers", None) or [str(getattr(loaded, "device", "?")) + " " + str(getattr(loaded, "dtype", ""))]
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.reset_peak_memory_stats()
        except ImportError:
            torch = None  # type: ignore[assignment]
        best, c0, predicted = None, time.process_time(), []
        for _ in range(3):
            t0 = time.perf_counter()
            outs = tool.run_batch([call(texts[k:k + 4096]) for k in range(0, len(texts), 4096)])
            bad = [o for o in outs if isinstance(o, ToolResult)]
            if bad:
                raise SystemExit(f"{backend} {options}: {bad[0].status}: {bad[0].error}")
            predicted = [p for o in outs for p in o["predicted"]]
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
        cpu = (time.process_time() - c0) / 3
        mem = None
        if backend == "transformers" and options.get("device") == "cuda" and torch is not None:
            mem = torch.cuda.max_memory_allocated() / 2**20
        elif options.get("device") == "cuda":
            mem = gpu_mem_mb()
        return {"rps": len(texts) / (best or 1e-9), "rec_per_cpu_s": len(texts) / max(cpu, 1e-9), "predicted": predicted,
                "used": " ".join(used), "gpu_mem_mb": mem}
    finally:
        tool.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, help="a student directory with model.onnx (default: the embedded demo model, built here)")
    ap.add_argument("--texts", type=Path, help="JSONL with 'completion' or 'text' per line (default: demo texts)")
    ap.add_argument("--limit", type=int, default=20000, help="at most this many texts")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--cpu-threads", type=int, default=2, help="threads of the CPU reference")
    ap.add_argument("--allow-no-gpu", action="store_true", help="run the CPU rows anyway (checks the script; no GPU figure)")
    args = ap.parse_args()

    import onnxruntime as ort
    import torch

    cuda_torch = torch.cuda.is_available()
    cuda_ort = "CUDAExecutionProvider" in ort.get_available_providers()
    print(f"# bench_models_gpu: torch {torch.__version__} CUDA {'yes: ' + torch.cuda.get_device_name(0) if cuda_torch else 'no'}; "
          f"onnxruntime {ort.__version__} providers {ort.get_available_providers()}; load {os.getloadavg()[0]:.1f}", flush=True)
    if not (cuda_torch or cuda_ort) and not args.allow_no_gpu:
        print("no GPU here (torch.cuda unavailable, no CUDAExecutionProvider): nothing measured")
        sys.exit(2)

    model, built = args.model, None
    if model is None:
        from chil_plugin_transformers.demo import demo_for_tests

        built = tempfile.mkdtemp(prefix="chil-gpu-demo-")
        model = demo_for_tests(built, export=True)
    if not (model / "model.onnx").is_file():
        raise SystemExit(f"{model / 'model.onnx'}: missing: run `chil model export {model}` first")
    if args.texts:
        texts = []
        for n, line in enumerate(args.texts.read_text(encoding="utf-8").splitlines(), 1):
            row = json.loads(line)
            text = row.get("completion", row.get("text"))
            if not isinstance(text, str):
                raise SystemExit(f"{args.texts}:{n}: no 'completion' or 'text' string")
            texts.append(text)
    else:
        from chil_plugin_transformers.demo import demo_rows

        texts = [t for t, _ in demo_rows(args.limit, seed=3)]
    texts = texts[: args.limit]

    plans: list[tuple[str, str, dict[str, Any]]] = [
        ("transformers FP32, CPU (reference)", "transformers", {"device": "cpu", "threads": args.cpu_threads}),
        ("onnx INT8, CPU", "onnx", {"device": "cpu", "precision": "int8", "threads": args.cpu_threads}),
    ]
    if cuda_torch:
        plans.append(("transformers bf16, CUDA", "transformers", {"device": "cuda"}))
    if cuda_ort:
        plans.append(("onnx FP32, CUDA provider", "onnx", {"device": "cuda", "precision": "fp32"}))
        plans.append(("onnx INT8, CUDA provider", "onnx", {"device": "cuda", "precision": "int8"}))
    rows, ref = [], None
    for name, backend, options in plans:
        r = measure(backend, {"path": str(model), **options}, texts, args.batch)
        ref = ref or r
        agree = sum(int(a == b) for a, b in zip(r["predicted"], ref["predicted"], strict=True)) / len(texts)
        rows.append({"backend": name, "runs_on": r["used"], "records": len(texts), "rec_per_s": r["rps"], "speedup": r["rps"] / ref["rps"],
                     "rec_per_cpu_s": r["rec_per_cpu_s"], "agreement": agree,
                     "gpu_mem_mb": "" if r["gpu_mem_mb"] is None else round(r["gpu_mem_mb"], 1)})
        print(f"  {name}: {r['rps']:,.0f} rec/s", flush=True)
    print(f"\n## Same student ({model}): GPU backends vs FP32 transformers on the CPU ({args.cpu_threads} threads)\n")
    print(table(rows))
    if not (cuda_torch or cuda_ort):
        print("\n(no GPU: CPU rows only, run with --allow-no-gpu to check the script)")
    if built:
        shutil.rmtree(built, ignore_errors=True)


if __name__ == "__main__":
    main()
