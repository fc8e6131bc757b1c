"""Fixtures for the trainer tests: a very small policy, prompt files, and a real scorer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="session")
def tokenizer():
    from chil_core.training.policy import byte_tokenizer

    return byte_tokenizer()


@pytest.fixture
def tiny_model(tokenizer):
    from chil_core.training.policy import tiny_policy

    return tiny_policy(tokenizer, hidden_size=32, num_layers=2, num_heads=2, seed=0)


PROMPTS = [(f"{i}+{i % 7}=", str(i + i % 7)) for i in range(48)]


@pytest.fixture
def arithmetic_jsonl(tmp_path: Path) -> Path:
    """48 addition prompts with their answers, one JSON object per line."""
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "prompt": p, "answer": a}) + "\n"
                            for i, (p, a) in enumerate(PROMPTS)), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def warm_policy_dir(tmp_path_factory, tokenizer) -> Path:
    """A tiny policy given a 2-second supervised start: it writes claims and answers, often wrong, so
    completions of one prompt get different rewards (without that GRPO has no signal to test)."""
    from chil_core.training.default_task import warm_start
    from chil_core.training.policy import tiny_policy

    model = tiny_policy(tokenizer, hidden_size=32, num_layers=2, num_heads=2, seed=0)
    examples = [(p, f"{p}{a} #### {a}") for p, a in PROMPTS]
    warm_start(model, tokenizer, examples, max_steps=150, batch_size=32, learning_rate=1e-2, check_every=150)
    path = tmp_path_factory.mktemp("warm_policy")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def scorer():
    """The real core Scorer with the empirical framework, memory cache only."""
    pytest.importorskip("chil_plugin_empirical")
    from chil_core.scoring import Scorer

    # filler_steps = "count": the 2-second warm start babbles, and these tests need the partial credit its
    # stray correct steps earn to have a reward spread at all (the default "ignore" pays filler nothing)
    s = Scorer.from_config({"cache": {"path": ""}, "frameworks": {"empirical": {"options": {"filler_steps": "count"}}}},
                           frameworks=["empirical"])
    yield s
    s.close()


def _small_config(tmp_path: Path, **overrides):
    from chil_core.training.config import TrainConfig

    values = {"output_dir": str(tmp_path / "run"), "max_steps": 4, "prompts_per_step": 4, "group_size": 4,
              "micro_batch_size": 16, "max_new_tokens": 16, "learning_rate": 1e-3, "progress": False,
              "tensorboard": False, "save_every": 2, "threads": 2}
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture
def small_config():
    """``small_config(dir, **overrides)``: a TrainConfig of a few tiny steps writing under ``dir/run``."""
    return _small_config
