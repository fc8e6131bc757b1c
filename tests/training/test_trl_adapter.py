"""chil frameworks as TRL reward functions, proven inside a real TRL GRPOTrainer run."""

from __future__ import annotations

import math

import pytest

trl = pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")
pytest.importorskip("chil_plugin_empirical")
pytest.importorskip("chil_plugin_consistency")

from chil_core.integrations.trl import chil_reward_funcs  # noqa: E402

CONFIG = {"cache": {"path": ""}, "frameworks": {"empirical": {"weight": 2.0}, "consistency": {"weight": 0.5}}}


@pytest.fixture(scope="module")
def rewards():
    r = chil_reward_funcs(CONFIG)
    yield r
    r.close()


def test_chil_reward_first_then_one_function_per_framework_and_none_for_unscored(rewards):
    assert [f.__name__ for f in rewards.funcs] == ["chil_reward"] + [f"chil_{n}" for n in rewards.names]
    assert rewards.weights == [1.0] + [0.0] * len(rewards.names)  # TRL trains on chil's reward, logs the others
    with chil_reward_funcs(CONFIG, per_framework=True) as per_fw:
        assert [f.__name__ for f in per_fw.funcs] == [f"chil_{n}" for n in per_fw.names]
        assert dict(zip(per_fw.names, per_fw.weights, strict=True)) == {"empirical": 2.0, "consistency": 0.5}
    prompts = ["3+4=", "3+4=", "3+4="]
    completions = ["3+4=7 #### 7", "3+4=8 #### 8", "3+4=7 #### 9"]
    out = {f.__name__: f(prompts=prompts, completions=completions, answer=["7", "7", "7"]) for f in rewards.funcs}
    direct = rewards.scorer.score([{"id": str(i), "prompt": p, "completion": c, "reference": {"answer": "7"}}
                                   for i, (p, c) in enumerate(zip(prompts, completions, strict=True))])
    assert out["chil_empirical"] == [r.frameworks["empirical"].score for r in direct]
    assert out["chil_reward"] == [r.reward for r in direct]
    assert out["chil_empirical"][0] == 1.0 and out["chil_empirical"][1] < out["chil_empirical"][0]
    # consistency has no logic to judge in arithmetic: it abstains, which TRL must see as None
    assert out["chil_consistency"] == [None, None, None]


def test_conversational_inputs_and_memoised_batch(rewards):
    prompts = [[{"role": "user", "content": "2+2="}]] * 2
    completions = [[{"role": "assistant", "content": "2+2=4 #### 4"}], [{"role": "assistant", "content": "5"}]]
    calls = []
    original = rewards.scorer.score
    rewards.scorer.score = lambda records: calls.append(len(records)) or original(records)  # count scorer calls
    try:
        got = [f(prompts=prompts, completions=completions, reference=[{"answer": "4"}] * 2) for f in rewards.funcs]
    finally:
        rewards.scorer.score = original
    assert calls == [2]  # scored once for both functions
    assert got[rewards.names.index("empirical")][0] == 1.0


def test_trl_grpo_trainer_runs_with_chil_rewards(tmp_path, warm_policy_dir, rewards):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    model = AutoModelForCausalLM.from_pretrained(warm_policy_dir)
    tok = AutoTokenizer.from_pretrained(warm_policy_dir)
    data = Dataset.from_list([{"prompt": f"{i}+{i % 7}=", "answer": str(i + i % 7)} for i in range(16)])
    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=8, num_generations=4,
                      max_completion_length=16, max_steps=2, learning_rate=1e-3, logging_steps=1,
                      save_strategy="no", report_to="none", use_cpu=True, bf16=False, gradient_checkpointing=False,
                      reward_weights=rewards.weights, disable_tqdm=True, seed=0)
    trainer = GRPOTrainer(model=model, reward_funcs=rewards.funcs, args=args, train_dataset=data, processing_class=tok)
    trainer.train()
    logs = [h for h in trainer.state.log_history if "rewards/chil_empirical/mean" in h]
    assert len(logs) == 2
    assert all(0.0 <= h["rewards/chil_empirical/mean"] <= 1.0 for h in logs)
    # only empirical scores here: chil's weighted mean is its score, and TRL's reward is that (weight 1 + 0s)
    assert all(h["reward"] == pytest.approx(h["rewards/chil_reward/mean"]) for h in logs)
    # every consistency verdict abstained -> None -> TRL's NaN mean (logged as None or NaN)
    assert all(h["rewards/chil_consistency/mean"] is None or math.isnan(h["rewards/chil_consistency/mean"]) for h in logs)


