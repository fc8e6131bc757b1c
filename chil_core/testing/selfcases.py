"""Self-test cases (``chil doctor``) per capability, built from the conformance suites' shared data.

A backend plugin's ``selftest.py`` returns ``capability_cases("smt:z3")`` plus any cases of its own;
every backend of a capability then answers the same gold items (known answers), mutated negatives
(the other verdict) and hostile items (malformed, injected or oversized payloads: a typed ``error``)::

    @hookimpl
    def chil_self_tests():
        from chil_core.testing.selfcases import capability_cases
        return capability_cases("smt:mybackend")

Each builder imports only its own capability's data, when called.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from chil_core.contracts import ToolCall
from chil_core.selftest import SelfTest


def _value_has(want: dict[str, Any]) -> Callable[[Any], str | None]:
    def check(result: Any) -> str | None:
        got = {k: (result.value or {}).get(k) for k in want}
        return None if got == want else f"value {got}, expected {want}"
    return check


def _error_names(fragment: str) -> Callable[[Any], str | None]:
    def check(result: Any) -> str | None:
        return None if fragment in (result.error or "") else f"error {result.error!r} does not name {fragment!r}"
    return check


def _smt(tid: str) -> list[SelfTest]:
    from chil_core.testing import smt

    out = [SelfTest.tool(tid, f"fol: {name}", "gold", call, check=_value_has(want)) for name, call, want in smt.FOL_CASES[:2]]
    for name, call, verdict in smt.ARITH_CASES:
        kind = "negative" if verdict == "contradicted" else "gold"
        out.append(SelfTest.tool(tid, f"arith: {name}", kind, call, check=_value_has({"verdict": verdict})))
    for name, op, payload, fragment in smt.MALFORMED[:3]:
        out.append(SelfTest.tool(tid, f"malformed: {name}", "hostile", ToolCall("smt", op, payload), check=_error_names(fragment)))
    # (the two payloads nested thousands deep are left out: no framework builds them, and the
    # scheduler's canonical JSON of the cache key (orjson) refuses nesting past 255 before a backend sees it)
    out += [SelfTest.tool(tid, f"hostile payload {i}", "hostile", call, status=("error", "timeout"))
            for i, call in enumerate(smt.HOSTILE) if i in (1, 3)]
    return out


def _logic_program(tid: str) -> list[SelfTest]:
    from chil_core.testing import logic_program as lp

    out = []
    for name, call, want in lp.CASES:
        kind = "negative" if not want["consistent"] else "gold"
        out.append(SelfTest.tool(tid, name, kind, call, check=_value_has({"answers": want["answers"], "consistent": want["consistent"]})))
    for name, payload, fragment in lp.MALFORMED[:3]:
        out.append(SelfTest.tool(tid, f"malformed: {name}", "hostile", ToolCall("logic_program", "decide", payload),
                                 check=_error_names(fragment)))
    out += [SelfTest.tool(tid, f"hostile: {fragment}", "hostile", call, check=_error_names(fragment)) for call, fragment in lp.HOSTILE]
    return out


def _fact_store(tid: str) -> list[SelfTest]:
    from chil_core.testing import fact_store as fs

    opts = fs.SEMANTICS_OPTIONS
    out = []
    for call, verdict in fs.SEMANTICS:
        p = call.payload
        kind = "negative" if verdict == "refuted" else "gold"
        out.append(SelfTest.tool(tid, f"{p['subject']} {p['relation']} {p['object']}: {verdict}", kind, call,
                                 check=_value_has({"verdict": verdict}), options=opts))
    for call, want in fs.HOSTILE[:-1]:
        p = call.payload
        name = f"hostile {call.op} {str(p)[:40]}"
        if call.op != "lookup":  # the scheduler answers an unknown op itself
            out.append(SelfTest.tool(tid, name, "hostile", call, options=opts))
        elif want.startswith("error: "):
            out.append(SelfTest.tool(tid, name, "hostile", call, check=_error_names(want[len("error: "):]), options=opts))
        else:
            out.append(SelfTest.tool(tid, name, "hostile", call, status="ok", check=_value_has({"verdict": want}), options=opts))
    # the configured store (the user's facts) must start and answer a lookup with a verdict
    out.append(SelfTest.tool(tid, "configured store answers", "gold", fs.lookup("chil-doctor", "probe", "nothing"),
                             check=lambda r: None if (r.value or {}).get("verdict") in ("supported", "refuted", "unknown")
                             else f"no verdict in {r.value!r}"))
    return out


def _text_index(tid: str) -> list[SelfTest]:
    from chil_core.testing.text_index import INJECTIONS, MALFORMED, claim

    ep = "chil-doctor-selftest"

    def call(op: str, **payload: Any) -> ToolCall:
        return ToolCall("text_index", op, payload)

    def hits(want: list[str]) -> Callable[[Any], str | None]:
        def check(r: Any) -> str | None:
            got = [h["text"] for h in (r.value or {}).get("hits", [])]
            return None if got == want else f"hits {got}, expected {want}"
        return check

    out = [
        SelfTest.tool(tid, "clear the doctor's episode", "gold", call("clear", episode=ep)),
        SelfTest.tool(tid, "add two claims", "gold", call("add", episode=ep, record="r1", claims=[
            claim("Bob is big.", "big", "bob"), claim("The cat is red.", "red", "cat")]),
            check=lambda r: None if (r.value or {}).get("added") in (0, 2) else f"value {r.value}"),
        SelfTest.tool(tid, "search finds the claim sharing a term", "gold",
                      call("search", episode=ep, terms=["bob", "nice"], exclude_record="r3"), check=hits(["Bob is big."])),
        SelfTest.tool(tid, "search excludes the asking record", "negative",
                      call("search", episode=ep, terms=["bob"], exclude_record="r1"), check=hits([])),
        SelfTest.tool(tid, "another episode sees nothing", "negative",
                      call("search", episode=ep + "-other", terms=["bob"]), check=hits([])),
    ]
    out += [SelfTest.tool(tid, f"injection {s!r} matches nothing", "hostile", call("search", episode=ep, terms=[s]),
                          status="ok", check=hits([])) for s in INJECTIONS[:4]]
    out += [SelfTest.tool(tid, f"malformed: {name}", "hostile", call(op, **payload), check=_error_names(fragment))
            for name, op, payload, fragment in MALFORMED[:4]]
    return out


def _theorem_prover(tid: str) -> list[SelfTest]:
    from chil_core.testing.theorem_prover import CASES, DENIED, check

    out = [SelfTest.tool(tid, name, "gold" if valid else "negative", check(code), check=_value_has({"valid": valid}))
           for name, code, valid, _ in CASES]
    out += [SelfTest.tool(tid, f"denied: {code[:30]}", "hostile", check(code), status=("ok", "error"),
                          check=lambda r: None if r.status == "error" or not (r.value or {}).get("valid") else "a denied snippet was accepted")
            for code in DENIED]
    return out


def _sentiment(tid: str) -> list[SelfTest]:
    from chil_core.testing.sentiment import CLEAR, polarity

    out = []
    for text, label in CLEAR:
        out.append(SelfTest.tool(tid, f"{label}: {text[:30]}", "gold" if label == "positive" else "negative", polarity(text),
                                 check=_value_has({"label": label})))
    out += [SelfTest.tool(tid, "text not a string", "hostile", polarity(None), check=_error_names("text")),
            SelfTest.tool(tid, "unknown op", "hostile", ToolCall("sentiment", "exec", {"text": "import os"})),
            SelfTest.tool(tid, "control characters", "hostile", polarity("\x00\x01\x1b[31m"), status="ok"),
            SelfTest.tool(tid, "2 MB text is bounded", "hostile", polarity("x" * 2_000_000), status=("ok", "error"))]
    return out


def _nlp(tid: str) -> list[SelfTest]:
    from chil_core.testing.nlp import RULE_ENTITIES, TEXT, parse

    def finds(want: list[tuple[str, str]]) -> Callable[[Any], str | None]:
        def check(r: Any) -> str | None:
            got = [(e["text"], e["label"]) for e in (r.value or {}).get("entities", [])]
            missing = [w for w in want if not any(w[0] in t and w[1] == lab for t, lab in got)]
            return f"entities {got} miss {missing}" if missing else None
        return check

    def no_number(r: Any) -> str | None:
        nums = [e for e in (r.value or {}).get("entities", []) if e["label"] in ("CARDINAL", "MONEY", "DATE")]
        return f"numbers found in a text without any: {nums}" if nums else None

    return [SelfTest.tool(tid, "rule entities", "gold", parse(TEXT), check=finds(RULE_ENTITIES)),
            SelfTest.tool(tid, "no numbers in a text without any", "negative", parse("Paris is in France."), check=no_number),
            SelfTest.tool(tid, "text not a string", "hostile", parse(None)),
            SelfTest.tool(tid, "unknown op", "hostile", ToolCall("nlp", "eval", {"text": "1+1"})),
            SelfTest.tool(tid, "1 MB text is truncated", "hostile", parse("x" * 1_000_000), status="ok",
                          check=_value_has({"truncated": True}))]


def _embedding(tid: str) -> list[SelfTest]:
    from chil_core.testing.embedding import SENTENCES, embed, similarity

    def shape(n: int) -> Callable[[Any], str | None]:
        def check(r: Any) -> str | None:
            vecs = (r.value or {}).get("vectors", [])
            return None if len(vecs) == n and all(len(v) == r.value.get("dim") for v in vecs) else f"{len(vecs)} vectors"
        return check

    def related(r: Any) -> str | None:
        s = (r.value or {}).get("similarities") or (r.value or {}).get("scores")
        if not isinstance(s, list) or len(s) != 2:
            return f"value {r.value!r}"
        return None if s[0] > s[1] else f"a paraphrase ({s[0]}) is not closer than an unrelated sentence ({s[1]})"

    return [SelfTest.tool(tid, "embed three sentences", "gold", embed(SENTENCES), check=shape(3)),
            SelfTest.tool(tid, "paraphrase closer than unrelated", "negative",
                          similarity([["The cat sat on the mat.", "A cat was sitting on the mat."],
                                      ["The cat sat on the mat.", "Stock markets fell sharply on Monday."]]), check=related),
            SelfTest.tool(tid, "texts not a list", "hostile", ToolCall("embedding", "embed", {"texts": "not a list"})),
            SelfTest.tool(tid, "unknown op", "hostile", ToolCall("embedding", "drop_tables", {})),
            SelfTest.tool(tid, "control characters and 200k chars", "hostile",
                          embed(["\x00\x01\x02", "a" * 200_000, "Ω≈ç√∫ 漢字 العربية 🙂", ""]), status="ok", check=shape(4))]


def _topic_model(tid: str) -> list[SelfTest]:
    from chil_core.testing.topic_model import TEXTS, topics

    # the model is the user's (learnt from their corpus by `chil topics`): its topics are not known here,
    # only the contract's shape and identities; without a model, a clear error saying so
    def or_missing(check: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
        def wrapped(r: Any) -> str | None:
            if r.status == "ok":
                return check(r)
            return None if "model" in (r.error or "") else f"error {r.error!r} does not say the model is missing"
        return wrapped

    def shape(n: int, sums: bool = True) -> Callable[[Any], str | None]:
        def check(r: Any) -> str | None:
            dist = (r.value or {}).get("distributions", [])
            ok = len(dist) == n and all(len(d) == r.value.get("topics") and (not sums or abs(sum(d) - 1) < 1e-4) for d in dist)
            return None if ok else f"{len(dist)} distributions"
        return check

    def identity_and_empty(r: Any) -> str | None:
        s = (r.value or {}).get("scores")
        ok = isinstance(s, list) and len(s) == 2 and s[0] == 1.0 and s[1] == 0.0
        return None if ok else f"scores {s}: a text with itself must score 1, with the empty text 0"

    a = TEXTS[0]
    return [SelfTest.tool(tid, "topics of three texts on the configured model (or a clear error without one)", "gold",
                          topics(TEXTS[:3]), status=("ok", "error"), check=or_missing(shape(3))),
            SelfTest.tool(tid, "a text with itself 1, with the empty text 0", "negative",
                          ToolCall("topic_model", "similarity", {"pairs": [[a, a], [a, ""]]}), status=("ok", "error"),
                          check=or_missing(identity_and_empty)),
            SelfTest.tool(tid, "texts not a list", "hostile", ToolCall("topic_model", "topics", {"texts": "not a list"})),
            SelfTest.tool(tid, "unknown op", "hostile", ToolCall("topic_model", "train", {})),
            SelfTest.tool(tid, "control characters and 200k chars", "hostile",
                          topics(["\x00\x01\x02", "film " * 40_000, "Ω≈ç√∫ 漢字 العربية 🙂", ""]), status=("ok", "error"),
                          check=or_missing(shape(4, sums=False)))]


def _vector_index(tid: str) -> list[SelfTest]:
    from chil_core.testing.vector_index import search

    # the configured index is the user's: its answers are not known here, only the contract's shape
    def shaped(r: Any) -> str | None:
        return None if isinstance((r.value or {}).get("results"), list) else f"value {r.value!r}"

    return [SelfTest.tool(tid, "search on the configured index (or a clear error without one)", "gold",
                          search(["Which French city is the capital?"]), status=("ok", "error"),
                          check=lambda r: shaped(r) if r.status == "ok" else (None if "index" in (r.error or "") or "path" in (r.error or "") else f"error {r.error!r} does not say the index is missing")),
            SelfTest.tool(tid, "k out of range", "hostile", search(["q"], k=10**9)),
            SelfTest.tool(tid, "unknown op", "hostile", ToolCall("vector_index", "add", {"texts": ["x"]}))]


def _fairness(tid: str) -> list[SelfTest]:
    from chil_core.testing import fairness as f

    def metric(name: str, want: str) -> Callable[[Any], str | None]:
        def check(r: Any) -> str | None:
            got = (r.value or {}).get("metrics", {}).get(name)
            ok = got is not None and abs(Fraction(str(got)) - Fraction(want)) <= Fraction(1, 10**12)
            return None if ok else f"{name} = {got}, expected {want}"
        return check

    return [SelfTest.tool(tid, "labelled population", "gold", f.metrics_call(f.SAMPLE_POPULATION, f.SAMPLE_DECISIONS),
                          check=metric("demographic_parity_difference", "1/3")),
            SelfTest.tool(tid, "unlabelled population: parity gap 1/2, not 0", "negative",
                          f.metrics_call(f.UNLABELLED, f.UNLABELLED_DECISIONS), check=metric("demographic_parity_difference", "1/2")),
            SelfTest.tool(tid, "empty population", "hostile", f.metrics_call([], {}), check=_error_names("population")),
            SelfTest.tool(tid, "decision for nobody", "hostile", f.metrics_call(f.SAMPLE_POPULATION, {"zz": 1}), check=_error_names("zz")),
            SelfTest.tool(tid, "population not a list", "hostile", ToolCall("fairness", "metrics", {"population": "x"}))]


def _graph(tid: str) -> list[SelfTest]:
    from chil_core.testing.graph import SAMPLE_GRAPH, query_call

    def answers(want: list[dict[str, Any]]) -> Callable[[Any], str | None]:
        def check(r: Any) -> str | None:
            got = (r.value or {}).get("answers", [])
            bad = [(g, w) for g, w in zip(got, want, strict=False) if {k: g.get(k) for k in w} != w]
            return f"answers {bad}" if bad or len(got) != len(want) else None
        return check

    return [SelfTest.tool(tid, "max flow and shortest path", "gold",
                          query_call(SAMPLE_GRAPH, [{"q": "max_flow", "source": "S", "target": "T"},
                                                    {"q": "shortest_path", "source": "S", "target": "T"}]),
                          check=answers([{"value": "5"}, {"length": "6"}])),
            SelfTest.tool(tid, "unreachable after removals", "negative",
                          query_call(SAMPLE_GRAPH, [{"q": "reachable", "source": "S", "target": "T", "removed": ["A", "B"]}]),
                          check=answers([{"reachable": False}])),
            SelfTest.tool(tid, "NaN weight", "hostile", query_call({"edges": [["a", "b", float("nan")]]}, []), check=_error_names("weight")),
            SelfTest.tool(tid, "negative weight", "hostile", query_call({"edges": [["a", "b", -1]]}, []), check=_error_names("weight")),
            SelfTest.tool(tid, "edges not a list", "hostile", query_call({"edges": "a->b"}, [])),
            SelfTest.tool(tid, "unknown query", "hostile", query_call(SAMPLE_GRAPH, [{"q": "rm -rf"}]))]


def _voting(tid: str) -> list[SelfTest]:
    from chil_core.testing.voting import indices_call

    return [SelfTest.tool(tid, "49/49/2 at quota 51: equal power", "gold", indices_call(51, {"A": 49, "B": 49, "C": 2}),
                          check=_value_has({"shapley_shubik": {"A": "1/3", "B": "1/3", "C": "1/3"}})),
            SelfTest.tool(tid, "3,1,1,1 at quota 4: P1 has veto, not a dictator", "negative", indices_call(4, [3, 1, 1, 1]),
                          check=_value_has({"veto": ["P1"], "dictators": []})),
            SelfTest.tool(tid, "NaN quota", "hostile", indices_call(float("nan"), [1, 2]), check=_error_names("quota")),
            SelfTest.tool(tid, "negative weight", "hostile", indices_call(3, [1, -2, 5]), check=_error_names("weights")),
            SelfTest.tool(tid, "weights a string", "hostile", indices_call(2, "1,2")),
            SelfTest.tool(tid, "empty payload", "hostile", ToolCall("voting", "indices", {}))]


def _game(tid: str) -> list[SelfTest]:
    from chil_core.testing.game import SAMPLE_GAMES, as_set, equilibria_call

    out = []
    for name, game, want in SAMPLE_GAMES[:4]:
        def check(r: Any, want: Any = want) -> str | None:
            got = as_set(r.value)
            return None if got == want else f"equilibria {got}, expected {want}"
        out.append(SelfTest.tool(tid, name, "gold", equilibria_call(game), check=check))
    # negative: the prisoner's dilemma has no cooperative equilibrium
    pd = SAMPLE_GAMES[2][1]
    out.append(SelfTest.tool(tid, "prisoner's dilemma: (cooperate, cooperate) is not an equilibrium", "negative",
                             equilibria_call(pd), check=lambda r: "cooperation listed" if any(
                                 e["row"][0] == "1" for e in (r.value or {}).get("equilibria", [])) else None))
    out += [SelfTest.tool(tid, "NaN payoff", "hostile",
                          equilibria_call({"row_payoffs": [[float("nan"), 1], [0, 0]], "col_payoffs": [[1, 1], [0, 0]]}),
                          check=_error_names("finite")),
            SelfTest.tool(tid, "shapes differ", "hostile", equilibria_call({"row_payoffs": [[1, 2]], "col_payoffs": [[1]]})),
            SelfTest.tool(tid, "1000x1000 game is refused", "hostile",
                          equilibria_call({"row_payoffs": [[0] * 1000] * 1000, "col_payoffs": [[0] * 1000] * 1000}),
                          status=("error", "timeout"))]
    return out


def _solver(tid: str) -> list[SelfTest]:
    from chil_core.testing.solver import SAMPLE_MODELS, solve_call

    out = []
    for name, model, status, optimum in SAMPLE_MODELS:
        def check(r: Any, status: str = status, optimum: float | None = optimum) -> str | None:
            v = r.value or {}
            if v.get("status") != status:
                return f"status {v.get('status')!r}, expected {status!r}"
            if optimum is not None and abs(float(v.get("objective")) - optimum) > 1e-6:
                return f"objective {v.get('objective')}, expected {optimum}"
            return None
        out.append(SelfTest.tool(tid, name, "gold" if status == "optimal" else "negative", solve_call(model), check=check))
    out += [SelfTest.tool(tid, "NaN objective", "hostile", solve_call({"sense": "max", "variables": ["x"], "objective": {"x": float("nan")}}),
                          check=_error_names("finite")),
            SelfTest.tool(tid, "undeclared variable", "hostile", solve_call({"sense": "max", "variables": ["x"], "objective": {"y": 1}}),
                          check=_error_names("undeclared")),
            SelfTest.tool(tid, "model not an object", "hostile", ToolCall("solver", "solve", {"model": "DROP"}))]
    return out


def _optimizer(tid: str, kinds: Any = None) -> list[SelfTest]:
    from chil_core.capabilities.optimizer import Problem, exact_optimum
    from chil_core.testing.optimizer import SAMPLES, call_for

    kinds = tuple(kinds) if kinds is not None else None
    mine = [s for s in SAMPLES if kinds is None or s[0]["kind"] in kinds][:2]
    out = []
    for spec, budget, seed in mine:
        best = exact_optimum(Problem.from_json(spec))

        def check(r: Any, best: Any = best) -> str | None:
            v = r.value or {}
            if v.get("fitness") is None:
                return f"value {v!r}"
            if best is None:
                return None
            better = float(v["fitness"]) > float(best) + 1e-9 if v.get("direction") == "max" else float(v["fitness"]) < float(best) - 1e-9
            return f"fitness {v['fitness']} beats the exact optimum {best}" if better else None
        out.append(SelfTest.tool(tid, f"{spec['kind']}: a fitness no better than the exact optimum", "gold",
                                 call_for(spec, budget, seed), check=check))
    if kinds is None or "onemax" in kinds:
        spec, budget, seed = SAMPLES[0]
        out.append(SelfTest.tool(tid, "onemax: solves it (24 ones)", "gold", call_for(spec, budget, seed),
                                 check=lambda r: None if (r.value or {}).get("fitness") == 24.0 else f"fitness {(r.value or {}).get('fitness')}"))
    else:  # a continuous optimiser handed a discrete problem refuses it
        spec, budget, seed = SAMPLES[0]
        out.append(SelfTest.tool(tid, "a discrete problem is refused", "negative", call_for(spec, budget, seed), status="error"))
    out += [SelfTest.tool(tid, "empty payload", "hostile", ToolCall("optimizer", "optimize", {}), check=_error_names("problem")),
            SelfTest.tool(tid, "problem a string", "hostile", ToolCall("optimizer", "optimize", {"problem": "tsp"})),
            SelfTest.tool(tid, "a billion cities", "hostile", ToolCall("optimizer", "optimize", {
                "problem": {"kind": "tsp", "seed": 1, "n": 10**9}, "budget": 100, "seed": 0}))]
    return out


def _stereotype(tid: str) -> list[SelfTest]:
    from chil_core.testing.stereotype import NO_GROUP, PAIRS, score_call

    out = []
    for more, less in PAIRS[:2]:
        out.append(SelfTest.tool(tid, f"targeted group found: {more[:30]}", "gold", score_call(more), check=_value_has({"targeted": True})))
        out.append(SelfTest.tool(tid, f"contrasting group not targeted: {less[:30]}", "negative", score_call(less),
                                 check=_value_has({"targeted": False})))
    out += [SelfTest.tool(tid, "no group", "negative", score_call(NO_GROUP[0]), check=_value_has({"group": None})),
            SelfTest.tool(tid, "text null", "hostile", score_call(None), check=_error_names("text")),
            SelfTest.tool(tid, "text a number", "hostile", score_call(42), check=_error_names("text")),
            SelfTest.tool(tid, "empty payload", "hostile", ToolCall("stereotype", "score", {}))]
    return out


def _predictor(tid: str) -> list[SelfTest]:
    """A tiny model fitted on the synthetic table (a few hundred ms), then predictions checked for
    direction: feature ``a`` raises the target, ``b`` lowers it."""
    from chil_core.plugins import get_registry
    from chil_core.testing.predictor import fitted, predict_call

    capability, name = tid.split(":", 1)

    def call(*args: Any, **kwargs: Any) -> Callable[[], ToolCall]:
        return lambda: predict_call(fitted(get_registry().tool(capability, name)), *args, **kwargs)

    def ordered(r: Any) -> str | None:
        preds = (r.value or {}).get("predictions")
        if not isinstance(preds, list) or len(preds) != 2:
            return f"value {r.value!r}"
        return None if preds[0] > preds[1] else f"predictions {preds}: a high `a` should predict higher"

    return [SelfTest.tool(tid, "predictions follow the fitted relation", "gold", call([[9, 1, 0.5], [1, 9, 0.5]]), check=ordered),
            SelfTest.tool(tid, "a row of the wrong width", "hostile", call([[1, 2]])),
            SelfTest.tool(tid, "NaN feature", "hostile", call([[float("nan"), 1, 0]]), status=("error", "ok")),
            SelfTest.tool(tid, "model file with another hash", "hostile", call([[1, 2, 3]], sha="0" * 64))]


BUILDERS: dict[str, Callable[[str], list[SelfTest]]] = {
    "smt": _smt, "logic_program": _logic_program, "fact_store": _fact_store, "text_index": _text_index,
    "theorem_prover": _theorem_prover, "sentiment": _sentiment, "nlp": _nlp, "embedding": _embedding, "topic_model": _topic_model,
    "vector_index": _vector_index, "fairness": _fairness, "graph": _graph, "voting": _voting, "game": _game,
    "solver": _solver, "optimizer": _optimizer, "stereotype": _stereotype, "predictor": _predictor,
}


def capability_cases(tool_id: str, **kwargs: Any) -> list[SelfTest]:
    """The shared self-test cases of ``tool_id``'s capability (``"smt:z3"``)."""
    capability = tool_id.split(":", 1)[0]
    if capability not in BUILDERS:
        raise KeyError(f"no shared self-test cases for capability {capability!r}; write the plugin's own")
    return BUILDERS[capability](tool_id, **kwargs)
