"""Must-show figures of the contextual framework, one table (data read in place from ../shared/data).

    .venv/bin/python benchmarks/contextual/run.py [--records 2000] [--latency-sample 200] [--quick]

* **sentiment**: SST-2 dev (872 sentences) binary accuracy per backend: the label of the polarity
  (a ``neutral`` answer counts as wrong; ``coverage`` = share not neutral).  ``embedding-head`` is
  10-fold cross-validated on dev: every sentence is scored by a head fitted on the other nine folds.
* **relevance**: grade_coherence (1,200 dialogue responses, 10 raters): Spearman of the framework's
  ``relevance`` (and of ``relevance_embedding``) against the mean human rating; the framework's
  relevance constants (last-turn weight, short-sentence shrinkage) were chosen on the even rows, so
  the odd rows are reported apart as the held-out figure.  The topic signal (``relevance_topic``: an
  LDA model learnt by Gensim from the dialogues' own texts, no rating read) is reported alone, and
  mixed into ``relevance`` with the ``topic_weight`` that does best on the even rows, on the odd rows.
* **grounding**: records built from WordNet glosses and SituatedQA answers (``data.grounding_records``),
  each scored right (restates the passage) and wrong (one planted unsupported entity or number).
  recall = planted items flagged / planted; false flags = items flagged in right completions / items
  checked there; precision = flags that are the planted item / all flags on wrong completions.
* **throughput**: records asking tone + relevance + grounding at once (AFINN + WordLlama + the
  grounding reader), 8 completions per prompt as in a GRPO group, through the Scorer cold then warm (in-memory cache), against a naive per-record
  loop (``framework.score`` one record at a time against the tool instances, no scheduler or cache),
  same run; latency p50 / p99 per evaluation = one record scored alone through the Scorer.
* **hostile**: 2 MB completions, control characters, mixed scripts, empty text: the statuses they get.

The machine is shared (2 cores, other jobs running): throughput figures are noisy, the ratio to the
naive loop measured in the same run is the figure to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import percentile, table  # noqa: E402
from data import DATA, grade_coherence, grounding_records, sst2  # noqa: E402

from chil_core import ToolCall  # noqa: E402
from chil_core.scoring import Scorer, to_record  # noqa: E402

ROWS: list[dict[str, Any]] = []


def row(section: str, what: str, value: Any, target: str = "", note: str = "") -> None:
    ROWS.append({"section": section, "what": what, "value": value, "target": target, "note": note})
    print(f"  {section:11s} {what:48s} {value if not isinstance(value, float) else round(value, 4)}", file=sys.stderr)


def load() -> str:
    """The 1-minute load average, printed next to every timing (the machine is shared)."""
    import os

    return f"load {os.getloadavg()[0]:.1f}"


def spearman(a: list[float], b: list[float]) -> float:
    import numpy as np

    def rank(x: list[float]) -> Any:
        x = np.asarray(x, dtype=float)
        order = x.argsort(kind="mergesort")
        r = np.empty(len(x))
        r[order] = np.arange(len(x))
        _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
        sums = np.zeros(len(counts))
        np.add.at(sums, inv, r)
        return (sums / counts)[inv]

    return float(np.corrcoef(rank(a), rank(b))[0, 1])


# ---------------------------------------------------------------------------------------------
def sentiment() -> None:
    import numpy as np
    from chil_plugin_afinn.tool import AfinnSentiment
    from chil_plugin_embedding_head.head import cross_validate, features, nested_cross_validate
    from chil_plugin_textblob.tool import TextBlobSentiment
    from chil_plugin_vader.tool import VaderSentiment
    from chil_plugin_wordllama.tool import WordLlamaEmbedding

    rows = sst2()
    texts = [t for t, _ in rows]
    gold = ["positive" if y else "negative" for _, y in rows]
    for cls in (AfinnSentiment, VaderSentiment, TextBlobSentiment):
        tool = cls()
        tool.start()
        out = tool.run_batch([ToolCall("sentiment", "polarity", {"text": t}) for t in texts])
        binary = sum((v["polarity"] > 0) == (g == "positive") for v, g in zip(out, gold, strict=True)) / len(gold)
        strict = sum(v["label"] == g for v, g in zip(out, gold, strict=True)) / len(gold)
        cov = sum(v["label"] != "neutral" for v in out) / len(out)
        row("sentiment", f"SST-2 dev accuracy, {cls.name}", binary, ">= 0.85 best",
            f"positive iff polarity > 0; 3-way labels {strict:.3f} (neutral = wrong), {cov:.3f} not neutral; n={len(gold)}")
    emb = WordLlamaEmbedding()
    emb.start()
    x, _, _ = emb.encode_normalized(texts)
    y = np.array([int(g == "positive") for g in gold])
    acc, _ = cross_validate(x, y, l2=3.0, folds=10)
    row("sentiment", "SST-2 dev accuracy, embedding-head (10-fold CV)", acc, ">= 0.85 best", "wordllama 256-d, l2=3, no lexicons")
    lexicons = []
    for cls in (VaderSentiment, AfinnSentiment, TextBlobSentiment):
        lexicons.append(cls())
        lexicons[-1].start()
    xl, _ = features(emb, lexicons, texts)
    acc, _ = cross_validate(xl, y, l2=1.0, folds=10, light=len(lexicons))
    row("sentiment", "SST-2 dev accuracy, embedding-head + lexicons (10-fold CV)", acc, ">= 0.85 best",
        "wordllama 256-d + vader, afinn, textblob polarities; l2=1 (the `chil fit-sentiment` defaults)")
    acc, chosen = nested_cross_validate(xl, y, folds=10, light=len(lexicons))
    row("sentiment", "  same, l2 chosen inside each fold (nested CV)", acc, ">= 0.85 best",
        f"l2 from (0.3, 1, 3, 10) by 5-fold CV on the 9 training folds; chosen {sorted(set(chosen))}")


def relevance(quick: bool) -> None:
    rows = grade_coherence()
    if quick:
        rows = rows[:300]
    recs = [{"id": r["id"], "prompt": "Reply to the conversation.", "completion": r["response"],
             "metadata": {"context": r["context"]}} for r in rows]
    with Scorer.from_config({"cache": {"path": None}}, frameworks=["contextual"]) as scorer:
        out = [x.frameworks["contextual"] for x in scorer.score(recs)]
    human = [r["human"] for r in rows]
    rel = [o.components.get("relevance", 0.0) if o.status == "scored" else 0.0 for o in out]
    emb = [o.components.get("relevance_embedding", 0.0) if o.status == "scored" else 0.0 for o in out]
    row("relevance", "grade_coherence Spearman, relevance", spearman(rel, human), ">= 0.35 (ceiling ~0.36)", f"n={len(rows)}")
    odd = [i for i in range(len(rows)) if i % 2 == 1]
    row("relevance", "  same, odd rows only (held out)", spearman([rel[i] for i in odd], [human[i] for i in odd]), ">= 0.35",
        f"n={len(odd)}; the relevance constants were chosen on the even rows")
    row("relevance", "grade_coherence Spearman, relevance_embedding", spearman(emb, human), "", f"n={len(rows)}")
    relevance_topics(rows, recs, human, rel)


def relevance_topics(rows: list[dict[str, Any]], recs: list[dict[str, Any]], human: list[float], rel: list[float]) -> None:
    """The topic signal (Gensim LDA, ``relevance_topics = true``): an LDA model learnt from the dialogues'
    own texts (contexts and responses; no rating is read), its ``relevance_topic`` against the ratings,
    and ``topic_weight`` chosen on the even rows from a grid, reported on the odd rows."""
    import tempfile

    from chil_plugin_gensim.topics import LdaTopics

    texts = [" ".join(r["context"]) for r in rows] + [r["response"] for r in rows]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        model = LdaTopics.train(texts, tmp, {"num_topics": 50, "passes": 5})["model"]
        learnt = time.perf_counter() - t0
        config = {"cache": {"path": None}, "tools": {"lda": {"model": model}},
                  "frameworks": {"contextual": {"options": {"relevance_topics": True}}}}
        with Scorer.from_config(config, frameworks=["contextual"]) as scorer:
            out = [x.frameworks["contextual"] for x in scorer.score(recs)]
    topic = [o.components.get("relevance_topic", 0.0) if o.status == "scored" else 0.0 for o in out]
    row("relevance", "grade_coherence Spearman, relevance_topic (LDA)", spearman(topic, human), "",
        f"n={len(rows)}; 50 topics learnt from the {len(texts)} dialogue texts in {learnt:.1f} s")
    even = [i for i in range(len(rows)) if i % 2 == 0]
    odd = [i for i in range(len(rows)) if i % 2 == 1]

    def mixed(w: float, idx: list[int]) -> float:
        return spearman([(1 - w) * rel[i] + w * topic[i] for i in idx], [human[i] for i in idx])

    grid = [0.0, 0.1, 0.2, 0.3, 0.5]
    best = max(grid, key=lambda w: mixed(w, even))
    row("relevance", "  relevance with topic_weight chosen on even rows", mixed(best, odd), ">= 0.35",
        f"odd rows (n={len(odd)}); topic_weight {best} from {grid} (even rows: "
        + ", ".join(f"{w}: {mixed(w, even):.3f}" for w in grid) + ")")


def grounding(n: int) -> None:
    built = grounding_records(n, seed=1)
    recs = []
    for i, g in enumerate(built):
        for kind in ("right", "wrong"):
            recs.append({"id": f"{i}:{kind}", "prompt": g["prompt"], "completion": g[kind], "metadata": {"passage": g["passage"]}})
    with Scorer.from_config({"cache": {"path": None}}, frameworks=["contextual"]) as scorer:
        out = {x.id: x.frameworks["contextual"] for x in scorer.score(recs)}
    planted = caught = flags_wrong = flags_wrong_planted = right_items = right_flags = 0
    for i, g in enumerate(built):
        r, w = out[f"{i}:right"], out[f"{i}:wrong"]
        right_items += int(r.components.get("grounding_items", 0))
        right_flags += sum(e.kind == "unsupported" for e in r.evidence)
        flags = [e.data["text"] for e in w.evidence if e.kind == "unsupported"]
        planted += 1
        hit = [f for f in flags if g["planted"] in f or f in g["planted"]]
        caught += bool(hit)
        flags_wrong += len(flags)
        flags_wrong_planted += len(hit)
    row("grounding", "planted unsupported items caught (recall)", caught / planted, ">= 0.95", f"{caught}/{planted} records")
    row("grounding", "false flags on right completions", right_flags / max(1, right_items), "<= 0.05", f"{right_flags}/{right_items} items")
    row("grounding", "precision of flags on wrong completions", flags_wrong_planted / max(1, flags_wrong), "", f"{flags_wrong_planted}/{flags_wrong}")


# ---------------------------------------------------------------------------------------------
def mixed_records(n: int, seed: int = 0, group: int = 8) -> list[dict[str, Any]]:
    """Records asking tone, relevance and grounding at once, ``group`` completions per prompt (GRPO)."""
    rng = random.Random(seed)
    gc = grade_coherence()
    ground = grounding_records(200, seed=2)
    sst = sst2()
    out = []
    for i in range(n):
        p = (i // group) + seed * 1000
        d, g, tone = gc[p % len(gc)], ground[p % len(ground)], ["positive", "negative"][p % 2]
        text = sst[i % len(sst)][0]
        out.append({"id": f"m{i}", "prompt": g["prompt"], "group": f"p{p}", "completion": f"{g[rng.choice(['right', 'wrong'])]} {text}",
                    "metadata": {"tone": tone, "context": d["context"], "passage": g["passage"]}})
    return out


def throughput(n: int, sample: int) -> None:
    from chil_plugin_afinn.tool import AfinnSentiment
    from chil_plugin_contextual.framework import ContextualFramework
    from chil_plugin_wordllama.tool import WordLlamaEmbedding

    from chil_core.testing import DirectContext

    records = mixed_records(n)
    fw = ContextualFramework()
    ctx = DirectContext({"sentiment": AfinnSentiment(), "embedding": WordLlamaEmbedding()})
    recs = [to_record(r) for r in records]
    loop = asyncio.new_event_loop()
    t0, c0 = time.perf_counter(), time.process_time()
    for rec in recs:
        loop.run_until_complete(fw.score(rec, ctx))
    naive = len(recs) / (time.perf_counter() - t0)
    naive_cpu = len(recs) / (time.process_time() - c0)
    loop.close()
    ctx.close()
    row("throughput", "naive per-record loop, records/s", naive, "", f"n={n}; {naive_cpu:.0f} per CPU-second; {load()}")
    cfg = {"cache": {"enabled": True, "path": None}, "scheduler": {"max_batch": 256, "max_wait_ms": 1}}
    with Scorer.from_config(cfg, frameworks=["contextual"]) as scorer:
        scorer.score(records[:1])
        rates, cpu = [], []
        for _ in range(2):
            t0, c0 = time.perf_counter(), time.process_time()
            for i in range(0, len(records), 256):
                scorer.score(records[i : i + 256])
            rates.append(len(records) / (time.perf_counter() - t0))
            cpu.append(len(records) / (time.process_time() - c0))
    row("throughput", "Scorer cold cache, records/s", rates[0], ">= 2000",
        f"{rates[0] / naive:.2f}x naive; {cpu[0]:.0f} per CPU-second ({cpu[0] / naive_cpu:.2f}x naive); {load()}")
    row("throughput", "Scorer warm cache, records/s", rates[1], "",
        f"{rates[1] / naive:.2f}x naive; {cpu[1]:.0f} per CPU-second; {load()}")
    fresh = mixed_records(sample, seed=9)
    for r in fresh:
        r["id"] = "lat" + r["id"]
    with Scorer.from_config(cfg, frameworks=["contextual"]) as scorer:
        scorer.score(records[:1])
        for label in ("cold", "warm"):
            lat = []
            for r in fresh:
                t0 = time.perf_counter()
                scorer.score([r])
                lat.append((time.perf_counter() - t0) * 1000)
            row("throughput", f"latency per evaluation, {label}, p50 / p99 ms",
                f"{percentile(lat, 50):.2f} / {percentile(lat, 99):.2f}", "p99 < 50", f"n={sample}; {load()}")


def hostile() -> None:
    cases = {"2 MB completion": "great " * 350_000, "control characters": "\x00\x01\x1b[2J\x7f\u202e" * 500,
             "mixed scripts": "Ω≈ç√ 漢字 العربية 🙂 Привет мир. Paris 1999.", "empty": "", "one 300 kB token": "x" * 300_000}
    recs = [{"id": k, "prompt": "Reply.", "completion": v, "metadata": {"tone": "positive", "context": ["Hi, how are you?"],
             "passage": "Paris hosted it in 1999."}} for k, v in cases.items()]
    with Scorer.from_config({"cache": {"path": None}}, frameworks=["contextual"]) as scorer:
        t0 = time.perf_counter()
        out = scorer.score(recs)
        dt = time.perf_counter() - t0
    statuses = ", ".join(f"{x.id}: {x.frameworks['contextual'].status}/{x.frameworks['contextual'].verdict}" for x in out)
    corpus_with_bad_lines()
    row("hostile", "statuses (status/verdict)", "all typed" if all(x.frameworks["contextual"].status in ("scored", "abstained", "error", "timeout") for x in out) else "UNTYPED",
        "nothing crashes", f"{statuses}; {dt:.2f} s for all")


def corpus_with_bad_lines() -> None:
    """`chil index` on a corpus with bad lines: they are reported, the rest is indexed."""
    import json
    import tempfile

    from chil_plugin_faiss.command import index_command
    from click.testing import CliRunner

    g = grounding_records(50, seed=3)
    lines = [json.dumps({"id": f"p{i}", "text": r["passage"]}) for i, r in enumerate(g)]
    bad = ["{not json", json.dumps({"id": "x", "text": ""}), json.dumps([1, 2]), json.dumps({"id": "y", "text": 7}),
           json.dumps({"id": "z", "text": "x" * 200_000})]
    for j, b in enumerate(bad):
        lines.insert(3 + 7 * j, b)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        res = CliRunner().invoke(index_command, [str(path), "-o", str(Path(tmp) / "idx")])
    reported = sum("skipped:" in line for line in res.output.splitlines())
    row("hostile", "chil index on a corpus with 5 bad lines", f"{reported} reported, exit {res.exit_code}",
        "reports them, goes on", res.output.strip().splitlines()[-1][-90:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--latency-sample", type=int, default=200)
    ap.add_argument("--grounding", type=int, default=400)
    ap.add_argument("--quick", action="store_true", help="smaller samples (a smoke run)")
    ap.add_argument("--sections", default="sentiment,relevance,grounding,throughput,hostile", help="which sections to run")
    a = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"development data not found at {DATA}")
    if a.quick:
        a.records, a.latency_sample, a.grounding = 300, 50, 100
    todo = set(a.sections.split(","))
    if "sentiment" in todo:
        sentiment()
    if "relevance" in todo:
        relevance(a.quick)
    if "grounding" in todo:
        grounding(a.grounding)
    if "throughput" in todo:
        throughput(a.records, a.latency_sample)
    if "hostile" in todo:
        hostile()
    print(table(ROWS, ["section", "what", "value", "target", "note"]))


if __name__ == "__main__":
    main()
