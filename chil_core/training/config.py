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

from chil_core.config_file import find_config, read_toml

ScaleRewards = Literal["group", "batch", "none"]
Aggregation = Literal["sum_then_normalize", "normalize_then_sum"]
LossType = Literal["grpo", "bnpo", "dapo", "dr_grpo"]
ImportanceLevel = Literal["token", "sequence"]
Preset = Literal["chil", "trl"]

# ``preset = "trl"``: TRL 1.16's GRPOConfig defaults, for every [train] option that has a TRL counterpart
# (the option table in the README, generated from TRL_OPTIONS below, says which is which).  A value given
# explicitly, or by the embedded task (its sizes and learning rate), wins over the preset.
TRL_PRESET: dict[str, Any] = {
    "prompts_per_step": 1,  # generation batch = per_device_train_batch_size 8 = 1 prompt x 8 generations
    "group_size": 8,
    "micro_batch_size": 8,
    "iterations": 1,
    "learning_rate": 1e-6,
    "weight_decay": 0.0,
    "adam_betas": (0.9, 0.999),
    "lr_schedule": "linear",
    "warmup_steps": 0,
    "max_grad_norm": 1.0,
    "temperature": 1.0,
    "top_k": 0,
    "top_p": 1.0,
    "max_new_tokens": 512,
    "scale_rewards": "group",
    "reward_aggregation": "sum_then_normalize",
    "normalize_then_sum_scale": "batch",
    "loss_type": "dapo",
    "importance_sampling_level": "token",
    "epsilon_low": 0.2,
    "epsilon_high": 0.2,
    "delta": None,
    "beta": 0.0,
    "kl_bias_correction": True,
    "mask_truncated": False,
    "top_entropy_quantile": 1.0,
    "sync_ref_model": False,
    "ref_model_mixup_alpha": 0.6,
    "ref_model_sync_steps": 512,
    "overlap_rewards": False,  # TRL scores, then updates: strictly on-policy
    "precision": "bf16",  # GRPOConfig: bf16 = True unless fp16
    "gradient_checkpointing": True,
    "seed": 42,
}


class TrainConfig(BaseModel):
    """Every knob of a GRPO run; unknown keys are rejected with their name."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    preset: Preset = Field(default="chil", description="Defaults to start from: chil's, or TRL 1.16's (trl).")

    # what to train on
    model: str | None = Field(default=None, description="HF causal LM path or id; unset: the embedded tiny policy.")
    data: str | None = Field(default=None, description="Prompts (.jsonl / .parquet); unset: the embedded task.")
    task: str | None = Field(default=None, description="The embedded task when data is unset: arithmetic (the "
                             "default) or one a plugin adds, e.g. utility:lotteries (chil train --task help lists them).")
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
    normalize_then_sum_scale: Literal["scale_rewards", "batch"] = Field(
        default="scale_rewards", description="normalize_then_sum: centre the summed rewards per group and scale "
        "them as scale_rewards says, or centre and scale them over the whole batch (TRL, the GDPO paper).")
    loss_type: LossType = "dapo"
    importance_sampling_level: ImportanceLevel = Field(
        default="token", description="Importance ratio per token, or one per sequence (GSPO).")
    epsilon_low: float = Field(default=0.2, ge=0)
    epsilon_high: float = Field(default=0.28, ge=0)
    delta: float | None = Field(default=None, ge=1, description="Two-sided clipping (INTELLECT-2): the ratio is "
                                "also capped at delta, for negative advantages; None: off.")
    beta: float = Field(default=0.0, ge=0, description="KL(k3) coefficient to the reference policy; 0: no reference.")
    kl_bias_correction: bool = Field(default=False, description="Multiply the k3 KL by the importance ratio "
                                     "(DeepSeek-V3.2; TRL's use_bias_correction_kl, on by default there).")
    sync_ref_model: bool = Field(default=False, description="Every ref_model_sync_steps optimizer steps, "
                                 "ref = alpha * policy + (1 - alpha) * ref (TR-DPO); needs beta > 0.")
    ref_model_mixup_alpha: float = Field(default=0.6, ge=0, le=1)
    ref_model_sync_steps: int = Field(default=512, ge=1)
    top_entropy_quantile: float = Field(default=1.0, ge=0, le=1, description="Train only on the tokens whose "
                                        "entropy is in this top quantile of the batch's (0.2 in the paper); 1: all.")
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
    distributed: Literal["ddp", "fsdp"] = Field(
        default="ddp", description="Under torchrun: ddp (every process holds the whole model; gradients summed) "
        "or fsdp (parameters, gradients and optimizer state sharded over the processes; each keeps a full "
        "copy of the weights for sampling). One process: ignored.")

    # state and output
    seed: int = 0
    save_every: int = Field(default=50, ge=0, description="Checkpoint every N steps (0: only at the end).")
    keep_checkpoints: int = Field(default=2, ge=1)
    eval_every: int = Field(default=0, ge=0)
    eval_max_prompts: int = Field(default=256, ge=1)
    tensorboard: bool = True
    progress: bool = True

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        """``preset = "trl"`` fills every option not given with TRL's default."""
        if isinstance(data, Mapping) and data.get("preset") == "trl":
            return {**TRL_PRESET, **data}
        return data

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.group_size < 2 and self.scale_rewards == "group":
            raise ValueError("group_size: group-scaled advantages need at least 2 completions per prompt")
        if self.sync_ref_model and self.beta == 0:
            raise ValueError("sync_ref_model: needs beta > 0 (without a KL term there is no reference model to sync)")
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
    found = find_config(path)
    if found is None:
        return {}, {}, None
    data = read_toml(found)
    train = data.pop("train", {})
    if not isinstance(train, dict):
        raise TrainConfigError(f"train: expected a table in {found}")
    return train, data, str(found)


