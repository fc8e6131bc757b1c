"""GRPO math as pure tensor functions: group-relative advantages and the clipped policy loss.

Shapes: ``N`` completions in groups of ``G`` consecutive rows (N = B * G), ``K`` reward sources,
``T`` completion tokens.  Nothing here touches a model, so every choice is unit tested on its own.

Advantages (``group_advantages``)
    ``sum_then_normalize``: reward = sum_k w_k r_k, then advantage = (reward - group mean) / scale.
    ``normalize_then_sum``: each r_k is z-scored within its group first (GDPO), then the weighted sum is
    centred per group and scaled as ``scale`` says (``combined_scale="scale_rewards"``, chil's default), or
    centred and scaled over the whole batch (``combined_scale="batch"``: TRL, the GDPO paper).
    ``scale``: ``group`` (std within the group), ``batch`` (std over the batch), ``none`` (Dr. GRPO).
    NaN rewards (a non-scored verdict) are left out of the means and stds; a completion whose every
    reward is NaN gets advantage 0 and so never moves the policy.

Loss (``policy_loss``)
    per token: -min(w * A, clip(w, 1 - eps_low, 1 + eps_high) * A) [* high-entropy mask] + beta * KL
    where w is the importance ratio pi/pi_old per token, or per sequence (GSPO: exp of the mean log
    ratio over the sequence's tokens); with ``delta`` the unclipped w is also capped at delta
    (two-sided clipping, INTELLECT-2).  KL is the k3 estimator of KL(policy || ref), multiplied by w
    with ``kl_bias_correction`` (DeepSeek-V3.2; w stays differentiable, so the gradient changes even
    where w = 1).
    ``grpo``: mean over each sequence's tokens, then mean over sequences;
    ``bnpo``: token mean within each micro-batch, then mean over micro-batches (``row_tokens`` gives
    each row's micro-batch token count times the number of micro-batches);
    ``dapo``: sum over every token / number of tokens in the whole generation batch;
    ``dr_grpo``: sum over every token / (number of sequences * max completion length).
    The normalisers are passed in for the *whole* batch, so summing the losses of micro-batches gives
    exactly the full-batch loss (gradient accumulation changes nothing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from chil_core.training.config import Aggregation, ImportanceLevel, LossType, ScaleRewards  # noqa: F401 - re-exported

STD_EPS = 1e-4


def nanstd(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Sample standard deviation (Bessel-corrected) ignoring NaNs; NaN where fewer than 2 values."""
    valid = ~torch.isnan(x)
    n = valid.sum() if dim is None else valid.sum(dim=dim, keepdim=True)
    mean = torch.nanmean(x) if dim is None else torch.nanmean(x, dim=dim, keepdim=True)
    sq = torch.where(valid, (x - mean) ** 2, torch.zeros_like(x))
    total = sq.sum() if dim is None else sq.sum(dim=dim, keepdim=True)
    std = torch.sqrt(total / (n - 1).clamp(min=1))
    std = torch.where(n > 1, std, torch.full_like(std, float("nan")))
    return std if keepdim or dim is None else std.squeeze(dim)


@dataclass
class Advantages:
    """Result of :func:`group_advantages`."""

    advantages: Tensor  # [N], 0 where no reward
    rewards: Tensor  # [N], the combined reward the advantage was made from (NaN where none)
    zero_spread: Tensor  # [N // G] bool: groups whose combined rewards are all equal (no signal)


