"""chil's GRPO math against TRL's own code (skipped without TRL; setup.sh installs it, CI runs it).

1. The loss: the same random inputs (float64) go through chil's ``policy_loss`` and through TRL's
   ``GRPOTrainer._compute_loss`` itself (called on a stand-in ``self`` that hands it the log-probs
   and entropies: the model forward is the only part replaced), for every option both have; the
   losses and their gradients must agree to 1e-12.
2. The advantages: TRL's ``_generate_and_score_completions`` (a real trainer, a tiny policy) scores
   its completions with reward functions that return fixed values (NaN / None included); chil's
   ``group_advantages`` on the same values must give TRL's advantages, for every scaling and
   aggregation.
3. Two trainers: TRL's ``GRPOTrainer`` runs a few on-policy steps with ``preset = "trl"`` settings;
   chil's ``Trainer`` starts from the same weights and updates on the same batches (TRL's completions
   and the same chil rewards; the two samplers draw differently, so the completions are shared);
   losses, advantages and the weights after every step must match.
"""

from __future__ import annotations

import itertools
import math
import types
from collections import defaultdict

import pytest
import torch

trl = pytest.importorskip("trl")

from trl import GRPOTrainer  # noqa: E402

from chil_core.training.grpo import bnpo_row_tokens, group_advantages, policy_loss  # noqa: E402

NAN = math.nan


class _Accelerator:
    num_processes = 1

    def pad_across_processes(self, x, dim=0, pad_index=0):
        return x

    def gather(self, x):
        return x

    def gather_for_metrics(self, x):
        return x

    def reduce(self, x, reduction="sum"):
        return x


def trl_compute_loss(logps, entropies, old, ref, adv, mask, *, loss_type, level, beta, bias_kl, delta, quantile,
                     eps_low, eps_high, max_len, chunks):
    """TRL 1.16's ``_compute_loss`` over ``chunks`` equal micro-batches (its gradient accumulation),
    summed as TRL's trainer accumulates them."""
    n = logps.shape[0]
    size = n // chunks
    total = logps.new_zeros(())
    for c in range(chunks):
        rows = slice(c * size, (c + 1) * size)
        stub = types.SimpleNamespace(
            top_entropy_quantile=quantile, off_policy_mask_threshold=None, importance_sampling_level=level,
            beta=beta, loss_type=loss_type, epsilon_low=eps_low, epsilon_high=eps_high, use_vllm=False,
            vllm_importance_sampling_correction=False, model=types.SimpleNamespace(training=True),
            current_gradient_accumulation_steps=chunks, max_completion_length=max_len, _entropy_bonus_enabled=False,
            aux_loss_enabled=False, accelerator=_Accelerator(), _metrics=defaultdict(lambda: defaultdict(list)),
            args=types.SimpleNamespace(use_bias_correction_kl=bias_kl, delta=delta, steps_per_generation=chunks),
        )
        stub.get_high_entropy_mask = types.MethodType(GRPOTrainer.get_high_entropy_mask, stub)
        stub._get_per_token_logps_and_entropies = lambda *a, rows=rows, **k: (logps[rows], entropies[rows], None)
        m = mask[rows]
        inputs = {"prompt_ids": torch.ones(size, 2, dtype=torch.long), "prompt_mask": torch.ones(size, 2, dtype=torch.long),
                  "completion_ids": torch.ones_like(m), "completion_mask": m, "advantages": adv[rows],
                  "num_items_in_batch": mask.sum()}
        if old is not None:
            inputs["old_per_token_logps"] = old[rows]
        if beta:
            inputs["ref_per_token_logps"] = ref[rows]
        total = total + GRPOTrainer._compute_loss(stub, None, inputs)
    return total


