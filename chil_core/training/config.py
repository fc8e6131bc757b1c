"""Training settings: the ``[train]`` table of a chil TOML config, or keyword arguments.

```toml
[train]
model = "path/to/hf-model"        # leave out for the embedded tiny policy and task
data = "prompts.jsonl"            # or .parquet; rows: prompt, reference / answer, metadata
max_steps = 200
group_size = 8
loss_type = "dapo"                # grpo | dapo | dr_grpo
```

Everything else in the file (``[frameworks.*]``, ``[tools.*]``, ``[scheduler]``...) configures the
scorer that computes the rewards.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ScaleRewards = Literal["group", "batch", "none"]
Aggregation = Literal["sum_then_normalize", "normalize_then_sum"]
LossType = Literal["grpo", "dapo", "dr_grpo"]


class TrainConfig(BaseModel):
    """Every knob of a GRPO run; unknown keys are rejected with their name."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # what to train on
    model: str | None = Field(default=None, description="HF causal LM path or id; unset: the embedded tiny policy.")
    data: str | None = Field(default=None, description="Prompts (.jsonl / .parquet); unset: the embedded task.")
    eval_data: str | None = Field(default=None, description="Held-out prompts evaluated before and after.")
    prompt_field: str = "prompt"
    frameworks: list[str] | None = Field(default=None, description="Frameworks that score; unset: the config's.")
    output_dir: str = "runs/chil"

    # GRPO
    max_steps: int = Field(default=200, ge=1)
    prompts_per_step: int = Field(default=8, ge=1, description="B: prompts per generation batch.")
    group_size: int = Field(default=8, ge=1, description="G: completions per prompt.")
    micro_batch_size: int = Field(default=64, ge=1, description="Completions per forward/backward (accumulation).")
    iterations: int = Field(default=1, ge=1, description="mu: optimizer passes over each generation batch.")
    learning_rate: float = Field(default=1e-4, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    adam_betas: tuple[float, float] = (0.9, 0.999)
    lr_schedule: Literal["constant", "linear", "cosine"] = "constant"
    warmup_steps: int = Field(default=0, ge=0, description="Optimizer steps of linear warm-up.")
    max_grad_norm: float = Field(default=1.0, ge=0, description="0 disables clipping.")
    temperature: float = Field(default=1.0, gt=0)
    top_k: int = Field(default=0, ge=0)
    top_p: float = Field(default=1.0, gt=0, le=1)
    max_new_tokens: int = Field(default=64, ge=1)
    max_prompt_length: int = Field(default=512, ge=1)
    scale_rewards: ScaleRewards = "group"
    reward_aggregation: Aggregation = "sum_then_normalize"
    loss_type: LossType = "dapo"
    epsilon_low: float = Field(default=0.2, ge=0)
    epsilon_high: float = Field(default=0.28, ge=0)
    beta: float = Field(default=0.0, ge=0, description="KL(k3) coefficient to the initial policy; 0: no reference.")
    mask_truncated: bool = Field(default=False, description="Leave completions without an end token out of the loss.")

    # speed
    overlap_rewards: bool = Field(default=True, description="Generate batch n+1 while batch n is scored.")
    pipeline_generation: bool | Literal["auto"] = Field(
        default="auto", description="With overlap_rewards, sample on a worker thread (a weight copy) while "
        "the main thread updates; each gets half the threads. auto: on a CPU.")
    share_prompt: bool = Field(default=True, description="Run each prompt once per group in the training pass.")
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    gradient_checkpointing: bool = False
    compile: bool = Field(default=False, description="torch.compile the training forward pass.")
    threads: int | None = Field(default=None, ge=1, description="torch intra-op threads.")

    # state and output
    seed: int = 0
    save_every: int = Field(default=50, ge=0, description="Checkpoint every N steps (0: only at the end).")
    keep_checkpoints: int = Field(default=2, ge=1)
    eval_every: int = Field(default=0, ge=0)
    eval_max_prompts: int = Field(default=256, ge=1)
    tensorboard: bool = True
    progress: bool = True

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.group_size < 2 and self.scale_rewards == "group":
            raise ValueError("group_size: group-scaled advantages need at least 2 completions per prompt")
        return self

    @property
    def batch_completions(self) -> int:
        return self.prompts_per_step * self.group_size


class TrainConfigError(ValueError):
    """A bad ``[train]`` value; the message names the field."""


def build_train_config(values: Mapping[str, Any], base: TrainConfig | None = None) -> TrainConfig:
    """``base`` (or the defaults) updated with ``values``, validated, errors naming ``train.<field>``."""
    data = {**(base.model_dump(exclude_unset=True) if base else {}), **values}
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        lines = [f"train.{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()]
        raise TrainConfigError("invalid [train] settings:\n  " + "\n  ".join(lines)) from None


def split_config(path: str | Path | None) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """(the ``[train]`` table, the rest for the scorer, the file used) from ``path`` / chil.toml / none."""
    from chil_core.config import find_config, read_toml

    found = find_config(path)
    if found is None:
        return {}, {}, None
    data = read_toml(found)
    train = data.pop("train", {})
    if not isinstance(train, dict):
        raise TrainConfigError(f"train: expected a table in {found}")
    return train, data, str(found)