def group_advantages(
    rewards: Tensor,
    group_size: int,
    weights: Tensor | None = None,
    scale: ScaleRewards = "group",
    aggregation: Aggregation = "sum_then_normalize",
    combined_scale: Literal["scale_rewards", "batch"] = "scale_rewards",
) -> Advantages:
    """Group-relative advantages from per-source rewards ``[N, K]`` (or ``[N]``), NaN = not scored."""
    if rewards.dim() == 1:
        rewards = rewards[:, None]
    n, k = rewards.shape
    if group_size < 1 or n % group_size:
        raise ValueError(f"group_size: {n} rewards do not split into groups of {group_size}")
    rewards = rewards.float()
    w = torch.ones(k, device=rewards.device) if weights is None else weights.float().reshape(k)
    unscored = torch.isnan(rewards).all(dim=1)
    if aggregation == "normalize_then_sum":
        grouped = rewards.view(-1, group_size, k)
        grouped = (grouped - torch.nanmean(grouped, dim=1, keepdim=True)) / (
            nanstd(grouped, dim=1, keepdim=True).nan_to_num(0.0) + STD_EPS
        )
        rewards = grouped.view(n, k)
    elif aggregation != "sum_then_normalize":
        raise ValueError(f"aggregation: expected sum_then_normalize or normalize_then_sum, got {aggregation!r}")
    combined = (rewards * w).nansum(dim=1)
    combined[unscored] = float("nan")

    grouped = combined.view(-1, group_size)
    if aggregation == "normalize_then_sum" and combined_scale == "batch":
        # TRL 1.16 / GDPO: the summed z-scores centred and scaled over the whole batch; a group whose rewards
        # are all equal gets -(batch mean) / (batch std), 0 only when the batch mean is 0
        group_std = nanstd(grouped, dim=1)
        adv = (combined - torch.nanmean(combined)) / (nanstd(combined) + STD_EPS)  # NaN std: no signal, 0
        return Advantages(adv.nan_to_num(0.0), combined, ~(group_std > 1e-6))
    if combined_scale not in ("scale_rewards", "batch"):
        raise ValueError(f"combined_scale: expected scale_rewards or batch, got {combined_scale!r}")
    centred = grouped - torch.nanmean(grouped, dim=1, keepdim=True)
    group_std = nanstd(grouped, dim=1, keepdim=True)
    if scale == "group":
        centred = centred / (group_std + STD_EPS)
    elif scale == "batch":
        centred = centred / (nanstd(combined) + STD_EPS)
    elif scale != "none":
        raise ValueError(f"scale: expected group, batch or none, got {scale!r}")
    zero_spread = ~(group_std.squeeze(1) > 1e-6)  # NaN std (fewer than 2 scored) counts as no spread
    centred[zero_spread] = 0.0  # exactly 0, not rounding noise: such rows carry no gradient and are skipped
    return Advantages(centred.reshape(n).nan_to_num(0.0), combined, zero_spread)


def token_logps(logits: Tensor, tokens: Tensor, temperature: float = 1.0) -> Tensor:
    """log p(token) under softmax(logits / temperature); ``logits [n, T, V]``, ``tokens [n, T]``."""
    logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    picked = logits.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(logits, dim=-1)


def k3_kl(logps: Tensor, ref_logps: Tensor) -> Tensor:
    """Per-token k3 estimator of KL(policy || ref): exp(r - p) - (r - p) - 1 (always >= 0)."""
    d = ref_logps - logps
    return torch.exp(d) - d - 1


