"""Mini-LLM benchmark: distilled students, ONNX INT8 vs FP32 transformers, scheduler vs naive loop, hostile inputs.

    .venv/bin/python benchmarks/bench_models.py            # full size (~20 minutes on 2 cores, most of it training)
    .venv/bin/python benchmarks/bench_models.py --quick    # small sizes, for development

What it does, in one run (all ratios are measured in the same run, same machine):

1. **Distillation.**  ``chil model corpus gsm8k-steps`` (every GSM8K train calculator step, half with a
   wrong result, ~27k rows) labelled by ``empirical``; ``chil model corpus proofwriter`` (ProofWriter dev
   statements against their theory) labelled by ``consistency``.  ``chil model distill`` trains a
   byte-level student for each (empirical: lr 1e-3, 600 s; consistency: 150 s) and reports its agreement
   with the teacher on the held-out part (and the majority baseline).  The timed sections use the first
   8,000 step texts.
2. **Export.**  ``chil model export`` on the empirical student (ONNX FP32 + dynamic INT8, checked).
3. **INT8 ONNX vs FP32 transformers** on the same student: label agreement over every corpus text,
   records/s (batched, 2 threads), peak memory of a process that loads the model and runs it (minus
   the same process after its imports), file sizes; each ONNX row against transformers at the same
   thread count (2, then 1).  Then the same comparison for wider students (hidden x layers 128x2,
   256x4, 512x4, fitted 1 epoch: speed only): INT8 pays as the matrix products grow; at 64 wide they
   are a quarter of ONNX Runtime's time.  Training runs on one thread: on a shared machine torch's
   threads wait on each other (2 threads ran 14x slower than 1 at load ~15).
4. **Scheduler vs naive loop**: one ``classify`` call per record, through the scheduler (batched,
   deduplicated) vs the backend called once per record, same backend, same texts.
5. **Hostile inputs**: 1 MB texts, empty texts, invalid UTF-8 in a corpus, a corrupt model directory.

Throughput on a shared 2-core machine is noisy: read the ratios, and the load average printed with them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, REPO, table  # noqa: E402

CHIL = str(REPO / ".venv" / "bin" / "chil")
PY = sys.executable


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(args, capture_output=True, text=True, cwd=REPO)
    if check and p.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return p


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


# (hidden, layers) of the wider students timed beside the distilled one (INT8 pays as matrix products grow)
SHAPES = ((128, 2), (256, 4), (512, 4))
EMPIRICAL_LR = "1e-3"


def shape_dir(work: Path, hidden: int, layers: int) -> Path:
    return work / ("wide-student" if (hidden, layers) == (256, 4) else f"shape-{hidden}x{layers}")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """One JSON object per "\n"-ended line (str.splitlines would also split inside a text at U+2028 and the like)."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def card(d: Path) -> dict[str, Any]:
    return json.loads((d / "chil-model.json").read_text(encoding="utf-8"))


# -- 3. one backend in a fresh process: throughput and memory -------------------------------------
CHILD = r"""
import json, resource, sys, time
backend, path, texts_file, threads, precision = sys.argv[1:6]
texts = [json.loads(l)["text"] for l in open(texts_file, encoding="utf-8")]
from chil_core.capabilities.model import start_model
import numpy, tokenizers
if backend == "transformers":
    import torch, transformers
else:
    import onnxruntime
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
opts = {"path": path, "threads": int(threads), "batch_size": 256}
if backend == "onnx":
    opts["precision"] = precision
else:
    opts["device"] = "cpu"
tool = start_model(backend, opts)
call = lambda ts: {"capability": "model", "op": "classify", "payload": {"texts": ts}}
from chil_core.contracts import ToolCall
tool.run_batch([ToolCall(**call(texts[:64]))])  # load + warm up
best = None
c0 = time.process_time()  # every thread of this process: CPU-seconds, insensitive to other processes' load
for _ in range(3):
    t0 = time.perf_counter()
    outs = tool.run_batch([ToolCall(**call(texts[k:k + 4096])) for k in range(0, len(texts), 4096)])
    if not all(isinstance(o, dict) for o in outs):
        raise SystemExit(f"{backend}: {outs}")
    out = {"predicted": [p for o in outs for p in o["predicted"]]}
    dt = time.perf_counter() - t0
    best = dt if best is None else min(best, dt)
cpu = (time.process_time() - c0) / 3
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rps": len(texts) / best, "rec_per_cpu_s": len(texts) / cpu, "mem_mb": (peak - base) / 1024, "predicted": out["predicted"]}))
"""


