"""N GRPO updates on the same global batches, run by 1 or by 2 processes (``torchrun``, DDP or FSDP), weights saved.

Every process samples the whole global batch of each step with the same seeded generator (the weights
are the same everywhere, so the batch is too), takes its shard (``shard_rollout``), rewards it and updates
through :class:`DistributedTrainer` (gradients summed over the processes).  The reward is the share of
digits in the completion (an untrained policy never earns a verifier's reward, and a reward without spread
trains nothing): what is under test is the update, not the reward.  One process does the same on the whole batch; ``test_ddp.py`` compares the weights.

    torchrun --standalone --nproc-per-node 2 tests/scale/ddp_equality.py OUT.pt STEPS LOSS_TYPE [ddp|fsdp] [BETA]

With ``fsdp`` the weights are sharded (:class:`FSDPTrainer`); each batch is sampled by the full copy the
FSDP trainer keeps for sampling (the policy itself under DDP and on one process).  ``BETA`` > 0 adds the
KL term (a reference model, sharded too under FSDP, mixed with the policy every 2 optimizer steps) and two
iterations per batch.
"""

from __future__ import annotations

import sys
import tempfile
import time

import torch


class DigitShare:
    """Reward = share of digit characters in the completion (graded, so groups have spread)."""

    def submit(self, records):
        from concurrent.futures import Future

        from chil_core.contracts import FrameworkResult, RecordReward

        out = []
        for r in records:
            share = sum(ch.isdigit() for ch in r.completion) / max(len(r.completion), 1)
            res = FrameworkResult(status="scored", score=round(share, 6))
            out.append(RecordReward(id=r.id, reward=res.score, frameworks={"digits": res}, weights={"digits": 1.0}))
        fut = Future()
        fut.set_result(out)
        return fut

    def score(self, records):
        return self.submit(records).result()


def main(out: str, steps: int, loss_type: str, parallel: str = "ddp", beta: float = 0.0) -> None:
    torch.set_num_threads(1)  # the same kernels (and sums) in every process
    from chil_core.training import default_task
    from chil_core.training.config import build_train_config
    from chil_core.training.data import PromptDataset
    from chil_core.training.distributed import Dist, DistributedTrainer, shard_rollout
    from chil_core.training.fsdp import FSDPTrainer
    from chil_core.training.policy import byte_tokenizer, tiny_policy

    dist = Dist.from_env()
    tok = byte_tokenizer()
    model = tiny_policy(tok, seed=0, hidden_size=64, num_layers=2, num_heads=4)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = build_train_config({
            "prompts_per_step": 4, "group_size": 4, "max_new_tokens": 10, "micro_batch_size": 3,
            "learning_rate": 3e-3, "loss_type": loss_type, "seed": 0, "output_dir": tmp, "overlap_rewards": False,
            "pipeline_generation": False, "tensorboard": False, "progress": False, "threads": 1, "temperature": 1.5,
            "distributed": parallel, "beta": beta, "iterations": 2 if beta else 1,
            "sync_ref_model": beta > 0, "ref_model_sync_steps": 2,
        })
        dataset = PromptDataset(default_task.TRAIN_FILE)
        scorer = DigitShare()
        if True:
            cls = FSDPTrainer if parallel == "fsdp" and dist.enabled else DistributedTrainer
            trainer = cls(cfg, model, tok, dataset, scorer, dist=dist, run_dir=tmp)
            padding = 0
            t0 = time.perf_counter()
            for step in range(steps):
                rows = dataset.rows(list(range(step * 4, step * 4 + 4)))
                trainer.sampler_rng.manual_seed(1000 + step)  # the same global batch in every process
                batch = trainer.generate(rows, cfg.group_size, cfg.temperature, f"s{step}", model=trainer.sampler_model)
                mine = shard_rollout(batch, dist.rank, dist.world, cfg.group_size)
                rewards = scorer.score(mine.records(cfg.group_size))
                trainer.update(mine, rewards)
                padding += getattr(trainer, "padding_passes", 0)
                trainer.padding_passes = 0
                trainer.sync_sampler()
                trainer.step += 1
            elapsed = time.perf_counter() - t0
            state = trainer.model_state()  # (under FSDP a collective: the shards gathered into rank 0)
            paddings = dist.gather_objects(padding)
            if dist.is_main:
                init = tiny_policy(tok, seed=0, hidden_size=64, num_layers=2, num_heads=4).state_dict()
                moved = max(float((v - init[k]).abs().max()) for k, v in state.items())
                torch.save({"state": {k: v.detach().clone() for k, v in state.items()}, "moved": moved,
                            "world": dist.world, "seconds": elapsed, "parallel": parallel,
                            "padding_passes": sum(paddings)}, out)
            trainer.close()
    dist.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], *sys.argv[4:5], *[float(b) for b in sys.argv[5:6]])
