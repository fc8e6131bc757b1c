"""Fact-claim extraction on countries_kg sentences: the dependency-parse extractor (``nlp`` capability,
spaCy ``en_core_web_sm``; :mod:`chil_plugin_empirical.depclaims`) against the controlled-phrase
extractor (:mod:`chil_plugin_empirical.claims`), precision and recall of the extracted triples.

Sentences are written here from the countries_kg triples (``countries_S1/train.txt``, read in place):
each triple is rendered with one of several phrasings, some the phrase extractor knows ("X is located
in Y", "X borders Y") and some it does not (passives, modals, coordinated subjects, participles), plus
sentences that name two places without stating a relation (every triple extracted from them is
wrong).  Gold: the triple (``neighbor`` either way round).  NOTE: the phrasings and the default lexicon
were written by the same person in the same session: this measures the extractors on these forms, not on
text no one tuned on.

    .venv/bin/python benchmarks/empirical_claims.py [--n 600]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import table  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "countries_kg" / "countries_S1" / "train.txt"

KNOWN = {  # phrasings the controlled-phrase extractor has a pattern for
    "locatedin": ["{s} is located in {o}.", "{s} lies in {o}.", "{s} is a country in {o}.", "{s} is part of {o}."],
    "neighbor": ["{s} borders {o}.", "{s} shares a border with {o}.", "{s} is a neighbour of {o}.", "{s} does not border {o}."],
}
OTHER = {  # phrasings it has none for
    "locatedin": ["{s} can be found in {o}.", "Nestled in {o}, {s} attracts many visitors.", "{s} belongs to {o}.",
                  "Geographically, {s} has always been situated in {o}."],
    "neighbor": ["{s} and {o} are neighbours.", "{s} is bordered by {o}.", "{s}, a small country, borders {o}.",
                 "Historically, {s} has not shared a border with {o}."],
}
DISTRACT = ["{s} has a long history of trade with {o}.", "Many people from {s} visit {o} every year.",
            "{s} and {o} both sent athletes to the games."]


def name(term: str) -> str:
    return " ".join(w.capitalize() for w in term.split("_"))


def sentences(n: int, seed: int = 0) -> list[tuple[str, set[tuple[str, str, str, bool]], str]]:
    triples = [line.split("\t") for line in DATA.read_text(encoding="utf-8").splitlines() if line.count("\t") == 2]
    rng = random.Random(seed)
    out = []
    for i in range(n):
        s, r, o = rng.choice(triples)
        kind = ("known", "other", "distractor")[i % 3]
        if kind == "distractor":
            out.append((rng.choice(DISTRACT).format(s=name(s), o=name(o)), set(), kind))
            continue
        template = rng.choice((KNOWN if kind == "known" else OTHER)[r])
        negated = " not " in template
        out.append((template.format(s=name(s), o=name(o)), {(s, r, o, negated)}, kind))
    return out


def score(gold: set, got: set) -> tuple[int, int, int]:
    """(right extracted, extracted, gold found): neighbor matches either way round."""
    def same(a: tuple, b: tuple) -> bool:
        return a == b or (a[1] == b[1] == "neighbor" and (a[2], a[1], a[0], a[3]) == b)
    right = sum(any(same(g, x) for g in gold) for x in got)
    found = sum(any(same(g, x) for x in got) for g in gold)
    return right, len(got), found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=600)
    a = ap.parse_args()
    from chil_plugin_empirical.claims import DEFAULT_RELATION_PATTERNS, sentence_claims
    from chil_plugin_empirical.depclaims import dependency_claims

    from chil_core import ToolCall
    from chil_core.plugins import get_registry

    rows = sentences(a.n)
    nlp = get_registry().tool("nlp", "spacy")()
    nlp.start()
    t0 = time.process_time()
    parses = nlp.run_batch([ToolCall("nlp", "parse", {"text": s}) for s, _, _ in rows])
    parse_cpu = (time.process_time() - t0) / len(rows)
    assert not parses[0].get("degraded"), "spaCy en_core_web_sm is not installed: the parse is degraded"
    results = []
    for label, extract in (("phrases (claims.py)", lambda s, p: sentence_claims(s, DEFAULT_RELATION_PATTERNS)),
                           ("dependency parse (depclaims.py)", lambda s, p: dependency_claims(p)),
                           ("union of both", lambda s, p: sentence_claims(s, DEFAULT_RELATION_PATTERNS) + dependency_claims(p))):
        for subset in ("known", "other", "distractor", "all"):
            tot = [0, 0, 0, 0]
            for (s, gold, kind), p in zip(rows, parses, strict=True):
                if subset != "all" and kind != subset:
                    continue
                got = {(c.subject, c.relation, c.object, c.negated) for c in extract(s, p)}
                r, e, f = score(gold, got)
                tot = [tot[0] + r, tot[1] + e, tot[2] + f, tot[3] + len(gold)]
            prec = tot[0] / tot[1] if tot[1] else float("nan")
            rec = tot[2] / tot[3] if tot[3] else float("nan")
            results.append({"extractor": label, "sentences": subset, "precision": round(prec, 3), "recall": round(rec, 3),
                            "extracted": tot[1], "gold": tot[3]})
    print(table(results))
    print(f"\n{len(rows)} sentences from {DATA.relative_to(DATA.parents[3])}; spaCy parse {parse_cpu * 1000:.2f} CPU-ms per sentence")


if __name__ == "__main__":
    main()