def run_backend(backend: str, model: Path, texts_file: Path, precision: str = "int8", threads: int = 2) -> dict[str, Any]:
    p = sh(PY, "-c", CHILD, backend, str(model), str(texts_file), str(threads), precision)
    return json.loads(p.stdout.strip().splitlines()[-1])


# -- 4. scheduler vs naive ----------------------------------------------------------------------------
def scheduler_vs_naive(model: Path, texts: list[str]) -> list[dict[str, Any]]:
    """Rows: the naive per-record loop, then the scheduler three ways (a task per call as a framework's
    ``await backend.call``; the bulk path ``Scheduler.call_many`` the Scorer uses; the bulk path with one
    ONNX thread, leaving the other core to the event loop).  Wall-clock and records per CPU-second."""
    from chil_core.capabilities.model import start_model
    from chil_core.config import SchedulerSettings
    from chil_core.contracts import ToolCall
    from chil_core.plugins import get_registry
    from chil_core.scheduler import Scheduler

    calls = [ToolCall(capability="model", op="classify", payload={"texts": [t]}) for t in texts]
    tool = start_model("onnx", {"path": str(model), "threads": 2})
    tool.run_batch(calls[:32])
    n_naive = min(len(calls), 2000)
    t0, c0 = time.perf_counter(), time.process_time()
    naive = [tool.run_batch([c])[0] for c in calls[:n_naive]]
    naive_s, naive_cpu = time.perf_counter() - t0, time.process_time() - c0
    tool.close()
    rows = [{"mode": "naive loop (one call, one forward pass per record), 2 threads", "records": n_naive, "rec_per_s": n_naive / naive_s,
             "ratio": 1.0, "rec_per_cpu_s": n_naive / naive_cpu, "same_answers": 1.0, "statuses": "ok", "load": load()}]
    cls = get_registry().tool("model", "onnx")
    for mode, threads in (("scheduler, a task per call (await backend.call)", 2), ("scheduler, bulk (Scheduler.call_many)", 2),
                          ("scheduler, bulk (Scheduler.call_many)", 1)):
        sched = Scheduler(None)  # no cache: every call runs
        run = SchedulerSettings(max_batch=512, max_wait_ms=2, timeout_s=60, concurrency=1).for_backend("onnx", cls.isolation, cls.max_batch)
        backend = sched.add_backend(cls, cls.Options.model_validate({"path": str(model), "threads": threads}).model_dump(mode="json"), run)
        bulk = "bulk" in mode

        async def go(cs: list[ToolCall], bulk: bool = bulk, backend: Any = backend, sched: Scheduler = sched) -> list[Any]:
            if bulk:
                return await sched.call_many([(backend, c) for c in cs])
            return list(await asyncio.gather(*(backend.call(c) for c in cs)))

        asyncio.run(go(calls[:64]))  # load
        t0, c0 = time.perf_counter(), time.process_time()
        got = asyncio.run(go(calls))
        sched_s, sched_cpu = time.perf_counter() - t0, time.process_time() - c0
        sched.close()
        same = sum(int(b.ok and a["predicted"] == b.value["predicted"]) for a, b in zip(naive, got, strict=False)) / n_naive
        rows.append({"mode": f"{mode}, {threads} thread(s)", "records": len(calls), "rec_per_s": len(calls) / sched_s,
                     "ratio": (len(calls) / sched_s) / rows[0]["rec_per_s"], "rec_per_cpu_s": len(calls) / sched_cpu,
                     "same_answers": same, "statuses": " ".join(sorted({r.status for r in got})), "load": load()})
    return rows


