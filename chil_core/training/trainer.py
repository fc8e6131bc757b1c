"""The GRPO training loop, in one reading.

```
pending = rollout()                          # sample batch 0, submit its records to the scorer
for step in range(max_steps):
    batch = pending
    next = start_rollout()                   # sample batch n+1 (on a worker thread when pipelined)
    rewards = batch.rewards.result()         # scored meanwhile by the scorer's own thread
    update(batch, rewards)                   # advantages, then `iterations` clipped-surrogate passes
    pending = next.result(); sync_sampler()  # the sampling copy gets the new weights
    log(step); checkpoint(step)              # in the background, with `pending` in it
```

With ``overlap_rewards`` the batch trained at step n was sampled by the policy of step n-1 (one update
behind); the importance ratio divides by the log-probabilities recorded when sampling, so the
surrogate corrects for it.  Without it each batch is sampled after the previous update (on-policy)
and the step waits for its rewards.

Pipelined generation (``pipeline_generation``, on by default on a CPU) runs that sampling of batch
n+1 on a worker thread, with a copy of the weights of step n-1, while the main thread updates on
batch n; each stage gets half the CPU threads.  It changes when things run, not what is computed:
the run is the same number for number as without it.

Completions whose advantage is exactly 0 (their group's rewards have no spread, or nothing scored
them) contribute exactly nothing to the loss when ``beta == 0``, so they are not run through the
model at all; the normalisers still count them, so the update is the same as computing them.
"""

from __future__ import annotations

import copy
import logging
import math
import random
import statistics
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from chil_core.contracts import Record, RecordReward
from chil_core.failures import failure_metrics
from chil_core.monitors import RewardMonitor
from chil_core.training.checkpoint import Checkpointer
from chil_core.training.config import TrainConfig
from chil_core.training.data import PromptDataset, PromptOrder, PromptRow, encode_prompts
from chil_core.training.grpo import (
    bnpo_row_tokens,
    entropy_threshold,
    group_advantages,
    high_entropy_mask,
    policy_loss,
    token_entropy,
    token_logps,
)
from chil_core.training.metrics import MetricsLogger
from chil_core.training.policy import (
    SequenceBatch,
    completion_logits,
    disable_dropout,
    enable_gradient_checkpointing,
    eos_token_ids,
    supports_prompt_sharing,
)
from chil_core.training.sampling import sample

log = logging.getLogger(__name__)
DEFAULT_THREADS = torch.get_num_threads()  # torch's own default, before any trainer halves it


class RewardSource(Protocol):
    """What the trainer needs from :class:`chil_core.scoring.Scorer`.  When it also has ``frameworks``
    (name -> framework, as the Scorer does), evaluation logs each framework's declared ``eval_metrics``."""

    def submit(self, records: Sequence[Record]) -> Future[list[RecordReward]]: ...


@dataclass
class Rollout:
    """One generation batch: B prompts x G completions, and the future of their rewards."""

    tag: str
    rows: list[PromptRow]
    seqs: SequenceBatch
    logps: Tensor  # behaviour-policy log-probabilities [N, T]
    truncated: Tensor  # [N]
    entropy: Tensor  # [N]
    completions: list[str]
    generate_s: float = 0.0
    rewards: Future[list[RecordReward]] | None = None
    submitted_at: float = 0.0
    scored_at: float = field(default=math.nan)

    def records(self, group_size: int) -> list[Record]:
        out = []
        for j, text in enumerate(self.completions):
            i, k = divmod(j, group_size)
            row = self.rows[i]
            out.append(Record(id=f"{self.tag}:{i}:{k}", prompt=row.prompt, completion=text, group=f"{self.tag}:{i}",
                              reference=row.reference, metadata=row.metadata))
        return out

    def state_dict(self) -> dict[str, Any]:
        s = self.seqs
        return {"tag": self.tag, "rows": [vars(r) for r in self.rows], "completions": self.completions,
                "prompt_ids": s.prompt_ids, "prompt_mask": s.prompt_mask, "prompt_index": s.prompt_index,
                "completion_ids": s.completion_ids, "completion_mask": s.completion_mask, "logps": self.logps,
                "truncated": self.truncated, "entropy": self.entropy, "generate_s": self.generate_s}

    @classmethod
    def from_state(cls, st: dict[str, Any]) -> Rollout:
        seqs = SequenceBatch(st["prompt_ids"], st["prompt_mask"], st["prompt_index"], st["completion_ids"],
                             st["completion_mask"])
        return cls(st["tag"], [PromptRow(**r) for r in st["rows"]], seqs, st["logps"], st["truncated"],
                   st["entropy"], st["completions"], st["generate_s"])