def test_config_file_with_a_train_table(tmp_path):
    path = tmp_path / "chil.toml"
    path.write_text('[train]\nmax_steps = 3\n\n[frameworks.empirical]\nweight = 3.0\n\n[cache]\npath = ""\n')
    with chil_reward_funcs(path, per_framework=True) as r:
        assert r.names == ["empirical"] and r.weights == [3.0]


def test_the_adapter_scores_without_importing_torch(tmp_path):
    """Scoring through the adapter needs the core and the frameworks, not torch (TRL brings its own)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from chil_core.integrations.trl import chil_reward_funcs\n"
        "r = chil_reward_funcs({'cache': {'path': ''}}, frameworks=['empirical'])\n"
        "out = r.score(['2+2='], ['2+2=4 #### 4'], answer=['4'])\n"
        "assert out[0].frameworks['empirical'].status == 'scored', out\n"
        "r.close()\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False"


THEORY = "Bob is big. If something is big then it is red. If something is red then it is not nice. What is 3+4?"
COMPLETIONS = ["Bob is red. 3+4=7 #### 7", "Bob is nice. 3+4=8 #### 8", "3+4=7 #### 7", "3+4=9 #### 9",
               "Bob is red. So 3+4=7 #### 7", "Bob is red.", "3+4=7 #### 7", "Bob is nice. 3+4=7 #### 7"]


def _trl_columns(funcs, completions):
    """What TRL's reward step builds: one column per reward function, None -> NaN."""
    import torch

    cols = [f(prompts=[THEORY] * len(completions), completions=completions, answer=["7"] * len(completions))
            for f in funcs]
    return torch.tensor([[math.nan if v is None else v for v in col] for col in cols]).T


def test_adapter_gives_trl_the_reward_and_advantages_chil_train_uses(rewards):
    """Item: the built-in trainer averages the frameworks that scored, TRL sums its reward functions."""
    import torch

    from chil_core.training.grpo import group_advantages
    from chil_core.training.trainer import reward_matrix

    direct = rewards.scorer.score([{"id": str(i), "prompt": THEORY, "completion": c, "reference": {"answer": "7"}}
                                   for i, c in enumerate(COMPLETIONS)])
    scored_sets = {frozenset(n for n, res in r.frameworks.items() if res.status == "scored") for r in direct}
    assert len(scored_sets) > 1  # the frameworks that score differ between completions: the case that matters

    cols = _trl_columns(rewards.funcs, COMPLETIONS)  # default: chil_reward (weight 1) + frameworks (weight 0)
    w = torch.tensor(rewards.weights)
    trl_reward = (cols * w).nansum(dim=1)  # TRL's sum_then_normalize combination
    assert trl_reward.tolist() == pytest.approx([r.reward for r in direct])
    chil_values, chil_w = reward_matrix(direct, per_framework=False)
    for scale in ("group", "batch", "none"):
        trl_adv = group_advantages(cols, 4, w, scale=scale).advantages  # (== TRL's: test_trl_parity.py)
        assert torch.allclose(trl_adv, group_advantages(chil_values, 4, chil_w, scale=scale).advantages, atol=1e-6)

    with chil_reward_funcs(CONFIG, per_framework=True) as per_fw:
        cols = _trl_columns(per_fw.funcs, COMPLETIONS)
        w = torch.tensor(per_fw.weights)
        # TRL's sum of weighted scores is not chil's weighted mean when different frameworks score...
        assert (cols * w).nansum(dim=1).tolist() != pytest.approx([r.reward for r in direct])
        # ...but per-framework normalisation (normalize_then_sum) is the same on both sides
        values, weights = reward_matrix(direct, per_framework=True)  # columns by framework name
        order = [per_fw.names.index(n) for n in sorted(per_fw.names)]
        cols, w = cols[:, order], w[order]
        trl_adv = group_advantages(cols, 4, w, aggregation="normalize_then_sum", combined_scale="batch").advantages
        chil_adv = group_advantages(values, 4, weights, aggregation="normalize_then_sum",
                                    combined_scale="batch").advantages
        assert torch.allclose(trl_adv, chil_adv, atol=1e-6)