def token_entropy(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Entropy (nats) of softmax(logits / temperature) at each position; ``[n, T, V] -> [n, T]``."""
    logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    logp = torch.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def entropy_threshold(entropies: Tensor, mask: Tensor, quantile: float) -> Tensor | None:
    """The (1 - quantile) quantile of the masked tokens' entropies (linear interpolation, as TRL); None
    when no token is masked in."""
    values = entropies[mask.bool()].float()
    return torch.quantile(values, 1 - quantile) if values.numel() else None


def high_entropy_mask(entropies: Tensor, mask: Tensor, quantile: float, threshold: Tensor | None = None) -> Tensor:
    """The tokens of ``mask`` whose entropy is in the top ``quantile`` of the masked tokens' entropies
    ("Beyond the 80/20 rule"): entropy >= :func:`entropy_threshold` (or the ``threshold`` given, when
    the quantile is taken over a larger batch than ``entropies``)."""
    if threshold is None:
        threshold = entropy_threshold(entropies, mask, quantile)
    if threshold is None:
        return torch.zeros_like(mask, dtype=torch.bool)
    return ((entropies * mask.to(entropies.dtype)) >= threshold) & mask.bool()


def importance_log_weights(logps: Tensor, old_logps: Tensor, mask: Tensor, level: ImportanceLevel = "token") -> Tensor:
    """log pi/pi_old per token ``[n, T]``, or its mean over each sequence's tokens ``[n, 1]`` (GSPO)."""
    log_ratio = logps - old_logps
    if level == "token":
        return log_ratio
    if level == "sequence":
        m = mask.to(log_ratio.dtype)
        return ((log_ratio * m).sum(-1) / m.sum(-1).clamp(min=1.0)).unsqueeze(-1)
    raise ValueError(f"importance_sampling_level: expected token or sequence, got {level!r}")


def bnpo_row_tokens(mask: Tensor, micro_batch_size: int) -> Tensor:
    """``[N]``: the token count of each row's micro-batch (consecutive ``micro_batch_size`` rows of the
    generation batch) times the number of micro-batches: the ``bnpo`` normaliser of every row."""
    counts = mask.sum(1).to(torch.float64)
    n = counts.shape[0]
    chunks = max(math.ceil(n / micro_batch_size), 1)
    per_chunk = torch.stack([counts[i:i + micro_batch_size].sum() for i in range(0, n, micro_batch_size)]) \
        if n else counts.new_zeros(0)
    return per_chunk.clamp(min=1.0).repeat_interleave(micro_batch_size)[:n] * chunks


@dataclass
class LossStats:
    """Sums over the active tokens of one micro-batch; add them up and divide by ``tokens``."""

    tokens: float
    clip_low: float
    clip_high: float
    kl: float
    ratio: float


def policy_loss(
    logps: Tensor,
    old_logps: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    loss_type: LossType = "dapo",
    eps_low: float = 0.2,
    eps_high: float = 0.2,
    num_sequences: int,
    num_tokens: int,
    max_completion_length: int,
    ref_logps: Tensor | None = None,
    beta: float = 0.0,
    importance_sampling_level: ImportanceLevel = "token",
    delta: float | None = None,
    kl_bias_correction: bool = False,
    entropy_mask: Tensor | None = None,
    row_tokens: Tensor | None = None,
) -> tuple[Tensor, LossStats]:
    """Clipped GRPO surrogate of one micro-batch (see the module docstring for the normalisers).

    ``mask [n, T]`` marks the tokens that count (completion tokens, truncated completions removed
    when asked); ``num_sequences`` / ``num_tokens`` are the totals over the whole generation batch;
    ``entropy_mask [n, T]`` (bool) keeps only those tokens in the policy term (not in the KL term);
    ``row_tokens [n]`` is the ``bnpo`` normaliser of each row (:func:`bnpo_row_tokens`).
    """
    m = mask.to(logps.dtype)
    a = advantages.to(logps.dtype)[:, None]
    coef_1 = torch.exp(importance_log_weights(logps, old_logps, mask, importance_sampling_level))
    coef_2 = torch.clamp(coef_1, 1 - eps_low, 1 + eps_high)
    kl = None
    if beta != 0.0:
        if ref_logps is None:
            raise ValueError("beta: a KL penalty needs ref_logps (a reference model)")
        kl = k3_kl(logps, ref_logps)
        if kl_bias_correction:
            kl = kl * coef_1
    capped = coef_1 if delta is None else torch.clamp(coef_1, max=delta)
    per_token = -torch.min(capped * a, coef_2 * a)
    if entropy_mask is not None:
        per_token = per_token * entropy_mask.to(per_token.dtype)
    if kl is not None:
        per_token = per_token + beta * kl
    if loss_type == "grpo":
        loss = ((per_token * m).sum(1) / m.sum(1).clamp(min=1)).sum() / max(num_sequences, 1)
    elif loss_type == "bnpo":
        if row_tokens is None:
            raise ValueError("loss_type: bnpo needs row_tokens (each row's micro-batch token count)")
        loss = ((per_token * m).sum(1) / row_tokens.to(per_token.dtype)).sum()
    elif loss_type == "dapo":
        loss = (per_token * m).sum() / max(num_tokens, 1)
    elif loss_type == "dr_grpo":
        loss = (per_token * m).sum() / max(num_sequences * max_completion_length, 1)
    else:
        raise ValueError(f"loss_type: expected grpo, bnpo, dapo or dr_grpo, got {loss_type!r}")
    with torch.no_grad():
        r = coef_1.detach().expand_as(m)
        clip_low = ((r < 1 - eps_low) & (a < 0)).to(m.dtype)
        clip_high = ((r > 1 + eps_high) & (a > 0)).to(m.dtype)
        stats = LossStats(
            tokens=float(m.sum()),
            clip_low=float((clip_low * m).sum()),
            clip_high=float((clip_high * m).sum()),
            kl=float((kl.detach() * m).sum()) if kl is not None else 0.0,
            ratio=float((r * m).sum()),
        )
    return loss, stats
