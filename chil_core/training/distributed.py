"""Data-parallel GRPO: ``chil train`` under ``torchrun`` (gloo on CPU, NCCL on GPU).

```bash
torchrun --standalone --nproc-per-node 2 -m chil_core.cli train --output-dir runs/ddp --max-steps 200
```

* **Sharding.** Every process walks the same prompt order (same seed); of each step's
  ``prompts_per_step`` prompts, process r takes the r-th contiguous shard (``prompts_per_step`` must be
  a multiple of the number of processes).  Groups never straddle processes, so group advantages are
  computed locally and exactly.
* **Generation per process**, with its own sampling stream (seed + rank); **rewards** scored once per
  process by its own Scorer; with ``[scheduler] ray_address`` in the config, every process's backends are
  the same shared Ray actors.  (``chil train`` has no client for a shared ``chil serve``: that service is
  for trainers outside chil, e.g. OpenRLHF's ``--reward.remote_url``.)
* **Gradients.** Each process computes the loss of its shard with the *global* normalisers (sequences and
  tokens of the whole step, summed over processes), and the gradients are summed over processes (one
  bucketed all-reduce per optimizer step): the update is the one a single process computes on the whole
  global batch, up to floating-point summation order (``tests/scale/test_ddp.py``).  Every process
  then applies the same clipped step, so the weights stay identical; they are broadcast from rank 0 at
  the start.  This is DDP's algorithm with the all-reduce after the micro-batch loop rather than inside
  ``backward``: the processes may run different numbers of micro-batches (rows without signal are not
  computed), which DDP's per-backward hooks do not allow.
* **Checkpoints** are written by rank 0 with the pending batch of every process; a run resumes on
  another number of processes (the pending batch is then sampled again, and logged).

Not supported across processes (refused at start): ``scale_rewards = "batch"`` and
``normalize_then_sum_scale = "batch"`` (batch statistics would need an all-gather of rewards) and
``top_entropy_quantile < 1`` (a global quantile); ``loss_type = "bnpo"`` normalises per process micro-batch,
as TRL does per device.  ``[train] distributed = "fsdp"`` shards the parameters, gradients and optimizer
state over the processes instead of replicating them (:mod:`chil_core.training.fsdp`).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from chil_core.training.checkpoint import Checkpointer
from chil_core.training.trainer import Rollout, Trainer, _UpdatePlan

log = logging.getLogger(__name__)


@dataclass
class Dist:
    """This process's place in the job (world 1: a plain single-process run)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    initialized_here: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @classmethod
    def from_env(cls) -> Dist:
        """From torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK); initialises the process group."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        import torch.distributed as dist

        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        here = False
        if not dist.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            if backend == "nccl":
                torch.cuda.set_device(local)
            dist.init_process_group(backend)
            here = True
        return cls(rank, world, local, here)

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            import torch.distributed as dist

            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def gather_objects(self, obj: Any) -> list[Any]:
        if not self.enabled:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def broadcast_model(self, model: torch.nn.Module) -> None:
        if self.enabled:
            import torch.distributed as dist

            with torch.no_grad():
                for t in list(model.parameters()) + list(model.buffers()):
                    dist.broadcast(t.data, src=0)

    def close(self) -> None:
        """Every process reaches this point before any tears its process group down (a process that
        destroys its group while a peer still has collectives in flight can take the job down at exit)."""
        self.barrier()
        if self.initialized_here:
            import torch.distributed as dist

            dist.destroy_process_group()


def check_config(config: Any, world: int) -> None:
    """Refuse the options that need whole-batch statistics across processes, naming the field."""
    if config.prompts_per_step % world:
        raise ValueError(f"prompts_per_step: {config.prompts_per_step} is not a multiple of the {world} processes")
    if config.scale_rewards == "batch":
        raise ValueError("scale_rewards: 'batch' is not supported across processes; use 'group' or 'none'")
    if config.reward_aggregation == "normalize_then_sum" and config.normalize_then_sum_scale == "batch":
        raise ValueError("normalize_then_sum_scale: 'batch' is not supported across processes")
    if config.top_entropy_quantile < 1.0:
        raise ValueError("top_entropy_quantile: < 1 is not supported across processes (a global quantile)")


def shard_rollout(batch: Rollout, rank: int, world: int, group_size: int) -> Rollout:
    """Process ``rank``'s contiguous share of a generation batch (whole groups)."""
    n_rows = len(batch.rows)
    if n_rows % world:
        raise ValueError(f"{n_rows} prompts cannot be split evenly over {world} processes")
    per = n_rows // world
    r0, r1 = rank * per, (rank + 1) * per
    c0, c1 = r0 * group_size, r1 * group_size
    s = batch.seqs
    used = torch.arange(r0, r1, device=s.prompt_index.device)
    from chil_core.training.policy import SequenceBatch

    seqs = SequenceBatch(s.prompt_ids[used], s.prompt_mask[used], s.prompt_index[c0:c1] - r0,
                         s.completion_ids[c0:c1], s.completion_mask[c0:c1])
    return Rollout(batch.tag, batch.rows[r0:r1], seqs, batch.logps[c0:c1], batch.truncated[c0:c1],
                   batch.entropy[c0:c1], batch.completions[c0:c1], generate_s=batch.generate_s)


