"""The verl, OpenRLHF, verifiers and TRL-async adapters, each called the way its trainer calls it, on
right, wrong, empty, irrelevant and filler-padded completions scored by the real ``empirical`` framework.

verifiers: the real library (``verifiers.v1``, installed by setup.sh).  verl and OpenRLHF do not install
beside this venv's torch/transformers (verl pins transformers < 5.11, OpenRLHF needs deepspeed and
flash-attn): their call sites are reproduced from their sources (verl 0.9.1 ``BatchRewardManager.verify``
and reward-loop ``NaiveRewardManager.run_single``; OpenRLHF 0.11.2 ``SingleTurnAgentExecutor``)."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
from pathlib import Path

import pytest

from chil_core.integrations import common

PROMPT = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell in May?"
RIGHT = "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 24"
WRONG = "Natalia sold 48/2 = <<48/2=25>>25 clips in May.\n#### 25"
WRONG_ANSWER_ONLY = "#### 25"
EMPTY = ""
IRRELEVANT = "The weather in Paris is lovely in spring."
FILLER = "Let me think about it carefully. " * 40 + "#### 25"
BAD = [WRONG, WRONG_ANSWER_ONLY, EMPTY, IRRELEVANT, FILLER]


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("cfg") / "chil.toml"
    path.write_text('[cache]\npath = ""\n[frameworks.empirical]\nweight = 1.0\n')
    yield str(path)
    common.close_shared_scorers()


# -- verl ------------------------------------------------------------------------------------------
def test_verl_signatures_match_its_call_sites():
    from chil_core.integrations import verl

    one = inspect.signature(verl.compute_score).parameters
    assert list(one)[:4] == ["data_source", "solution_str", "ground_truth", "extra_info"]
    assert list(inspect.signature(verl.compute_score_batch).parameters)[:4] == [
        "data_sources", "solution_strs", "ground_truths", "extra_infos"]
    assert inspect.iscoroutinefunction(verl.compute_score_async)  # verl awaits it instead of using a thread


def test_verl_compute_score_pays_only_the_right_answer(config):
    from chil_core.integrations.verl import compute_score

    extra = {"question": PROMPT, "index": 3}
    # as verl's reward loop calls it: keywords, reward_kwargs merged in
    right = compute_score(data_source="openai/gsm8k", solution_str=RIGHT, ground_truth="24", extra_info=extra, config=config)
    assert right["score"] == 1.0 and right["chil_empirical"] == 1.0 and right["chil_masked"] == 0.0
    for bad in BAD:
        out = compute_score(data_source="openai/gsm8k", solution_str=bad, ground_truth="24", extra_info=extra, config=config)
        assert out["score"] < 0.5, (bad[:40], out)
        assert set(out) == set(right)  # verl appends every key per sample: the same keys every time


def test_verl_batch_manager_entry_equals_per_sample_and_async(config):
    from chil_core.integrations.verl import compute_score, compute_score_async, compute_score_batch

    sols = [RIGHT, *BAD]
    truths = ["24"] * len(sols)
    extras = [{"question": PROMPT, "index": i} for i in range(len(sols))]
    # verl 0.9 BatchRewardManager.verify: compute_score(data_sources=, solution_strs=, ground_truths=, extra_infos=, **reward_kwargs)
    batch = compute_score_batch(data_sources=["gsm8k"] * len(sols), solution_strs=sols, ground_truths=truths,
                                extra_infos=extras, config=config)
    single = [compute_score("gsm8k", s, t, e, config=config) for s, t, e in zip(sols, truths, extras, strict=True)]
    assert batch == single

    async def reward_loop():
        return await asyncio.gather(*(compute_score_async(data_source="gsm8k", solution_str=s, ground_truth=t,
                                                          extra_info=e, config=config)
                                      for s, t, e in zip(sols, truths, extras, strict=True)))

    assert asyncio.run(reward_loop()) == single
    # a ground truth may carry a whole chil reference
    out = compute_score("gsm8k", RIGHT, {"reference": {"answer": "25"}}, {"question": PROMPT}, config=config)
    assert out["score"] < 0.5
    with pytest.raises(ValueError, match="ground_truths\\[0\\]"):
        compute_score("gsm8k", RIGHT, True, None, config=config)


# -- OpenRLHF ----------------------------------------------------------------------------------------
def _load_like_openrlhf():
    """OpenRLHF 0.11 SingleTurnAgentExecutor: spec_from_file_location("reward_func", path) + exec_module."""
    from chil_core.integrations import openrlhf

    spec = importlib.util.spec_from_file_location("reward_func", Path(openrlhf.__file__))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reward_func


def test_openrlhf_reward_func(config, monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setenv("CHIL_CONFIG", config)
    reward_func = _load_like_openrlhf()
    prompt = f"<|im_start|>user\n{PROMPT}<|im_end|>\n<|im_start|>assistant\n"
    sols = [RIGHT, *BAD]
    queries = [prompt + s + "<|im_end|>" for s in sols]
    out = reward_func(queries, [prompt] * len(sols), ["24"] * len(sols))
    assert isinstance(out["rewards"], torch.Tensor) and out["rewards"].shape == (len(sols),)
    assert out["rewards"][0].item() == 1.0
    assert all(v < 0.5 for v in out["rewards"][1:].tolist())
    assert torch.equal(out["scores"], out["rewards"])
    assert set(out["extra_logs"]) == {"chil_empirical", "chil_masked"}
    # as OpenRLHF calls it: one query at a time, extra_logs read with .flatten()[0].item()
    one = reward_func([queries[0]], [prompt], ["24"])
    assert one["extra_logs"]["chil_empirical"].flatten()[0].item() == 1.0


# -- verifiers (the real library) ------------------------------------------------------------------------
@pytest.mark.slow  # importing verifiers.v1 takes 10-50 s on this shared machine
def test_verifiers_task_rewards(config):
    vf = pytest.importorskip("verifiers.v1")
    from chil_core.integrations.verifiers import chil_task

    class MathData(vf.TaskData):
        answer: str | None = None

    Task = chil_task(config, frameworks=["empirical"])

    def run(reply: str, answer: str | None = "24"):
        trace = vf.Trace.model_construct(rewards={}, metrics={}, info={}, root_reply=reply, nodes=[])
        asyncio.run(Task(MathData(prompt=PROMPT, answer=answer)).score(trace))
        return trace

    good = run(RIGHT)
    assert good.reward == 1.0 and good.metrics == {"chil_empirical": 1.0}
    assert good.info["chil"]["frameworks"]["empirical"]["verdict"] == "correct"
    for bad in BAD:
        trace = run(bad)
        assert trace.reward < 0.5, (bad[:40], trace.info["chil"])
    # per framework: one weighted reward per framework
    PerFw = chil_task(config, frameworks=["empirical"], per_framework=True)
    trace = vf.Trace.model_construct(rewards={}, metrics={}, info={}, root_reply=RIGHT, nodes=[])
    asyncio.run(PerFw(MathData(prompt=PROMPT, answer="24")).score(trace))
    assert set(trace.rewards) == {"chil_empirical"} and trace.reward == 1.0


def test_verifiers_classic_rubric_funcs(config):
    from chil_core.integrations.verifiers import chil_rubric_funcs

    funcs, weights = chil_rubric_funcs(config, frameworks=["empirical"])
    assert [f.__name__ for f in funcs] == ["chil_reward", "chil_empirical"] and weights == [1.0, 0.0]

    async def rubric(completion):
        state: dict = {}
        messages = [{"role": "assistant", "content": completion}]
        return await asyncio.gather(*(f(prompt=[{"role": "user", "content": PROMPT}], completion=messages, answer="24",
                                         state=state, info={}) for f in funcs))

    assert asyncio.run(rubric(RIGHT)) == [1.0, 1.0]
    for bad in BAD:
        assert max(asyncio.run(rubric(bad))) < 0.5


# -- TRL async reward functions --------------------------------------------------------------------------
def test_trl_async_reward_funcs_equal_sync_and_score_once(config):
    pytest.importorskip("trl")
    from trl.trainer.utils import is_async_callable  # what GRPOTrainer uses to await a reward function

    from chil_core.integrations.trl import chil_reward_funcs

    sols = [RIGHT, *BAD]
    prompts = [PROMPT] * len(sols)
    answers = ["24"] * len(sols)
    with chil_reward_funcs(config, frameworks=["empirical"]) as sync:
        expected = [f(prompts=prompts, completions=sols, answer=answers) for f in sync.funcs]
    with chil_reward_funcs(config, frameworks=["empirical"], asynchronous=True) as rewards:
        assert all(is_async_callable(f) for f in rewards.funcs)
        submissions = []
        submit = rewards.scorer.submit
        rewards.scorer.submit = lambda recs: submissions.append(len(recs)) or submit(recs)  # counts, then scores

        async def trl_gather():  # GRPOTrainer._calculate_rewards: asyncio.gather over the async funcs
            return await asyncio.gather(*(f(prompts=prompts, completions=sols, answer=answers) for f in rewards.funcs))

        got = asyncio.run(trl_gather())
        assert got == expected
        assert got[0][0] == 1.0 and all(r is None or r < 0.5 for r in got[0][1:])
        assert submissions == [len(sols)]  # the batch is scored once for both functions
