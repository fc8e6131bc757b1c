"""Batched sampling with the key/value cache, written for GRPO.

Each unique prompt is read once (prefill) and its cache repeated for its G completions; a row that
emits an end token leaves the batch at once, so later steps only compute the rows still running.
The log-probability of every sampled token under softmax(logits / temperature) is returned: it is
the behaviour policy's log-probability that the importance ratio divides by.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from chil_core.training.policy import cache_kwargs, output_cache, position_ids


@dataclass
class Samples:
    """Completions, right-padded; ``logps`` is 0 outside ``mask``."""

    ids: Tensor  # [N, T]
    mask: Tensor  # [N, T] 1 for completion tokens, the end token included
    logps: Tensor  # [N, T]
    truncated: Tensor  # [N] bool: no end token within max_new_tokens
    entropy: Tensor  # [N] mean entropy of the sampling distribution over the completion's tokens


def _filter(logits: Tensor, top_k: int, top_p: float) -> Tensor:
    if top_k > 0 and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        drop = probs.cumsum(-1) - probs > top_p  # keep the smallest prefix whose mass reaches top_p
        logits = logits.scatter(-1, order, sorted_logits.masked_fill(drop, float("-inf")))
    return logits


def pick(logits: Tensor, temperature: float, top_k: int = 0, top_p: float = 1.0,
         generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Next token of each row, its log-probability and the distribution's entropy.

    Sampling inverts the cumulative distribution at one uniform number per row (exact, and much
    faster on a CPU than ``torch.multinomial``).  Temperature 0 is greedy (log-probability and
    entropy reported as 0)."""
    if temperature <= 0:
        zeros = torch.zeros(logits.shape[0], device=logits.device)
        return logits.argmax(-1), zeros, zeros
    scaled = logits.float() / temperature
    logp = torch.log_softmax(scaled, dim=-1)
    probs = logp.exp()
    entropy = -(probs * logp).sum(-1)
    if top_k > 0 or top_p < 1.0:
        probs = torch.softmax(_filter(scaled, top_k, top_p), dim=-1)
    u = torch.rand(probs.shape[0], 1, generator=generator, device=probs.device)
    token = torch.searchsorted(probs.cumsum(-1), u, right=True).squeeze(1).clamp_(max=probs.shape[-1] - 1)
    return token, logp.gather(-1, token[:, None]).squeeze(1), entropy


@torch.no_grad()
def sample(model, prompt_ids: Tensor, prompt_mask: Tensor, *, group_size: int, max_new_tokens: int,
           eos_ids: Sequence[int], pad_id: int, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
           generator: torch.Generator | None = None) -> Samples:
    """``group_size`` completions for each left-padded prompt row; rows of one prompt are consecutive."""
    n, device = prompt_ids.shape[0] * group_size, prompt_ids.device
    out = model(input_ids=prompt_ids, attention_mask=prompt_mask, position_ids=position_ids(prompt_mask),
                use_cache=True, logits_to_keep=1)
    cache = output_cache(out)
    if group_size > 1:
        cache.batch_repeat_interleave(group_size)
    logits = out.logits[:, -1].repeat_interleave(group_size, 0)
    width = prompt_mask.shape[1]
    mask = torch.cat([prompt_mask, prompt_mask.new_ones(prompt_mask.shape[0], max_new_tokens)], dim=1)
    mask = mask.repeat_interleave(group_size, 0)  # grown into one column per step by slicing
    next_pos = prompt_mask.sum(1).repeat_interleave(group_size)

    ids = torch.full((n, max_new_tokens), pad_id, dtype=torch.long, device=device)
    logps = torch.zeros(n, max_new_tokens, device=device)
    entropy = torch.zeros(n, device=device)
    lengths = torch.full((n,), max_new_tokens, dtype=torch.long, device=device)
    truncated = torch.ones(n, dtype=torch.bool, device=device)
    rows = torch.arange(n, device=device)  # original index of each row still running
    eos = torch.tensor(list(eos_ids), dtype=torch.long, device=device)
    for t in range(max_new_tokens):
        token, lp, ent = pick(logits, temperature, top_k, top_p, generator)
        ids[rows, t] = token
        logps[rows, t] = lp
        entropy[rows] += ent
        done = torch.isin(token, eos)
        if done.any():
            finished = rows[done]
            lengths[finished] = t + 1
            truncated[finished] = False
            keep = (~done).nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            rows, token, mask, next_pos = rows[keep], token[keep], mask[keep], next_pos[keep]
            cache.batch_select_indices(keep)
        if t == max_new_tokens - 1:
            break
        out = model(input_ids=token[:, None], attention_mask=mask[:, :width + t + 1], position_ids=next_pos[:, None],
                    use_cache=True, **cache_kwargs(model, cache))
        logits = out.logits[:, -1]
        next_pos = next_pos + 1
    completion_mask = (torch.arange(max_new_tokens, device=device)[None, :] < lengths[:, None]).long()
    keep_t = int(lengths.max()) if n else 0
    return Samples(ids[:, :keep_t], completion_mask[:, :keep_t], logps[:, :keep_t] * completion_mask[:, :keep_t],
                   truncated, entropy / lengths)
