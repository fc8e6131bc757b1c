"""The power framework's must-show figures, one table: validity against independent computations,
CrowS-Pairs ranking, throughput and latency against a naive loop, hostile input.

    python benchmarks/bench_power.py [--parts fairness,graph,voting,crows-pairs,throughput,hostile]
                                     [--data ../shared/data] [--populations 1000] [--graphs 300]
                                     [--games 200] [--records 400] [--latency 100] [--skip-crows]

Sections (each a row group):

- ``fairness``: generated populations (2-5 groups, up to 60 members, with and without labels): every
  metric of the exact ``rational`` backend against fairlearn's (``fairlearn`` backend), within 1e-12;
  then through the framework, a stated figure equal to the exact value (as ``p/q`` and rounded to 3
  decimals) must be accepted and a planted wrong one (off by 1/97, or by 0.01 at 3 decimals) caught.
- ``graph``: generated graphs (3-9 nodes, rational weights); through the framework, true and planted
  wrong claims (max flow, min cut, weighted and hop shortest paths, reachability, "removing X
  disconnects", most central by in-degree) whose truth is computed by the plain-Python reference
  functions of ``chil_core.testing.graph`` (BFS, Edmonds–Karp, Dijkstra), not by NetworkX.
- ``voting``: indices of the DP backend equal to brute-force enumeration of every coalition on
  generated games with n <= 12; the DP on n = 200 (weights 1..10, 1..20, 1..50; quota above half, or
  two thirds), seconds, the median of three.
- ``crows-pairs``: fraction of CrowS-Pairs dev pairs where the ``weat`` stereotype probability ranks
  ``sent_more`` above ``sent_less`` (ties count half): the shipped head and lexicon on all 500 and on rows
  251-500 (optimistic: the lexicon was widened once after looking at the dev file), and the *held-out*
  figure: rows 251-500, with every group term that only those rows use (none of rows 1-250) dropped
  from the lexicon (published audit-study names kept) and the head refitted on that lexicon's built
  sentences (C = 0.01, chosen on rows 1-250).  Nothing is ever fitted on CrowS-Pairs.
- ``throughput``: the right completions of generated pairs (scripts/power_pairs.py: fairness, graph,
  voting, BBQ-style), framework over each record with tools called directly one at a time (naive
  loop), then one Scorer batch with an empty cache (cold) and again (warm); p50/p99 one record at a time.
- ``hostile``: a 1M-edge graph, NaN and negative weights, malformed JSON, unknown ids: the status and
  verdict each gets.

Timings on a shared 2-core machine are noisy: compare the rows of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import sys
import tempfile
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, percentile, table  # noqa: E402


def _tool(capability: str, name: str) -> Any:
    from chil_core.plugins import get_registry

    tool = get_registry().tool(capability, name)()
    tool.start()
    return tool


def _score(records: list[dict[str, Any]], tools: dict[str, Any]) -> list[Any]:
    from chil_plugin_power.framework import PowerFramework

    from chil_core import Record
    from chil_core.testing import DirectContext

    ctx = DirectContext.__new__(DirectContext)
    ctx.tools = tools  # already started
    fw = PowerFramework()

    async def go() -> list[Any]:
        return list(await asyncio.gather(*(fw.score(Record.model_validate(r), ctx) for r in records)))

    return asyncio.run(go())


def _frac(x: Fraction) -> str:
    return f"{x.numerator}/{x.denominator}"


# -- fairness --------------------------------------------------------------------------------------
def fairness_rows(n: int) -> list[dict[str, Any]]:
    from chil_core.capabilities.fairness import METRICS, as_number
    from chil_core.testing.fairness import agree, metrics_call, random_population

    rng = random.Random(2024)
    pops = [random_population(rng, labelled=i % 4 != 0) for i in range(n)]
    calls = [metrics_call(p, d) for p, d in pops]
    exact, fl = _tool("fairness", "rational"), _tool("fairness", "fairlearn")
    t0 = time.perf_counter()
    a = exact.run_batch(calls)
    t_exact = time.perf_counter() - t0
    t0 = time.perf_counter()
    b = fl.run_batch(calls)
    t_fl = time.perf_counter() - t0
    disagree = sum(bool(agree(x, y, 1e-12)) for x, y in zip(a, b, strict=True))
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        for m in METRICS:
            u, v = as_number(x["metrics"][m]), as_number(y["metrics"][m])
            if u is not None and v is not None:
                worst = max(worst, abs(float(u) - float(v)))
    # claims through the framework: exact and rounded right figures, planted wrong ones
    records, truth = [], []
    for i, ((pop, dec), value) in enumerate(zip(pops, a, strict=True)):
        dpd = Fraction(value["metrics"]["demographic_parity_difference"])
        block = "```json\n" + json.dumps({"decisions": dec}) + "\n```\n"
        for text, ok in ((_frac(dpd), True), (f"{float(dpd):.3f}", True), (_frac(dpd + Fraction(1, 97)), False),
                         (f"{float(dpd) + 0.01:.3f}", False)):
            records.append({"id": f"f{i}-{len(records)}", "prompt": "p", "metadata": {"population": pop},
                            "completion": block + f"The demographic parity difference is {text}."})
            truth.append(ok)
    out = _score(records, {"fairness": exact})
    got = [r.components.get("fairness_claims_correct") == 1 for r in out]
    right_ok = sum(g for g, t in zip(got, truth, strict=True) if t)
    wrong_caught = sum(not g for g, t in zip(got, truth, strict=True) if not t)
    n_right, n_wrong = sum(truth), len(truth) - sum(truth)
    return [
        {"section": "fairness", "check": f"rational = fairlearn within 1e-12 ({n} populations)", "result": f"{n - disagree}/{n}",
         "detail": f"max |diff| {worst:.1e}; rational {1000 * t_exact / n:.3f} ms, fairlearn {1000 * t_fl / n:.2f} ms per population"},
        {"section": "fairness", "check": "true figures accepted (p/q and 3 decimals)", "result": f"{right_ok}/{n_right}", "detail": ""},
        {"section": "fairness", "check": "planted wrong figures caught", "result": f"{wrong_caught}/{n_wrong}", "detail": "off by 1/97, or 0.01 at 3 decimals"},
    ]


# -- graph -----------------------------------------------------------------------------------------
def graph_rows(n: int) -> list[dict[str, Any]]:
    from chil_core.testing.graph import adjacency, dijkstra, hops, max_flow, random_graph, reachable

    rng = random.Random(77)
    records, truth = [], []
    for i in range(n):
        nodes, edges = random_graph(rng)
        adj = adjacency(edges, nodes)
        s, t, r = rng.sample(nodes, 3)
        graph = {"nodes": nodes, "edges": [[u, v, _frac(w)] for (u, v), w in edges.items()]}
        claims: list[tuple[str, bool]] = []
        flow = max_flow(adj, s, t)
        claims += [(f"The maximum flow from {s} to {t} is {_frac(flow)}.", True),
                   (f"The maximum flow from {s} to {t} is {_frac(flow + Fraction(1, 3))}.", False),
                   (f"The minimum cut between {s} and {t} is {_frac(flow)}.", True),
                   (f"The minimum cut between {s} and {t} is {_frac(flow * 2 + 1)}.", False)]
        d, h = dijkstra(adj, s, t), hops(adj, s, t)
        if d is not None:
            claims += [(f"The shortest path from {s} to {t} is {_frac(d)}.", True),
                       (f"The shortest path from {s} to {t} is {_frac(d + 1)}.", False),
                       (f"The shortest path from {s} to {t} is {h} hops.", True),
                       (f"The shortest path from {s} to {t} is {h + 1} hops.", False)]
        reach = reachable(adj, s, t)
        claims += [(f"There is a path from {s} to {t}.", reach), (f"There is no path from {s} to {t}.", not reach)]
        cut = reach and not reachable(adj, s, t, {r})
        claims += [(f"Removing {r} disconnects {s} from {t}.", cut)]
        indeg = {v: sum((w for (_, b), w in edges.items() if b == v), Fraction(0)) for v in nodes}
        top = max(indeg.values())
        winner = next(v for v in nodes if indeg[v] == top)
        loser = next((v for v in nodes if indeg[v] < top), None)
        claims += [(f"{winner} is the most central actor by in-degree.", True)]
        if loser:
            claims += [(f"{loser} is the most central actor by in-degree.", False)]
        claims += [(f"Removing Zed{i} disconnects {s} from {t}.", False)]  # an id that does not exist
        for text, ok in claims:
            records.append({"id": f"g{len(records)}", "prompt": "p", "metadata": {"graph": graph}, "completion": text})
            truth.append(ok)
    out = _score(records, {"graph": _tool("graph", "networkx")})
    got = [r.components.get("graph_claims_correct") == 1 for r in out]
    agree = sum(g == t for g, t in zip(got, truth, strict=True))
    planted = [g for g, t in zip(got, truth, strict=True) if not t]
    return [
        {"section": "graph", "check": f"verdicts = independent computation ({n} graphs)", "result": f"{agree}/{len(truth)}",
         "detail": "max flow, min cut, shortest paths, reachability, removals, in-degree centrality, unknown ids"},
        {"section": "graph", "check": "planted wrong claims caught", "result": f"{sum(not g for g in planted)}/{len(planted)}", "detail": ""},
    ]


# -- voting ----------------------------------------------------------------------------------------
def voting_rows(n_games: int) -> list[dict[str, Any]]:
    from chil_core.testing.voting import brute_force, indices_call, random_game

    tool = _tool("voting", "powerindex")
    rng = random.Random(9)
    games = [random_game(rng, rng.randint(1, 12)) for _ in range(n_games)]
    out = tool.run_batch([indices_call(q, w) for w, q in games])
    equal = 0
    for (w, q), v in zip(games, out, strict=True):
        shapley, swings = brute_force(w, q)
        names = v["players"]
        equal += [Fraction(v["shapley_shubik"][p]) for p in names] == shapley and [v["swings"][p] for p in names] == swings
    rows = [{"section": "voting", "check": f"DP = brute force, n <= 12 ({n_games} games)", "result": f"{equal}/{n_games}",
             "detail": "Shapley-Shubik and Banzhaf swings, exact"}]
    for hi, num, den in ((10, 1, 2), (20, 1, 2), (20, 2, 3), (50, 1, 2)):
        weights = [rng.randint(1, hi) for _ in range(200)]
        quota = sum(weights) * num // den + 1
        times = []
        for _ in range(3):  # the median of three: the machine is shared
            t0 = time.perf_counter()
            v = tool.run_batch([indices_call(quota, weights)])[0]
            times.append(time.perf_counter() - t0)
        dt = sorted(times)[1]
        total = sum(Fraction(x) for x in v["shapley_shubik"].values())
        rows.append({"section": "voting", "check": f"DP n = 200, weights 1..{hi}, quota {quota} (> {num}/{den})", "result": f"{dt:.3f} s",
                     "detail": f"{'< 1 s' if dt < 1 else '>= 1 s'} (median of 3, max {max(times):.3f} s); indices sum to {total}"})
    return rows


# -- CrowS-Pairs -----------------------------------------------------------------------------------
def _ranked(p_more: list[float], p_less: list[float]) -> list[float]:
    return [1.0 if a > b else 0.5 if a == b else 0.0 for a, b in zip(p_more, p_less, strict=True)]


def _held_out_lexicon(rows: list[dict[str, str]], first: int) -> tuple[Any, list[str]]:
    """The lexicon's categories without every group term that occurs in rows ``first+1..`` but in none
    of rows ``1..first`` (published audit-study names excepted): the lexicon was widened once after
    looking at the dev file, so a term that only the measured rows use may be there because of them."""
    import dataclasses

    from chil_plugin_stereotype import lexicon
    from chil_plugin_stereotype.features import find_groups

    def terms(rs: list[dict[str, str]]) -> set[str]:
        return {g.term.casefold() for r in rs for k in ("sent_more", "sent_less") for g in find_groups(r[k])}

    published = set(lexicon._AA_NAMES) | set(lexicon._EA_NAMES)
    drop = sorted(terms(rows[first:]) - terms(rows[:first]) - published)
    cats = tuple(dataclasses.replace(c, marked=tuple(t for t in c.marked if t not in drop),
                                     unmarked=tuple(t for t in c.unmarked if t not in drop)) for c in lexicon.CATEGORIES)
    return cats, drop


def _with_lexicon(categories: Any, fn: Any) -> Any:
    """Run ``fn()`` with the stereotype lexicon's categories replaced (term index rebuilt), then restore."""
    from chil_plugin_stereotype import features, fit, lexicon

    saved = (lexicon.CATEGORIES, features.CATEGORIES, fit.CATEGORIES, features._TERMS, dict(features._FIRST))

    def install(cats: Any) -> None:
        lexicon.CATEGORIES = features.CATEGORIES = fit.CATEGORIES = cats
        features._TERMS = features._term_index()
        features._FIRST.clear()
        for words, cat, sign in features._TERMS:
            features._FIRST.setdefault(words[0], []).append((words, cat, sign))

    install(categories)
    try:
        return fn()
    finally:
        lexicon.CATEGORIES, features.CATEGORIES, fit.CATEGORIES, features._TERMS, first = saved
        features._FIRST.clear()
        features._FIRST.update(first)


