"""GRPO math as pure tensor functions: group-relative advantages and the clipped policy loss.

Shapes: ``N`` completions in groups of ``G`` consecutive rows (N = B * G), ``K`` reward sources,
``T`` completion tokens.  Nothing here touches a model, so every choice is unit tested on its own.

Advantages (``group_advantages``)
    ``sum_then_normalize``: reward = sum_k w_k r_k, then advantage = (reward - group mean) / scale.
    ``normalize_then_sum``: each r_k is z-scored within its group first (GDPO), then the weighted sum
    goes through the same centring and scaling.
    ``scale``: ``group`` (std within the group), ``batch`` (std over the batch), ``none`` (Dr. GRPO).
    NaN rewards (a non-scored verdict) are left out of the means and stds; a completion whose every
    reward is NaN gets advantage 0 and so never moves the policy.

Loss (``policy_loss``)
    per token: -min(ratio * A, clip(ratio, 1 - eps_low, 1 + eps_high) * A) + beta * KL_k3(ref || policy)
    ``grpo``: mean over each sequence's tokens, then mean over sequences;
    ``dapo``: sum over every token / number of tokens in the whole generation batch;
    ``dr_grpo``: sum over every token / (number of sequences * max completion length).
    The normalisers are passed in for the *whole* batch, so summing the losses of micro-batches gives
    exactly the full-batch loss (gradient accumulation changes nothing).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from chil_core.training.config import Aggregation, LossType, ScaleRewards  # noqa: F401 - re-exported

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
) -> tuple[Tensor, LossStats]:
    """Clipped GRPO surrogate of one micro-batch (see the module docstring for the normalisers).

    ``mask [n, T]`` marks the tokens that count (completion tokens, truncated completions removed
    when asked); ``num_sequences`` / ``num_tokens`` are the totals over the whole generation batch.
    """
    m = mask.to(logps.dtype)
    ratio = torch.exp(logps - old_logps)
    a = advantages.to(logps.dtype)[:, None]
    per_token = -torch.min(ratio * a, torch.clamp(ratio, 1 - eps_low, 1 + eps_high) * a)
    kl = None
    if beta != 0.0:
        if ref_logps is None:
            raise ValueError("beta: a KL penalty needs ref_logps (a reference model)")
        kl = k3_kl(logps, ref_logps)
        per_token = per_token + beta * kl
    if loss_type == "grpo":
        loss = ((per_token * m).sum(1) / m.sum(1).clamp(min=1)).sum() / max(num_sequences, 1)
    elif loss_type == "dapo":
        loss = (per_token * m).sum() / max(num_tokens, 1)
    elif loss_type == "dr_grpo":
        loss = (per_token * m).sum() / max(num_sequences * max_completion_length, 1)
    else:
        raise ValueError(f"loss_type: expected grpo, dapo or dr_grpo, got {loss_type!r}")
    with torch.no_grad():
        r = ratio.detach()
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
