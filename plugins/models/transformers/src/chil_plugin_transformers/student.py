"""A tiny transformer classifier trained from scratch on the project's byte-level tokenizer.

``student_tokenizer()`` is :func:`chil_core.training.policy.byte_tokenizer` (one token per UTF-8 byte,
no download) with ``<s>`` in front of every text and padding on the right, so the model pools the
first position.  ``tiny_classifier()`` is a small BERT (two layers of 64 at the defaults, ~0.1M
parameters).  ``train_classifier()`` is one plain loop: AdamW, length-bucketed mini-batches, a fixed
number of epochs or a time budget, whichever ends first.  ``save_model()`` writes a model directory
(weights as safetensors, config, tokenizer, ``chil-model.json`` card).
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chil_core.capabilities.model import write_card

log = logging.getLogger(__name__)


def student_tokenizer() -> Any:
    from tokenizers import processors

    from chil_core.training.policy import byte_tokenizer

    tok = byte_tokenizer()
    tok.padding_side = "right"
    tok._tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A </s> $B", special_tokens=[("<s>", tok.bos_token_id), ("</s>", tok.eos_token_id)])
    return tok


@dataclass
class StudentShape:
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    max_length: int = 128


def tiny_classifier(tokenizer: Any, labels: Sequence[str], shape: StudentShape, seed: int = 0) -> Any:
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=shape.hidden, num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads, intermediate_size=2 * shape.hidden, max_position_embeddings=shape.max_length + 2,
        type_vocab_size=1, num_labels=len(labels), pad_token_id=tokenizer.pad_token_id,
        id2label=dict(enumerate(labels)), label2id={x: i for i, x in enumerate(labels)},
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return BertForSequenceClassification(config)


def encode(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[list[int]]:
    ids = tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
    return [x[:max_length] for x in ids]


def _batch(ids: list[list[int]], rows: Sequence[int], pad: int) -> tuple[Any, Any]:
    import torch

    width = max(len(ids[i]) for i in rows)
    x = torch.full((len(rows), width), pad, dtype=torch.long)
    m = torch.zeros((len(rows), width), dtype=torch.long)
    for k, i in enumerate(rows):
        x[k, : len(ids[i])] = torch.tensor(ids[i])
        m[k, : len(ids[i])] = 1
    return x, m


def train_classifier(model: Any, tokenizer: Any, texts: Sequence[str], labels: Sequence[int], *, max_length: int,
                     epochs: int = 10, batch_size: int = 64, lr: float = 3e-3, seed: int = 0,
                     time_budget_s: float | None = None, log_every: int = 0) -> dict[str, Any]:
    """Train ``model`` in place; returns what happened (epochs run, the mean loss of the last 50 steps, seconds).

    One batch's loss says little (length bucketing can make the last batch all one label), so the
    card carries the mean over the last 50 steps: near ln(number of labels) means nothing was learned."""
    import torch

    rng = random.Random(seed)
    ids = encode(tokenizer, texts, max_length)
    y = torch.tensor(list(labels), dtype=torch.long)
    counts = torch.bincount(y, minlength=model.config.num_labels).float()
    weight = (counts.sum() / counts.clamp(min=1) / len(counts)).clamp(max=10.0)  # balance rare labels
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    steps_per_epoch = max(1, math.ceil(len(ids) / batch_size))
    total = max(1, epochs * steps_per_epoch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 20) * max(0.05, 1 - s / total))
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    model.train()
    t0, step, done_epochs = time.perf_counter(), 0, 0
    recent: collections.deque[float] = collections.deque(maxlen=50)
    pad = int(tokenizer.pad_token_id)
    for _epoch in range(epochs):
        order = list(range(len(ids)))
        rng.shuffle(order)
        # length bucketing inside chunks of 16 batches: little padding, still shuffled
        chunk = batch_size * 16
        batches = []
        for c in range(0, len(order), chunk):
            part = sorted(order[c:c + chunk], key=lambda i: len(ids[i]))
            batches += [part[k:k + batch_size] for k in range(0, len(part), batch_size)]
        rng.shuffle(batches)
        for rows in batches:
            x, m = _batch(ids, rows, pad)
            loss = loss_fn(model(input_ids=x, attention_mask=m).logits, y[rows])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            recent.append(float(loss.detach()))
            if log_every and step % log_every == 0:
                log.info("step %d loss %.4f", step, recent[-1])
            if time_budget_s is not None and time.perf_counter() - t0 > time_budget_s:
                break
        else:
            done_epochs += 1
            continue
        break
    model.eval()
    mean = sum(recent) / len(recent) if recent else float("nan")
    return {"epochs": done_epochs, "steps": step, "loss_last_50_steps": round(mean, 4), "seconds": round(time.perf_counter() - t0, 1)}


def predict(model: Any, tokenizer: Any, texts: Sequence[str], max_length: int, batch_size: int = 256) -> list[int]:
    import torch

    ids = encode(tokenizer, texts, max_length)
    out = [0] * len(ids)
    pad = int(tokenizer.pad_token_id)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    with torch.inference_mode():
        for k in range(0, len(order), batch_size):
            rows = order[k:k + batch_size]
            x, m = _batch(ids, rows, pad)
            for i, p in zip(rows, model(input_ids=x, attention_mask=m).logits.argmax(-1).tolist(), strict=True):
                out[i] = int(p)
    return out


def save_model(directory: Path, model: Any, tokenizer: Any, card: dict[str, Any]) -> Path:
    """Write the model directory (weights, config, tokenizer, card dated now)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(directory), safe_serialization=True)
    tokenizer.save_pretrained(str(directory))
    full = {"kind": "classifier", "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), **card}
    write_card(directory, full)
    return directory


def split(n: int, held_out: float, seed: int) -> tuple[list[int], list[int]]:
    """Shuffled (train, held-out) indices."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    k = int(round(n * held_out))
    return order[k:], order[:k]
