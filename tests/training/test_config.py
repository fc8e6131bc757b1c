"""The [train] options: the TRL preset, its precedence, validation, and the README's option table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chil_core.training.config import (
    TRL_OPTIONS,
    TRL_PRESET,
    TrainConfig,
    TrainConfigError,
    build_train_config,
    trl_option_table,
)

README = Path(__file__).resolve().parents[2] / "README.md"


def test_trl_preset_sets_every_trl_default_and_explicit_values_win():
    c = TrainConfig(preset="trl")
    for key, value in TRL_PRESET.items():
        assert getattr(c, key) == value, key
    assert c.epsilon_high == 0.2 and c.kl_bias_correction and not c.overlap_rewards
    mine = TrainConfig(preset="trl", epsilon_high=0.28, overlap_rewards=True)
    assert mine.epsilon_high == 0.28 and mine.overlap_rewards and mine.kl_bias_correction
    default = TrainConfig()
    assert default.preset == "chil" and default.epsilon_high == 0.28 and not default.kl_bias_correction


def test_preset_in_a_layered_config_fills_only_what_no_layer_set():
    task = build_train_config({"learning_rate": 3e-4, "max_new_tokens": 20})  # e.g. the embedded task's sizes
    c = build_train_config({"preset": "trl", "beta": 0.01}, task)
    assert c.learning_rate == 3e-4 and c.max_new_tokens == 20  # the task's own values stay
    assert c.beta == 0.01 and c.lr_schedule == "linear" and c.epsilon_high == 0.2  # the rest is TRL's


def test_bad_variant_settings_name_the_field():
    with pytest.raises(TrainConfigError, match="sync_ref_model: needs beta > 0"):
        build_train_config({"sync_ref_model": True})
    with pytest.raises(TrainConfigError, match="train.top_entropy_quantile"):
        build_train_config({"top_entropy_quantile": 1.5})
    with pytest.raises(TrainConfigError, match="train.delta"):
        build_train_config({"delta": 0.5})
    with pytest.raises(TrainConfigError, match="train.importance_sampling_level"):
        build_train_config({"importance_sampling_level": "batch"})
    with pytest.raises(TrainConfigError, match="train.preset"):
        build_train_config({"preset": "verl"})


def test_readme_option_table_is_the_generated_one():
    table = trl_option_table()
    assert table in README.read_text(encoding="utf-8"), "README's option table is stale: paste trl_option_table()"
    rows = [line for line in table.splitlines()[2:]]
    assert len(rows) == len(TRL_OPTIONS)
    assert set(TRL_PRESET) <= set(TRL_OPTIONS)  # every preset value is documented
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert re.match(r"(equal|differs)\b", cells[4]), line
        if cells[2] != cells[3]:  # the defaults differ: the row says why
            assert len(cells[4].split()) > 1, line


def test_trl_preset_is_trl_grpo_config_defaults(tmp_path):
    """Every preset value against TRL's own GRPOConfig defaults (skipped without TRL)."""
    trl = pytest.importorskip("trl")
    from trl import GRPOConfig

    args = GRPOConfig(output_dir=str(tmp_path), use_cpu=True)  # (use_cpu: no GPU here; it changes no default)
    trl_values = {
        "group_size": args.num_generations,
        "prompts_per_step": args.generation_batch_size // args.num_generations,
        "micro_batch_size": args.per_device_train_batch_size,
        "iterations": args.num_iterations,
        "learning_rate": args.learning_rate,
        "weight_decay": args.weight_decay,
        "adam_betas": (args.adam_beta1, args.adam_beta2),
        "lr_schedule": str(getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type)),
        "warmup_steps": args.warmup_steps,
        "max_grad_norm": args.max_grad_norm,
        "temperature": args.temperature,
        "top_k": args.top_k,
        "top_p": args.top_p,
        "max_new_tokens": args.max_completion_length,
        "scale_rewards": args.scale_rewards,
        "reward_aggregation": args.multi_objective_aggregation,
        "normalize_then_sum_scale": "batch",  # not an option in TRL: it always scales over the batch there
        "loss_type": args.loss_type,
        "importance_sampling_level": args.importance_sampling_level,
        "epsilon_low": args.epsilon,
        "epsilon_high": args.epsilon_high if args.epsilon_high is not None else args.epsilon,  # as GRPOTrainer reads it
        "delta": args.delta,
        "beta": args.beta,
        "kl_bias_correction": args.use_bias_correction_kl,
        "mask_truncated": args.mask_truncated_completions,
        "top_entropy_quantile": args.top_entropy_quantile,
        "sync_ref_model": args.sync_ref_model,
        "ref_model_mixup_alpha": args.ref_model_mixup_alpha,
        "ref_model_sync_steps": args.ref_model_sync_steps,
        "overlap_rewards": False,  # not an option in TRL: it is on-policy
        "precision": "bf16" if args.bf16 else "fp32",
        "gradient_checkpointing": args.gradient_checkpointing,
        "seed": args.seed,
    }
    assert trl_values == TRL_PRESET, trl.__version__
