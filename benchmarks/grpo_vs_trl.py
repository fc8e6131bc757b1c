"""chil's GRPO trainer against TRL's GRPOTrainer on the same work, in one run on this machine.

Same policy (the embedded task's warm-started tiny Llama, identical weights on both sides), same
prompts (the embedded arithmetic task), same rewards, group size, batch, completion length, steps,
learning rate, clipping and loss (DAPO token-level, beta 0, one update per generation batch),
fp32 on both (bf16 off), the same torch thread count, gradient checkpointing off on both.

Two reward cases:
  function    a plain Python function (the ``#### answer`` equals the reference): TRL calls it
              directly; chil runs it as a reward source (on a thread, overlapped with generation);
  frameworks  the real ``empirical`` chil framework through the core Scorer: chil directly,
              TRL through ``chil_core.integrations.trl`` (the adapter).

Step time is the wall time of one full training-loop iteration (sample, score, update, log), the
median over the steps after the first two.  The last line is the worse (larger) of the two ratios.
chil runs as configured by default: on a CPU it samples batch n+1 on a worker thread while it updates
on batch n, each stage on half the threads (the same total as TRL's), and trains each batch one update
after it was sampled (importance-corrected).  The function case also prints chil with the pipelining
off, and chil strictly on-policy as TRL is, for reference.

    python benchmarks/grpo_vs_trl.py [--steps 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ANSWER = re.compile(r"####\s*(-?\d+)")


def answer_reward(completions, answer, **_):
    """1 when the completion's ``#### N`` equals the reference answer, else 0."""
    out = []
    for text, gold in zip(completions, answer, strict=True):
        m = ANSWER.search(text)
        out.append(1.0 if m and m.group(1) == str(gold) else 0.0)
    return out


class FunctionRewards:
    """A chil reward source around a plain function (runs it on a worker thread)."""

    def __init__(self, fn):
        self.fn = fn
        self.pool = ThreadPoolExecutor(1)

    def submit(self, records):
        from chil_core.contracts import FrameworkResult, RecordReward

        def run():
            values = self.fn([r.completion for r in records], [r.reference["answer"] for r in records])
            return [RecordReward(id=r.id, reward=v, frameworks={"answer": FrameworkResult.scored(v)},
                                 weights={"answer": 1.0}) for r, v in zip(records, values, strict=True)]

        return self.pool.submit(run)

    def close(self):
        self.pool.shutdown()


def settings(steps: int, threads: int) -> dict:
    return {"max_steps": steps, "prompts_per_step": 16, "group_size": 8, "micro_batch_size": 128,
            "max_new_tokens": 20, "learning_rate": 3e-4, "epsilon_low": 0.2, "epsilon_high": 0.28,
            "loss_type": "dapo", "beta": 0.0, "iterations": 1, "temperature": 1.0, "threads": threads,
            "gradient_checkpointing": False, "precision": "fp32"}


def run_chil(policy_dir: Path, rewards, steps: int, threads: int, out: Path, **overrides) -> dict:
    from chil_core.training import default_task
    from chil_core.training.config import TrainConfig
    from chil_core.training.data import PromptDataset
    from chil_core.training.metrics import read_metrics
    from chil_core.training.policy import load_policy
    from chil_core.training.trainer import Trainer

    model, tok = load_policy(policy_dir)
    config = TrainConfig(**{**settings(steps, threads), **overrides}, output_dir=str(out), progress=False,
                         tensorboard=False, save_every=0)
    trainer = Trainer(config, model, tok, PromptDataset(default_task.TRAIN_FILE), rewards)
    trainer.train()
    trainer.close()
    rows = read_metrics(out)[2:]
    med = lambda k: statistics.median(r[k] for r in rows)  # noqa: E731
    return {"step": med("time/step_s"), "generate": med("time/generate_s"), "update": med("time/update_s"),
            "reward_wait": med("time/reward_wait_s"), "reward": med("time/reward_s"),
            "no_signal": med("frac/no_signal_completions"), "length": med("completion/length_mean")}