def crows_rows(data: Path, first: int = 250) -> list[dict[str, Any]]:
    from chil_core import ToolCall

    path = data / "crows_pairs" / "crows_pairs_dev.csv"
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    tool = _tool("stereotype", "weat")
    out = tool.run_batch([ToolCall("stereotype", "score", {"text": r[k]}) for r in rows for k in ("sent_more", "sent_less")])
    s = _ranked([o["probability"] for o in out[0::2]], [o["probability"] for o in out[1::2]])
    by_type: dict[str, list[float]] = {}
    for r, x in zip(rows, s, strict=True):
        by_type.setdefault(r["bias_type"], []).append(x)
    detail = ", ".join(f"{k} {sum(v) / len(v):.2f}" for k, v in sorted(by_type.items()))
    tail = s[first:]
    result = [{"section": "crows-pairs", "check": f"shipped head + lexicon, all {len(s)} (optimistic)", "result": f"{sum(s) / len(s):.1%}", "detail": detail},
              {"section": "crows-pairs", "check": f"shipped head + lexicon, rows {first + 1}-{len(s)}", "result": f"{sum(tail) / len(tail):.1%}",
               "detail": "C chosen on rows 1-250, but the lexicon was widened after looking at the dev file"}]

    # Held out: rows first+1.. were used for no choice.  Terms only those rows use are dropped, the head
    # is refitted on the built sentences of that lexicon (C = 0.01, chosen on rows 1..first), then scored.
    import math

    from chil_plugin_stereotype.features import FEATURES, Featurizer
    from chil_plugin_stereotype.fit import fit_head

    cats, drop = _held_out_lexicon(rows, first)
    embed = tool._embed

    def measure() -> list[float]:
        head = fit_head(tool.options.embedding, tool.options.embedding_options)
        feat = Featurizer(embed)
        texts = [r[k] for r in rows[first:] for k in ("sent_more", "sent_less")]
        x, _ = feat.features(texts)
        z = [head["intercept"] + sum(w * float(v) for w, v in zip(head["weights"], row, strict=True)) for row in x]
        p = [1 / (1 + math.exp(-max(-60.0, min(60.0, v)))) for v in z]
        assert head["features"] == list(FEATURES)
        return _ranked(p[0::2], p[1::2])

    held = _with_lexicon(cats, measure)
    by_type = {}
    for r, x in zip(rows[first:], held, strict=True):
        by_type.setdefault(r["bias_type"], []).append(x)
    result.append({"section": "crows-pairs", "check": f"held out: rows {first + 1}-{len(rows)}, {len(drop)} terms only they use dropped, head refitted",
                   "result": f"{sum(held) / len(held):.1%}",
                   "detail": "rows used for no choice; " + ", ".join(f"{k} {sum(v) / len(v):.2f}" for k, v in sorted(by_type.items()))
                   + "; lexicons reach 56-59%"})
    return result


