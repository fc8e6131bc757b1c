"""The GRPO math: advantages, the clipped surrogate, loss normalisers, KL."""

from __future__ import annotations

import math
import statistics

import pytest
import torch

from chil_core.training.grpo import group_advantages, k3_kl, nanstd, policy_loss, token_logps

NAN = math.nan


def test_nanstd_matches_statistics_and_ignores_nan():
    x = torch.tensor([[1.0, 2.0, 4.0, NAN], [3.0, NAN, NAN, NAN]])
    std = nanstd(x, dim=1)
    assert std[0].item() == pytest.approx(statistics.stdev([1.0, 2.0, 4.0]))
    assert math.isnan(std[1].item())  # one value: no spread defined


def test_group_scaling_centres_and_scales_each_group():
    r = torch.tensor([1.0, 0.0, 0.0, 0.0, 5.0, 7.0, 5.0, 7.0])
    adv = group_advantages(r, group_size=4, scale="group")
    g1 = [1.0, 0.0, 0.0, 0.0]
    expected = [(v - statistics.fmean(g1)) / (statistics.stdev(g1) + 1e-4) for v in g1]
    assert adv.advantages[:4].tolist() == pytest.approx(expected, rel=1e-5)
    assert adv.advantages[4:].sum().item() == pytest.approx(0.0, abs=1e-5)
    assert adv.advantages[4].item() == pytest.approx(-adv.advantages[5].item())
    assert adv.zero_spread.tolist() == [False, False]


def test_batch_and_none_scaling():
    r = torch.tensor([1.0, 0.0, 3.0, 1.0])
    batch = group_advantages(r, group_size=2, scale="batch")
    std = statistics.stdev([1.0, 0.0, 3.0, 1.0])
    assert batch.advantages.tolist() == pytest.approx([0.5 / (std + 1e-4), -0.5 / (std + 1e-4),
                                                      1.0 / (std + 1e-4), -1.0 / (std + 1e-4)], rel=1e-5)
    none = group_advantages(r, group_size=2, scale="none")
    assert none.advantages.tolist() == pytest.approx([0.5, -0.5, 1.0, -1.0])


def test_zero_spread_groups_get_exactly_zero_advantage():
    # 0.1 three times: the float mean is not exactly 0.1, the advantage must still be exactly 0
    r = torch.tensor([0.1, 0.1, 0.1, 0.9, 0.2, 0.3])
    adv = group_advantages(r, group_size=3)
    assert adv.zero_spread.tolist() == [True, False]
    assert torch.equal(adv.advantages[:3], torch.zeros(3))
    assert adv.advantages[3:].abs().min() > 0


def test_unscored_completions_are_left_out_and_get_zero():
    r = torch.tensor([1.0, NAN, 0.0, 1.0, NAN, NAN, NAN, 2.0])
    adv = group_advantages(r, group_size=4)
    assert adv.advantages[1].item() == 0.0
    g = [1.0, 0.0, 1.0]
    assert adv.advantages[0].item() == pytest.approx((1 - statistics.fmean(g)) / (statistics.stdev(g) + 1e-4), rel=1e-5)
    # second group: a single scored completion has no spread, so no signal at all
    assert adv.zero_spread.tolist() == [False, True]
    assert torch.equal(adv.advantages[4:], torch.zeros(4))


def test_sum_then_normalize_weights_rewards_before_scaling():
    per_fw = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    adv = group_advantages(per_fw, group_size=4, weights=torch.tensor([3.0, 1.0]), scale="none")
    combined = [3.0, 1.0, 4.0, 0.0]
    mean = statistics.fmean(combined)
    assert adv.advantages.tolist() == pytest.approx([c - mean for c in combined])


def test_normalize_then_sum_gives_each_reward_equal_say():
    # framework 0 has a large scale, framework 1 a small one; after per-reward normalisation they weigh the same
    per_fw = torch.tensor([[100.0, 0.0], [0.0, 0.01], [100.0, 0.0], [0.0, 0.01]])
    plain = group_advantages(per_fw, group_size=4, aggregation="sum_then_normalize", scale="none")
    gdpo = group_advantages(per_fw, group_size=4, aggregation="normalize_then_sum", scale="none")
    assert plain.advantages[0] > 0  # the large reward dominates the sum
    assert gdpo.advantages.abs().max().item() < 0.05  # opposite, equal-size signals cancel (up to the std epsilon)


