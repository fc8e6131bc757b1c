"""Reward-hacking monitors (chil_core.monitors) on hand-made streams: each fires on the pattern it is
for and stays quiet on an honest stream; ``chil score --report`` shows them."""

from __future__ import annotations

import json
import random
from pathlib import Path

from chil_core.contracts import FrameworkResult, RecordReward
from chil_core.monitors import (
    MonitorSettings,
    RewardMonitor,
    final_answer,
    is_degenerate,
    is_label_only,
    is_repetitive,
)


def reward(score: float | None, status: str = "scored", verdict: str | None = None) -> RecordReward:
    fr = FrameworkResult(status=status, score=score if status == "scored" else None, verdict=verdict)
    return RecordReward(id="x", reward=score if status == "scored" else None, masked=status != "scored",
                        frameworks={"fw": fr}, weights={"fw": 1.0})


def feed(monitor: RewardMonitor, items: list[tuple[str, str, float | None, str]]) -> dict[str, float]:
    recs = [{"prompt": p, "completion": c, "group": p} for p, c, _, _ in items]
    return monitor.observe(recs, [reward(s, st) for _, _, s, st in items])


def honest(n: int, seed: int = 0) -> list[tuple[str, str, float | None, str]]:
    """Worked answers of similar length, right or wrong at random: nothing to flag."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 4 == 0:  # groups of 4 completions of one prompt
            a, b = rng.randint(10, 99), rng.randint(10, 99)
        right = rng.random() < 0.5
        ans = a + b if right else a + b + rng.choice((-1, 1))
        out.append((f"What is {a}+{b}?", f"{a} + {b} = {ans}, so the answer is {ans}. #### {ans}", 1.0 if right else 0.0, "scored"))
    return out


def test_text_features() -> None:
    assert is_degenerate("") and is_degenerate("  ...!!  ") and is_degenerate("aaaaaaaaaa")
    assert not is_degenerate("55") and not is_degenerate("47+8=55 #### 55")
    assert is_repetitive("the answer is yes " * 10) and is_repetitive("ab" * 400)
    assert not is_repetitive("We add 47 and 8 to get 55, then check it by subtracting 8 from 55, which gives 47 back.")
    assert is_label_only("Answer: True") and is_label_only("(B)") and is_label_only(" 42 ") and is_label_only("Yes.")
    assert not is_label_only("47+8=55 #### 55") and not is_label_only("Tom is a cat, so a mammal. Answer: True")
    assert final_answer("48/2 = 24 #### 24") == "24" and final_answer("so Answer: False") == "false"
    assert final_answer("it is 17.") == "17" and final_answer("no idea") is None


def test_an_honest_stream_raises_no_alert() -> None:
    m = RewardMonitor()
    out = feed(m, honest(400))
    assert out["monitor/alerts"] == 0 and not m.fired, m.table()
    assert abs(out["monitor/length_reward_corr"]) < 0.5
    assert out["monitor/fw/status/scored"] == 1.0


def test_length_rewarding_fires_and_stop_is_reported() -> None:
    m = RewardMonitor({"action": "stop"})
    rng = random.Random(1)
    items = []
    for i in range(80):
        words = rng.randint(5, 60)
        items.append((f"p{i // 8}", " ".join(f"w{rng.randint(0, 999)}" for _ in range(words)), words / 60, "scored"))
    out = feed(m, items)
    assert out["monitor/length_reward_corr"] > 0.9 and out["monitor/alert/length_reward_corr"] == 1.0
    assert m.stop_reason and "length_reward_corr" in m.stop_reason


def test_repetition_degenerate_label_only_constant_answer() -> None:
    m = RewardMonitor()
    items = honest(20)
    items += [(f"q{i}", "the answer is yes " * 20, 1.0, "scored") for i in range(40)]  # repetitive
    items += [(f"r{i}", "", 0.0, "scored") for i in range(40)]  # degenerate
    out = feed(m, items)
    assert out["monitor/alert/repetition_rate"] == 1.0 and out["monitor/alert/degenerate_rate"] == 1.0
    m2 = RewardMonitor()
    out2 = feed(m2, [(f"q{i}", "Answer: True", 1.0, "scored") for i in range(100)])  # bare labels, one answer for all
    assert out2["monitor/label_only_rate"] == 1.0 and out2["monitor/alert/label_only_rate"] == 1.0
    assert out2["monitor/constant_answer_share"] == 1.0 and out2["monitor/alert/constant_answer_share"] == 1.0


def test_abstain_drift_error_rate_and_heldout_divergence() -> None:
    m = RewardMonitor({"baseline_records": 100, "window": 100})
    feed(m, honest(100))
    out = feed(m, [(f"x{i}", "I cannot say.", None, "abstained") for i in range(60)])
    assert out["monitor/fw/abstain_drift"] > 0.5 and out["monitor/alert/abstain_drift/fw"] == 1.0
    out = feed(m, [(f"y{i}", "boom", None, "error") for i in range(60)])
    assert out["monitor/alert/error_rate/fw"] == 1.0
    h = RewardMonitor()
    assert h.observe_eval(0.2, 0.3) == {"monitor/heldout_divergence": 0.0}
    assert h.observe_eval(0.3, 0.35)["monitor/heldout_divergence"] < 0.25 and not h.fired
    out = h.observe_eval(0.9, 0.3)  # the training reward rose 0.7, held-out fell
    assert out["monitor/heldout_divergence"] > 0.25 and "heldout_divergence" in h.fired


def test_thresholds_come_from_config_and_negative_turns_off() -> None:
    m = RewardMonitor(MonitorSettings(length_correlation=-1, degenerate_rate=-1))
    out = feed(m, [(f"p{i // 4}", "x " * (i % 9), (i % 9) / 9, "scored") for i in range(100)])
    assert "monitor/alert/length_reward_corr" not in out and not m.fired.get("length_reward_corr")


def test_score_report_shows_the_monitors(chil, tmp_path: Path) -> None:
    rows = []
    for i in range(120):  # right answers padded long, wrong answers bare: the reward follows the length
        a, b = 10 + i % 37, 3 + i % 11
        comp = (f"{a}+{b} = <<{a}+{b}={a + b}>>{a + b}. " + f"Check: {a + b}-{b} = <<{a + b}-{b}={a}>>{a}. " * 3
                + f"#### {a + b}") if i % 2 else f"{a + b + 1}"
        rows.append({"id": str(i), "prompt": f"What is {a}+{b}?", "completion": comp, "reference": {"answer": str(a + b)}})
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    proc = chil("score", str(src), "-o", str(tmp_path / "out.jsonl"), "--frameworks", "empirical", "--report")
    assert proc.returncode == 0, proc.stderr
    assert "reward-hacking monitors over 120 completions" in proc.stderr
    assert "empirical: scored 100.0%" in proc.stderr and "ALERT length_reward_corr" in proc.stderr


def test_state_round_trips_through_a_weights_only_checkpoint(tmp_path: Path) -> None:
    import torch

    items = honest(120, seed=3)
    straight, first = RewardMonitor(), RewardMonitor()
    feed(straight, items[:60])
    feed(first, items[:60])
    first.observe_eval(0.4, 0.5)
    straight.observe_eval(0.4, 0.5)
    torch.save({"monitor": first.state_dict()}, tmp_path / "state.pt")
    resumed = RewardMonitor()
    resumed.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True)["monitor"])
    assert resumed.metrics() == straight.metrics() and resumed.first_eval == straight.first_eval
    assert feed(resumed, items[60:]) == feed(straight, items[60:])
    assert resumed.seen == straight.seen == 120 and resumed.fired == straight.fired
