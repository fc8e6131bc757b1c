"""N GRPO updates on the same global batches, run by 1 or by 2 processes (``torchrun``), weights saved.

Every process samples the whole global batch of each step with the same seeded generator (the weights
are the same everywhere, so the batch is too), takes its shard (``shard_rollout``), rewards it and updates
through :class:`DistributedTrainer` (gradients summed over the processes).  The reward is the share of
digits in the completion (an untrained policy never earns a verifier's reward, and a reward without spread
trains nothing): what is under test is the update, not the reward.  One process does the same on the whole batch; ``test_ddp.py`` compares the weights.

    torchrun --standalone --nproc-per-node 2 tests/scale/ddp_equality.py OUT.pt STEPS LOSS_TYPE
"""

from __future__ import annotations

import sys
import tempfile
import time

import torch


def main(out: str, steps: int, loss_type: str) -> None:
    torch.set_num_threads(1)  # the same kernels (and sums) in every process
    from concurrent.futures import Future

    from chil_core.contracts import FrameworkResult, RecordReward
    from chil_core.training import default_task
    from chil_core.training.config import build_train_config
    from chil_core.training.data import PromptDataset
    from chil_core.training.distributed import Dist, DistributedTrainer, shard_rollout
    from chil_core.training.policy import byte_tokenizer, tiny_policy

    class DigitShare:
        """Reward = share of digit characters in the completion (graded, so groups have spread)."""

        def submit(self, records):
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

    dist = Dist.from_env()
    tok = byte_tokenizer()
    model = tiny_policy(tok, seed=0, hidden_size=64, num_layers=2, num_heads=4)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = build_train_config({
            "prompts_per_step": 4, "group_size": 4, "max_new_tokens": 10, "micro_batch_size": 3,
            "learning_rate": 3e-3, "loss_type": loss_type, "seed": 0, "output_dir": tmp, "overlap_rewards": False,
            "pipeline_generation": False, "tensorboard": False, "progress": False, "threads": 1, "temperature": 1.5,
        })
        dataset = PromptDataset(default_task.TRAIN_FILE)
        scorer = DigitShare()
        if True:
            trainer = DistributedTrainer(cfg, model, tok, dataset, scorer, dist=dist, run_dir=tmp)
            t0 = time.perf_counter()
            for step in range(steps):
                rows = dataset.rows(list(range(step * 4, step * 4 + 4)))
                trainer.sampler_rng.manual_seed(1000 + step)  # the same global batch in every process
                batch = trainer.generate(rows, cfg.group_size, cfg.temperature, f"s{step}", model=trainer.model)
                mine = shard_rollout(batch, dist.rank, dist.world, cfg.group_size)
                rewards = scorer.score(mine.records(cfg.group_size))
                trainer.update(mine, rewards)
                trainer.step += 1
            elapsed = time.perf_counter() - t0
            if dist.is_main:
                init = tiny_policy(tok, seed=0, hidden_size=64, num_layers=2, num_heads=4).state_dict()
                moved = max(float((v - init[k]).abs().max()) for k, v in trainer.model.state_dict().items())
                torch.save({"state": {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}, "moved": moved,
                            "world": dist.world, "seconds": elapsed}, out)
            trainer.close()
    dist.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
