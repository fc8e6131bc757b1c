"""The training loop end to end, with rewards from the real empirical framework through the Scorer."""

from __future__ import annotations

import json
import math

import pytest
import torch

from chil_core.training.data import PromptDataset
from chil_core.training.metrics import read_metrics
from chil_core.training.policy import load_policy
from chil_core.training.trainer import Trainer

REQUIRED = ["reward/mean", "reward/std", "reward/empirical/mean", "reward/empirical/std", "frac/zero_spread_groups",
            "frac/not_scored", "frac/masked", "clip/fraction", "entropy", "completion/length_mean",
            "completion/truncated", "speed/tokens_per_s", "time/generate_s", "time/reward_s", "time/reward_wait_s",
            "time/update_s", "time/step_s", "time/reward_share", "loss", "lr"]


@pytest.fixture
def make_trainer(tokenizer, scorer, small_config, warm_policy_dir):
    def make(tmp_path, data, model=None, **overrides):
        config = small_config(tmp_path, **overrides)
        model = model or load_policy(warm_policy_dir)[0]
        return Trainer(config, model, tokenizer, PromptDataset(data), scorer)

    return make


def test_steps_log_every_metric_to_jsonl_and_tensorboard(tmp_path, tokenizer, arithmetic_jsonl, make_trainer):
    tr = make_trainer(tmp_path, arithmetic_jsonl, tensorboard=True)
    before = [p.detach().clone() for p in tr.model.parameters()]
    tr.train()
    tr.close()
    rows = read_metrics(tmp_path / "run")
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    for key in REQUIRED:
        assert all(key in r for r in rows), key
    assert all(0 <= r["frac/zero_spread_groups"] <= 1 and r["completion/length_mean"] > 0 for r in rows)
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert (tmp_path / "run" / "checkpoints" / "latest").read_text() == "step-0000004"
    assert any(r["frac/no_signal_completions"] < 1 for r in rows)  # the warm start leaves rewards to learn from
    assert any(not torch.equal(a, b) for a, b in zip(before, tr.model.parameters(), strict=True))


def _comparable(rows):
    return [{k: v for k, v in r.items() if not k.startswith(("time/", "speed/"))} for r in rows]


def test_resume_continues_exactly_as_an_uninterrupted_run(tmp_path, arithmetic_jsonl, make_trainer, warm_policy_dir):
    straight = make_trainer(tmp_path / "a", arithmetic_jsonl)
    straight.train()
    straight.close()

    first = make_trainer(tmp_path / "b", arithmetic_jsonl)
    first.train(until=2)  # interrupted after step 2; its checkpoint holds the batch already sampled for step 3
    first.close()
    del first
    # the policy as a resumed `chil train` builds it (from the same path), with other weights: the
    # checkpoint's must replace them (a model built another way may run other CPU kernels: other rounding)
    model = load_policy(warm_policy_dir)[0]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    resumed = make_trainer(tmp_path / "b", arithmetic_jsonl, model=model)
    assert resumed.resume() and resumed.step == 2
    resumed.train()
    resumed.close()

    assert any(r["frac/no_signal_completions"] < 1 for r in read_metrics(tmp_path / "a" / "run"))  # it did learn
    for p, q in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(p, q)
    assert _comparable(read_metrics(tmp_path / "a" / "run")) == _comparable(read_metrics(tmp_path / "b" / "run"))


def _same_gradients_at_two_micro_batch_sizes(tmp_path, arithmetic_jsonl, make_trainer, sizes, **options):
    """Train 2 steps at each micro-batch size in ``sizes``; the gradients the optimizer steps on must agree."""
    grads = []
    for micro in sizes:
        tr = make_trainer(tmp_path / str(micro), arithmetic_jsonl, micro_batch_size=micro, max_steps=2, save_every=0, **options)
        seen = []
        step = tr.optimizer.step

        def record(*args, _tr=tr, _seen=seen, _step=step, **kwargs):
            _seen.append(torch.cat([p.grad.flatten() for p in _tr.model.parameters()]))
            return _step(*args, **kwargs)

        tr.optimizer.step = record
        tr.train()
        tr.close()
        grads.append(seen)
    assert any(g.abs().max() > 0 for g in grads[0])
    for full, accumulated in zip(grads[0], grads[1], strict=True):
        assert torch.allclose(full, accumulated, atol=1e-7, rtol=1e-4)