# chil [train] option -> (TRL 1.16 GRPOConfig option, how the two compare).  "equal" means: given the same
# value, chil computes what TRL computes (tests/training/test_trl_parity.py checks the loss, gradients and
# advantages against TRL's own code).  The README's option table is rendered from this (trl_option_table()).
TRL_OPTIONS: dict[str, tuple[str, str]] = {
    "group_size": ("num_generations", "equal"),
    "prompts_per_step": ("generation_batch_size / num_generations", "equal: one generation batch per step"),
    "micro_batch_size": ("per_device_train_batch_size", "equal; in chil it only sizes memory (the loss does "
                         "not depend on it) except for bnpo, whose token mean is per micro-batch as in TRL"),
    "iterations": ("num_iterations", "equal"),
    "learning_rate": ("learning_rate", "equal; chil's default suits small models"),
    "lr_schedule": ("lr_scheduler_type", "equal (constant, linear, cosine); chil keeps the rate constant"),
    "warmup_steps": ("warmup_steps", "equal"),
    "weight_decay": ("weight_decay", "equal (AdamW)"),
    "adam_betas": ("adam_beta1, adam_beta2", "equal"),
    "max_grad_norm": ("max_grad_norm", "equal"),
    "temperature": ("temperature", "equal"),
    "top_k": ("top_k", "equal"),
    "top_p": ("top_p", "equal"),
    "max_new_tokens": ("max_completion_length", "equal; also the dr_grpo constant"),
    "scale_rewards": ("scale_rewards", "equal"),
    "reward_aggregation": ("multi_objective_aggregation", "equal"),
    "normalize_then_sum_scale": ("(none: always batch)", "differs by default: chil centres the summed z-scores per "
                                 "group and scales them as scale_rewards says; TRL (and the GDPO paper) centre and "
                                 "scale them over the batch: set batch"),
    "loss_type": ("loss_type", "equal for grpo, bnpo, dapo, dr_grpo (TRL's cispo, sapo, luspo, vespo: not in chil)"),
    "importance_sampling_level": ("importance_sampling_level", "equal (sequence: GSPO)"),
    "epsilon_low": ("epsilon", "equal"),
    "epsilon_high": ("epsilon_high", "equal; chil's default is DAPO's clip-higher, TRL's equals epsilon"),
    "delta": ("delta", "equal"),
    "beta": ("beta", "equal"),
    "kl_bias_correction": ("use_bias_correction_kl", "equal; chil's default is the plain k3 term of the GRPO "
                           "paper, TRL's multiplies it by the importance ratio (the gradient differs, even on-policy)"),
    "mask_truncated": ("mask_truncated_completions", "equal"),
    "top_entropy_quantile": ("top_entropy_quantile", "equal when a generation batch is one TRL micro-batch: chil "
                             "takes the quantile over the whole batch (the loss does not depend on micro_batch_size), "
                             "TRL over each micro-batch"),
    "sync_ref_model": ("sync_ref_model", "equal"),
    "ref_model_mixup_alpha": ("ref_model_mixup_alpha", "equal"),
    "ref_model_sync_steps": ("ref_model_sync_steps", "equal (optimizer steps)"),
    "overlap_rewards": ("(none: on-policy)", "differs by default: chil trains each batch one update after it was "
                        "sampled (importance-corrected) while the next is sampled and scored; false: on-policy, as TRL"),
    "precision": ("bf16", "equal; chil's auto is bf16 on CUDA and fp32 on a CPU, TRL's bf16 is on everywhere"),
    "gradient_checkpointing": ("gradient_checkpointing", "equal; off in chil (small models)"),
    "seed": ("seed", "differs: the samplers differ, so one seed gives other completions"),
}


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "unset"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return repr(value)


def trl_option_table() -> str:
    """The README's option table (markdown): chil option, TRL option, both defaults, how they compare."""
    defaults = TrainConfig()
    lines = ["| chil `[train]` | TRL `GRPOConfig` | chil default | TRL 1.16 default (`preset = \"trl\"`) | equal / differs |",
             "|---|---|---|---|---|"]
    for key, (trl_key, how) in TRL_OPTIONS.items():
        trl_default = _fmt(TRL_PRESET[key]) if key in TRL_PRESET else "-"
        trl_cell = trl_key if trl_key.startswith("(") else ", ".join(f"`{k.strip()}`" for k in trl_key.split(","))
        lines.append(f"| `{key}` | {trl_cell} | {_fmt(getattr(defaults, key))} | {trl_default} | {how} |")
    return "\n".join(lines)
