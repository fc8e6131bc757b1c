"""The policy: a tiny model built locally with a byte-level tokenizer, or any Hugging Face causal LM.

``byte_tokenizer()`` is a real ``transformers`` tokenizer (it saves, loads with ``AutoTokenizer`` and
works inside TRL): one token per UTF-8 byte plus ``<pad>``, ``<s>``, ``</s>``, so it needs no
training and no download.  ``tiny_policy()`` builds a small Llama on it.  ``load_policy()`` loads
anything ``AutoModelForCausalLM`` can, by local path or hub id.

``completion_logits()`` is the training forward pass.  The G completions of one prompt share the
prompt, so by default the prompt goes through the model once per group and its key/value cache is
repeated for the G completions (the gradient of the shared prefix is summed by autograd); this is
exact and saves (G - 1) / G of the prompt's compute.  Models whose cache is not a plain per-layer
key/value cache, and runs with gradient checkpointing (which drops caches inside layers), use the
ordinary full-sequence pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor

SPECIAL_TOKENS = ("<pad>", "<s>", "</s>")


@lru_cache(maxsize=1)
def _byte_alphabet() -> tuple[str, ...]:
    """The printable stand-in character of each byte 0..255 (the GPT-2 byte-level mapping)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars: dict[int, str] = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return tuple(chars[b] for b in range(256))


def byte_tokenizer():  # -> transformers.PreTrainedTokenizerFast
    """A byte-level tokenizer: ids 0..2 are <pad>, <s>, </s>; id 3 + b is byte b."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    vocab.update({ch: len(SPECIAL_TOKENS) + b for b, ch in enumerate(_byte_alphabet())})
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(list(SPECIAL_TOKENS))
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>", padding_side="left"
    )


def tiny_policy(tokenizer, *, hidden_size: int = 128, num_layers: int = 4, num_heads: int = 4,
                max_positions: int = 256, seed: int = 0):
    """A small Llama (about 0.9M parameters at the defaults) over ``tokenizer``'s vocabulary."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=3 * hidden_size,
        num_hidden_layers=num_layers, num_attention_heads=num_heads, num_key_value_heads=num_heads,
        max_position_embeddings=max_positions, tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return LlamaForCausalLM(config)


def load_policy(name_or_path: str | Path, *, dtype: torch.dtype | None = None):
    """(model, tokenizer) from a local directory or a hub id (downloaded only if the user allows it)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(name_or_path))
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token_id is None:
            raise ValueError(f"model: tokenizer of {name_or_path} has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(str(name_or_path), dtype=dtype or torch.float32)
    return model, tokenizer


def eos_token_ids(model, tokenizer) -> list[int]:
    """Every id that ends a completion: the tokenizer's eos plus the model's generation config eos."""
    ids = {tokenizer.eos_token_id}
    gen = getattr(model, "generation_config", None)
    extra = getattr(gen, "eos_token_id", None) if gen is not None else None
    ids.update(extra if isinstance(extra, list) else [extra])
    return sorted(i for i in ids if i is not None)


def disable_dropout(model: torch.nn.Module) -> None:
    """Set every dropout probability to 0 so that sampling and training see the same distribution."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    config = getattr(model, "config", None)
    for name in ("attention_dropout", "dropout", "hidden_dropout", "attn_pdrop", "resid_pdrop", "embd_pdrop"):
        if isinstance(getattr(config, name, None), float):
            setattr(config, name, 0.0)


def position_ids(mask: Tensor, start: Tensor | None = None) -> Tensor:
    """Positions of left-padded rows: 0 at each row's first real token (pads get 0)."""
    pos = (mask.long().cumsum(-1) - 1).clamp(min=0)
    return pos if start is None else pos + start[:, None]


@lru_cache(maxsize=64)
def _cache_kwarg(cls: type) -> str:
    import inspect

    try:
        params = inspect.signature(cls.forward).parameters
    except (TypeError, ValueError):
        return "past_key_values"
    return "cache" if "cache" in params else "past_key_values"


def cache_kwargs(model, cache) -> dict:
    """``{name: cache}`` for a forward call: transformers >= 5.2x names the KV cache ``cache`` (the old
    ``past_key_values`` still works there, with a deprecation notice on every run), older ones
    ``past_key_values``."""
    return {_cache_kwarg(type(getattr(model, "_orig_mod", model))): cache}