def test_gradient_accumulation_equals_one_big_batch(tmp_path, arithmetic_jsonl, make_trainer):
    _same_gradients_at_two_micro_batch_sizes(tmp_path, arithmetic_jsonl, make_trainer, (16, 3))


def test_without_overlap_training_is_on_policy(tmp_path, tokenizer, arithmetic_jsonl, make_trainer):
    ratios = {}
    for overlap in (False, True):
        tr = make_trainer(tmp_path / str(overlap), arithmetic_jsonl, overlap_rewards=overlap,
                          max_steps=3, save_every=0, learning_rate=3e-3, prompts_per_step=8)
        tr.train()
        tr.close()
        ratios[overlap] = [r["ratio/mean"] for r in read_metrics(tmp_path / str(overlap) / "run")]
    # sampled and trained by the same weights: the importance ratio is 1 up to float error
    assert all(abs(r - 1) < 1e-4 for r in ratios[False])
    # with overlap, batches after the first were sampled one update earlier
    assert ratios[True][0] == pytest.approx(1, abs=1e-4)
    assert any(abs(r - 1) > 1e-4 for r in ratios[True][1:])


def test_kl_iterations_truncation_masking_and_other_variants(tmp_path, tokenizer, arithmetic_jsonl, make_trainer):
    tr = make_trainer(tmp_path, arithmetic_jsonl, beta=0.05, iterations=2, mask_truncated=True,
                      loss_type="grpo", scale_rewards="batch", reward_aggregation="normalize_then_sum",
                      lr_schedule="cosine", warmup_steps=1, max_steps=3, save_every=0, max_new_tokens=6)
    assert tr.ref_model is not None
    tr.train()
    tr.close()
    rows = read_metrics(tmp_path / "run")
    assert all(r["kl"] is not None and r["kl"] >= 0 for r in rows)
    assert rows[-1]["lr"] < rows[0]["lr"] or rows[0]["lr"] < 1e-3  # warm-up then cosine decay
    assert all(math.isfinite(r["loss"]) for r in rows)


def test_evaluate_scores_greedy_completions(tmp_path, tokenizer, arithmetic_jsonl, make_trainer):
    tr = make_trainer(tmp_path, arithmetic_jsonl)
    rows = PromptDataset(arithmetic_jsonl).all_rows()[:10]
    out = tr.evaluate(rows)
    again = tr.evaluate(rows)
    tr.close()
    assert out == again  # greedy: deterministic
    assert 0.0 <= out["reward"] <= 1.0
    assert len(tr.eval_samples) == 10
    scored = [r.reward for _, _, r in tr.eval_samples if r.reward is not None]
    assert out["reward"] == pytest.approx(sum(scored) / 10)  # unscored completions count as 0


def test_prompt_longer_than_the_context_is_cut(tmp_path, make_trainer):
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps({"prompt": "x" * 600 + "1+1=", "answer": "2"}) + "\n")
    tr = make_trainer(tmp_path, path, max_steps=1, prompts_per_step=1, group_size=2)
    tr.train()
    tr.close()
    assert tr.max_prompt_length == 256 - 16  # tiny_policy's context minus max_new_tokens


def test_pipelined_generation_gives_the_same_run(tmp_path, arithmetic_jsonl, make_trainer):
    """Sampling on a worker thread (weights copied after each update) changes timing, not results."""
    runs = {}
    for pipelined, threads in ((False, 1), (True, 2)):  # one intra-op thread per stage either way
        tr = make_trainer(tmp_path / str(pipelined), arithmetic_jsonl, pipeline_generation=pipelined, threads=threads,
                          max_steps=3, save_every=0)
        assert tr.pipelined is pipelined and (tr.sampler_model is tr.model) is not pipelined
        tr.train()
        tr.close()
        runs[pipelined] = (torch.cat([p.detach().flatten() for p in tr.model.parameters()]),
                           _comparable(read_metrics(tmp_path / str(pipelined) / "run")))
    assert torch.equal(runs[False][0], runs[True][0])
    assert runs[False][1] == runs[True][1]