def chil_loss(logps, entropies, old, ref, adv, mask, *, loss_type, level, beta, bias_kl, delta, quantile,
              eps_low, eps_high, max_len, chunks):
    """chil's ``policy_loss`` over the same micro-batches, summed (its gradient accumulation)."""
    from chil_core.training.grpo import high_entropy_mask

    n = logps.shape[0]
    size = n // chunks
    old = logps.detach() if old is None else old
    row_tokens = bnpo_row_tokens(mask, size)
    emask = high_entropy_mask(entropies, mask, quantile) if quantile < 1 else None
    total = logps.new_zeros(())
    for c in range(chunks):
        r = slice(c * size, (c + 1) * size)
        loss, _ = policy_loss(logps[r], old[r], adv[r], mask[r], loss_type=loss_type, eps_low=eps_low, eps_high=eps_high,
                              num_sequences=n, num_tokens=int(mask.sum()), max_completion_length=max_len,
                              ref_logps=ref[r] if beta else None, beta=beta, importance_sampling_level=level,
                              delta=delta, kl_bias_correction=bias_kl,
                              entropy_mask=emask[r] if emask is not None else None, row_tokens=row_tokens[r])
        total = total + loss
    return total


def _inputs(seed: int, n: int, t: int, off_policy: bool):
    g = torch.Generator().manual_seed(seed)
    logps = (torch.randn(n, t, generator=g, dtype=torch.float64) * 0.5 - 1.5).clamp(max=-1e-3)
    old = logps + torch.randn(n, t, generator=g, dtype=torch.float64) * 0.3 if off_policy else None
    ref = logps + torch.randn(n, t, generator=g, dtype=torch.float64) * 0.2
    adv = torch.randn(n, generator=g, dtype=torch.float64)
    adv[: n // 4] = 0.0  # an all-equal group: advantage 0
    lengths = torch.randint(1, t + 1, (n,), generator=g)
    lengths[-1] = 0  # a row with no counted token (masked truncated completion)
    mask = (torch.arange(t)[None, :] < lengths[:, None]).long()
    entropies = torch.rand(n, t, generator=g, dtype=torch.float64) * 3
    return logps, entropies, old, ref, adv, mask


OPTIONS = list(itertools.product([0.0, 0.04], [False, True], [None, 1.4], [1.0, 0.3], [1, 2], [False, True]))


@pytest.mark.parametrize("level", ["token", "sequence"])
@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dapo", "dr_grpo"])
def test_loss_and_gradient_equal_trl_compute_loss(loss_type, level):
    checked = 0
    for seed, (beta, bias_kl, delta, quantile, chunks, off_policy) in itertools.product(range(3), OPTIONS):
        if beta == 0 and bias_kl:
            continue  # the correction only touches the KL term
        if quantile < 1 and chunks > 1:
            continue  # TRL takes the entropy quantile per micro-batch, chil over the batch (the option table says so)
        n = 8
        logps, ent, old, ref, adv, mask = _inputs(seed, n, 6, off_policy)
        kw = {"loss_type": loss_type, "level": level, "beta": beta, "bias_kl": bias_kl, "delta": delta,
              "quantile": quantile, "eps_low": 0.2, "eps_high": 0.28, "max_len": 6, "chunks": chunks}
        a = logps.clone().requires_grad_(True)
        b = logps.clone().requires_grad_(True)
        want = trl_compute_loss(a, ent, old, ref, adv, mask, **kw)
        got = chil_loss(b, ent, old, ref, adv, mask, **kw)
        want.backward()
        got.backward()
        label = f"seed={seed} {kw} off_policy={off_policy}"
        assert got.item() == pytest.approx(want.item(), rel=1e-12, abs=1e-12), label
        assert torch.allclose(b.grad, a.grad, rtol=1e-10, atol=1e-12), label
        assert a.grad.abs().sum() > 0, label  # the comparison is not between two zeros
        checked += 1
    assert checked == 3 * 36


def test_kl_bias_correction_changes_the_gradient_even_on_policy():
    logps, ent, _old, ref, adv, mask = _inputs(0, 8, 6, off_policy=False)
    kw = {"loss_type": "dapo", "level": "token", "beta": 0.04, "delta": None, "quantile": 1.0, "eps_low": 0.2,
          "eps_high": 0.2, "max_len": 6, "chunks": 1}
    grads = []
    for bias_kl in (False, True):
        x = logps.clone().requires_grad_(True)
        loss = chil_loss(x, ent, None, ref, adv, mask, bias_kl=bias_kl, **kw)
        loss.backward()
        grads.append((loss.item(), x.grad))
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-12)  # on-policy the ratio is 1: same value
    assert not torch.allclose(grads[0][1], grads[1][1])  # ...but not the same gradient


# -- 2. advantages through TRL's own _generate_and_score_completions -----------------------------------