def output_cache(out):
    """The KV cache a forward call returned, under either name."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def repeat_cache(cache, counts: Tensor):
    """A DynamicCache whose row i holds ``counts[i]`` copies of ``cache``'s row i (differentiable)."""
    from transformers import DynamicCache

    return DynamicCache(
        ddp_cache_data=[(layer.keys.repeat_interleave(counts, 0), layer.values.repeat_interleave(counts, 0))
                        for layer in cache.layers]
    )


def enable_gradient_checkpointing(model) -> None:
    """Recompute activations in backward (non-reentrant); the method was renamed in transformers 5."""
    enable = getattr(model, "activation_checkpointing_enable", None)
    if enable is not None:
        enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def gradient_checkpointing_on(model) -> bool:
    """Whether the model recomputes activations in backward (the property was renamed in transformers 5)."""
    flag = getattr(model, "is_activation_checkpointing", None)
    return bool(flag if flag is not None else getattr(model, "is_gradient_checkpointing", False))


def supports_prompt_sharing(model) -> bool:
    """True when the model keeps a plain key/value cache per layer and no gradient checkpointing."""
    from transformers import DynamicCache

    if gradient_checkpointing_on(model):
        return False
    try:
        cache = DynamicCache(config=model.config)
    except Exception:  # noqa: BLE001 - an exotic config means: use the plain path
        return False
    return all(type(layer).__name__ == "DynamicLayer" for layer in cache.layers)


@dataclass
class SequenceBatch:
    """Prompts (left-padded, one row per *unique* prompt) and completions (right-padded, one row each).

    ``prompt_index[j]`` is the prompt row of completion j; rows of one prompt are consecutive.
    """

    prompt_ids: Tensor  # [U, P]
    prompt_mask: Tensor  # [U, P]
    prompt_index: Tensor  # [n]
    completion_ids: Tensor  # [n, T]
    completion_mask: Tensor  # [n, T]

    def rows(self, start: int, stop: int) -> SequenceBatch:
        """Completions start:stop with just the prompts they use, trimmed of all-padding columns."""
        index = self.prompt_index[start:stop]
        used, inverse = torch.unique_consecutive(index, return_inverse=True)
        pmask = self.prompt_mask[used]
        keep_p = int(pmask.sum(1).max())
        cmask = self.completion_mask[start:stop]
        keep_c = max(int(cmask.sum(1).max()), 1)
        return SequenceBatch(
            self.prompt_ids[used][:, -keep_p:], pmask[:, -keep_p:], inverse,
            self.completion_ids[start:stop, :keep_c], cmask[:, :keep_c],
        )


def completion_logits(model, batch: SequenceBatch, share_prompt: bool = True) -> Tensor:
    """Logits that predict each completion token, ``[n, T, V]`` (position t predicts token t)."""
    c_ids, c_mask = batch.completion_ids, batch.completion_mask
    t = c_ids.shape[1]
    p_mask = batch.prompt_mask
    if share_prompt:
        out = model(input_ids=batch.prompt_ids, attention_mask=p_mask, position_ids=position_ids(p_mask),
                    use_cache=True, logits_to_keep=1)
        counts = torch.bincount(batch.prompt_index, minlength=p_mask.shape[0])
        first = out.logits.repeat_interleave(counts, 0)  # predicts completion token 0
        if t == 1:
            return first
        cache = repeat_cache(output_cache(out), counts)
        full_mask = torch.cat([p_mask[batch.prompt_index], c_mask[:, :-1]], dim=1)
        start = p_mask.sum(1)[batch.prompt_index]
        pos = start[:, None] + torch.arange(t - 1, device=c_ids.device)[None, :]
        rest = model(input_ids=c_ids[:, :-1], attention_mask=full_mask, position_ids=pos,
                     use_cache=True, **cache_kwargs(model, cache)).logits
        return torch.cat([first, rest], dim=1)
    p_ids, p_mask = batch.prompt_ids[batch.prompt_index], p_mask[batch.prompt_index]
    ids = torch.cat([p_ids, c_ids[:, :-1]], dim=1)
    mask = torch.cat([p_mask, c_mask[:, :-1]], dim=1)
    return model(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask), logits_to_keep=t).logits