# -- 5. hostile inputs ----------------------------------------------------------------------------------
def hostile(model: Path, work: Path) -> list[dict[str, Any]]:
    from chil_core.capabilities.model import start_model
    from chil_core.contracts import ToolCall, ToolResult

    rows = []
    huge = "the cat sat on the mat " * 45_000
    for backend in ("onnx", "transformers"):
        tool = start_model(backend, {"path": str(model), "threads": 2})
        tool.run_batch([ToolCall(capability="model", op="classify", payload={"texts": ["warm up"]})])  # load first
        t0 = time.perf_counter()
        out = tool.run_batch([ToolCall(capability="model", op="classify", payload={"texts": [huge, huge + "x", "", "12 + 3 = 15"]})])[0]
        dt = time.perf_counter() - t0
        tool.close()
        rows.append({"case": f"1 MB texts x2 + empty + normal ({backend})", "outcome":
                     f"ok; truncated={out['truncated']} empty={out['empty']}; {dt * 1000:.0f} ms for the batch"})
    shutil.rmtree(work / "bad-student", ignore_errors=True)
    bad = work / "bad-corpus.jsonl"
    good = [json.dumps({"id": f"g{i}", "prompt": "q", "completion": f"{i}*2 = {2 * i + (i % 2)}"}).encode() for i in range(40)]
    bad.write_bytes(b"\n".join([*good[:20], b"\xff\xfe not utf-8", b"{not json", json.dumps({"id": 3, "prompt": "q"}).encode(), *good[20:]]) + b"\n")
    p = sh(CHIL, "model", "distill", str(bad), "--teacher", "empirical", "-o", str(work / "bad-student"), "--epochs", "1",
           "--min-count", "2", check=False)
    skipped = [line for line in p.stderr.splitlines() if "skipped" in line or line.startswith("error")]
    rows.append({"case": "invalid UTF-8 / bad JSON / bad record in a distill corpus", "outcome": f"exit {p.returncode}; " + " | ".join(skipped)})
    corrupt = work / "corrupt"
    shutil.rmtree(corrupt, ignore_errors=True)  # an earlier run's, with --keep
    shutil.copytree(model, corrupt)
    (corrupt / "model.onnx").write_bytes(b"\x00" * 64)  # the graph the onnx backend runs by default (FP32)
    tool = start_model("onnx", {"path": str(corrupt)})
    res = tool.run_batch([ToolCall(capability="model", op="classify", payload={"texts": ["x"]})])[0]
    tool.close()
    assert isinstance(res, ToolResult)
    rows.append({"case": "corrupt model.onnx (backend call)", "outcome": f"{res.status}: {res.error[:150]}"})
    (corrupt / "chil-model.json").write_text("{", encoding="utf-8")
    cfg = work / "chil.toml"
    cfg.write_text(f'[frameworks.empirical.model]\nbackend = "onnx"\npath = "{corrupt}"\n', encoding="utf-8")
    recs = work / "one.jsonl"
    recs.write_text(json.dumps({"id": "1", "prompt": "q", "completion": "hello"}) + "\n", encoding="utf-8")
    p = sh(CHIL, "score", str(recs), "--config", str(cfg), "--frameworks", "empirical", check=False)
    rows.append({"case": "corrupt chil-model.json (config load)", "outcome": f"exit {p.returncode}: " + " ".join(p.stderr.split())[:200]})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (development)")
    ap.add_argument("--keep", type=Path, default=None, help="write the models here (default: a temporary folder)")
    ap.add_argument("--reuse", action="store_true", help="with --keep: reuse the corpora, students and exports already there")
    ap.add_argument("--train-only", action="store_true", help="stop after distillation and export (no speed figures: run it "
                    "without the bench lock, then the rest with --keep DIR --reuse under it)")
    args = ap.parse_args()
    # the empirical student gets every GSM8K train step (~27k rows) and 600 s: on 8,000 rows in 150 s it only
    # learned "is there a step" (arithmetic_error recall 0.00); the consistency corpus is ProofWriter dev (600 rows)
    steps_limit = ["--limit", "1500"] if args.quick else []
    budgets = {"empirical": "20", "consistency": "20"} if args.quick else {"empirical": "600", "consistency": "150"}
    lrs = {"empirical": EMPIRICAL_LR, "consistency": "3e-3"}
    epochs = "4" if args.quick else "100"
    work = args.keep or Path(tempfile.mkdtemp(prefix="chil-bench-models-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# bench_models ({'quick' if args.quick else 'full'}), work dir {work}, load at start {load()}", flush=True)

    # 1. distillation
    dist_rows = []
    if not (args.reuse and (work / "steps.jsonl").is_file()):
        sh(CHIL, "model", "corpus", "gsm8k-steps", "-o", str(work / "steps.jsonl"), "--data", str(DATA), *steps_limit)
    if not (args.reuse and (work / "pw.jsonl").is_file()):
        sh(CHIL, "model", "corpus", "proofwriter", "-o", str(work / "pw.jsonl"), "--data", str(DATA), *(["--limit", "200"] if args.quick else []))
    plans = [("empirical", work / "steps.jsonl", "{completion}", "64"), ("consistency", work / "pw.jsonl", "{completion} | {prompt}", "256")]
    for teacher, corpus, template, max_len in plans:
        out = work / f"{teacher}-student"
        t0 = time.perf_counter()
        if not (args.reuse and (out / "chil-model.json").is_file()):
            sh(CHIL, "model", "distill", str(corpus), "--teacher", teacher, "-o", str(out), "--template", template, "--max-length", max_len,
               "--epochs", epochs, "--time-budget", budgets[teacher], "--lr", lrs[teacher], "--threads", "1")
        c = card(out)
        m = c["metrics"]
        dist_rows.append({"teacher": teacher, "records": c["data"]["records"], "labels": " ".join(f"{k}:{v}" for k, v in c["label_counts"].items()),
                          "held_out": m["held_out_rows"], "agreement": m["held_out_accuracy"], "majority": m["majority_baseline"],
                          "by_label": " ".join(f"{k}:{v['agreement']:.2f}/{v['rows']}" for k, v in m.get("held_out_by_label", {}).items()),
                          "lr": c["training"]["lr"], "epochs": c["training"]["epochs"], "train_s": c["training"]["seconds"], "wall_s": round(time.perf_counter() - t0, 1),
                          "load": load()})
    print("\n## Distillation: student vs teacher on held-out rows\n")
    print(table(dist_rows))

    # 2. export
    student = work / "empirical-student"
    t0 = time.perf_counter()
    for d in (student, work / "consistency-student"):
        if not (args.reuse and (d / "model.int8.onnx").is_file()):
            sh(CHIL, "model", "export", str(d))
    onnx = card(student)["onnx"]
    print(f"\nexport: {time.perf_counter() - t0:.1f}s; check on {onnx['samples']} samples: FP32 agreement {onnx['fp32_label_agreement']}, "
          f"INT8 agreement {onnx['int8_label_agreement']}, largest INT8 logit difference {onnx['int8_max_logit_diff']}")
    # wider students for the same comparison at sizes where matrix products, not per-operator and per-batch
    # overheads, dominate: their speed is the point (1 epoch on step / prose labels; not judges)
    for hidden, layers in SHAPES:
        d = shape_dir(work, hidden, layers)
        if args.reuse and (d / "model.int8.onnx").is_file():
            continue
        fit = work / "wide-fit.jsonl"
        if not fit.is_file():
            rows_wide = read_jsonl(work / "steps.jsonl")[:400]
            fit.write_text("".join(json.dumps({"text": r["completion"], "label": "prose" if r["metadata"].get("prose") else "step"})
                                   + "\n" for r in rows_wide), encoding="utf-8")
        sh(CHIL, "model", "fit", str(fit), "-o", str(d), "--hidden", str(hidden), "--layers", str(layers), "--heads", "4",
           "--max-length", "64", "--epochs", "1")
        sh(CHIL, "model", "export", str(d))
    if args.train_only:
        print(f"(--train-only: measure with --keep {work} --reuse; load at end {load()})")
        return

    # 3. INT8 vs FP32
    texts = [r["completion"] for r in read_jsonl(work / "steps.jsonl")[:8000]]
    tf = work / "texts.jsonl"
    tf.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    # each ONNX row against transformers at the same thread count (same texts, batches of 256, length
    # bucketing, inference_mode on the torch side): 2 threads is the "2 cores" figure, 1 thread the per-core one
    rows, refs = [], {}
    for threads in (2, 1):
        ref = refs[threads] = run_backend("transformers", student, tf, threads=threads)
        rows.append({"backend": f"transformers FP32 (torch), {threads} thread(s)", "records": len(texts), "rec_per_s": ref["rps"], "speedup": 1.0,
                     "rec_per_cpu_s": ref["rec_per_cpu_s"], "cpu_speedup": 1.0, "agreement": 1.0, "mem_mb": ref["mem_mb"],
                     "file_kb": (student / "model.safetensors").stat().st_size / 1024, "load": load()})
        for precision, name in (("fp32", "model.onnx"), ("int8", "model.int8.onnx")):
            r = run_backend("onnx", student, tf, precision, threads)
            agree = sum(int(a == b) for a, b in zip(r["predicted"], refs[2]["predicted"], strict=True)) / len(texts)
            rows.append({"backend": f"onnx {precision.upper()}, {threads} thread(s)", "records": len(texts), "rec_per_s": r["rps"],
                         "speedup": r["rps"] / ref["rps"], "rec_per_cpu_s": r["rec_per_cpu_s"], "cpu_speedup": r["rec_per_cpu_s"] / ref["rec_per_cpu_s"],
                         "agreement": agree, "mem_mb": r["mem_mb"], "file_kb": (student / name).stat().st_size / 1024, "load": load()})
    print("\n## Same distilled student: ONNX Runtime vs transformers at the same thread count (batched classify; speed-up vs that "
          "count's transformers row; agreement vs transformers at 2 threads)\n")
    print(table(rows))
    print(f"labels the FP32 reference gives ({student.name}): {dict(Counter(refs[2]['predicted']))}")
    wrows = []
    sweep_texts = work / "texts-2000.jsonl"
    sweep_texts.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts[:2000]), encoding="utf-8")
    for hidden, layers in SHAPES:
        d = shape_dir(work, hidden, layers)
        params = card(d)["architecture"]["parameters"]
        for threads in (2, 1):
            wref = run_backend("transformers", d, sweep_texts, threads=threads)
            r = run_backend("onnx", d, sweep_texts, "int8", threads)
            wrows.append({"shape": f"{hidden}x{layers} ({params / 1e6:.2f} M)", "threads": threads, "torch_rec_per_s": wref["rps"],
                          "int8_rec_per_s": r["rps"], "speedup": r["rps"] / wref["rps"], "cpu_speedup": r["rec_per_cpu_s"] / wref["rec_per_cpu_s"],
                          "agreement": sum(int(a == b) for a, b in zip(r["predicted"], wref["predicted"], strict=True)) / len(wref["predicted"]),
                          "mem_mb": f"{r['mem_mb']:.0f} vs {wref['mem_mb']:.0f}", "load": load()})
    print("\n### INT8 ONNX vs FP32 transformers by student width (hidden x layers; 2,000 of the same texts; each pair at the same "
          "thread count; memory INT8 vs torch)\n")
    print(table(wrows))
    # agreement on a second student whose answers are spread over more labels (ProofWriter, templated as in training)
    cs = work / "consistency-student"
    template = card(cs)["teacher"]["template"]
    pw = read_jsonl(work / "pw.jsonl")
    cf = work / "pw-texts.jsonl"
    cf.write_text("".join(json.dumps({"text": template.replace("{prompt}", r["prompt"]).replace("{completion}", r["completion"])}) + "\n"
                          for r in pw), encoding="utf-8")
    cref = run_backend("transformers", cs, cf)
    ci8 = run_backend("onnx", cs, cf, "int8", 2)
    cagree = sum(int(a == b) for a, b in zip(ci8["predicted"], cref["predicted"], strict=True)) / len(pw)
    print(f"{cs.name}: INT8 ONNX vs FP32 transformers label agreement {cagree:.4f} on {len(pw)} texts; "
          f"FP32 labels {dict(Counter(cref['predicted']))}; INT8 labels {dict(Counter(ci8['predicted']))}")

    # 4. scheduler vs naive
    srows = scheduler_vs_naive(student, texts)
    print("\n## One classify call per record (ONNX INT8 student): scheduler (batched up to 512, no cache) vs naive per-record loop\n")
    print(table(srows))
    best = max(srows[1:], key=lambda r: r["rec_per_s"])
    best_cpu = max(srows[1:], key=lambda r: r["rec_per_cpu_s"])
    # 2 cores give at most 2 CPU-seconds per second: records per CPU-second is the rate of one idle core
    print(f"target >= 2,000 rec/s through the scheduler: wall-clock {'met' if best['rec_per_s'] >= 2000 else 'NOT met'} "
          f"({best['rec_per_s']:,.0f}/s, {best['mode']}); CPU-seconds {'met' if best_cpu['rec_per_cpu_s'] >= 2000 else 'NOT met'} "
          f"({best_cpu['rec_per_cpu_s']:,.0f} records per CPU-second, {best_cpu['mode']})")

    # 5. hostile
    print("\n## Hostile inputs\n")
    print(table(hostile(student, work)))
    try:
        import onnxruntime as ort
        import torch

        gpu = torch.cuda.is_available() or "CUDAExecutionProvider" in ort.get_available_providers()
    except ImportError:
        gpu = False
    print(f"\nGPU: {'present: run benchmarks/bench_models_gpu.py' if gpu else 'none on this machine: bf16 transformers and the ONNX CUDA provider were not measured (benchmarks/bench_models_gpu.py measures them where there is one)'}")
    print(f"load at end {load()}; peak RSS of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    elif args.reuse:
        print("(--reuse: the distillation and export figures are those of the earlier run in this folder)")


if __name__ == "__main__":
    main()
