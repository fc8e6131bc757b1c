"""GRPO training on chil rewards (extra ``train``: torch, transformers, pyarrow, tensorboard, matplotlib).

Modules, in the order a step uses them: ``data`` (prompts), ``policy`` (model, tokenizer, training
forward), ``sampling`` (generation), ``grpo`` (advantages and loss, pure functions), ``trainer`` (the
loop), ``checkpoint``, ``metrics``, ``report``; ``default_task`` is the embedded run and ``run``
puts a job together for ``chil train`` (``cli``).

Importing this package loads nothing heavy; ``train``, ``Trainer`` and ``TrainConfig`` load on use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TrainConfig", "Trainer", "train"]


def __getattr__(name: str) -> Any:
    if name == "train":
        from chil_core.training.run import train

        return train
    if name == "Trainer":
        from chil_core.training.trainer import Trainer

        return Trainer
    if name == "TrainConfig":
        from chil_core.training.config import TrainConfig

        return TrainConfig
    raise AttributeError(f"module 'chil_core.training' has no attribute {name!r}")
