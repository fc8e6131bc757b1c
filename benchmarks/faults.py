"""Faults: injected backend failures, SIGKILL-and-restart, a full disk.  Prints the suite's table.

    python benchmarks/faults.py                       # full: 10,000 records, 200 steps, 20 kills each
    python benchmarks/faults.py --records 1000 --steps 20 --kills 4 --parts inject,kill-score,kill-train,disk

Parts:

- ``inject``: FOLIO dev records (premises and conclusion in FOL, a label as the completion, one unique
  marker premise each so that no two records share a call) scored by the consistency framework through
  ``smt:faulty`` (:mod:`chil_core.testing.faults`: the real Z3 backend, process-isolated, with 1 % of
  its calls raising, hanging, crashing their worker or answering slowly; each fault written to a ledger
  first), once without faults and once with.  Accounted: every record has a status; the records whose
  status changed are exactly as many as the raise/crash/hang faults of the ledger, and every other
  record got the fault-free result; the backend's error and timeout counts match the ledger.  Then a
  GRPO run of ``--steps`` steps on the same kind of prompts (a tiny policy; 4 prompts x 4 completions
  per step; the 4 completions of a prompt share its call): every step is logged, and the failed
  completions are exactly 4 per raise/crash/hang fault.
- ``kill-score``: ``chil score`` (GSM8K gold solutions and FOLIO records, an LMDB cache) killed with
  SIGKILL at ``--kills`` random moments and restarted each time: the output is absent or complete after
  every kill, and the final output equals a fresh computation without a cache (so the cache, written
  while being killed, returned no wrong entry); no temporary file is left.
- ``kill-train``: ``chil train`` (a tiny policy, a toy plugin that pays length so that the weights move)
  killed at ``--kills`` random moments and resumed with ``--resume`` each time: the final weights and
  every logged metric (timings aside) equal an uninterrupted run's.
- ``disk``: ``chil score`` (output and LMDB cache) in a 1 MB tmpfs and ``chil train`` (run directory,
  a checkpoint every step) in another 1 MB one (an unprivileged user and mount namespace, ``unshare -rm``):
  each exits with one ``error:`` line, no traceback, and leaves no half-written output (the score
  output and its temporary file are absent; the latest checkpoint is a complete one and loads).

Exit status 1 when a check fails.  Times depend on the machine's load; the checks do not.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, table  # noqa: E402

FAILED = ("error", "timeout")


def folio_records(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rows = [json.loads(x) for x in (DATA / "folio" / "folio-validation-dev.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    rng = random.Random(seed)
    out = []
    for i in range(n):
        r = rows[i % len(rows)]
        label = r["label"] if rng.random() < 0.5 else rng.choice(["True", "False", "Uncertain"])
        out.append({"id": f"f{i}", "prompt": " ".join(r["premises"]), "completion": f"Answer: {label}",
                    "metadata": {"premises_fol": [*r["premises-FOL"], f"Seen(r{i})"], "conclusion_fol": r["conclusion-FOL"]}})
    return out


def _fault_config(rate: float, ledger: Path, timeout_s: float = 5.0) -> dict[str, Any]:
    return {"frameworks": {"consistency": {"tools": {"smt": "faulty"}}},
            "tools": {"faulty": {"wrap": "chil_plugin_z3.smt:Z3Smt", "rate": rate, "ledger": str(ledger), "seed": 1}},
            "scheduler": {"backends": {"faulty": {"timeout_s": timeout_s, "workers": 2, "spare_workers": 2}}},
            "cache": {"enabled": False}}


def _plugin_manager() -> Any:
    from chil_core.plugins import PluginManager
    from chil_core.testing.faults import faults_plugin

    pm = PluginManager()
    pm.load_entry_points()
    pm.add_plugin(faults_plugin(), "faults")
    return pm


def inject_scoring(n: int, rate: float, work: Path) -> dict[str, Any]:
    from chil_core.scoring import Scorer
    from chil_core.testing.faults import read_ledger

    records = folio_records(n)
    pm = _plugin_manager()
    results = {}
    stats = {}
    t0 = time.perf_counter()
    for label, r in (("clean", 0.0), ("faulty", rate)):
        ledger = work / f"ledger-{label}.txt"
        ledger.unlink(missing_ok=True)
        with Scorer.from_config(_fault_config(r, ledger), plugin_manager=pm) as scorer:
            # as chil score does: the next chunk is submitted while the previous one is scored (submitting
            # all at once would put the last chunks past their record timeout while they wait)
            got: list[Any] = []
            pending = None
            for i in range(0, n, 256):
                fut = scorer.submit(records[i:i + 256])
                if pending is not None:
                    got += pending.result()
                pending = fut
            if pending is not None:
                got += pending.result()
            results[label] = [x.frameworks["consistency"] for x in got]
            stats[label] = scorer.stats().get("smt:faulty", {})
    faults = read_ledger(work / "ledger-faulty.txt")
    kinds = {k: sum(1 for kind, _ in faults if kind == k) for k in ("raise", "hang", "crash", "slow")}
    clean, faulty = results["clean"], results["faulty"]
    changed = [i for i, (a, b) in enumerate(zip(clean, faulty, strict=True)) if (a.status, a.score, a.verdict) != (b.status, b.score, b.verdict)]
    harmful = kinds["raise"] + kinds["crash"] + kinds["hang"]
    newly_failed = [i for i in changed if faulty[i].status in FAILED and clean[i].status not in FAILED]
    st_clean, st_faulty = stats["clean"], stats["faulty"]
    clean_failed = sum(r.status in FAILED for r in clean)
    return {
        "part": "inject: score", "runs": f"{len(faulty)}/{n} records scored", "faults": len(faults), "by kind": kinds,
        "accounted": (len(faulty) == n and clean_failed == 0 and len(changed) == len(newly_failed) == harmful
                      and st_faulty.get("errors", 0) - st_clean.get("errors", 0) == kinds["raise"] + kinds["crash"]
                      and st_faulty.get("timeouts", 0) - st_clean.get("timeouts", 0) == kinds["hang"]),
        "detail": {"clean_failed": clean_failed, "records_changed": len(changed), "newly_failed": len(newly_failed), "harmful_faults": harmful,
                   "backend_clean": {k: st_clean.get(k) for k in ("calls", "errors", "timeouts")},
                   "backend_faulty": {k: st_faulty.get(k) for k in ("calls", "errors", "timeouts", "worker_restarts")},
                   "statuses": {s: sum(r.status == s for r in faulty) for s in ("scored", "abstained", "timeout", "error")}},
        "seconds": round(time.perf_counter() - t0, 1),
    }


class _Collect:
    """A reward source that records every result the trainer gets."""

    def __init__(self, scorer: Any) -> None:
        self.scorer, self.settings, self.frameworks = scorer, scorer.settings, scorer.frameworks
        self.results: list[Any] = []

    def submit(self, records: Any) -> Any:
        fut = self.scorer.submit(records)
        fut.add_done_callback(lambda f: self.results.extend(f.result()))
        return fut


def inject_training(steps: int, rate: float, work: Path) -> dict[str, Any]:
    from chil_core.scoring import Scorer
    from chil_core.testing.faults import read_ledger
    from chil_core.training.config import TrainConfig
    from chil_core.training.data import PromptDataset
    from chil_core.training.metrics import read_metrics
    from chil_core.training.policy import byte_tokenizer, tiny_policy
    from chil_core.training.trainer import Trainer

    # prompts whose FOL the prover decides without a failure (checked fault-free), unique per row
    prompts = work / "prompts.jsonl"
    rows = folio_records(48)
    prompts.write_text("".join(json.dumps({"id": r["id"], "prompt": r["prompt"][:200], "metadata": r["metadata"]}) + "\n"
                               for r in rows), encoding="utf-8")
    pm = _plugin_manager()
    ledger = work / "ledger-train.txt"
    ledger.unlink(missing_ok=True)
    tok = byte_tokenizer()
    model = tiny_policy(tok, hidden_size=32, num_layers=2, num_heads=2, seed=0)
    config = TrainConfig(output_dir=str(work / "train"), max_steps=steps, prompts_per_step=4, group_size=4,
                         micro_batch_size=16, max_new_tokens=8, max_prompt_length=200, learning_rate=1e-3, progress=False,
                         tensorboard=False, save_every=0, threads=2)
    t0 = time.perf_counter()
    with Scorer.from_config(_fault_config(rate, ledger), plugin_manager=pm) as scorer:
        source = _Collect(scorer)
        trainer = Trainer(config, model, tok, PromptDataset(prompts), source)
        try:
            trainer.train()
        finally:
            trainer.close()
    faults = read_ledger(ledger)
    kinds = {k: sum(1 for kind, _ in faults if kind == k) for k in ("raise", "hang", "crash", "slow")}
    harmful = kinds["raise"] + kinds["crash"] + kinds["hang"]
    logged = [r["step"] for r in read_metrics(work / "train")]
    results = [r.frameworks["consistency"] for r in source.results]
    failed = sum(r.status in FAILED for r in results)
    completions = steps * 16
    return {"part": "inject: train", "runs": f"{len(logged)}/{steps} steps logged", "faults": len(faults), "by kind": kinds,
            "accounted": logged == list(range(1, steps + 1)) and len(results) >= completions and failed == 4 * harmful,
            "detail": {"completions": len(results), "failed": failed, "expected_failed": 4 * harmful},
            "seconds": round(time.perf_counter() - t0, 1)}


# -- SIGKILL and restart ----------------------------------------------------------------------------
def _chil(*args: str, env: dict[str, str] | None = None) -> list[str]:
    return [sys.executable, "-m", "chil_core.cli", *args]


def _env(extra_path: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIL")}
    if extra_path is not None:
        env["PYTHONPATH"] = str(extra_path) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _complete(path: Path, ids: list[str]) -> bool | None:
    """None when absent, True when every record is there in order, False when partial or corrupt."""
    if not path.exists():
        return None
    try:
        got = [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]
    except (ValueError, KeyError):
        return False
    return got == ids


def _strip(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for fw in out.get("frameworks", {}).values():
        fw.pop("elapsed_ms", None)
    return out


def kill_score(n: int, kills: int, work: Path, seed: int = 0) -> dict[str, Any]:
    gsm = [json.loads(x) for x in (DATA / "gsm8k" / "train.jsonl").read_text(encoding="utf-8").splitlines()[:n]]
    records = [{"id": f"g{i}", "prompt": r["question"], "completion": r["answer"],
                "reference": {"answer": r["answer"].split("####")[-1].strip().replace(",", "")}} for i, r in enumerate(gsm)]
    records += folio_records(n // 4)
    ids = [r["id"] for r in records]
    src = work / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    fresh_cfg, cached_cfg = work / "fresh.toml", work / "cached.toml"
    fresh_cfg.write_text('[frameworks.empirical]\n[frameworks.consistency]\n[cache]\nenabled = false\n')
    cached_cfg.write_text(f'[frameworks.empirical]\n[frameworks.consistency]\n[cache]\npath = "{work / "cache"}"\n')
    t0 = time.perf_counter()
    ref = work / "fresh.jsonl"
    subprocess.run(_chil("score", str(src), "-o", str(ref), "--config", str(fresh_cfg)), env=_env(), check=True,
                   capture_output=True, timeout=1800)
    full = time.perf_counter() - t0
    rng = random.Random(seed)
    out = work / "out.jsonl"
    states: list[bool | None] = []
    killed = starts = 0
    est = full  # how long a run takes now: it shrinks as the cache fills, and the kill points with it
    while killed < kills and starts < 4 * kills:
        starts += 1
        t_start = time.perf_counter()
        proc = subprocess.Popen(_chil("score", str(src), "-o", str(out), "--config", str(cached_cfg)), env=_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=rng.uniform(0.1, est))
            est = time.perf_counter() - t_start  # it finished first: the next run is killed sooner
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            killed += 1
            proc.wait()
        states.append(_complete(out, ids))
        out.unlink(missing_ok=True)  # the next run starts without an earlier complete output
    final = subprocess.run(_chil("score", str(src), "-o", str(out), "--config", str(cached_cfg)), env=_env(),
                           capture_output=True, timeout=1800)
    got = [_strip(json.loads(x)) for x in out.read_text().splitlines()] if final.returncode == 0 else []
    want = [_strip(json.loads(x)) for x in ref.read_text().splitlines()]
    differ = [i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b]
    # a record that differs is scored again, alone, fresh and through the cache: a cache entry is wrong when
    # the two disagree; when they agree, the difference was a call that ran out of time in the loaded
    # machine during one of the two full runs (a timeout is not cached)
    wrong: list[str] = []
    if differ:
        sub = work / "differ.jsonl"
        sub.write_text("".join(json.dumps(records[i]) + "\n" for i in differ), encoding="utf-8")
        again = {}
        for name, cfg in (("fresh", fresh_cfg), ("cached", cached_cfg)):
            o = work / f"differ-{name}.jsonl"
            subprocess.run(_chil("score", str(sub), "-o", str(o), "--config", str(cfg)), env=_env(), check=True,
                           capture_output=True, timeout=1800)
            again[name] = [_strip(json.loads(x)) for x in o.read_text().splitlines()]
        wrong = [a["id"] for a, b in zip(again["cached"], again["fresh"], strict=True) if a != b]
    statuses = lambda rows: sorted({fw.get("status") for i in differ if i < len(rows) for fw in rows[i].get("frameworks", {}).values()})  # noqa: E731
    same = final.returncode == 0 and len(got) == len(want) and not wrong
    leftovers = [p.name for p in work.glob(".chil-score-*")]
    return {"part": "kill: chil score", "runs": f"{killed} killed in {starts} starts, then one to the end",
            "faults": killed, "by kind": {"absent": states.count(None), "complete": states.count(True), "partial": states.count(False)},
            "accounted": killed == kills and False not in states and same and not leftovers,
            "detail": {"final_equals_fresh": same, "records_differing_first": len(differ), "wrong_cache_entries": wrong,
                       "differing_statuses_final": statuses(got), "differing_statuses_fresh": statuses(want),
                       "temp_files_left": leftovers, "records": len(records), "uninterrupted_s": round(full, 1)},
            "seconds": round(time.perf_counter() - t0, 1)}


LENGTHY = '''
"""A toy framework that pays a completion for its length (for the kill-and-resume check: a reward with
a spread, so that the weights move)."""
from chil_core import hookimpl
from chil_core.components import Framework
from chil_core.contracts import FrameworkResult


class Lengthy(Framework):
    name = "lengthy"
    version = "0.0.1"

    def extract(self, record):
        return []

    def judge(self, record, calls, results):
        return FrameworkResult.scored(min(len(record.completion) / 16.0, 1.0))


@hookimpl
def chil_register_frameworks(register):
    register(Lengthy)
'''


def toy_plugin_dir(work: Path) -> Path:
    """A directory to put on PYTHONPATH: the toy plugin as an installed distribution (entry point)."""
    d = work / "toy"
    d.mkdir(exist_ok=True)
    (d / "chil_toy_lengthy.py").write_text(textwrap.dedent(LENGTHY))
    info = d / "chil_toy_lengthy-0.0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: chil-toy-lengthy\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text("[chil]\nlengthy = chil_toy_lengthy\n")
    return d


def kill_train(steps: int, kills: int, work: Path, seed: int = 0) -> dict[str, Any]:
    from chil_core.training.policy import byte_tokenizer, tiny_policy

    tok = byte_tokenizer()
    model_dir = work / "tiny"
    tiny_policy(tok, hidden_size=32, num_layers=2, num_heads=2, seed=0).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    data = work / "prompts.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"{i}+{i % 7}=", "answer": str(i + i % 7)}) + "\n" for i in range(48)))
    plugin = toy_plugin_dir(work)
    cfg = work / "train.toml"
    cfg.write_text('[frameworks.lengthy]\n[cache]\npath = ""\n')
    common = ["train", "--config", str(cfg), "--model", str(model_dir), "--data", str(data), "--max-steps", str(steps),
              "--frameworks", "lengthy", "--no-progress", "--set", "prompts_per_step=4", "--set", "group_size=4",
              "--set", "max_new_tokens=12", "--set", "save_every=1", "--set", "tensorboard=false", "--set", "threads=1",
              "--set", "learning_rate=0.003"]
    t0 = time.perf_counter()
    ref = work / "ref"
    r = subprocess.run(_chil(*common, "--output-dir", str(ref)), env=_env(plugin), capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        raise RuntimeError(f"uninterrupted chil train failed: {r.stderr[-2000:]}")
    full = time.perf_counter() - t0
    rng = random.Random(seed)
    run = work / "run"
    latest = run / "checkpoints" / "latest"
    step_s = full / steps
    # kill points: a step of the run (sorted, repeats allowed: a start killed before its first checkpoint
    # resumes where the last one did) and a random moment after that step's checkpoint, so that every kill
    # lands before the end; the kills fall in start-up, sampling, scoring, the update and checkpoint writes
    targets = sorted(rng.randrange(0, max(1, steps - 1)) for _ in range(kills))
    killed = restarts = 0

    def done_steps() -> int:
        try:
            return int(latest.read_text().strip().rsplit("-", 1)[1])
        except (OSError, ValueError, IndexError):
            return 0

    while True:
        proc = subprocess.Popen(_chil(*common, "--output-dir", str(run), "--resume"), env=_env(plugin),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        restarts += 1
        if killed < kills:
            while proc.poll() is None and done_steps() < targets[killed]:
                time.sleep(0.05)
            try:
                proc.wait(timeout=rng.uniform(0.0, step_s))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                killed += 1
        _, err = proc.communicate(timeout=3600)
        if proc.returncode == 0:
            break
        if proc.returncode != -signal.SIGKILL:
            raise RuntimeError(f"chil train --resume failed: {err.decode()[-2000:]}")
    same_weights = _same_weights(ref / "policy", run / "policy")
    same_metrics = _metrics(ref) == _metrics(run)
    return {"part": "kill: chil train", "runs": f"{killed} killed, {restarts} starts, finished", "faults": killed,
            "by kind": {"steps": steps, "kill after step": targets[:killed]}, "accounted": killed == kills and same_weights and same_metrics,
            "detail": {"same_weights": same_weights, "same_metrics": same_metrics, "uninterrupted_s": round(full, 1)},
            "seconds": round(time.perf_counter() - t0, 1)}


def _metrics(run: Path) -> list[dict[str, Any]]:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    return [{k: v for k, v in r.items() if not k.startswith(("time/", "speed/"))} for r in rows]


def _same_weights(a: Path, b: Path) -> bool:
    from safetensors.torch import load_file

    fa, fb = sorted(a.glob("*.safetensors")), sorted(b.glob("*.safetensors"))
    if not fa or [p.name for p in fa] != [p.name for p in fb]:
        return False
    for x, y in zip(fa, fb, strict=True):
        ta, tb = load_file(x), load_file(y)
        if ta.keys() != tb.keys() or any(not bool((ta[k] == tb[k]).all()) for k in ta):
            return False
    return True


# -- a full disk --------------------------------------------------------------------------------------
def _in_small_tmpfs(mount: Path, size: str, argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = f'mount -t tmpfs -o size={size} tmpfs "{mount}" && cd "{mount}" && exec "$@"'
    return subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", *argv], env=env, capture_output=True, text=True,
                          timeout=1800)


def disk_full(work: Path) -> dict[str, Any]:
    if shutil.which("unshare") is None:
        return {"part": "disk full", "runs": "skipped: no unshare", "faults": 0, "by kind": {}, "accounted": False,
                "detail": {}, "seconds": 0}
    t0 = time.perf_counter()
    mount = work / "small"
    mount.mkdir(exist_ok=True)
    src = work / "big.jsonl"
    # 3,000 records, ~2.5 MB of output: more than the 1 MB disk holds
    src.write_text("".join(json.dumps({"id": str(i), "prompt": "p" * 200, "completion": f"{i} + 1 = {i + 1}. " * 20}) + "\n"
                           for i in range(3000)))
    cfg = work / "small.toml"
    cfg.write_text(f'[frameworks.empirical]\n[cache]\npath = "{mount / "cache"}"\n')
    check = (f'{sys.executable} -c "import os,sys; p=\'{mount}\'; '
             "print('LEFT', sorted(os.listdir(p)))\"")
    score = _in_small_tmpfs(mount, "1m", ["sh", "-c", " ".join(_chil("score", str(src), "-o", str(mount / "out.jsonl"),
                                                                         "--config", str(cfg))) + f"; echo RC=$?; {check}"],
                            _env())
    err_lines = [x for x in score.stderr.splitlines() if x.startswith("error:")]
    # (a cache write that fails on the full disk is logged as a warning, with its traceback, and scoring
    # goes on; what must not happen is an uncaught exception: the run ends on its one error line)
    score_ok = ("RC=2" in score.stdout and len(err_lines) == 1 and "No space left on device" in err_lines[0]
                and score.stderr.strip().splitlines()[-1] == err_lines[0]
                and "out.jsonl" not in score.stdout.split("LEFT", 1)[-1] and ".chil-score-" not in score.stdout)
    # chil train: the checkpoints outgrow the disk
    from chil_core.training.policy import byte_tokenizer, tiny_policy

    tok = byte_tokenizer()
    model_dir = work / "tiny-disk"
    tiny_policy(tok, hidden_size=32, num_layers=2, num_heads=2, seed=0).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    data = work / "prompts-disk.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"{i}+1=", "answer": str(i + 1)}) + "\n" for i in range(16)))
    tcfg = work / "train-disk.toml"
    tcfg.write_text('[frameworks.empirical]\n[cache]\npath = ""\n')
    probe = (f'{sys.executable} -c "from chil_core.training.checkpoint import Checkpointer; '
             f"c = Checkpointer('{mount / 'run'}'); p = c.latest(); print('LATEST', p and p.name); "
             "p and Checkpointer.load(p); print('LOADS')\"")
    train = _in_small_tmpfs(mount, "1m", ["sh", "-c", " ".join(_chil(
        "train", "--config", str(tcfg), "--model", str(model_dir), "--data", str(data), "--max-steps", "30",
        "--output-dir", str(mount / "run"), "--no-progress", "--set", "save_every=1", "--set", "tensorboard=false",
        "--set", "prompts_per_step=2", "--set", "group_size=2", "--set", "max_new_tokens=4", "--set", "keep_checkpoints=3"))
        + f"; echo RC=$?; {probe}"], _env())
    terr = [x for x in train.stderr.splitlines() if x.startswith("error:")]
    latest = next((x.split(None, 1)[1] for x in train.stdout.splitlines() if x.startswith("LATEST ")), "None")
    train_ok = ("RC=2" in train.stdout and len(terr) == 1 and "No space left on device" in terr[0]
                and train.stderr.strip().splitlines()[-1] == terr[0] and latest != "None" and "LOADS" in train.stdout)
    return {"part": "disk full (1 MB tmpfs)", "runs": "score and train stopped cleanly" if score_ok and train_ok else "see detail",
            "faults": 2, "by kind": {"score": "ok" if score_ok else "FAIL", "train": "ok" if train_ok else "FAIL"},
            "accounted": score_ok and train_ok,
            "detail": {"train_latest_checkpoint": latest, "score_error": err_lines, "score_stdout": score.stdout[-500:], "score_stderr": score.stderr[-800:] if not score_ok else "",
                       "train_error": terr, "train_stdout": train.stdout[-500:], "train_stderr": train.stderr[-1500:] if not train_ok else ""},
            "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--rate", type=float, default=0.01)
    ap.add_argument("--score-records", type=int, default=2000, help="records of each killed chil score run")
    ap.add_argument("--train-steps", type=int, default=12, help="steps of each killed chil train run")
    ap.add_argument("--parts", default="inject,kill-score,kill-train,disk")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    rows = []
    with tempfile.TemporaryDirectory(prefix="chil-faults-") as tmp:
        work = Path(tmp)
        for part in parts:
            d = work / part
            d.mkdir()
            if part == "inject":
                rows.append(inject_scoring(args.records, args.rate, d))
                print(json.dumps(rows[-1]), flush=True)
                rows.append(inject_training(args.steps, args.rate, d))
            elif part == "kill-score":
                rows.append(kill_score(args.score_records, args.kills, d))
            elif part == "kill-train":
                rows.append(kill_train(args.train_steps, args.kills, d))
            elif part == "disk":
                rows.append(disk_full(d))
            print(json.dumps(rows[-1]), flush=True)
    print(table([{"part": r["part"], "faults injected": r["faults"], "by kind": json.dumps(r["by kind"]), "runs completed": r["runs"],
                  "accounted / exact": "yes" if r["accounted"] else "NO", "s": r["seconds"]} for r in rows]))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    sys.exit(0 if all(r["accounted"] for r in rows) else 1)


if __name__ == "__main__":
    main()