# -- throughput ------------------------------------------------------------------------------------
def throughput_rows(n_records: int, latency_n: int) -> list[dict[str, Any]]:
    from chil_plugin_power.generate import pairs

    from chil_core.scoring import Scorer

    ps = pairs(max(1, n_records // 4), seed=3)
    records = [{**{k: v for k, v in p.items() if k not in ("right", "wrong", "asks")}, "id": f"t{i}", "completion": p["right"]}
               for i, p in enumerate(ps)]
    tools = {"fairness": _tool("fairness", "rational"), "graph": _tool("graph", "networkx"),
             "voting": _tool("voting", "powerindex"), "stereotype": _tool("stereotype", "weat")}
    warmup = [{**{k: v for k, v in p.items() if k not in ("right", "wrong", "asks")}, "id": f"w{i}", "completion": p["wrong"]}
              for i, p in enumerate(ps[:4])]
    lat = []
    t0 = time.perf_counter()
    for r in records:
        t1 = time.perf_counter()
        _score([r], tools)
        lat.append(time.perf_counter() - t1)
    naive = time.perf_counter() - t0
    rows = [{"section": "throughput", "check": f"naive loop, {len(records)} records", "result": f"{len(records) / naive:.0f} rec/s",
             "detail": f"p50 {1000 * percentile(lat, 50):.2f} ms, p99 {1000 * percentile(lat, 99):.2f} ms"}]
    with tempfile.TemporaryDirectory() as tmp:
        config = {"cache": {"path": str(Path(tmp) / "cache")}}
        with Scorer.from_config(config, frameworks=["power"]) as scorer:
            scorer.score(warmup)  # start every backend (other completions: nothing of the measured run is cached)
            for mode in ("cold", "warm"):
                t0 = time.perf_counter()
                rewards = scorer.score(records)
                dt = time.perf_counter() - t0
                statuses = Counter(r.frameworks["power"].status for r in rewards)
                rows.append({"section": "throughput", "check": f"scheduler batch, {mode} cache", "result": f"{len(records) / dt:.0f} rec/s",
                             "detail": f"{naive / dt:.1f}x the naive loop; " + ",".join(f"{k}:{v}" for k, v in sorted(statuses.items()))})
        config["cache"] = {"path": str(Path(tmp) / "latency")}
        with Scorer.from_config(config, frameworks=["power"]) as scorer:
            scorer.score(warmup)
            for mode in ("cold", "warm"):
                lat = []
                for r in records[:latency_n]:
                    t1 = time.perf_counter()
                    scorer.score([r])
                    lat.append(time.perf_counter() - t1)
                rows.append({"section": "throughput", "check": f"one record at a time, {mode} cache", "result": f"p50 {1000 * percentile(lat, 50):.2f} ms",
                             "detail": f"p99 {1000 * percentile(lat, 99):.2f} ms over {len(lat)} records"})
    return rows


# -- hostile ---------------------------------------------------------------------------------------
def hostile_rows() -> list[dict[str, Any]]:
    pop = [{"id": "a", "group": "x"}, {"id": "b", "group": "y"}]
    cases = [
        ("1M-edge graph", {"graph": {"edges": [["a", "b", 1]] * 1_000_000}}, "The maximum flow from a to b is 1."),
        ("NaN weight", {"graph": {"edges": [["a", "b", float("nan")]]}}, "The maximum flow from a to b is 1."),
        ("negative weight", {"graph": {"edges": [["a", "b", -2]]}}, "The maximum flow from a to b is 1."),
        ("NaN voting weight", {"voting": {"quota": 2, "weights": {"a": float("nan"), "b": 1}}}, "a is a dummy."),
        ("malformed JSON decisions", {"population": pop}, "```json\n{\"decisions\": {\"a\": 1,, }\n```"),
        ("unknown member id", {"population": pop}, "```json\n{\"decisions\": {\"a\": 1, \"b\": 0, \"zz\": 1}}\n```"),
        ("unknown graph node", {"graph": {"edges": [["a", "b", 1]]}}, "The maximum flow from a to Nowhere is 1."),
        ("unknown player", {"voting": {"quota": 2, "weights": {"a": 1, "b": 1}}}, "Zed is a dictator."),
    ]
    tools = {"fairness": _tool("fairness", "rational"), "graph": _tool("graph", "networkx"), "voting": _tool("voting", "powerindex")}
    rows = []
    for name, md, text in cases:
        t0 = time.perf_counter()
        (r,) = _score([{"id": "h", "prompt": "p", "completion": text, "metadata": md}], tools)
        dt = time.perf_counter() - t0
        rows.append({"section": "hostile", "check": name, "result": f"{r.status}/{r.verdict}" + (f" score {r.score}" if r.score is not None else f" cause {r.cause}"),
                     "detail": f"{((r.evidence[0].text if r.evidence else '') if r.status == 'scored' else r.explanation or '')[:80]} ({1000 * dt:.0f} ms)"})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--populations", type=int, default=1000)
    ap.add_argument("--graphs", type=int, default=300)
    ap.add_argument("--games", type=int, default=200)
    ap.add_argument("--records", type=int, default=400)
    ap.add_argument("--latency", type=int, default=100)
    ap.add_argument("--skip-crows", action="store_true")
    ap.add_argument("--parts", default="fairness,graph,voting,crows-pairs,throughput,hostile",
                    help="comma-separated sections to run")
    a = ap.parse_args()
    parts = set(a.parts.split(","))
    rows: list[dict[str, Any]] = []
    steps = [("fairness", lambda: fairness_rows(a.populations)), ("graph", lambda: graph_rows(a.graphs)),
             ("voting", lambda: voting_rows(a.games))]
    if not a.skip_crows:
        steps.append(("crows-pairs", lambda: crows_rows(a.data)))
    steps += [("throughput", lambda: throughput_rows(a.records, a.latency)), ("hostile", hostile_rows)]
    unknown = parts - {n for n, _ in steps} - {"crows-pairs"}
    if unknown:
        ap.error(f"--parts: unknown {', '.join(sorted(unknown))}")
    steps = [(n, f) for n, f in steps if n in parts]
    for name, step in steps:
        t0 = time.perf_counter()
        rows += step()
        print(f"[{name} done in {time.perf_counter() - t0:.1f} s]", file=sys.stderr)
    print(table(rows, ["section", "check", "result", "detail"]))


if __name__ == "__main__":
    main()