def test_normalize_then_sum_batch_scale_centres_over_the_batch_as_trl():
    # group 2 has no spread at all; group 1's two rewards disagree in size; row 5 has only reward 0
    per_fw = torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0], [0.0, 1.0],
                           [2.0, 2.0], [2.0, NAN], [2.0, 2.0], [2.0, 2.0]])
    w = torch.tensor([1.0, 0.5])
    batch = group_advantages(per_fw, 4, w, aggregation="normalize_then_sum", combined_scale="batch")
    z = (per_fw[:4] - per_fw[:4].mean(0)) / (per_fw[:4].std(0) + 1e-4)
    summed = torch.cat([(z * w).sum(1), torch.zeros(4)])  # group 2: every z-score is 0
    want = (summed - summed.mean()) / (summed.std() + 1e-4)
    assert batch.advantages.tolist() == pytest.approx(want.tolist(), rel=1e-4, abs=1e-5)
    assert batch.zero_spread.tolist() == [False, True]
    per_group = group_advantages(per_fw, 4, w, aggregation="normalize_then_sum")  # chil's default
    assert torch.equal(per_group.advantages[4:], torch.zeros(4))  # no spread, no signal
    assert per_group.advantages[:4].tolist() != pytest.approx(batch.advantages[:4].tolist(), abs=1e-3)


def test_bad_arguments_name_the_field():
    with pytest.raises(ValueError, match="group_size"):
        group_advantages(torch.zeros(6), group_size=4)
    with pytest.raises(ValueError, match="scale"):
        group_advantages(torch.zeros(4), group_size=2, scale="rank")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="loss_type"):
        policy_loss(torch.zeros(1, 2), torch.zeros(1, 2), torch.ones(1), torch.ones(1, 2), loss_type="ppo",  # type: ignore[arg-type]
                    num_sequences=1, num_tokens=2, max_completion_length=2)


def _loss(logps, old, adv, mask, **kw):
    defaults = {"num_sequences": logps.shape[0], "num_tokens": int(mask.sum()), "max_completion_length": 8}
    return policy_loss(logps, old, adv, mask, **{**defaults, **kw})


def test_on_policy_loss_gradient_is_advantage_weighted_likelihood():
    logps = torch.tensor([[-1.0, -2.0, -0.5]], requires_grad=True)
    mask = torch.tensor([[1, 1, 0]])
    loss, stats = _loss(logps, logps.detach(), torch.tensor([2.0]), mask, loss_type="dapo")
    loss.backward()
    # d/dlogp of -A * ratio at ratio 1 is -A per active token, divided by the token count
    assert logps.grad[0].tolist() == pytest.approx([-1.0, -1.0, 0.0])
    assert stats.tokens == 2 and stats.clip_low == 0 and stats.clip_high == 0


def test_clipping_uses_separate_low_and_high_bounds():
    old = torch.zeros(1, 4)
    # ratios 1.25, 1.35, 0.85, 0.75 with eps_low 0.2, eps_high 0.3
    logps = torch.log(torch.tensor([[1.25, 1.35, 0.85, 0.75]])).requires_grad_(True)
    mask = torch.ones(1, 4)
    loss, stats = _loss(logps, old, torch.tensor([1.0]), mask, eps_low=0.2, eps_high=0.3)
    loss.backward()
    g = logps.grad[0].tolist()
    assert g[0] != 0 and g[1] == 0  # positive advantage: clipped above 1.3 only
    assert g[2] != 0 and g[3] != 0  # below 1 - eps the min keeps the unclipped (pessimistic) term
    assert stats.clip_high == 1 and stats.clip_low == 0
    logps.grad = None
    loss, stats = _loss(logps, old, torch.tensor([-1.0]), mask, eps_low=0.2, eps_high=0.3)
    loss.backward()
    g = logps.grad[0].tolist()
    assert g[3] == 0 and g[2] != 0 and g[1] != 0  # negative advantage: clipped below 0.8 only
    assert stats.clip_low == 1 and stats.clip_high == 0


def test_loss_normalisers():
    logps = torch.zeros(2, 4)
    mask = torch.tensor([[1, 1, 1, 1], [1, 0, 0, 0]])
    adv = torch.tensor([1.0, 1.0])  # per-token loss is -1 on every active token
    grpo, _ = _loss(logps, logps, adv, mask, loss_type="grpo")
    dapo, _ = _loss(logps, logps, adv, mask, loss_type="dapo")
    dr, _ = _loss(logps, logps, adv, mask, loss_type="dr_grpo", max_completion_length=10)
    assert grpo.item() == pytest.approx(-1.0)  # mean of per-sequence means
    assert dapo.item() == pytest.approx(-1.0)  # 5 tokens / 5 tokens
    assert dr.item() == pytest.approx(-5 / 20)  # 5 tokens / (2 sequences * 10)