class DistributedTrainer(Trainer):
    """:class:`Trainer` over ``dist.world`` processes; see the module docstring."""

    def __init__(self, config: Any, model: Any, tokenizer: Any, dataset: Any, rewards: Any, *, dist: Dist,
                 run_dir: str | Path | None = None, eval_rows: Sequence[Any] | None = None) -> None:
        check_config(config, dist.world)
        self.dist = dist
        self.shared_dir = Path(run_dir or config.output_dir)
        # only rank 0 writes into the run directory; the others log into a scratch directory
        own_dir = self.shared_dir if dist.is_main else Path(tempfile.mkdtemp(prefix=f"chil-rank{dist.rank}-"))
        super().__init__(config, model, tokenizer, dataset, rewards, run_dir=own_dir, eval_rows=eval_rows)
        self.broadcast_weights()
        self.sync_sampler()
        if self.ref_model is not None:
            self.ref_model.load_state_dict(self.model.state_dict())
        self.sampler_rng.manual_seed(config.seed + 1_000_003 * dist.rank)

    def broadcast_weights(self) -> None:
        """Rank 0's weights to every process (at the start and after a resume)."""
        self.dist.broadcast_model(self.model)

    # -- sharding ------------------------------------------------------------------------------------
    def next_rows(self) -> tuple[list[Any], str]:
        """This rank's share of the next B prompts (the same global order on every process)."""
        c, d = self.config, self.dist
        ids = self.order.take(c.prompts_per_step)
        per = c.prompts_per_step // d.world
        self.generated += 1
        return self.dataset.rows(ids[d.rank * per:(d.rank + 1) * per]), f"{self.generated}r{d.rank}"

    # -- the update ----------------------------------------------------------------------------------
    def _plan_update(self, batch: Rollout, rewards: list[Any]) -> _UpdatePlan:
        plan = super()._plan_update(batch, rewards)
        counts = torch.tensor([plan.num_sequences, plan.num_tokens], dtype=torch.float64)
        self.dist.all_reduce_sum(counts)
        plan.num_sequences, plan.num_tokens = int(counts[0]), int(counts[1])
        return plan

    def reduce_grads(self) -> None:
        self.all_reduce_grads()

    def all_reduce_grads(self, bucket_mb: float = 25.0) -> None:
        """Sum every gradient over the processes, in buckets of about ``bucket_mb`` MB."""
        if not self.dist.enabled:
            return
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        bucket: list[torch.Tensor] = []
        size = 0
        limit = int(bucket_mb * 1024 * 1024)

        def flush() -> None:
            if not bucket:
                return
            flat = torch.cat([g.reshape(-1) for g in bucket])
            self.dist.all_reduce_sum(flat)
            at = 0
            for g in bucket:
                n = g.numel()
                g.copy_(flat[at:at + n].view_as(g))
                at += n
            bucket.clear()

        for g in grads:
            bucket.append(g)
            size += g.numel() * g.element_size()
            if size >= limit:
                flush()
                size = 0
        flush()

    def train_step(self) -> dict[str, float]:
        out = super().train_step()
        # rewards and timings averaged over the processes (what rank 0 logs)
        keys = sorted(k for k, v in out.items() if isinstance(v, int | float))
        every = self.dist.gather_objects(keys)
        common = [k for k in keys if all(k in ks for ks in every)]
        vals = torch.tensor([float(out[k]) for k in common], dtype=torch.float64)
        self.dist.all_reduce_sum(vals)
        for k, v in zip(common, (vals / self.dist.world).tolist(), strict=True):
            if not k.startswith(("loss", "grad_norm", "lr")):  # these are global already (sum / same on all)
                out[k] = v
        out["dist/world_size"] = float(self.dist.world)
        # a monitor that stops the run on one process stops it on all (else the others would wait forever)
        stops = self.dist.gather_objects(self.monitor.stop_reason)
        if self.monitor.stop_reason is None:
            self.monitor.stop_reason = next((f"rank {r}: {why}" for r, why in enumerate(stops) if why), None)
        return out

    # -- checkpoints (after_step is the Trainer's: only rank 0 has held-out rows; the others log into
    #    their scratch directory; save_checkpoint below is a collective) -----------------------------------
    def state_dict(self) -> dict[str, Any]:
        st = super().state_dict()
        shards = self.dist.gather_objects(st.pop("pending"))  # every process's pending batch, for rank 0
        st["pending"] = None
        st["pending_shards"] = shards
        st["world_size"] = self.dist.world
        return st

    def save_checkpoint(self) -> Future[Path]:
        st = self.state_dict()  # a collective: every process takes part
        if self.dist.is_main:
            return self.checkpointer.save(self.step, st)
        done: Future[Path] = Future()
        done.set_result(self.shared_dir)
        return done

    def resume(self, path: str | Path | None = None) -> bool:
        ckpt = Path(path) if path else Checkpointer(self.shared_dir).latest()
        found = self.dist.gather_objects(str(ckpt) if ckpt else None)[0]  # rank 0's choice for everyone
        if found is None:
            return False
        ok = super().resume(found)
        st = Checkpointer.load(Path(found))
        shards = st.get("pending_shards")
        if st.get("pending") is not None:  # written by a single process: this process takes its share
            try:
                self.pending = self.submit(shard_rollout(Rollout.from_state(st["pending"]), self.dist.rank,
                                                         self.dist.world, self.config.group_size))
            except ValueError:
                log.warning("the checkpoint's pending batch cannot be split over %d processes; it is sampled again",
                            self.dist.world)
                self.pending = None
        if st.get("pending") is None and shards is not None:
            if len(shards) == self.dist.world:
                mine = shards[self.dist.rank]
                self.pending = self.submit(Rollout.from_state(mine)) if mine is not None else None
            else:
                log.warning("checkpoint written by %d processes, resumed on %d: its pending batch is sampled again",
                            len(shards), self.dist.world)
                self.pending = None
        if self.dist.rank:
            self.sampler_rng.manual_seed(self.config.seed + 1_000_003 * self.dist.rank + self.step)
        self.broadcast_weights()
        self.sync_sampler()
        return ok

    def close(self) -> None:
        super().close()
        if not self.dist.is_main:
            shutil.rmtree(self.run_dir, ignore_errors=True)