G = 4
EQUAL_PROMPTS = [(f"{i}+{i % 7}=", str(i + i % 7)) for i in range(10, 48)]  # one token length: no padding


def _grpo_args(tmp_path, **kw):
    from trl import GRPOConfig

    base = {"output_dir": str(tmp_path), "per_device_train_batch_size": 8, "num_generations": G,
            "max_completion_length": 12, "max_steps": 3, "learning_rate": 1e-3, "logging_steps": 1,
            "save_strategy": "no", "report_to": "none", "use_cpu": True, "bf16": False,
            "gradient_checkpointing": False, "disable_tqdm": True, "seed": 0}
    return GRPOConfig(**{**base, **kw})


def _dataset():
    from datasets import Dataset

    return Dataset.from_list([{"prompt": p, "answer": a} for p, a in EQUAL_PROMPTS])


REWARD_TABLES = [  # [N, 2]: two reward functions; NaN = the function returned None
    [[1, 0], [0, 0], [1, 1], [0, 1], [2, 2], [2, 2], [2, 2], [2, 2],
     [NAN, 1], [NAN, 0], [1, NAN], [0, 0], [NAN, NAN], [3, 1], [0, NAN], [1, 1]],
    [[0.5, 0.1], [0.2, NAN], [NAN, NAN], [0.9, 0.3], [1, 0], [1, 0], [1, 1], [1, 0],
     [0, 0], [0, 0], [0, 0], [0, 0], [NAN, 2], [NAN, 1], [NAN, 1], [NAN, 0]],
]


def test_advantages_equal_trl_for_every_scaling_and_aggregation(tmp_path, warm_policy_dir):
    pytest.importorskip("datasets")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    table = {"values": None}

    def make(k):
        def reward(prompts, completions, **_):
            return [None if math.isnan(row[k]) else float(row[k]) for row in table["values"]]
        reward.__name__ = f"r{k}"
        return reward

    args = _grpo_args(tmp_path, per_device_train_batch_size=16, reward_weights=[2.0, 0.5])
    model = AutoModelForCausalLM.from_pretrained(warm_policy_dir)
    tok = AutoTokenizer.from_pretrained(warm_policy_dir)
    trainer = GRPOTrainer(model=model, reward_funcs=[make(0), make(1)], args=args, train_dataset=_dataset(),
                          processing_class=tok)
    inputs = [{"prompt": p, "answer": a} for p, a in EQUAL_PROMPTS[:4] for _ in range(G)]
    checked = 0
    for values in REWARD_TABLES:
        table["values"] = values
        for aggregation, scale in itertools.product(["sum_then_normalize", "normalize_then_sum"],
                                                    ["group", "batch", "none"]):
            if aggregation == "normalize_then_sum" and scale != "group":
                continue  # TRL ignores scale_rewards there (always the batch); chil's "batch" setting is that
            trainer.multi_objective_aggregation, trainer.scale_rewards = aggregation, scale
            out = trainer._generate_and_score_completions(inputs)
            got = group_advantages(torch.tensor(values, dtype=torch.float32), G, torch.tensor([2.0, 0.5]),
                                   scale=scale, aggregation=aggregation, combined_scale="batch").advantages
            assert torch.allclose(got, out["advantages"].float(), atol=2e-5, rtol=1e-5), (aggregation, scale, values)
            checked += 1
    assert checked == 2 * 4
    # chil's own default for normalize_then_sum (per-group centring) is a different estimator: it differs
    chil_default = group_advantages(torch.tensor(table["values"]), G, torch.tensor([2.0, 0.5]),
                                    aggregation="normalize_then_sum")
    assert not torch.allclose(chil_default.advantages, out["advantages"].float(), atol=1e-3)


# -- 3. both trainers, a few on-policy steps on the same batches ----------------------------------------

def digit_reward(completions, **_):
    """A reward with spread in every group (the tiny policy rarely gets an answer right yet)."""
    return [sum(ch.isdigit() for ch in text) / max(len(text), 1) for text in completions]


