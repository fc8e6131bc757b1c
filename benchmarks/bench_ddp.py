"""``chil train`` on 1 process vs 2 CPU processes (``torchrun``, gloo; DDP and FSDP), same global batch.

Workload: the embedded default task (``chil train`` with no config: arithmetic prompts, the ``empirical``
reward) and its tiny policy, warm-started once before the timed runs and given to both with ``--model``;
the same ``prompts_per_step`` x ``group_size`` global batch per step, ``--steps`` steps; every process
gets ``--threads`` torch threads.  Runs, one after the other in one invocation:

* ``1 proc``: plain ``chil train``;
* ``2 procs``: ``torchrun --standalone --nproc-per-node 2 -m chil_core.cli train`` (DDP, the default);
* ``2 procs fsdp``: the same with ``--set distributed=fsdp`` (parameters, gradients and AdamW state sharded;
  each process samples with a full copy gathered after every update; ``share_prompt`` off);

Per run: median step time after the first step (the first pays start-up), its split from
``metrics.jsonl`` (``time/generate_s``: sampling the next batch, ``time/update_s``: the gradient update,
``time/reward_wait_s``: waiting for rewards; averaged over ranks), the whole command's wall time and its
CPU-seconds (user + system of every process it ran, load-insensitive).

Then the equality check of ``tests/scale/ddp_equality.py``: N updates by 1 process, by 2 DDP and by 2 FSDP
processes on the same global batches; the largest weight difference to the 1-process run (and how far the
weights moved, so that equality is not vacuous).

``python benchmarks/bench_ddp.py [--steps 6] [--prompts 8] [--group 4] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, table  # noqa: E402

TORCHRUN = Path(sys.executable).with_name("torchrun")


def _env(threads: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIL")}
    env["OMP_NUM_THREADS"] = str(threads)
    return env


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run in its own process group; on timeout the whole group (torchrun and its workers) is killed."""
    import signal

    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def warm_start(tmp: Path) -> Path:
    """The embedded task's warm-started tiny policy, built once (not timed)."""
    from chil_core.training import default_task
    from chil_core.training.config import build_train_config

    seed = build_train_config(default_task.DEFAULTS).seed
    default_task.warm_started_policy(tmp, seed, lambda *a, **k: None)
    return tmp / "warm_start"


def run_train(name: str, nproc: int, args: argparse.Namespace, tmp: Path, model: Path,
              parallel: str = "ddp") -> dict[str, Any]:
    run = tmp / name.replace(" ", "_")
    launcher = ([str(TORCHRUN), "--standalone", f"--nproc-per-node={nproc}"] if nproc > 1 else [sys.executable])
    cmd = [*launcher, "-m", "chil_core.cli", "train", "--output-dir", str(run), "--max-steps", str(args.steps),
           "--model", str(model), "--set", "eval_max_prompts=8",
           "--set", f"prompts_per_step={args.prompts}", "--set", f"group_size={args.group}",
           "--set", f"max_new_tokens={args.max_new_tokens}", "--set", f"threads={args.threads}",
           "--set", "save_every=0", "--set", "tensorboard=false", "--set", "progress=false", "--set", "eval_every=0",
           "--set", f"distributed={parallel}"]
    c0, t0 = _children_cpu(), time.perf_counter()
    proc = _run(cmd, tmp, _env(args.threads), args.run_timeout)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    later = lines[1:] or lines

    def med(key: str) -> float:
        vals = [x[key] for x in later if key in x]
        return statistics.median(vals) if vals else float("nan")

    return {"run": name, "processes": nproc, "steps": len(lines), "step_s": med("time/step_s"),
            "generate_s": med("time/generate_s"), "update_s": med("time/update_s"),
            "reward_wait_s": med("time/reward_wait_s"), "reward_s": med("time/reward_s"),
            "wall_s": wall, "cpu_s": cpu, "reward_mean": statistics.mean(x.get("reward/mean", 0.0) for x in lines)}


