"""Differential tests: the C++ arithmetic kernel (chil_native._arith) against the Python reference.

Both paths must give identical tokens, steps (text, relation, ASTs with their exact values, verdict,
detail, deduplication key), final answers (``answer.read_answer`` / ``find_answer``), grounding of the
steps in a prompt (``framework._grounded``) and framework results on GSM8K train solutions, the model-style rewrites of
benchmarks/validity and generated / fuzzed input, hostile input included (huge literals, deep nesting,
invalid UTF-8, NUL bytes).  The default run checks a sample; ``-m slow`` runs every GSM8K train solution
and at least 100,000 generated inputs.  ``scripts/native-sanitize.sh`` runs this module against an
AddressSanitizer + UndefinedBehaviorSanitizer build of the kernel.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chil_plugin_empirical import answer, expr, framework, native, steps
from chil_plugin_empirical.expr import Limits
from chil_plugin_empirical.framework import EmpiricalFramework
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chil_core.scoring import to_record
from chil_core.testing import DirectContext

pytest.importorskip("chil_native._arith", reason="chil-native is not built here (scripts/setup.sh builds it)")

ROOT = Path(__file__).resolve().parents[4]
GSM8K = ROOT.parent / "shared" / "data" / "gsm8k" / "train.jsonl"
sys.path.insert(0, str(ROOT / "benchmarks" / "validity"))

LIMITS = [
    expr.DEFAULT_LIMITS,
    Limits(max_digits=8, max_bits=64, max_exponent=20, max_ops=12, max_depth=5),
    Limits(max_digits=3, max_bits=70, max_exponent=3, max_ops=3, max_depth=2),
]


@pytest.fixture(scope="module", autouse=True)
def _restore() -> Iterator[None]:
    assert native.activate(True).startswith("native")
    yield
    native.activate()


def _steps(text: str, limits: Limits = expr.DEFAULT_LIMITS, rounding: bool = True) -> list[tuple[Any, ...]]:
    try:
        found = steps.extract_steps(text, limits, rounding)
    except Exception as exc:  # noqa: BLE001 - the paths must fail alike too
        return [("raised", type(exc).__name__, str(exc))]
    return [(s.kind, s.text, s.relation, s.lhs, s.rhs, s.verdict, s.detail, s.symbolic, s.key()) for s in found]


def _both(text: str, limits: Limits = expr.DEFAULT_LIMITS, rounding: bool = True) -> tuple[Any, Any]:
    """(python, native) readings of ``text``: tokens and steps."""
    out = []
    for on in (False, True):
        native.activate(on)
        out.append((expr.tokenize(text), _steps(text, limits, rounding)))
    return out[0], out[1]


def _answers(text: str, limits: Limits) -> tuple[Any, ...]:
    """The final answer read from the text (markers, else the last number) and the text read as an answer."""
    out = []
    for read in (lambda: answer.find_answer(text, True, limits), lambda: answer.read_answer(text, "x", limits)):
        try:
            out.append(read())
        except Exception as exc:  # noqa: BLE001 - the paths must fail alike too
            out.append(("raised", type(exc).__name__, str(exc)))
    return tuple(out)


def _grounding(text: str, prompt: str, limits: Limits) -> Any:
    """Which steps of ``text`` use a number of ``prompt`` (or of an earlier such step)."""
    try:
        return framework._grounded(steps.extract_steps(text, limits), prompt, limits)
    except Exception as exc:  # noqa: BLE001
        return ("raised", type(exc).__name__, str(exc))


def check(texts: list[str], limits: list[Limits] | None = None) -> int:
    """Assert identical readings of every text under every limits; return how many inputs were checked.

    The grounding of a text's steps is checked against the next text as the prompt (and itself)."""
    limits = limits or [expr.DEFAULT_LIMITS]
    readings: dict[bool, list[Any]] = {}
    for on in (False, True):
        native.activate(on)
        readings[on] = [(expr.tokenize(t), [_steps(t, lim, r) for lim in limits for r in (True, False)],
                         [framework._numbers(t, lim) for lim in limits], [_answers(t, lim) for lim in limits],
                         [_grounding(t, p, lim) for lim in limits for p in (texts[(i + 1) % len(texts)], t)])
                        for i, t in enumerate(texts)]
    native.activate(True)
    for text, py, nat in zip(texts, readings[False], readings[True], strict=True):
        assert nat[0] == py[0], f"tokens differ on {text!r}"
        assert nat[1] == py[1], f"steps differ on {text!r}:\npython {py[1]}\nnative {nat[1]}"
        assert nat[2] == py[2], f"numbers read differently from {text!r}"
        assert nat[3] == py[3], f"answers read differently from {text!r}:\npython {py[3]}\nnative {nat[3]}"
        assert nat[4] == py[4], f"grounding differs on {text!r}:\npython {py[4]}\nnative {nat[4]}"
    return len(texts) * len(limits) * 2