def run_trl(policy_dir: Path, reward_funcs, reward_weights, steps: int, threads: int, out: Path) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from chil_core.training import default_task
    from chil_core.training.data import PromptDataset

    torch.set_num_threads(threads)  # chil's pipelined trainer halves the count per stage; TRL gets them all
    s = settings(steps, threads)
    rows = PromptDataset(default_task.TRAIN_FILE).all_rows()
    data = Dataset.from_list([{"prompt": r.prompt, "answer": r.reference["answer"]} for r in rows])
    spent = {"reward": 0.0}

    def timed(fn):
        def wrapper(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent["reward"] += time.perf_counter() - t0

        wrapper.__name__ = fn.__name__
        return wrapper

    class Clock(TrainerCallback):
        def __init__(self):
            self.begins, self.rewards = [], []

        def on_step_begin(self, args, state, control, **kw):
            self.begins.append(time.perf_counter())
            self.rewards.append(spent["reward"])

    clock = Clock()
    args = GRPOConfig(
        output_dir=str(out), per_device_train_batch_size=s["prompts_per_step"] * s["group_size"],
        gradient_accumulation_steps=1, num_generations=s["group_size"], max_completion_length=s["max_new_tokens"],
        max_steps=steps + 1, learning_rate=s["learning_rate"], lr_scheduler_type="constant", epsilon=s["epsilon_low"],
        epsilon_high=s["epsilon_high"], loss_type=s["loss_type"], beta=s["beta"], num_iterations=s["iterations"],
        temperature=s["temperature"], reward_weights=reward_weights, use_cpu=True, bf16=False,
        gradient_checkpointing=False, save_strategy="no", report_to="none", disable_tqdm=True, logging_steps=steps + 10,
        dataloader_num_workers=0, seed=0,
    )
    trainer = GRPOTrainer(model=AutoModelForCausalLM.from_pretrained(policy_dir), args=args, train_dataset=data,
                          reward_funcs=[timed(f) for f in reward_funcs],
                          processing_class=AutoTokenizer.from_pretrained(policy_dir), callbacks=[clock])
    trainer.train()
    cycles = [b - a for a, b in zip(clock.begins, clock.begins[1:], strict=False)][2:]  # step k = begin k..k+1
    rewards = [b - a for a, b in zip(clock.rewards, clock.rewards[1:], strict=False)][2:]
    return {"step": statistics.median(cycles), "reward": statistics.median(rewards)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--policy", type=Path, help="warm-started policy dir (default: build one, cached)")
    opts = parser.parse_args()

    import torch

    torch.set_num_threads(opts.threads)
    from chil_core.integrations.trl import chil_reward_funcs
    from chil_core.scoring import Scorer
    from chil_core.training import default_task

    cache = Path(tempfile.gettempdir()) / "chil-bench-policy"
    policy = opts.policy or cache / "warm_start"
    if not (policy / "config.json").is_file():
        print(f"warm-starting the tiny policy into {policy} (once)...", flush=True)
        default_task.warm_started_policy(cache, seed=0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, steps {opts.steps} "
          f"(16 prompts x 8 completions, up to 20 tokens), policy {policy}", flush=True)

    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # case 1: a plain Python reward function
        fn = FunctionRewards(lambda comps, answers: answer_reward(comps, answers))
        chil = run_chil(policy, fn, opts.steps, opts.threads, tmp / "chil-fn")
        sequential = run_chil(policy, fn, opts.steps, opts.threads, tmp / "chil-seq", pipeline_generation=False)
        on_policy = run_chil(policy, fn, opts.steps, opts.threads, tmp / "chil-onp", overlap_rewards=False)
        fn.close()
        trl = run_trl(policy, [answer_reward], None, opts.steps, opts.threads, tmp / "trl-fn")
        ratios.append(report("function", chil, trl))
        print(f"[function]   chil without pipelined generation (both stages one after the other, {opts.threads} "
              f"threads): {sequential['step']:.3f} s, ratio {sequential['step'] / trl['step']:.3f}")
        print(f"[function]   chil strictly on-policy like TRL (no overlap, so no pipelining either): "
              f"{on_policy['step']:.3f} s, ratio {on_policy['step'] / trl['step']:.3f}")
        # case 2: the real empirical framework (chil: Scorer; TRL: the chil adapter)
        scorer = Scorer.from_config({"cache": {"path": ""}}, frameworks=["empirical"])
        chil = run_chil(policy, scorer, opts.steps, opts.threads, tmp / "chil-fw")
        scorer.close()
        with chil_reward_funcs({"cache": {"path": ""}}, frameworks=["empirical"]) as adapter:
            trl = run_trl(policy, adapter.funcs, adapter.weights, opts.steps, opts.threads, tmp / "trl-fw")
        ratios.append(report("frameworks", chil, trl))
    print(f"ratio chil/trl step time: {max(ratios):.3f}")


def report(case: str, chil: dict, trl: dict) -> float:
    ratio = chil["step"] / trl["step"]
    print(f"[{case}] median step: chil {chil['step']:.3f} s, trl {trl['step']:.3f} s, ratio {ratio:.3f}")
    print(f"[{case}]   chil: generate {chil['generate']:.3f} s and update {chil['update']:.3f} s (concurrent), "
          f"reward wait {chil['reward_wait']:.4f} s ({chil['reward_wait'] / chil['step']:.1%} of the step; "
          f"scoring itself {chil['reward']:.4f} s, overlapped), completions without signal {chil['no_signal']:.0%}, "
          f"mean length {chil['length']:.1f}")
    print(f"[{case}]   trl: reward functions {trl['reward']:.4f} s ({trl['reward'] / trl['step']:.1%} of the step)")
    return ratio


if __name__ == "__main__":
    main()