@pytest.mark.parametrize("loss_type", ["grpo", "dapo", "dr_grpo"])
def test_micro_batches_sum_to_the_full_batch_loss(loss_type):
    gen = torch.Generator().manual_seed(0)
    logps = torch.randn(6, 5, generator=gen) * 0.1 - 1
    old = logps + torch.randn(6, 5, generator=gen) * 0.05
    adv = torch.randn(6, generator=gen)
    mask = (torch.rand(6, 5, generator=gen) > 0.3).long()
    kw = {"loss_type": loss_type, "num_sequences": 6, "num_tokens": int(mask.sum()), "max_completion_length": 5}
    full, _ = policy_loss(logps, old, adv, mask, **kw)
    parts = sum(policy_loss(logps[i:i + 2], old[i:i + 2], adv[i:i + 2], mask[i:i + 2], **kw)[0] for i in (0, 2, 4))
    assert parts.item() == pytest.approx(full.item(), rel=1e-6)


def test_k3_kl_is_nonnegative_and_zero_at_equality():
    a = torch.randn(100)
    b = torch.randn(100)
    assert (k3_kl(a, b) >= 0).all()
    assert torch.allclose(k3_kl(a, a), torch.zeros(100))


def test_kl_penalty_needs_reference_and_adds_beta_times_kl():
    logps = torch.full((1, 2), -1.0)
    ref = torch.full((1, 2), -1.5)
    mask = torch.ones(1, 2)
    with pytest.raises(ValueError, match="beta"):
        _loss(logps, logps, torch.zeros(1), mask, beta=0.1)
    loss, stats = _loss(logps, logps, torch.zeros(1), mask, beta=0.1, ref_logps=ref)
    kl = k3_kl(logps, ref)[0, 0].item()
    assert loss.item() == pytest.approx(0.1 * kl)
    assert stats.kl == pytest.approx(2 * kl)


def test_token_logps_match_log_softmax_with_temperature():
    logits = torch.randn(2, 3, 11)
    tokens = torch.randint(11, (2, 3))
    got = token_logps(logits, tokens, temperature=0.7)
    want = torch.log_softmax(logits / 0.7, -1).gather(-1, tokens[..., None]).squeeze(-1)
    assert torch.allclose(got, want, atol=1e-6)


# -- the variants (each also checked against TRL's own loss in test_trl_parity.py) --------------------