def _gsm8k(limit: int | None) -> list[dict[str, str]]:
    if not GSM8K.is_file():
        pytest.skip(f"GSM8K not found at {GSM8K}")
    with open(GSM8K, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return rows[:limit] if limit else rows


def _validity_texts(rows: list[dict[str, str]]) -> list[str]:
    """The solutions, their model-style rewrites and the three seeded one-number changes of
    benchmarks/validity/gsm8k.py."""
    import gsm8k as validity

    sols = [r["answer"] for r in rows]
    out = sols + [validity.model_style(s) for s in sols] + [r["question"] for r in rows]
    for mutate in (validity.mutate_annotation, validity.mutate_visible_result, validity.mutate_visible_operand):
        out += [t for i, s in enumerate(sols) if (t := mutate(s, random.Random(validity.SEED + i))) is not None]
    return out


def _results(texts: list[str], answers: list[str], prompts: list[str]) -> list[tuple[Any, ...]]:
    fw = EmpiricalFramework()
    ctx = DirectContext({})
    loop = asyncio.new_event_loop()
    try:
        out = []
        for i, (text, ans, prompt) in enumerate(zip(texts, answers, prompts, strict=True)):
            rec = to_record({"id": str(i), "prompt": prompt, "completion": text, "reference": {"answer": ans}})
            r = loop.run_until_complete(fw.score(rec, ctx))
            out.append((r.status, r.score, r.verdict, r.components, [(e.kind, e.text, e.data) for e in r.evidence]))
        return out
    finally:
        loop.close()
        ctx.close()


def _framework_agrees(rows: list[dict[str, str]]) -> None:
    import gsm8k as validity

    texts = _validity_texts(rows)
    answers = [validity.gold_answer(r["answer"]) for r in rows]
    answers = (answers * (len(texts) // len(answers) + 1))[: len(texts)]
    prompts = [r["question"] for r in rows] * (len(texts) // len(rows) + 1)
    prompts = prompts[: len(texts)]
    native.activate(False)
    py = _results(texts, answers, prompts)
    native.activate(True)
    nat = _results(texts, answers, prompts)
    for text, a, b in zip(texts, py, nat, strict=True):
        assert a == b, f"framework results differ on {text!r}"


# -- GSM8K and the validity rewrites ---------------------------------------------------------------
def test_gsm8k_sample_and_validity_rewrites_read_identically() -> None:
    rows = _gsm8k(150)
    check(_validity_texts(rows), LIMITS[:2])
    _framework_agrees(rows[:60])


@pytest.mark.slow
def test_every_gsm8k_train_solution_reads_identically() -> None:
    rows = _gsm8k(None)
    assert len(rows) >= 7000
    texts = _validity_texts(rows)
    check(texts)
    _framework_agrees(rows)


def test_the_native_path_is_the_one_measured() -> None:
    """Most GSM8K lines are read by the kernel itself, not handed back to Python (else the speed-up
    and this module's comparisons would be hollow)."""
    from chil_native import _arith

    lines = [line for r in _gsm8k(2000) for line in r["answer"].split("\n") if "=" in line]
    taken = sum(_arith.line_steps(line, True, 60, 4096, 1000, 200, 40, True) is not None for line in lines)
    assert taken >= 0.95 * len(lines)  # the rest: lines with non-ASCII characters (’ – × €)


def test_answers_and_grounding_are_read_by_the_kernel() -> None:
    """The final answers and the grounding of GSM8K solutions are read by the kernel itself (the speed-up
    of the framework alone rests on them), and give what the reference gives."""
    from chil_native._arith import answer as kernel_answer
    from chil_native._arith import grounded as kernel_grounded

    rows = _gsm8k(300)
    lim = (60, 4096, 1000, 200, 40)
    finals = [r["answer"].rsplit("####", 1)[-1].strip() for r in rows]
    assert sum(kernel_answer(t, *lim) is not None for t in finals) >= 0.95 * len(finals)
    found = [steps.extract_steps(r["answer"]) for r in rows]
    assert sum(kernel_grounded(r["question"], f, 60) is not None for r, f in zip(rows, found, strict=True)) >= 0.95 * len(rows)
    for on in (False, True):
        native.activate(on)
        got = [(answer.read_answer(t), framework._grounded(steps.extract_steps(r["answer"]), r["question"], expr.DEFAULT_LIMITS))
               for t, r in zip(finals, rows, strict=True)]
        if not on:
            reference = got
    assert got == reference
    assert any(not all(g) for _, g in got) and any(all(g) and g for _, g in got)  # both outcomes occur


# -- hand-written edge cases ---------------------------------------------------------------------
EDGE = [
    "48/2 = 24 + 10 = 34", "10/3 = 3.33", "10/3 = 3.34", "2/3 = 0.67", "1/6 = 16.66%", "6/67 = .1", "20% of 50 = 10",
    "0.75 * 100 = 75%", "(2+3)% of 200 = 10", "5! = 120", "(2+3)! = 120", "21! = 51090942171709440000", "20! = 2432902008176640000",
    "3! ! = 720", "x! = 5", "2^10 = 1024", "2**62 = 4611686018427387904", "2^63 = 9223372036854775808", "9**9**9 = 1",
    "2^-2 = 0.25", "0^-1 = 5", "4^(1/2) = 2", "8^(1/3) = 2", "(-8)^(1/3) = -2", "(-4)^(1/2) = 2", "2^(1/2) = 1.41",
    "(9/4)^(3/2) = 27/8", "7 // 2 = 3", "-7 // 2 = -4", "1/0 = 5", "5/(3-3) = 1", "1,234,567 + 1 = 1,234,568", "1 000 000 / 2 = 500 000",
    "1 1/2 + 1/2 = 2", "3 and 1/4 x 4 = 13", "12 10/5 = 2", "7.2e1 = 72", "1e20 / 1e19 = 10", "1.5E3 = 1500", "1e999 = 1",
    "0730 + 5 = 735", "$2/cantaloupe x 3 cantaloupes = $6", "5 hours * 60 = 300", "2x + 3 = 7", "3x(1/3) = x", "4 (x - 6) = 8",
    "12 out of 60 = 20%", "a total of 5 = 5", "25 / 1/3 = 75", "400g / 200g = 2", "24 > 20", "3 >= 4", "3 <= 3", "3 != 3",
    "3 ~= 3.01", "100 ≈ 101", "1 equals 1 + 0", "2 plus 2 makes 4", "9 minus 3 = 6", "6 divided by 3 = 2", "6 multiplied by 3 = 18",
    "4 times 5 = 20", "at 12:30 pm 3 + 3 = 6", "10:15:30 2*3 = 6", "1 hour = 60 minutes", "<<15=21>>", "<<2*3=6>>6 apples",
    "2 kg = 2 * 1000 g", "Remaining 10 = 62,300/10", "99999999999999999999 + 1 = 100000000000000000000",
    "9223372036854775807 + 1 = 9223372036854775808", "4611686018427387904 * 2 = 9223372036854775808",
    "3037000499.97605 ^ 2 = 9223372036854775807", "0.1 + 0.2 = 0.3", "1/3 + 1/3 + 1/3 = 1", "2.50 * 4 = 10.00",
    "-(-(-(3))) = -3", "+-+-3 = 3", "((((((((((1)))))))))) = 1", "(" * 45 + "1" + ")" * 45 + " = 1", "1" + "+1" * 250 + " = 251",
    "1 = 1 = 1 = 2 = 2", "= = =", "=", "", "\x00", "2\x00+2 = 4", "2 + 2 = 4\x00", "The answer is 5.", "\n\n1+1=2\n\n2+2=5\n",
    "Janet’s ducks lay 16 eggs: 16 - 3 - 4 = 9", "9 × 3 = 27", "10 ÷ 2 = 5", "3 − 1 = 2", "½ + ½ = 1", "2½ x 2 = 5",
    "٣ + ٣ = ٦", "1\u00a0000 + 1 = 1\u00a0001", "5 \u2264 6", "x = 5\nx + 1 = 6", "**24** = 4 * 6", "\\frac{1}{2} = 0.5",
    "$\\frac{3}{4} \\times 8 = 6$", "\\text{cost} = 3 \\cdot 4 = 12", "lbs. 5 + 5 = 10", "5lbs. + 5lbs. = 10lbs.", "A1 + 2 = 3",
    "a + 2 = 3", "I + 1 = 2", "5A + 2 = 7", "x2 + 1 = 3", "2 x 3 = 6", "2x3 = 6", "3 times/session * 4 = 12",
    "100% - 20% = 80%", "50% * 50% = 25%", "(1/3)% = 0.0033", "1e-5 * 1e5 = 1", "123456789012345678 * 10 = 1234567890123456780",
    "12345678901234567890123 = 1", "0.000000000000000001 * 1000000000000000000 = 1", "1/7 = 0.142857142857142857142857",
    "1/3 = 0.3333333333333333333", "2/3 = 0.666666666666666667", "1e18 + 1e18 = 2e18", "5e18 + 5e18 = 1e19",
    "(-9223372036854775807) - 1 = -9223372036854775808", "3 * -9223372036854775807 = 1",
]


def test_edge_cases_read_identically() -> None:
    check(EDGE, LIMITS)


# -- generated and fuzzed input ------------------------------------------------------------------
_ATOMS = st.one_of(
    st.integers(0, 10**6).map(str),
    st.integers(0, 10**40).map(str),  # beyond 64 bits
    st.decimals(0, 10**6, places=3, allow_nan=False, allow_infinity=False).map(str),
    st.integers(1, 999_999_999).map(lambda n: f"{n:,}"),
    st.integers(1, 999_999).map(lambda n: f"{n:,}".replace(",", " ")),
    st.tuples(st.integers(0, 99), st.integers(1, 99), st.integers(1, 99)).map(lambda t: f"{t[0]} {t[1]}/{t[2]}"),
    st.tuples(st.integers(1, 999), st.integers(-30, 30)).map(lambda t: f"{t[0]}e{t[1]}"),
    st.sampled_from(["x", "y", "a", "I", "n2", "A", "0730", ".5", "5.", "1,00", "1,0000", "12:30", "7pm", "$", "%", "!", "½", "2½"]),
    st.text(st.characters(codec="utf-8"), max_size=3),
)
_GLUE = st.sampled_from(
    [" ", "", "+", " + ", "-", " - ", "*", " * ", "/", " / ", "//", "^", "**", " x ", "x", " × ", " ÷ ", " of ", " times ",
     " plus ", " minus ", " divided by ", " multiplied by ", "(", ")", " (", ") ", "%", "!", "$", " = ", "=", " == ", " < ",
     " > ", " <= ", " >= ", " != ", " ~= ", " ≈ ", " equals ", " makes ", " hours ", " cookies ", "/box ", " per ", ", ",
     ". ", "\n", "\t", "\x00", " and ", " is ", "<<", ">>", " apples of ", "**", "\\frac{", "}{", "}", "\\times "]
)


@st.composite
def statements(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 12))):
        parts.append(draw(_ATOMS))
        parts.append(draw(_GLUE))
    return "".join(parts)


def _hostile(rng: random.Random) -> str:
    kind = rng.randrange(8)
    if kind == 0:  # huge literal
        return f"{'9' * rng.randint(15, 300)} + 1 = {'1' + '0' * rng.randint(15, 300)}"
    if kind == 1:  # deep nesting
        d = rng.randint(1, 80)
        return "(" * d + str(rng.randint(0, 9)) + ")" * rng.randint(0, d + 1) + " = " + str(rng.randint(0, 9))
    if kind == 2:  # invalid UTF-8 bytes, decoded the ways a pipeline does
        raw = bytes(rng.randrange(256) for _ in range(rng.randint(1, 40))) + b" 2+2 = 4"
        return raw.decode("utf-8", errors=rng.choice(["replace", "surrogateescape", "ignore"]))
    if kind == 3:  # NUL bytes
        return "\x00".join(rng.choice(["2", "+", "=", "4", " ", "3*3", "9"]) for _ in range(rng.randint(1, 20)))
    if kind == 4:  # long operator chains
        op = rng.choice("+-*/^")
        return op.join(str(rng.randint(0, 99)) for _ in range(rng.randint(2, 260))) + " = " + str(rng.randint(0, 99))
    if kind == 5:  # powers and factorials at the bounds
        return f"{rng.randint(-3, 40)}^{rng.randint(-70, 70)} = {rng.randint(0, 9)}! = {rng.randint(0, 25)}!"
    if kind == 6:  # fractions and roundings
        a, b = rng.randint(1, 10**rng.randint(1, 12)), rng.randint(1, 10**rng.randint(1, 12))
        return f"{a}/{b} = {a / b:.{rng.randint(0, 20)}f}" + rng.choice(["", "%", " ≈ 1"])
    return "".join(chr(rng.randrange(1, 0x300)) for _ in range(rng.randint(1, 60)))


def _generated(rng: random.Random) -> str:
    """A random statement built from the same pieces as :func:`statements` (for the bulk run)."""
    atoms = ["0", "7", "12", "48", "100", "3.5", "0.25", "1,200", "1 000", "2 1/2", "1e3", "x", "a", "99999999999999999999",
             "1/3", "$5", "50%", ".5", "0730", "12:30", "½"]
    glue = [" + ", "+", " - ", "*", " * ", " / ", "/", "//", "^", " x ", " of ", " times ", "(", ")", "%", "!", " = ", "=",
            " < ", " >= ", " != ", " ≈ ", " equals ", " hours ", " per ", ", ", "\n", "\x00", " and ", "<<", ">>", " ", "-"]
    parts = []
    for _ in range(rng.randint(1, 14)):
        parts.append(rng.choice(atoms) if rng.random() < 0.8 else str(rng.randint(0, 10**rng.randint(1, 25))))
        parts.append(rng.choice(glue))
    return "".join(parts)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(st.lists(statements(), min_size=4, max_size=4), st.integers(0, 2**32))
def test_generated_statements_read_identically(texts: list[str], seed: int) -> None:
    rng = random.Random(seed)
    check(texts + [_hostile(rng) for _ in range(4)], LIMITS[:2])


@pytest.mark.slow
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(st.lists(statements(), min_size=20, max_size=20), st.integers(0, 2**32))
def test_100k_generated_and_fuzzed_inputs_read_identically(texts: list[str], seed: int) -> None:
    """500 hypothesis examples x (20 drawn statements + 180 seeded random and hostile ones) = 100,000
    inputs, with and without rounding, every other one read under the default limits and the rest under a
    tight set (both sets on every input doubled this test's time, 4 minutes of the slow run)."""
    rng = random.Random(seed)
    batch = texts + [_generated(rng) for _ in range(120)] + [_hostile(rng) for _ in range(60)]
    assert len(batch) == 200
    assert check(batch[0::2], LIMITS[:1]) + check(batch[1::2], LIMITS[1:2]) == 2 * len(batch)


def test_a_kernel_build_older_than_the_plugin_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stale chil-native (built before answer / grounded existed, its extract not deduplicating) must not
    be called: the Python reference runs and says why."""
    from chil_native import _arith

    monkeypatch.delattr(_arith, "grounded")
    try:
        reason = native.activate()
        assert reason.startswith("python (chil_native._arith is older than this plugin, it lacks grounded")
        assert not native.in_use()
        fw_steps = steps.extract_steps("<<2*3=6>>2*3 = 6 apples")
        assert len(fw_steps) == 1
    finally:
        monkeypatch.undo()
        assert native.activate(True).startswith("native")


def test_chil_plugins_says_which_implementation_is_in_use() -> None:
    import os
    import subprocess

    chil = Path(sys.executable).with_name("chil")
    on = subprocess.run([str(chil), "plugins"], capture_output=True, text=True, timeout=120, check=True).stdout
    assert "\n  empirical              native (chil_native._arith" in on
    env = {**os.environ, "CHIL_NATIVE": "0"}
    off = subprocess.run([str(chil), "plugins"], capture_output=True, text=True, timeout=120, check=True, env=env).stdout
    assert "\n  empirical              python (CHIL_NATIVE=0)" in off
