"""Tokenizer, prompt-shared training forward, and the sampler against transformers' own generate."""

from __future__ import annotations

import pytest
import torch

from chil_core.training.grpo import token_logps
from chil_core.training.policy import (
    SequenceBatch,
    completion_logits,
    disable_dropout,
    enable_gradient_checkpointing,
    load_policy,
    supports_prompt_sharing,
)
from chil_core.training.sampling import sample


def test_byte_tokenizer_round_trips_any_text_and_saves(tmp_path, tokenizer):
    text = "7*8=56 #### 56 – héllo 🙂\n\t\x00"
    ids = tokenizer(text)["input_ids"]
    assert ids == [3 + b for b in text.encode()]  # one token per UTF-8 byte, no special tokens added
    assert tokenizer.decode(ids) == text
    tokenizer.save_pretrained(tmp_path)
    from transformers import AutoTokenizer

    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again(text)["input_ids"] == ids
    assert (again.pad_token_id, again.bos_token_id, again.eos_token_id) == (0, 1, 2)


def _other_architecture(name, tokenizer):
    """Tiny GPT-2 (learned absolute positions) and Qwen2 (grouped-query attention, qkv bias) policies."""
    from transformers import GPT2Config, GPT2LMHeadModel, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    if name == "gpt2":
        return GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=128,
                                          bos_token_id=1, eos_token_id=2))
    return Qwen2ForCausalLM(Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                        num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                                        max_position_embeddings=128))


@pytest.fixture(params=["llama", "gpt2", "qwen2"])
def any_model(request, tokenizer, tiny_model):
    model = tiny_model if request.param == "llama" else _other_architecture(request.param, tokenizer)
    disable_dropout(model)  # as the trainer does (GPT-2 comes with dropout 0.1)
    return model


def _batch(tokenizer, group_size=3):
    prompts = ["1+2=", "13+24=", "x"]
    enc = tokenizer(prompts, padding=True, padding_side="left", return_tensors="pt")
    comps = ["3</s>", "37 is it</s>", "ab", "yy</s>", "z", "12345", "a</s>", "bb</s>", "c"]
    cenc = tokenizer(comps, padding=True, padding_side="right", return_tensors="pt")
    index = torch.arange(len(prompts)).repeat_interleave(group_size)
    return SequenceBatch(enc["input_ids"], enc["attention_mask"], index, cenc["input_ids"], cenc["attention_mask"])


def test_prompt_sharing_is_exact_in_values_and_gradients(tokenizer, any_model):
    tiny_model = any_model
    assert supports_prompt_sharing(tiny_model)
    batch = _batch(tokenizer)
    mask = batch.completion_mask.bool()
    grads = []
    for share in (True, False):
        tiny_model.zero_grad()
        logits = completion_logits(tiny_model, batch, share_prompt=share)
        logits[mask].logsumexp(-1).sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in tiny_model.parameters()]))
        if share:
            shared = logits.detach()
        else:
            assert torch.allclose(shared[mask], logits.detach()[mask], atol=1e-5)
    assert torch.allclose(grads[0], grads[1], atol=1e-5)


def test_sub_batches_keep_only_their_prompts(tokenizer, tiny_model):
    batch = _batch(tokenizer)
    sub = batch.rows(2, 5)
    assert sub.prompt_ids.shape[0] == 2 and sub.prompt_index.tolist() == [0, 1, 1]
    full = completion_logits(tiny_model, batch).detach()
    part = completion_logits(tiny_model, sub).detach()
    m = sub.completion_mask.bool()
    assert torch.allclose(part[m], full[2:5, : part.shape[1]][m], atol=1e-5)


def test_gradient_checkpointing_turns_prompt_sharing_off(tiny_model):
    enable_gradient_checkpointing(tiny_model)
    assert not supports_prompt_sharing(tiny_model)


def test_greedy_sampling_equals_transformers_generate(tokenizer, any_model):
    tiny_model = any_model.eval()
    enc = tokenizer(["1+2=", "13+24=", "x"], padding=True, padding_side="left", return_tensors="pt")
    s = sample(tiny_model, enc["input_ids"], enc["attention_mask"], group_size=1, max_new_tokens=12,
               eos_ids=[2], pad_id=0, temperature=0.0)
    hf = tiny_model.generate(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], max_new_tokens=12,
                             do_sample=False, pad_token_id=0, eos_token_id=2)
    hf_new = hf[:, enc["input_ids"].shape[1]:]
    width = max(s.ids.shape[1], hf_new.shape[1])
    pad = lambda t: torch.nn.functional.pad(t, (0, width - t.shape[1]), value=0)  # noqa: E731
    assert torch.equal(pad(s.ids), pad(hf_new))


def test_sampled_logps_are_the_training_logps(tokenizer, any_model):
    tiny_model = any_model.eval()
    enc = tokenizer(["1+2=", "13+24=", "x"], padding=True, padding_side="left", return_tensors="pt")
    s = sample(tiny_model, enc["input_ids"], enc["attention_mask"], group_size=4, max_new_tokens=20, eos_ids=[2],
               pad_id=0, temperature=0.8, generator=torch.Generator().manual_seed(0))
    batch = SequenceBatch(enc["input_ids"], enc["attention_mask"], torch.arange(3).repeat_interleave(4), s.ids, s.mask)
    with torch.no_grad():
        logps = token_logps(completion_logits(tiny_model, batch), s.ids, temperature=0.8)
    assert torch.allclose(logps * s.mask, s.logps, atol=1e-5)
    # a row stops at its end token; a row without one is truncated at max_new_tokens
    for row in range(12):
        n = int(s.mask[row].sum())
        ended = bool((s.ids[row, :n] == 2).any())
        assert ended != bool(s.truncated[row])
        assert ended == (s.ids[row, n - 1].item() == 2)
        assert (s.ids[row, n:] == 0).all()


def test_sampling_is_reproducible_and_top_k_one_is_greedy(tokenizer, tiny_model):
    tiny_model.eval()
    enc = tokenizer(["5+5="], return_tensors="pt")
    args = {"group_size": 6, "max_new_tokens": 10, "eos_ids": [2], "pad_id": 0}
    a = sample(tiny_model, enc["input_ids"], enc["attention_mask"], generator=torch.Generator().manual_seed(3), **args)
    b = sample(tiny_model, enc["input_ids"], enc["attention_mask"], generator=torch.Generator().manual_seed(3), **args)
    assert torch.equal(a.ids, b.ids)
    k1 = sample(tiny_model, enc["input_ids"], enc["attention_mask"], top_k=1, **args)
    greedy = sample(tiny_model, enc["input_ids"], enc["attention_mask"], temperature=0.0, **args)
    assert torch.equal(k1.ids, greedy.ids)


def test_load_policy_from_a_saved_directory(tmp_path, tokenizer, tiny_model):
    tiny_model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    model, tok = load_policy(tmp_path)
    assert tok.pad_token_id == 0
    x = torch.tensor([[5, 6, 7]])
    assert torch.allclose(model(input_ids=x).logits, tiny_model(input_ids=x).logits)
    with pytest.raises(OSError):
        load_policy(tmp_path / "missing")