def test_sequence_level_ratio_is_exp_of_the_mean_log_ratio_gspo():
    from chil_core.training.grpo import importance_log_weights

    logps = torch.tensor([[-1.0, -2.0, -3.0], [-1.0, -1.0, -1.0]])
    old = torch.tensor([[-1.5, -2.0, -9.0], [-0.5, -1.0, -1.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    w = importance_log_weights(logps, old, mask, "sequence")
    assert w.shape == (2, 1)
    assert w[:, 0].tolist() == pytest.approx([(0.5 + 0.0) / 2, -0.5])  # the masked-out -3 vs -9 does not count
    # one ratio per sequence: a sequence whose mean ratio leaves the clip range is clipped on every token
    x = logps.clone().requires_grad_(True)
    loss, stats = _loss(x, old, torch.tensor([1.0, -1.0]), mask, eps_low=0.2, eps_high=0.2,
                        importance_sampling_level="sequence")
    loss.backward()
    assert math.exp(0.25) > 1.2 and x.grad[0].abs().sum() == 0  # ratio 1.28 > 1.2 with A > 0: clipped
    assert math.exp(-0.5) < 0.8 and x.grad[1].abs().sum() == 0  # ratio 0.61 < 0.8 with A < 0: clipped
    assert stats.clip_high == 2 and stats.clip_low == 1  # counted per token


def test_delta_caps_the_ratio_for_negative_advantages():
    old = torch.zeros(1, 2)
    logps = torch.log(torch.tensor([[3.0, 1.5]])).requires_grad_(True)
    plain, _ = _loss(logps, old, torch.tensor([-1.0]), torch.ones(1, 2), eps_low=0.2, eps_high=0.2)
    capped, _ = _loss(logps, old, torch.tensor([-1.0]), torch.ones(1, 2), eps_low=0.2, eps_high=0.2, delta=2.0)
    # A < 0: -min(w A, clip(w) A) = max(w, 1.2) per token: 3 and 1.5 plain; min(w, 2) = 2 and 1.5 capped
    assert plain.item() == pytest.approx((3.0 + 1.5) / 2)
    assert capped.item() == pytest.approx((2.0 + 1.5) / 2)
    (g,) = torch.autograd.grad(capped, logps)
    assert g[0, 0] == 0 and g[0, 1] != 0  # the capped token no longer pushes
    pos, _ = _loss(logps, old, torch.tensor([1.0]), torch.ones(1, 2), eps_low=0.2, eps_high=0.2, delta=2.0)
    assert pos.item() == pytest.approx(-1.2)  # A > 0: the usual upper clip already binds, delta changes nothing


def test_bnpo_is_the_token_mean_per_micro_batch_averaged_over_micro_batches():
    from chil_core.training.grpo import bnpo_row_tokens

    mask = torch.tensor([[1, 1, 1], [1, 0, 0], [1, 1, 0], [1, 1, 1]])
    per_row = bnpo_row_tokens(mask, micro_batch_size=2)
    assert per_row.tolist() == [8.0, 8.0, 10.0, 10.0]  # (3+1) * 2 micro-batches, (2+3) * 2
    logps = torch.zeros(4, 3)
    adv = torch.tensor([1.0, 1.0, 2.0, 2.0])  # per-token loss -1 in the first micro-batch, -2 in the second
    loss, _ = _loss(logps, logps, adv, mask, loss_type="bnpo", row_tokens=per_row)
    assert loss.item() == pytest.approx((-1.0 + -2.0) / 2)
    dapo, _ = _loss(logps, logps, adv, mask, loss_type="dapo")
    assert dapo.item() == pytest.approx((-4 - 10) / 9)  # dapo weighs tokens, not micro-batches
    one, _ = _loss(logps, logps, adv, mask, loss_type="bnpo", row_tokens=bnpo_row_tokens(mask, 4))
    assert one.item() == pytest.approx(dapo.item())  # one micro-batch: bnpo is dapo
    with pytest.raises(ValueError, match="bnpo"):
        _loss(logps, logps, adv, mask, loss_type="bnpo")


def test_high_entropy_mask_keeps_the_top_quantile_of_counted_tokens():
    from chil_core.training.grpo import high_entropy_mask, token_entropy

    ent = torch.tensor([[0.1, 0.9, 0.5, 7.0], [0.3, 0.7, 0.2, 9.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 0]])  # the large entropies are padding
    keep = high_entropy_mask(ent, mask, quantile=1 / 3)
    # counted values 0.1 0.2 0.3 0.5 0.7 0.9: the 2/3 quantile is 0.5 + (0.7-0.5)*(2/3*5-3) = 0.5667
    assert keep.tolist() == [[False, True, False, False], [False, True, False, False]]
    assert high_entropy_mask(ent, mask, 1.0).sum() == 6 and not high_entropy_mask(ent, torch.zeros_like(mask), 0.2).any()
    logps = torch.zeros(2, 4, requires_grad=True)
    loss, _ = _loss(logps, logps.detach(), torch.tensor([1.0, -1.0]), mask, entropy_mask=keep)
    (g,) = torch.autograd.grad(loss, logps)
    assert (g != 0).tolist() == keep.tolist()  # only the kept tokens are trained
    uniform = token_entropy(torch.zeros(1, 1, 5))
    assert uniform.item() == pytest.approx(math.log(5))


def test_kl_bias_correction_multiplies_the_kl_by_the_ratio():
    logps = torch.tensor([[-1.0, -2.0]])
    old = torch.tensor([[-1.2, -1.9]])
    ref = torch.tensor([[-1.5, -1.5]])
    mask = torch.ones(1, 2)
    zero = torch.zeros(1)
    plain, st = _loss(logps, old, zero, mask, beta=0.5, ref_logps=ref)
    fixed, st2 = _loss(logps, old, zero, mask, beta=0.5, ref_logps=ref, kl_bias_correction=True)
    kl = k3_kl(logps, ref)
    ratio = torch.exp(logps - old)
    assert plain.item() == pytest.approx(0.5 * kl.mean().item())
    assert fixed.item() == pytest.approx(0.5 * (kl * ratio).mean().item())
    assert st2.kl == pytest.approx((kl * ratio).sum().item())
