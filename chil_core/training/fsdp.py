"""FSDP: ``[train] distributed = "fsdp"`` under ``torchrun``, with PyTorch's own FSDP2 (``fully_shard``).

```bash
torchrun --standalone --nproc-per-node 2 -m chil_core.cli train --set distributed=fsdp --output-dir runs/fsdp
```

Everything :mod:`chil_core.training.distributed` says holds (each process takes whole groups of every
step's prompts, samples and scores them itself, the loss carries the global normalisers, rank 0 writes
the run, the same options are refused); what changes:

* **Sharded training state.** Every decoder layer (the classes a Hugging Face model names in
  ``_no_split_modules``), then the whole model, is wrapped with ``fully_shard`` over all processes: each
  process holds 1/N of every parameter, of its gradient and of its AdamW moments.  A forward gathers a
  layer's parameters just before the layer runs and frees them after it; backward reduce-scatters the
  gradients, *summed* (not FSDP's default average: the loss already divides by the global batch).  The
  reference model (``beta > 0``) is sharded the same way.
* **Generation from a full copy.** Processes sample different numbers of tokens (completions end at
  different steps) and every forward of a sharded model is a collective, so sampling with it would hang.
  Each process therefore samples (and evaluates, and saves the policy) with an ordinary unsharded copy
  of the weights, refreshed after every update by gathering the shards (:meth:`FSDPTrainer.sync_sampler`).
  The cost: one full copy of the weights on every process, beside the shards.  What FSDP saves is the
  rest of the training state: of the 16 bytes per parameter of a replicated fp32 AdamW run (weights,
  gradients, two moments), a process holds 4 (the copy) + 16 / N (its shards), plus one layer's gathered
  weights and gradients at a time.  A model whose weights alone do not fit one device does not train
  here; docs/scaling.md sends it to verl / OpenRLHF with chil's reward adapters.
* **The same forward calls on every process.** Processes have different numbers of micro-batches (rows
  without signal are not computed); one with fewer runs padding passes (a real row, loss x 0: they add
  nothing to any gradient) until all have made the same number.  Each micro-batch is one forward call:
  ``share_prompt`` is off (its prompt-then-completions pass makes one or two calls depending on the
  completions' lengths), which costs running each prompt once per completion instead of once per group.
* **Checkpoints** hold the whole state, gathered from the shards into rank 0: the same ``model``,
  ``optimizer`` (indexed by parameter position, full-size moments) and ``ref_model`` entries a single
  process or DDP writes, so a run resumes on any number of processes, under ddp, fsdp or alone.  On
  resume every process reads the full state and keeps its shards of it.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from chil_core.training.distributed import Dist, DistributedTrainer
from chil_core.training.policy import SequenceBatch
from chil_core.training.trainer import Rollout, _lr_factor, _UpdatePlan, build_optimizer

log = logging.getLogger(__name__)


def shard_model(model: torch.nn.Module, mesh: Any) -> None:
    """``fully_shard`` every decoder layer (``model._no_split_modules``), then the model, over ``mesh``;
    gradients are summed over the processes, with plain SUM collectives (gloo has no pre-scaled sum)."""
    from torch.distributed.fsdp import fully_shard

    layer_classes = set(getattr(model, "_no_split_modules", None) or ())
    units = [m for m in model.modules() if m is not model and type(m).__name__ in layer_classes]
    for module in units:
        fully_shard(module, mesh=mesh)
    fully_shard(model, mesh=mesh)
    for module in [*units, model]:
        module.set_gradient_divide_factor(1.0)
        module.set_force_sum_reduction_for_comms(True)


def _is_dtensor(value: Any) -> bool:
    from torch.distributed.tensor import DTensor

    return isinstance(value, DTensor)


class FSDPTrainer(DistributedTrainer):
    """:class:`DistributedTrainer` with the policy (and reference) sharded by FSDP2; see the module docstring."""

    def __init__(self, config: Any, model: Any, tokenizer: Any, dataset: Any, rewards: Any, *, dist: Dist,
                 run_dir: str | Path | None = None, eval_rows: Sequence[Any] | None = None) -> None:
        self.sharded = False
        # (the base classes build a replicated trainer, broadcast rank 0's weights and copy them to the
        # reference; the policy is sharded after that, and the optimizer built again on the shards)
        super().__init__(config, model, tokenizer, dataset, rewards, dist=dist, run_dir=run_dir, eval_rows=eval_rows)
        from torch.distributed.device_mesh import init_device_mesh

        c = self.config
        if self.share_prompt:
            log.info("distributed = fsdp: share_prompt is off (one forward call per micro-batch on every process)")
        self.share_prompt = False
        if self.sampler_model is self.model:  # the full copy that samples, evaluates and is saved
            self.sampler_model = copy.deepcopy(self.model).eval()
        self.mesh = init_device_mesh(self.device.type, (dist.world,))
        shard_model(self.model, self.mesh)
        if self.ref_model is not None:
            shard_model(self.ref_model, self.mesh)
        self.sharded = True
        self.train_model = torch.compile(self.model, dynamic=True) if c.compile else self.model
        self.optimizer = build_optimizer(self.model, c)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, _lr_factor(c, c.max_steps * c.iterations))
        self.forward_passes = 0  # micro-batches per iteration on every process (the most any process has)
        self.padding_passes = 0  # padding passes this process ran in the current step
        self._filler: _UpdatePlan | None = None
        self._filler_ref: list[Tensor] = []

    # -- weights -------------------------------------------------------------------------------------
    def broadcast_weights(self) -> None:
        if not self.sharded:  # (once sharded, every process loads the same full state itself)
            super().broadcast_weights()

    def sync_sampler(self) -> None:
        """Gather the policy's shards into the full sampling copy (a collective: every process calls it)."""
        if self.sampler_model is self.model:
            return
        with torch.no_grad():
            for dst, src in zip(self.sampler_model.parameters(), self.model.parameters(), strict=True):
                dst.copy_(src.full_tensor() if _is_dtensor(src) else src)

    def generate(self, rows: list[Any], group_size: int, temperature: float, tag: str, model: Any = None) -> Rollout:
        """Sampling and evaluation run on the full copy (a sharded forward is a collective)."""
        return super().generate(rows, group_size, temperature, tag, model=self.sampler_model if model is None else model)

    def save_policy(self, path: str | Path) -> Path:
        path = Path(path)
        self.sampler_model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        return path

    # -- the update ----------------------------------------------------------------------------------
    def _plan_update(self, batch: Rollout, rewards: list[Any]) -> _UpdatePlan:
        plan = super()._plan_update(batch, rewards)
        self.forward_passes = max(self.dist.gather_objects(len(plan.chunks)))
        s = batch.seqs
        self._filler = _UpdatePlan(
            seqs=SequenceBatch(s.prompt_ids, s.prompt_mask, s.prompt_index[:1], s.completion_ids[:1], s.completion_mask[:1]),
            old_logps=batch.logps[:1], advantages=torch.zeros(1, device=self.device),
            row_tokens=None if plan.row_tokens is None else plan.row_tokens.new_ones(1), chunks=[(0, 1)],
            num_sequences=max(plan.num_sequences, 1), num_tokens=max(plan.num_tokens, 1), zero_spread=0.0,
            entropy_masking=False)
        self._filler_ref = []
        return plan

    def pad_micro_batches(self, plan: _UpdatePlan, it: int) -> None:
        """Padding passes (forward + backward of one real row, loss x 0) up to the most micro-batches any
        process has, so that every process makes the same FSDP collectives.  Like a real micro-batch, a
        padding pass of the first iteration also runs the reference (``beta > 0``)."""
        assert self._filler is not None
        for _ in range(self.forward_passes - len(plan.chunks)):
            loss, _st = self._micro_batch_loss(self._filler, 0, self._filler_ref, None, first_iteration=it == 0)
            (loss * 0.0).backward()
            self.padding_passes += 1

    def reduce_grads(self) -> None:
        """No reduction: FSDP reduce-scattered (summed) every gradient during backward.  The reference's
        outermost unit stays gathered after a forward (FSDP reshards the root after backward, and the
        reference has none): it is resharded here, before ``sync_ref_model`` mixes shards into it."""
        if self.ref_model is not None:
            self.ref_model.reshard()

    def train_step(self) -> dict[str, float]:
        self.padding_passes = 0
        out = super().train_step()
        passes = torch.tensor([float(self.padding_passes)], dtype=torch.float64)
        out["dist/padding_passes"] = float(self.dist.all_reduce_sum(passes)[0])  # summed over the processes
        return out

    # -- whole state in, whole state out (collectives: every process calls these) -------------------------
    def _full(self, value: Any) -> Any:
        """The whole tensor of a shard, on the CPU of rank 0 (None elsewhere: only rank 0 writes)."""
        if _is_dtensor(value):
            value = value.full_tensor()
        if not self.dist.is_main:
            return None
        return value.detach().to("cpu") if isinstance(value, Tensor) else value

    def _full_module_state(self, module: torch.nn.Module) -> dict[str, Any]:
        out = {k: self._full(v) for k, v in module.state_dict().items()}
        return out if self.dist.is_main else {}

    def model_state(self) -> dict[str, Any]:
        return self._full_module_state(self.model)

    def ref_state(self) -> dict[str, Any]:
        assert self.ref_model is not None
        return self._full_module_state(self.ref_model)

    def optimizer_state(self) -> dict[str, Any]:
        """``optimizer.state_dict()`` with every sharded moment gathered: the format of a replicated run."""
        st = self.optimizer.state_dict()
        state = {i: {k: self._full(v) for k, v in st["state"][i].items()} for i in sorted(st["state"])}
        return {"state": state if self.dist.is_main else {}, "param_groups": st["param_groups"]}

    def _shard_like(self, full: Any, like: Any) -> Any:
        """This process's shard of the whole tensor ``full``, placed as ``like`` (no communication)."""
        from torch.distributed.tensor import distribute_tensor

        if not (_is_dtensor(like) and isinstance(full, Tensor) and full.shape == like.shape):
            return full
        return distribute_tensor(full.to(device=like.device, dtype=like.dtype), like.device_mesh, like.placements,
                                 src_data_rank=None)

    def _load_module_state(self, module: torch.nn.Module, state: dict[str, Any]) -> None:
        current = module.state_dict()
        module.load_state_dict({k: self._shard_like(v, current.get(k)) for k, v in state.items()})

    def load_model_state(self, state: dict[str, Any]) -> None:
        self._load_module_state(self.model, state)

    def load_ref_state(self, state: dict[str, Any]) -> None:
        assert self.ref_model is not None
        self._load_module_state(self.ref_model, state)

    def load_optimizer_state(self, state: dict[str, Any]) -> None:
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        if len(state["state"]) > len(params) or any(int(i) >= len(params) for i in state["state"]):
            raise ValueError(f"checkpoint: its optimizer state has entries for {len(state['state'])} parameters, "
                             f"this model has {len(params)}")
        shards = {i: {k: self._shard_like(v, params[int(i)]) for k, v in s.items()} for i, s in state["state"].items()}
        self.optimizer.load_state_dict({"state": shards, "param_groups": state["param_groups"]})
