"""Data-parallel training: 2 CPU processes (torchrun, gloo) reach the same weights as 1 process on the
same global batches; sharding, refused options, and ``chil train`` under torchrun resumed at another
world size."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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


def _run(tmp: Path, nproc: int, name: str, loss_type: str, steps: int = 3) -> dict:
    out = tmp / f"{name}.pt"
    cmd = ([str(TORCHRUN), "--standalone", f"--nproc-per-node={nproc}"] if nproc > 1 else [sys.executable])
    proc = subprocess.run([*cmd, str(HERE / "ddp_equality.py"), str(out), str(steps), loss_type], cwd=tmp, env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return torch.load(out)


@pytest.mark.slow  # two torchrun launches: about a minute on this machine
@pytest.mark.parametrize("loss_type", ["dapo", "grpo"])
def test_two_processes_reach_the_weights_of_one(tmp_path, loss_type):
    one = _run(tmp_path, 1, "one", loss_type)
    two = _run(tmp_path, 2, "two", loss_type)
    assert one["world"] == 1 and two["world"] == 2
    assert one["moved"] > 1e-3  # the updates did something (else equality would be vacuous)
    diff = max(float((one["state"][k] - two["state"][k]).abs().max()) for k in one["state"])
    assert diff < 1e-4, f"weights differ by {diff:g} after 3 steps (moved {one['moved']:g})"


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


@pytest.mark.slow  # a warm start and two short training runs
def test_chil_train_under_torchrun_resumes_on_one_process(tmp_path):
    """2 processes train 2 steps (rank 0 writes the run), then 1 process resumes the run to step 3."""
    run = tmp_path / "run"
    common = ["--set", "prompts_per_step=4", "--set", "group_size=4", "--set", "max_new_tokens=16",
              "--set", "save_every=1", "--set", "tensorboard=false", "--set", "progress=false"]
    first = subprocess.run([str(TORCHRUN), "--standalone", "--nproc-per-node=2", "-m", "chil_core.cli", "train",
                            "--output-dir", str(run), "--max-steps", "2", *common],
                           cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=1200)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 2
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [1, 2] and all(x["dist/world_size"] == 2 for x in lines)
    assert not list(tmp_path.glob("chil-rank1-*"))
    shutil.rmtree(run / "policy")
    second = subprocess.run([sys.executable, "-m", "chil_core.cli", "train", "--output-dir", str(run), "--max-steps", "3",
                             "--resume", *common], cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=1200)
    assert second.returncode == 0, second.stderr[-3000:]
    assert json.loads((run / "summary.json").read_text())["steps"] == 3
    assert (run / "policy").is_dir()