def test_gradient_checkpointing_and_bf16_autocast_run(tmp_path, arithmetic_jsonl, make_trainer):
    tr = make_trainer(tmp_path, arithmetic_jsonl, gradient_checkpointing=True, precision="bf16", max_steps=2,
                      save_every=0)
    assert not tr.share_prompt  # checkpointed layers drop caches, so the full-sequence pass is used
    tr.train()
    tr.close()
    rows = read_metrics(tmp_path / "run")
    assert len(rows) == 2 and all(math.isfinite(r["loss"]) for r in rows)


@pytest.mark.slow
def test_torch_compile_option(tmp_path, arithmetic_jsonl, make_trainer):
    tr = make_trainer(tmp_path, arithmetic_jsonl, compile=True, max_steps=2, save_every=0)
    assert tr.train_model is not tr.model
    tr.train()
    tr.close()
    assert all(math.isfinite(r["loss"]) for r in read_metrics(tmp_path / "run"))


def test_gspo_bnpo_delta_entropy_masking_and_ref_sync_run(tmp_path, arithmetic_jsonl, make_trainer):
    tr = make_trainer(tmp_path, arithmetic_jsonl, importance_sampling_level="sequence", loss_type="bnpo", delta=1.5,
                      top_entropy_quantile=0.2, beta=0.05, kl_bias_correction=True, sync_ref_model=True,
                      ref_model_sync_steps=2, ref_model_mixup_alpha=0.5, iterations=2, micro_batch_size=5,
                      max_steps=2, save_every=0)
    initial = [p.detach().clone() for p in tr.model.parameters()]
    mixes = []
    sync = tr.sync_ref_model
    tr.sync_ref_model = lambda k: mixes.append(k) or sync(k)
    tr.train()
    tr.close()
    rows = read_metrics(tmp_path / "run")
    assert len(rows) == 2 and all(math.isfinite(r["loss"]) and r["kl"] >= 0 for r in rows)
    assert mixes == [1, 2, 3, 4]  # once per optimizer step (2 steps x 2 iterations); mixes at steps 2 and 4
    ref, now = list(tr.ref_model.parameters()), list(tr.model.parameters())
    assert any(not torch.equal(r, p0) for r, p0 in zip(ref, initial, strict=True))  # the reference moved...
    assert any(not torch.equal(r, p) for r, p in zip(ref, now, strict=True))  # ...part of the way (alpha 0.5)


def test_sync_ref_model_mixes_alpha_of_the_policy_every_period(tmp_path, arithmetic_jsonl, make_trainer):
    tr = make_trainer(tmp_path, arithmetic_jsonl, beta=0.1, sync_ref_model=True, ref_model_sync_steps=3,
                      ref_model_mixup_alpha=0.25, max_steps=1, save_every=0)
    with torch.no_grad():
        for p in tr.model.parameters():
            p.add_(1.0)
    before = [r.detach().clone() for r in tr.ref_model.parameters()]
    assert not tr.sync_ref_model(2)  # not a multiple of the period: nothing
    assert all(torch.equal(r, b) for r, b in zip(tr.ref_model.parameters(), before, strict=True))
    assert tr.sync_ref_model(3)
    for r, b, p in zip(tr.ref_model.parameters(), before, tr.model.parameters(), strict=True):
        assert torch.allclose(r, 0.75 * b + 0.25 * p)
    state = tr.state_dict()  # a synced reference is checkpointed (it is no longer the initial policy)
    assert all(torch.equal(v, r) for v, r in zip(state["ref_model"].values(), tr.ref_model.state_dict().values(),
                                                  strict=True))
    tr.close()


def test_entropy_threshold_over_several_micro_batches_is_the_whole_batch_one(tmp_path, arithmetic_jsonl,
                                                                                make_trainer):
    """The loss with top_entropy_quantile does not depend on how the batch is split into micro-batches."""
    _same_gradients_at_two_micro_batch_sizes(tmp_path, arithmetic_jsonl, make_trainer, (16, 5),
                                             top_entropy_quantile=0.3, prompts_per_step=8)