def test_chil_trainer_follows_trl_grpo_trainer_step_for_step(tmp_path, warm_policy_dir):
    pytest.importorskip("datasets")
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

    from chil_core.contracts import FrameworkResult, RecordReward
    from chil_core.training.config import TrainConfig
    from chil_core.training.data import PromptDataset, PromptRow  # noqa: F401
    from chil_core.training.grpo import token_logps
    from chil_core.training.policy import SequenceBatch, completion_logits
    from chil_core.training.trainer import Rollout, Trainer, reward_matrix

    steps = 3
    batches, losses, weights = [], [], []

    class Recording(GRPOTrainer):
        def _generate_and_score_completions(self, inputs):
            out = super()._generate_and_score_completions(inputs)
            batches.append({k: v.detach().clone() for k, v in out.items() if torch.is_tensor(v)})
            return out

        def _compute_loss(self, model, inputs):
            loss = super()._compute_loss(model, inputs)
            losses.append(float(loss.detach()))
            return loss

    class Snapshot(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kw):
            weights.append({k: v.detach().clone() for k, v in model.state_dict().items()})

    tok = AutoTokenizer.from_pretrained(warm_policy_dir)
    trl_trainer = Recording(model=AutoModelForCausalLM.from_pretrained(warm_policy_dir), reward_funcs=digit_reward,
                            args=_grpo_args(tmp_path / "trl", max_steps=steps),
                            train_dataset=_dataset(), processing_class=tok, callbacks=[Snapshot()])
    trl_trainer.train()
    assert len(batches) == len(losses) == len(weights) == steps

    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(f'{{"prompt": "{p}", "answer": "{a}"}}\n' for p, a in EQUAL_PROMPTS))
    config = TrainConfig(preset="trl", max_steps=steps, prompts_per_step=2, group_size=G, micro_batch_size=8,
                         max_new_tokens=12, learning_rate=1e-3, precision="fp32", gradient_checkpointing=False,
                         share_prompt=False, progress=False, tensorboard=False, output_dir=str(tmp_path / "chil"))
    model = AutoModelForCausalLM.from_pretrained(warm_policy_dir)
    answers = dict(EQUAL_PROMPTS)
    trainer = Trainer(config, model, tok, PromptDataset(data), rewards=None)  # rewards are handed to update()
    try:
        chil_losses, diffs = [], []
        for step, b in enumerate(batches):
            prompts = tok.batch_decode(b["prompt_ids"][::G], skip_special_tokens=True)
            rows = [PromptRow(id=str(i), prompt=p, reference={"answer": answers[p]}) for i, p in enumerate(prompts)]
            seqs = SequenceBatch(b["prompt_ids"][::G], b["prompt_mask"][::G],
                                 torch.arange(len(rows)).repeat_interleave(G), b["completion_ids"], b["completion_mask"])
            with torch.no_grad():  # on-policy: the behaviour log-probs are the current policy's
                logps = token_logps(completion_logits(model, seqs, False), seqs.completion_ids) * seqs.completion_mask
            texts = tok.batch_decode(b["completion_ids"], skip_special_tokens=True)
            n = len(texts)
            rollout = Rollout(f"s{step}", rows, seqs, logps, torch.zeros(n, dtype=torch.bool), torch.zeros(n), texts)
            reward_list = [RecordReward(id=r.id, reward=v, frameworks={"digits": FrameworkResult.scored(v)},
                                        weights={"digits": 1.0})
                           for r, v in zip(rollout.records(G), digit_reward(texts), strict=True)]
            values, w = reward_matrix(reward_list, per_framework=False)
            adv = group_advantages(values, G, w).advantages
            assert torch.allclose(adv, b["advantages"], atol=1e-5), step  # the same rewards, the same advantages
            trainer.step = step
            chil_losses.append(trainer.update(rollout, reward_list)["loss"])
            for name, value in model.state_dict().items():
                assert torch.allclose(value, weights[step][name], rtol=1e-4, atol=1e-6), (step, name)
            diffs.append(max((v - weights[step][k]).abs().max().item() for k, v in model.state_dict().items()))
        print(f"TRL losses {losses}\nchil losses {chil_losses}\nmax |weight difference| per step {diffs}")
        assert chil_losses == pytest.approx(losses, abs=1e-6)
        assert any(abs(x) > 1e-3 for x in losses)  # steps with signal: the curves are not both flat zero
        moved = max((weights[-1][k] - v).abs().max().item()
                    for k, v in AutoModelForCausalLM.from_pretrained(warm_policy_dir).state_dict().items())
        assert moved > 1e-3  # the weights did move, so matching them means something
    finally:
        trainer.close()
