"""Data-parallel training: 2 CPU processes (torchrun, gloo) reach the same weights as 1 process on the
same global batches, with DDP and with FSDP; sharding, refused options, FSDP's whole-state checkpoints, and
``chil train`` under torchrun resumed at another world size and under another kind of parallelism."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from chil_core.training.config import build_train_config  # noqa: E402
from chil_core.training.distributed import check_config, shard_rollout  # noqa: E402
from chil_core.training.policy import SequenceBatch  # noqa: E402
from chil_core.training.rows import PromptRow  # noqa: E402
from chil_core.training.trainer import Rollout  # noqa: E402

HERE = Path(__file__).resolve().parent
TORCHRUN = Path(sys.executable).with_name("torchrun")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIL")}
    env["OMP_NUM_THREADS"] = "1"
    return env


def _run(tmp: Path, nproc: int, name: str, loss_type: str, steps: int = 3, parallel: str = "ddp",
         beta: float = 0.0) -> dict:
    out = tmp / f"{name}.pt"
    cmd = ([str(TORCHRUN), "--standalone", f"--nproc-per-node={nproc}"] if nproc > 1 else [sys.executable])
    args = [*cmd, str(HERE / "ddp_equality.py"), str(out), str(steps), loss_type, parallel, str(beta)]
    proc = subprocess.run(args, cwd=tmp, env=_env(), capture_output=True, text=True, timeout=600)
    if proc.returncode and nproc > 1 and _crashed(proc.stderr):
        # A process killed by a signal (once on CI: "terminate called without an active exception", SIGABRT in
        # rank 1; not reproduced here in 33 launches, idle or loaded) says nothing about the update under test,
        # whose weights are compared only from a clean run: shown as a warning and run once more; a second
        # crash fails the test.
        warnings.warn(f"torchrun crashed once, run again: {proc.stderr[-1500:]}", stacklevel=2)
        out.unlink(missing_ok=True)
        proc = subprocess.run(args, cwd=tmp, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return torch.load(out)


def _crashed(stderr: str) -> bool:
    """torchrun's root cause is a rank killed by a signal ("exitcode : -6"), as opposed to a Python error or a
    failed check, which exit with a status (and are never run again)."""
    _, found, root = stderr.rpartition("Root Cause")
    return bool(found) and re.search(r"exitcode\s*:\s*-\d+", root) is not None


@pytest.mark.slow  # two torchrun launches: about a minute on this machine
@pytest.mark.parametrize("loss_type", ["dapo", "grpo"])
def test_two_processes_reach_the_weights_of_one(tmp_path, loss_type):
    one = _run(tmp_path, 1, "one", loss_type)
    two = _run(tmp_path, 2, "two", loss_type)
    assert one["world"] == 1 and two["world"] == 2
    assert one["moved"] > 1e-3  # the updates did something (else equality would be vacuous)
    diff = max(float((one["state"][k] - two["state"][k]).abs().max()) for k in one["state"])
    assert diff < 1e-4, f"weights differ by {diff:g} after 3 steps (moved {one['moved']:g})"


@pytest.mark.slow  # two launches, about a minute each on this machine
@pytest.mark.parametrize(("loss_type", "beta"), [("dapo", 0.0), ("grpo", 0.04)])
def test_fsdp_over_two_processes_reaches_the_weights_of_one(tmp_path, loss_type, beta):
    """Sharded parameters, gradients and AdamW moments; with beta > 0 a sharded reference model (synced
    with the policy every 2 optimizer steps) and two iterations per batch."""
    one = _run(tmp_path, 1, "one", loss_type, beta=beta)
    two = _run(tmp_path, 2, "fsdp", loss_type, parallel="fsdp", beta=beta)
    assert two["world"] == 2 and two["parallel"] == "fsdp"
    assert one["moved"] > 1e-3
    if beta == 0:  # rows without signal are skipped, so the processes had different numbers of micro-batches
        assert two["padding_passes"] > 0
    assert set(one["state"]) == set(two["state"])
    diff = max(float((one["state"][k] - two["state"][k]).abs().max()) for k in one["state"])
    assert diff < 1e-4, f"weights differ by {diff:g} after 3 steps (moved {one['moved']:g})"


def _equality_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("ddp_equality", HERE / "ddp_equality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def one_process_group(tmp_path):
    """A real gloo process group of one process, in this process (FSDP needs one; torchrun is slow)."""
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path}/pg-store", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_fsdp_checkpoint_has_the_one_process_format_and_resumes_exactly(tmp_path, one_process_group):
    """FSDP's gathered state (real fully_shard, DTensor shards, a 1-process group) is the plain trainer's
    checkpoint, value for value; a plain checkpoint loaded into an FSDP trainer gives the same next update."""
    from chil_core.training import default_task
    from chil_core.training.checkpoint import snapshot
    from chil_core.training.data import PromptDataset
    from chil_core.training.distributed import Dist
    from chil_core.training.fsdp import FSDPTrainer
    from chil_core.training.policy import byte_tokenizer, tiny_policy
    from chil_core.training.trainer import Trainer

    digits = _equality_module().DigitShare()
    tok = byte_tokenizer()
    cfg = build_train_config({"prompts_per_step": 2, "group_size": 4, "max_new_tokens": 8, "micro_batch_size": 3,
                              "learning_rate": 3e-3, "overlap_rewards": False, "pipeline_generation": False,
                              "tensorboard": False, "progress": False, "threads": 1, "temperature": 1.5,
                              "distributed": "fsdp", "output_dir": str(tmp_path / "out")})
    dataset = PromptDataset(default_task.TRAIN_FILE)

    def policy(seed: int):
        return tiny_policy(tok, seed=seed, hidden_size=32, num_layers=2, num_heads=2)

    def batch(trainer, k: int):
        trainer.sampler_rng.manual_seed(100 + k)
        ro = trainer.generate(dataset.rows([2 * k, 2 * k + 1]), cfg.group_size, cfg.temperature, f"b{k}",
                              model=trainer.sampler_model)
        return ro, digits.score(ro.records(cfg.group_size))

    plain = Trainer(cfg, policy(0), tok, dataset, digits, run_dir=tmp_path / "plain")
    sharded = FSDPTrainer(cfg, policy(0), tok, dataset, digits, dist=Dist(), run_dir=tmp_path / "fsdp")
    resumed = FSDPTrainer(cfg, policy(1), tok, dataset, digits, dist=Dist(), run_dir=tmp_path / "resumed")
    try:
        assert any(type(p).__name__ == "DTensor" for p in sharded.model.parameters())
        ro, rewards = batch(plain, 0)
        for t in (plain, sharded):
            t.update(ro, rewards)
            t.sync_sampler()
            t.step = 1
        a, b = snapshot(plain.state_dict()), sharded.state_dict()  # (a plain state shares the live tensors)
        assert a["model"].keys() == b["model"].keys()
        for k, v in a["model"].items():
            assert type(b["model"][k]) is torch.Tensor and b["model"][k].shape == v.shape
            # 1e-5: float32 sums in another order (FSDP's reduction, the CPU's kernels) move an Adam step
            # (lr 3e-3) by ~1e-6 on some machines; a missing or doubled update moves it by ~3e-3
            assert torch.allclose(b["model"][k], v, atol=1e-5), (k, (b["model"][k] - v).abs().max().item())
        assert a["optimizer"]["param_groups"] == b["optimizer"]["param_groups"]
        assert a["optimizer"]["state"].keys() == b["optimizer"]["state"].keys() and a["optimizer"]["state"]
        for i, st in a["optimizer"]["state"].items():
            assert st.keys() == b["optimizer"]["state"][i].keys()
            for k, v in st.items():
                assert type(b["optimizer"]["state"][i][k]) is torch.Tensor and torch.allclose(b["optimizer"]["state"][i][k], v, atol=1e-6)
        for k, v in sharded.sampler_model.state_dict().items():  # the full sampling copy has the new weights
            assert torch.equal(v, b["model"][k]), k

        path = plain.save_checkpoint().result()  # a one-process checkpoint, resumed under FSDP
        assert resumed.resume(path) and resumed.step == 1
        ro, rewards = batch(plain, 1)
        for t in (plain, resumed):
            t.update(ro, rewards)  # the same next update: weights *and* AdamW moments came back
        after = resumed.model_state()
        moved = max(float((after[k] - a["model"][k]).abs().max()) for k in after)
        diff = max(float((after[k] - v).abs().max()) for k, v in plain.model_state().items())
        assert moved > 1e-4 and diff < 1e-5, (moved, diff)
    finally:
        for t in (plain, sharded, resumed):
            t.close()


def _rollout(n_prompts: int, g: int) -> Rollout:
    rows = [PromptRow(str(i), f"p{i}") for i in range(n_prompts)]
    n = n_prompts * g
    seqs = SequenceBatch(torch.arange(n_prompts * 3).view(n_prompts, 3), torch.ones(n_prompts, 3, dtype=torch.long),
                         torch.arange(n_prompts).repeat_interleave(g), torch.arange(n * 5).view(n, 5),
                         torch.ones(n, 5, dtype=torch.long))
    return Rollout("t", rows, seqs, torch.randn(n, 5), torch.zeros(n, dtype=torch.bool), torch.rand(n),
                   [f"c{j}" for j in range(n)])


def test_shards_are_whole_groups_and_cover_the_batch():
    batch = _rollout(4, 3)
    shards = [shard_rollout(batch, r, 2, 3) for r in range(2)]
    assert [len(s.rows) for s in shards] == [2, 2]
    assert sum((s.completions for s in shards), []) == batch.completions
    assert torch.equal(torch.cat([s.seqs.completion_ids for s in shards]), batch.seqs.completion_ids)
    assert torch.equal(torch.cat([s.logps for s in shards]), batch.logps)
    for r, s in enumerate(shards):  # each completion still points at its own prompt
        assert torch.equal(s.seqs.prompt_ids[s.seqs.prompt_index], batch.seqs.prompt_ids[batch.seqs.prompt_index][r * 6:(r + 1) * 6])
        assert [rec.group for rec in s.records(3)] == [f"t:{i}" for i in range(2) for _ in range(3)]
    with pytest.raises(ValueError, match="evenly"):
        shard_rollout(_rollout(3, 2), 0, 2, 2)


def test_options_that_need_the_whole_batch_are_refused_by_name():
    check_config(build_train_config({"prompts_per_step": 8}), 2)
    for values, field in (({"prompts_per_step": 7}, "prompts_per_step"), ({"scale_rewards": "batch"}, "scale_rewards"),
                          ({"top_entropy_quantile": 0.5}, "top_entropy_quantile"),
                          ({"reward_aggregation": "normalize_then_sum", "normalize_then_sum_scale": "batch"},
                           "normalize_then_sum_scale")):
        with pytest.raises(ValueError, match=field):
            check_config(build_train_config({"prompts_per_step": 8, **values}), 2)


@pytest.fixture(scope="module")
def warm_start(tmp_path_factory) -> Path:
    """The embedded policy's warm start, as ``chil train`` builds it (about 45 s here), built once and given
    to the runs below as their ``model`` (a saved policy, as a user's would be) instead of built by each."""
    from chil_core.training import default_task

    run = tmp_path_factory.mktemp("warm")
    default_task.warm_started_policy(run, build_train_config({}).seed, echo=lambda *_: None)
    return run / "warm_start"


@pytest.mark.slow  # two or three short training runs
@pytest.mark.parametrize("parallel", ["ddp", "fsdp"])
def test_chil_train_under_torchrun_resumes_on_one_process(tmp_path, parallel, warm_start):
    """2 processes train 2 steps (rank 0 writes the run), then 1 process resumes the run to step 3; under
    FSDP the checkpoint holds the whole state (as the saved policy), and 2 FSDP processes resume the
    1-process checkpoint to step 4."""
    from chil_core.training.checkpoint import Checkpointer

    run = tmp_path / "run"
    common = ["--set", "prompts_per_step=4", "--set", "group_size=4", "--set", "max_new_tokens=16",
              "--set", "save_every=1", "--set", "tensorboard=false", "--set", "progress=false",
              "--set", f"distributed={parallel}", "--set", f"model={warm_start}"]
    first = subprocess.run([str(TORCHRUN), "--standalone", "--nproc-per-node=2", "-m", "chil_core.cli", "train",
                            "--output-dir", str(run), "--max-steps", "2", *common],
                           cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=1200)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 2 and summary["distributed"] == parallel
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [1, 2] and all(x["dist/world_size"] == 2 for x in lines)
    assert not list(tmp_path.glob("chil-rank1-*"))
    if parallel == "fsdp":
        from transformers import AutoModelForCausalLM

        st = Checkpointer.load(Checkpointer(run).latest())
        saved = AutoModelForCausalLM.from_pretrained(run / "policy").state_dict()
        assert st["model"].keys() == saved.keys()
        assert all(torch.equal(v, saved[k]) for k, v in st["model"].items())  # whole tensors, the final weights
        params = list(AutoModelForCausalLM.from_pretrained(run / "policy").parameters())
        moments = st["optimizer"]["state"]
        assert sorted(moments) == list(range(len(params)))
        assert all(moments[i]["exp_avg"].shape == p.shape for i, p in enumerate(params))
    shutil.rmtree(run / "policy")
    second = subprocess.run([sys.executable, "-m", "chil_core.cli", "train", "--output-dir", str(run), "--max-steps", "3",
                             "--resume", *common], cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=1200)
    assert second.returncode == 0, second.stderr[-3000:]
    assert json.loads((run / "summary.json").read_text())["steps"] == 3
    assert (run / "policy").is_dir()
    if parallel == "fsdp":  # and back to FSDP on 2 processes, from the 1-process checkpoint
        third = subprocess.run([str(TORCHRUN), "--standalone", "--nproc-per-node=2", "-m", "chil_core.cli", "train",
                                "--output-dir", str(run), "--max-steps", "4", "--resume", *common],
                               cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=1200)
        assert third.returncode == 0, third.stderr[-3000:]
        summary = json.loads((run / "summary.json").read_text())
        assert summary["steps"] == 4 and summary["world_size"] == 2
        lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
        assert [x["step"] for x in lines] == [1, 2, 3, 4]