def reward_metrics(rewards: Sequence[RecordReward]) -> dict[str, float]:
    """Mean/std of the reward overall and per framework, and how many verdicts were not scored."""
    out: dict[str, float] = {}
    scored = [r.reward for r in rewards if r.reward is not None]
    out["reward/mean"] = statistics.fmean(scored) if scored else math.nan
    out["reward/std"] = statistics.pstdev(scored) if len(scored) > 1 else 0.0
    out["frac/masked"] = 1 - len(scored) / max(len(rewards), 1)
    verdicts = not_scored = 0
    names = sorted({name for r in rewards for name in r.frameworks})
    for name in names:
        results = [r.frameworks[name] for r in rewards if name in r.frameworks]
        scores = [res.score for res in results if res.status == "scored"]
        out[f"reward/{name}/mean"] = statistics.fmean(scores) if scores else math.nan
        out[f"reward/{name}/std"] = statistics.pstdev(scores) if len(scores) > 1 else 0.0
        out[f"frac/not_scored/{name}"] = 1 - len(scores) / max(len(results), 1)
        verdicts += len(results)
        not_scored += len(results) - len(scores)
    out["frac/not_scored"] = not_scored / verdicts if verdicts else 0.0
    out.update(failure_metrics(rewards))  # failures/<framework>/<cause>: completion vs infrastructure
    return out


def declared_eval_metrics(rewards: Sequence[RecordReward], frameworks: Mapping[str, Any]) -> dict[str, float]:
    """``<framework>/<metric>``: the mean of each result component a framework declares in its
    ``eval_metrics`` (say ``answer_correct``), over the results that carry it."""
    out: dict[str, float] = {}
    for name, fw in sorted(frameworks.items()):
        for metric in getattr(fw, "eval_metrics", ()):
            values = [res.components[metric] for r in rewards
                      if (res := r.frameworks.get(name)) is not None and metric in res.components]
            if values:
                out[f"{name}/{metric}"] = statistics.fmean(values)
    return out


def reward_matrix(rewards: Sequence[RecordReward], per_framework: bool) -> tuple[Tensor, Tensor]:
    """``[N, K]`` rewards (NaN = none) and ``[K]`` weights: the core's aggregate, or one column per framework."""
    if not per_framework:
        return torch.tensor([[math.nan if r.reward is None else r.reward] for r in rewards]), torch.ones(1)
    names = sorted({name for r in rewards for name in r.frameworks})
    rows = [[r.frameworks[n].score if n in r.frameworks and r.frameworks[n].status == "scored" else math.nan
             for n in names] for r in rewards]
    weights = [next((r.weights[n] for r in rewards if n in r.weights), 1.0) for n in names]
    return torch.tensor(rows, dtype=torch.float32).reshape(len(rewards), len(names)), torch.tensor(weights)


@dataclass
class _UpdatePlan:
    """What one update trains on: the rows that carry signal, their advantages, and the loss normalisers
    (which count every row of the batch, computed or not)."""

    seqs: SequenceBatch  # the active rows, completion mask = loss mask
    old_logps: Tensor  # behaviour-policy log-probabilities of the active rows
    advantages: Tensor
    row_tokens: Tensor | None  # bnpo's per-row token normaliser
    chunks: list[tuple[int, int]]  # micro-batches, as [i, j) over the active rows
    num_sequences: int
    num_tokens: int
    zero_spread: float  # the fraction of groups whose rewards have no spread
    entropy_masking: bool