def equality(steps: int, tmp: Path, timeout: float) -> dict[str, Any]:
    import torch

    script = REPO / "tests" / "scale" / "ddp_equality.py"
    out: dict[str, Any] = {}
    for name, nproc, parallel in (("1", 1, "ddp"), ("ddp", 2, "ddp"), ("fsdp", 2, "fsdp")):
        path = tmp / f"eq-{name}.pt"
        launcher = ([str(TORCHRUN), "--standalone", f"--nproc-per-node={nproc}"] if nproc > 1 else [sys.executable])
        proc = _run([*launcher, str(script), str(path), str(steps), "dapo", parallel], tmp, _env(1), timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"equality run {name} on {nproc} process(es) failed:\n{proc.stderr[-3000:]}")
        out[name] = torch.load(path)
    one = out["1"]

    def diff(other: dict[str, Any]) -> float:
        return max(float((one["state"][k] - other["state"][k]).abs().max()) for k in one["state"])

    return {"steps": steps, "max_abs_weight_diff": diff(out["ddp"]), "max_abs_weight_diff_fsdp": diff(out["fsdp"]),
            "fsdp_padding_passes": out["fsdp"]["padding_passes"], "weights_moved": one["moved"],
            "seconds_1proc": one["seconds"], "seconds_2procs": out["ddp"]["seconds"],
            "seconds_2procs_fsdp": out["fsdp"]["seconds"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--prompts", type=int, default=16, help="prompts_per_step (global; a multiple of 2)")
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--run-timeout", type=float, default=240.0, help="seconds per training command")
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process")
    ap.add_argument("--equality-steps", type=int, default=3, help="0: no equality check (it measures no speed; "
                    "run it outside the benchmark lock)")
    ap.add_argument("--no-runs", action="store_true", help="only the equality check")
    ap.add_argument("--warm-dir", type=Path, help="keep the warm start here (built if absent or stale) instead of a temporary one")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    out: dict[str, Any] = {"loadavg_before": Path("/proc/loadavg").read_text().strip(), "args": {k: v for k, v in vars(args).items() if not isinstance(v, Path)}}
    print(f"loadavg before: {out['loadavg_before']}", flush=True)
    cols = ["run", "steps", "step_s", "generate_s", "update_s", "reward_wait_s", "reward_s", "wall_s", "cpu_s", "reward_mean"]
    with tempfile.TemporaryDirectory(prefix="chil-bench-ddp-") as tmp:
        model = warm_start(args.warm_dir or Path(tmp) / "warm")
        rows = []
        for name, nproc, parallel in (() if args.no_runs else
                                      (("1 proc", 1, "ddp"), ("2 procs", 2, "ddp"), ("2 procs fsdp", 2, "fsdp"))):
            rows.append(run_train(name, nproc, args, Path(tmp), model, parallel))
            print(table(rows[-1:], cols), flush=True)
        if args.equality_steps:
            out["equality"] = equality(args.equality_steps, Path(tmp), args.run_timeout)
    out["loadavg_after"] = Path("/proc/loadavg").read_text().strip()
    out["runs"] = rows
    if rows:
        report_runs(out, rows, cols)
    if "equality" in out:
        eq = out["equality"]
        print(f"equality after {eq['steps']} steps: max |w1 - w2| = {eq['max_abs_weight_diff']:.3g} (ddp), "
              f"{eq['max_abs_weight_diff_fsdp']:.3g} (fsdp, {eq['fsdp_padding_passes']} padding passes) "
              f"(weights moved up to {eq['weights_moved']:.3g})")
    print(f"loadavg after: {out['loadavg_after']}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


def report_runs(out: dict[str, Any], rows: list[dict[str, Any]], cols: list[str]) -> None:
    out["step_ratio_2_vs_1"] = rows[1]["step_s"] / rows[0]["step_s"]
    out["cpu_ratio_2_vs_1"] = rows[1]["cpu_s"] / rows[0]["cpu_s"]
    out["step_ratio_fsdp_vs_1"] = rows[2]["step_s"] / rows[0]["step_s"]
    out["step_ratio_fsdp_vs_ddp"] = rows[2]["step_s"] / rows[1]["step_s"]
    out["cpu_ratio_fsdp_vs_1"] = rows[2]["cpu_s"] / rows[0]["cpu_s"]
    print(table(rows, cols))
    print(f"step time 2 procs / 1 proc = {out['step_ratio_2_vs_1']:.2f}; CPU-seconds 2 / 1 = {out['cpu_ratio_2_vs_1']:.2f}")
    print(f"step time 2 procs fsdp / 1 proc = {out['step_ratio_fsdp_vs_1']:.2f}, / 2 procs ddp = "
          f"{out['step_ratio_fsdp_vs_ddp']:.2f}; CPU-seconds fsdp / 1 = {out['cpu_ratio_fsdp_vs_1']:.2f}")


if __name__ == "__main__":
    main()