def _lr_factor(config: TrainConfig, total: int):
    def factor(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / (config.warmup_steps + 1)
        if config.lr_schedule == "constant":
            return 1.0
        progress = min((step - config.warmup_steps) / max(total - config.warmup_steps, 1), 1.0)
        return 1 - progress if config.lr_schedule == "linear" else 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def build_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW, fused when every parameter is a floating tensor on a device that supports it, else foreach."""
    params = [p for p in model.parameters() if p.requires_grad]
    kwargs = {"lr": config.learning_rate, "betas": config.adam_betas, "weight_decay": config.weight_decay}
    try:
        return torch.optim.AdamW(params, fused=True, **kwargs)
    except (RuntimeError, ValueError):
        return torch.optim.AdamW(params, foreach=True, **kwargs)


class Trainer:
    """GRPO on ``dataset`` prompts with rewards from ``rewards`` (a :class:`~chil_core.scoring.Scorer`)."""

    def __init__(self, config: TrainConfig, model, tokenizer, dataset: PromptDataset, rewards: RewardSource,
                 *, run_dir: str | Path | None = None, eval_rows: Sequence[PromptRow] | None = None) -> None:
        self.config = c = config
        self.run_dir = Path(run_dir or c.output_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        # Pipelined generation: batch n+1 is sampled on a worker thread, by a copy of the weights of step
        # n-1, while the main thread updates on batch n; each then gets half the CPU threads.
        self.pipelined = c.overlap_rewards and (
            c.pipeline_generation if c.pipeline_generation != "auto" else self.device.type == "cpu")
        threads = c.threads or DEFAULT_THREADS
        self.threads_before = torch.get_num_threads()  # restored by close()
        torch.set_num_threads(max(1, threads // 2) if self.pipelined else threads)
        bf16 = c.precision == "bf16" or (c.precision == "auto" and self.device.type == "cuda"
                                         and torch.cuda.is_bf16_supported())
        self.autocast = (lambda: torch.autocast(self.device.type, dtype=torch.bfloat16)) if bf16 else nullcontext
        self.model, self.tokenizer, self.dataset, self.rewards = model.to(self.device), tokenizer, dataset, rewards
        disable_dropout(model)
        if c.gradient_checkpointing:
            enable_gradient_checkpointing(model)
        model.config.use_cache = True
        self.share_prompt = c.share_prompt and supports_prompt_sharing(model)
        self.train_model = torch.compile(model, dynamic=True) if c.compile else model
        # (requires_grad stays as in the policy: flipping it changes which CPU kernels run, and the numbers)
        self.sampler_model = copy.deepcopy(model).eval() if self.pipelined else model
        self.generation_pool = ThreadPoolExecutor(  # the worker's OpenMP team is sized in the worker itself
            1, thread_name_prefix="chil-generate", initializer=torch.set_num_threads,
            initargs=(torch.get_num_threads(),)) if self.pipelined else None
        self.ref_model = None
        if c.beta > 0:
            self.ref_model = copy.deepcopy(model).eval().requires_grad_(False)
        self.optimizer = build_optimizer(model, c)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, _lr_factor(c, c.max_steps * c.iterations))
        self.order = PromptOrder(len(dataset), seed=c.seed)
        self.sampler_rng = torch.Generator(self.device).manual_seed(c.seed)
        self.eos_ids = eos_token_ids(model, tokenizer)
        self.max_prompt_length = min(c.max_prompt_length,
                                     getattr(model.config, "max_position_embeddings", 10**9) - c.max_new_tokens)
        if self.max_prompt_length < 1:
            raise ValueError(f"max_new_tokens: {c.max_new_tokens} leaves no room for a prompt in this model's context")
        self.step = 0
        self.generated = 0
        self.pending: Rollout | None = None
        self.checkpointer = Checkpointer(self.run_dir, keep=c.keep_checkpoints)
        self.metrics: MetricsLogger | None = None
        self.eval_rows = list(eval_rows or [])
        self.eval_samples: list[tuple[PromptRow, str, RecordReward]] = []
        # reward-hacking monitors (chil_core.monitors), thresholds from the scorer's [monitors] settings
        self.monitor = RewardMonitor(getattr(getattr(rewards, "settings", None), "monitors", None))
        self.stopped_by: str | None = None

    # -- sampling ------------------------------------------------------------------------------
    def generate(self, rows: list[PromptRow], group_size: int, temperature: float, tag: str, model=None) -> Rollout:
        """Sample ``group_size`` completions per row with ``model`` (default: the policy); no scoring."""
        c = self.config
        model = self.model if model is None else model
        t0 = time.perf_counter()
        ids, mask = encode_prompts(self.tokenizer, [r.prompt for r in rows], self.max_prompt_length)
        ids, mask = ids.to(self.device), mask.to(self.device)
        was_training = model.training
        model.eval()
        with self.autocast():
            s = sample(model, ids, mask, group_size=group_size, max_new_tokens=c.max_new_tokens,
                       eos_ids=self.eos_ids, pad_id=self.tokenizer.pad_token_id, temperature=temperature,
                       top_k=c.top_k, top_p=c.top_p, generator=self.sampler_rng)
        model.train(was_training)
        texts = self.tokenizer.batch_decode(s.ids, skip_special_tokens=True)
        index = torch.arange(len(rows), device=self.device).repeat_interleave(group_size)
        seqs = SequenceBatch(ids, mask, index, s.ids, s.mask)
        return Rollout(tag, rows, seqs, s.logps, s.truncated, s.entropy, texts,
                       generate_s=time.perf_counter() - t0)

    def submit(self, rollout: Rollout) -> Rollout:
        rollout.submitted_at = time.perf_counter()
        rollout.rewards = self.rewards.submit(rollout.records(self.config.group_size))
        rollout.rewards.add_done_callback(lambda _f: setattr(rollout, "scored_at", time.perf_counter()))
        return rollout

    def next_rows(self) -> tuple[list[Any], str]:
        """The next B prompts of the order, and the tag of the rollout they make."""
        rows = self.dataset.rows(self.order.take(self.config.prompts_per_step))
        self.generated += 1
        return rows, str(self.generated)

    def start_rollout(self) -> Future[Rollout]:
        """The next B prompts, G completions each, sampled (on the worker when pipelined) and submitted."""
        rows, tag = self.next_rows()
        c = self.config

        def run() -> Rollout:
            return self.submit(self.generate(rows, c.group_size, c.temperature, tag, model=self.sampler_model))

        if self.generation_pool is not None:
            return self.generation_pool.submit(run)
        done: Future[Rollout] = Future()
        done.set_result(run())
        return done

    def sync_sampler(self) -> None:
        """Give the sampling copy the policy's current weights (pipelined mode)."""
        if self.sampler_model is not self.model:
            with torch.no_grad():
                for dst, src in zip(self.sampler_model.parameters(), self.model.parameters(), strict=True):
                    dst.copy_(src)

    # -- the update ----------------------------------------------------------------------------
    def update(self, batch: Rollout, rewards: list[RecordReward]) -> dict[str, float]:
        """Advantages from ``rewards``, then ``iterations`` optimizer steps on the clipped surrogate."""
        plan = self._plan_update(batch, rewards)
        totals = dict.fromkeys(("loss", "clip_low", "clip_high", "kl", "ratio", "tokens"), 0.0)
        ref_logps: list[Tensor] = []  # the reference's log-probabilities, per micro-batch, from iteration 0
        grad_norm = 0.0
        self.model.train()
        for it in range(self.config.iterations):
            last = it == self.config.iterations - 1  # the metrics report the last iteration's loss
            grad_norm = self._optimizer_step(plan, it, ref_logps, totals if last else None)
        return self._update_metrics(batch, plan, totals, grad_norm)

    def _plan_update(self, batch: Rollout, rewards: list[RecordReward]) -> _UpdatePlan:
        """Advantages, the loss mask, and the rows that carry signal, cut into micro-batches."""
        c = self.config
        values, weights = reward_matrix(rewards, per_framework=c.reward_aggregation == "normalize_then_sum")
        adv = group_advantages(values.to(self.device), c.group_size, weights.to(self.device),
                               scale=c.scale_rewards, aggregation=c.reward_aggregation,
                               combined_scale=c.normalize_then_sum_scale)
        loss_mask = batch.seqs.completion_mask.clone()
        if c.mask_truncated:
            loss_mask[batch.truncated] = 0
        active = torch.arange(len(rewards), device=self.device)
        entropy_masking = c.top_entropy_quantile < 1.0
        if c.beta == 0 and not entropy_masking:  # (the entropy quantile is taken over every row's tokens)
            active = active[(adv.advantages != 0) & (loss_mask.sum(1) > 0)]
        row_tokens = bnpo_row_tokens(loss_mask, c.micro_batch_size)[active] if c.loss_type == "bnpo" else None
        seqs = SequenceBatch(batch.seqs.prompt_ids, batch.seqs.prompt_mask, batch.seqs.prompt_index[active],
                             batch.seqs.completion_ids[active], loss_mask[active])
        chunks = [(i, min(i + c.micro_batch_size, len(active))) for i in range(0, len(active), c.micro_batch_size)]
        return _UpdatePlan(seqs=seqs, old_logps=batch.logps[active], advantages=adv.advantages[active],
                           row_tokens=row_tokens, chunks=chunks, num_sequences=len(rewards),
                           num_tokens=int(loss_mask.sum()), zero_spread=float(adv.zero_spread.float().mean()),
                           entropy_masking=entropy_masking)

    def _zero_grads(self) -> None:
        """Zero, not None: a batch without signal still takes its (momentum-only) optimizer step, as it
        would if every row were computed, and a resumed run matches an uninterrupted one."""
        self.optimizer.zero_grad(set_to_none=False)
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)

    def _optimizer_step(self, plan: _UpdatePlan, it: int, ref_logps: list[Tensor],
                        totals: dict[str, float] | None) -> float:
        """Iteration ``it``: gradients accumulated over the micro-batches, one optimizer step; returns the
        gradient norm before clipping (0 without clipping).  ``totals`` (when given) collects the loss."""
        c = self.config
        self._zero_grads()
        threshold = (self._entropy_threshold(plan.seqs, plan.chunks)
                     if plan.entropy_masking and len(plan.chunks) > 1 else None)
        for k in range(len(plan.chunks)):
            loss, st = self._micro_batch_loss(plan, k, ref_logps, threshold, first_iteration=it == 0)
            loss.backward()
            if totals is not None:
                totals["loss"] += float(loss.detach())
                for key in ("clip_low", "clip_high", "kl", "ratio", "tokens"):
                    totals[key] += getattr(st, key)
        self.pad_micro_batches(plan, it)
        self.reduce_grads()
        grad_norm = 0.0
        if c.max_grad_norm > 0:
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.max_grad_norm)
            grad_norm = float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)  # (a DTensor under FSDP)
        self.optimizer.step()
        self.scheduler.step()
        self.sync_ref_model(self.step * c.iterations + it + 1)
        return grad_norm

    def pad_micro_batches(self, plan: _UpdatePlan, it: int) -> None:
        """After the micro-batches of iteration ``it``: nothing on one process (the FSDP trainer runs
        gradient-free passes here, so that every process makes the same number of forward calls)."""

    def reduce_grads(self) -> None:
        """Between the micro-batches and the optimizer step: nothing on one process (the distributed
        trainer sums the gradients over its processes here)."""

    def _micro_batch_loss(self, plan: _UpdatePlan, k: int, ref_logps: list[Tensor], threshold: Tensor | None,
                          *, first_iteration: bool) -> tuple[Tensor, Any]:
        """The clipped-surrogate loss of micro-batch ``k`` by the current policy (and its statistics).
        On the first iteration the reference's log-probabilities of the micro-batch are appended to
        ``ref_logps`` (the reference does not change during an update)."""
        c = self.config
        i, j = plan.chunks[k]
        sub = plan.seqs.rows(i, j)
        t = sub.completion_ids.shape[1]
        with self.autocast():
            logits = completion_logits(self.train_model, sub, self.share_prompt)
        logps = token_logps(logits, sub.completion_ids, c.temperature)
        entropy_mask = None
        if plan.entropy_masking:  # the current policy's entropies, quantile over the whole batch
            ent = token_entropy(logits.detach(), c.temperature)
            entropy_mask = high_entropy_mask(ent, sub.completion_mask, c.top_entropy_quantile, threshold)
        if self.ref_model is not None and first_iteration:
            with torch.no_grad(), self.autocast():
                ref_logits = completion_logits(self.ref_model, sub, self.share_prompt)
                ref_logps.append(token_logps(ref_logits, sub.completion_ids, c.temperature))
        return policy_loss(
            logps, plan.old_logps[i:j, :t], plan.advantages[i:j], sub.completion_mask, loss_type=c.loss_type,
            eps_low=c.epsilon_low, eps_high=c.epsilon_high, num_sequences=plan.num_sequences,
            num_tokens=plan.num_tokens, max_completion_length=c.max_new_tokens,
            ref_logps=ref_logps[k] if ref_logps else None, beta=c.beta,
            importance_sampling_level=c.importance_sampling_level, delta=c.delta,
            kl_bias_correction=c.kl_bias_correction, entropy_mask=entropy_mask,
            row_tokens=plan.row_tokens[i:j] if plan.row_tokens is not None else None,
        )

    def _update_metrics(self, batch: Rollout, plan: _UpdatePlan, totals: dict[str, float],
                        grad_norm: float) -> dict[str, float]:
        lengths = batch.seqs.completion_mask.sum(1).float()
        tokens = max(plan.num_tokens, 1)
        out = {
            "loss": totals["loss"],
            "grad_norm": grad_norm,
            "lr": self.scheduler.get_last_lr()[0],
            "frac/zero_spread_groups": plan.zero_spread,
            "frac/no_signal_completions": 1 - len(plan.old_logps) / max(plan.num_sequences, 1),
            "clip/low": totals["clip_low"] / tokens,
            "clip/high": totals["clip_high"] / tokens,
            "clip/fraction": (totals["clip_low"] + totals["clip_high"]) / tokens,
            "ratio/mean": totals["ratio"] / totals["tokens"] if totals["tokens"] else 1.0,
            "entropy": float(batch.entropy.mean()),
            "completion/length_mean": float(lengths.mean()),
            "completion/length_max": float(lengths.max()),
            "completion/truncated": float(batch.truncated.float().mean()),
        }
        if self.config.beta > 0:
            out["kl"] = totals["kl"] / max(totals["tokens"], 1)
        return out

    def _entropy_threshold(self, seqs: SequenceBatch, chunks: list[tuple[int, int]]) -> Tensor | None:
        """The ``top_entropy_quantile`` threshold over every completion token of the batch, by the current
        policy (a no-grad pass; only needed when the batch spans several micro-batches)."""
        ents, masks = [], []
        with torch.no_grad(), self.autocast():
            for i, j in chunks:
                sub = seqs.rows(i, j)
                logits = completion_logits(self.train_model, sub, self.share_prompt)
                ents.append(token_entropy(logits, self.config.temperature).flatten())
                masks.append(sub.completion_mask.flatten())
        return entropy_threshold(torch.cat(ents), torch.cat(masks), self.config.top_entropy_quantile)

    def sync_ref_model(self, optimizer_step: int) -> bool:
        """TR-DPO reference update (``sync_ref_model``): every ``ref_model_sync_steps`` optimizer steps,
        ref = alpha * policy + (1 - alpha) * ref, as TRL's SyncRefModelCallback."""
        c = self.config
        if not c.sync_ref_model or self.ref_model is None or optimizer_step % c.ref_model_sync_steps:
            return False
        with torch.no_grad():
            for ref, p in zip(self.ref_model.parameters(), self.model.parameters(), strict=True):
                ref.mul_(1.0 - c.ref_model_mixup_alpha).add_(p, alpha=c.ref_model_mixup_alpha)
        return True

    # -- the loop --------------------------------------------------------------------------------
    def train(self, until: int | None = None) -> dict[str, float]:
        """Run from the current step to ``max_steps`` (or stop after step ``until``, as an interrupted
        run would); returns the last step's metrics."""
        from tqdm.auto import tqdm

        c = self.config
        self.metrics = MetricsLogger(self.run_dir, tensorboard=c.tensorboard,
                                     resume_step=self.step if self.step > 0 else None)
        bar = tqdm(total=c.max_steps, initial=self.step, desc="chil train", disable=not c.progress, unit="step")
        last: dict[str, float] = {}
        try:
            if self.pending is None and self.step < c.max_steps:
                self.pending = self.start_rollout().result()
            while self.step < min(until or c.max_steps, c.max_steps):
                last = self.train_step()
                self.after_step(last)
                bar.update(1)
                bar.set_postfix(reward=f"{last['reward/mean']:.3f}", s_step=f"{last['time/step_s']:.2f}")
                if self.monitor.stop_reason is not None:  # [monitors] action = "stop"
                    self.stopped_by = self.monitor.stop_reason
                    log.warning("stopping after step %d: %s", self.step, self.stopped_by)
                    if not (c.save_every and self.step % c.save_every == 0) and self.step != c.max_steps:
                        self.save_checkpoint()
                    break
        finally:
            bar.close()
            self.metrics.close()
            self.checkpointer.wait()
        return last

    def train_step(self) -> dict[str, float]:
        """One step on the pending batch: wait for its rewards, update, have the next batch sampled (meanwhile
        when overlapping); returns the step's metrics (training, rewards, timings)."""
        c = self.config
        t0 = time.perf_counter()
        batch, self.pending = self.pending, None
        assert batch is not None and batch.rewards is not None
        more = self.step + 1 < c.max_steps
        next_rollout = self.start_rollout() if c.overlap_rewards and more else None
        t_wait = time.perf_counter()
        rewards = batch.rewards.result()
        t_update = time.perf_counter()
        out = self.update(batch, rewards)
        t_join = time.perf_counter()
        if next_rollout is not None:
            self.pending = next_rollout.result()
        t_joined = time.perf_counter()
        self.sync_sampler()
        if not c.overlap_rewards and more:
            self.pending = self.start_rollout().result()
        self.step += 1
        step_s = time.perf_counter() - t0
        out.update(reward_metrics(rewards))
        out.update(self.monitor.observe(batch.records(c.group_size), rewards))
        out.update(self._step_times(batch, step_s, wait_s=t_update - t_wait, update_s=t_join - t_update,
                                    join_s=t_joined - t_join))
        return out

    def _step_times(self, batch: Rollout, step_s: float, *, wait_s: float, update_s: float,
                    join_s: float) -> dict[str, float]:
        return {
            "time/step_s": step_s,
            "time/generate_s": self.pending.generate_s if self.pending is not None else 0.0,
            "time/update_s": update_s, "time/generate_wait_s": join_s,
            "time/reward_wait_s": wait_s, "time/reward_s": batch.scored_at - batch.submitted_at,
            "time/reward_share": wait_s / step_s if step_s else 0.0,
            "speed/tokens_per_s": float(batch.seqs.completion_mask.sum()) / step_s if step_s else 0.0,
        }

    def after_step(self, last: dict[str, float]) -> None:
        """After step ``self.step``: held-out evaluation when due (into ``last``), log ``last``, checkpoint."""
        c = self.config
        if c.eval_every and self.eval_rows and self.step % c.eval_every == 0:
            last.update({f"eval/{k}": v for k, v in self.evaluate(self.eval_rows).items()})
            last.update(self.monitor.observe_eval(self.monitor.mean_reward(), _heldout_accuracy(last)))
        assert self.metrics is not None
        self.metrics.log(self.step, last)
        if (c.save_every and self.step % c.save_every == 0) or self.step == c.max_steps:
            self.save_checkpoint()

    # -- evaluation ------------------------------------------------------------------------------
    def evaluate(self, rows: Sequence[PromptRow], batch_size: int = 64) -> dict[str, float]:
        """Greedy completions of ``rows`` scored by the reward source.

        ``reward`` counts a completion no framework could score as 0 (an unjudgeable answer earns
        nothing); ``reward_scored`` is the mean over scored completions only.
        """
        rewards: list[RecordReward] = []
        completions: list[str] = []
        for i in range(0, len(rows), batch_size):
            ro = self.generate(list(rows[i:i + batch_size]), 1, temperature=0.0, tag=f"eval{i}")
            rewards.extend(self.rewards.submit(ro.records(1)).result())
            completions.extend(ro.completions)
        out = reward_metrics(rewards)
        out.update(declared_eval_metrics(rewards, getattr(self.rewards, "frameworks", {})))
        out["reward"] = statistics.fmean(r.reward or 0.0 for r in rewards) if rewards else math.nan
        out["reward_scored"] = out.pop("reward/mean")
        self.eval_samples = list(zip(rows, completions, rewards, strict=True))
        return out

    # -- state -------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step, "generated": self.generated, "model": self.model_state(),
            "optimizer": self.optimizer_state(), "scheduler": self.scheduler.state_dict(),
            "order": self.order.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "python": random.getstate(),
                    "sampler": self.sampler_rng.get_state()},
            "pending": self.pending.state_dict() if self.pending is not None else None,
            "config": self.config.model_dump_json(),
            # a synced reference is no longer the initial policy: it travels with the checkpoint
            "ref_model": self.ref_state() if self.config.sync_ref_model and self.ref_model else None,
            "monitor": self.monitor.state_dict(),  # its rolling window: the same monitor metrics after a resume
        }

    # The whole (unsharded) state of the policy, its optimizer and the reference, and their loading: one
    # format for every way of training (the FSDP trainer gathers its shards here and shards on load).
    def model_state(self) -> dict[str, Any]:
        return self.model.state_dict()

    def optimizer_state(self) -> dict[str, Any]:
        return self.optimizer.state_dict()

    def ref_state(self) -> dict[str, Any]:
        assert self.ref_model is not None
        return self.ref_model.state_dict()

    def load_model_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state)

    def load_optimizer_state(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state)

    def load_ref_state(self, state: dict[str, Any]) -> None:
        assert self.ref_model is not None
        self.ref_model.load_state_dict(state)

    def save_checkpoint(self) -> Future[Path]:
        return self.checkpointer.save(self.step, self.state_dict())

    def resume(self, path: str | Path | None = None) -> bool:
        """Load the latest checkpoint of this run (or ``path``); False when there is none."""
        ckpt = Path(path) if path else self.checkpointer.latest()
        if ckpt is None:
            return False
        st = Checkpointer.load(ckpt)
        self.load_model_state(st["model"])
        if st.get("ref_model") is not None and self.ref_model is not None:
            self.load_ref_state(st["ref_model"])
        self.sync_sampler()
        self.load_optimizer_state(st["optimizer"])
        self.scheduler.load_state_dict(st["scheduler"])
        self.order.load_state_dict(st["order"])
        torch.set_rng_state(st["rng"]["torch"])
        random.setstate(_as_tuple(st["rng"]["python"]))
        self.sampler_rng.set_state(st["rng"]["sampler"])
        self.step, self.generated = st["step"], st["generated"]
        if st.get("monitor") is not None:  # (checkpoints written before the monitors had state have none)
            self.monitor.load_state_dict(st["monitor"])
        self.pending = None
        if st["pending"] is not None:
            self.pending = self.submit(Rollout.from_state(st["pending"]))
        return True

    def save_policy(self, path: str | Path) -> Path:
        """The trained policy and tokenizer, loadable with ``from_pretrained``."""
        path = Path(path)
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        return path

    def close(self) -> None:
        """Wait for checkpoint writes, stop the sampling worker, give torch back its thread count."""
        if self.generation_pool is not None:
            self.generation_pool.shutdown()
        self.checkpointer.close()
        torch.set_num_threads(self.threads_before)


def _heldout_accuracy(metrics: Mapping[str, Any]) -> float | None:
    """The held-out result the monitors compare the training reward with: a framework's declared
    accuracy (``eval/<framework>/<metric>``, e.g. ``answer_correct``), else the held-out reward."""
    declared = sorted(k for k in metrics if k.startswith("eval/") and k.count("/") == 2
                      and not k.startswith(("eval/reward/", "eval/frac/", "eval/failures/")))
    value = metrics.get(declared[0]) if declared else metrics.get("eval/reward")
    return float(value) if isinstance(value, int | float) else None


def _as_tuple(value: Any) -> Any:
    """``random.setstate`` wants tuples back where the checkpoint may hold lists."""
    return tuple(_as_tuple(v) for v in value) if isinstance(value, list | tuple) else value
