"""Right/wrong pairs for reward-probe on the contextual framework, from the development data.

    .venv/bin/python benchmarks/contextual/probe_pairs.py -o /tmp/contextual_pairs.jsonl
    CHIL=.venv/bin/chil .venv/bin/python ../shared/tools/reward-probe /tmp/contextual_pairs.jsonl --frameworks contextual

* tone: a record asks ``metadata.tone`` = positive (or negative); right = an SST-5 dev sentence rated
  very positive (4) (or very negative, 0), wrong = one rated at the other extreme.  The probe checks the
  reward's invariants (padding, non-answers, breaking the reader), not the sentiment backend's accuracy
  (that is measured by ``benchmarks/contextual/run.py``): so only sentences that the framework, with
  the default backend (AFINN), reads as their gold extreme (whole text, and no sentence of the opposite
  label) are paired, and the script prints how many that is.
* grounding: :func:`data.grounding_records` (WordNet glosses and SituatedQA answers, one planted
  unsupported entity or number per wrong completion).

Every record asks something (``asks: true``): an empty or irrelevant completion must be scored, not masked.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import DATA, grounding_records, sst2  # noqa: E402


def tone_pairs(n: int, seed: int) -> tuple[list[dict], str]:
    from chil_plugin_afinn.tool import AfinnSentiment
    from chil_plugin_contextual.text import sentences

    from chil_core import ToolCall

    rows = sst2(DATA / "sst2" / "stsa.fine.dev")
    pos = [t for t, y in rows if y == 4]
    neg = [t for t, y in rows if y == 0]
    tool = AfinnSentiment()
    tool.start()

    def label(texts: list[str]) -> list[str]:
        return [v["label"] for v in tool.run_batch([ToolCall("sentiment", "polarity", {"text": t}) for t in texts])]

    def read_as(texts: list[str], gold: str) -> list[str]:
        # the framework's reading: the whole text has the label and no sentence the opposite one
        opposite = "negative" if gold == "positive" else "positive"
        return [t for t, lab in zip(texts, label(texts), strict=True)
                if lab == gold and opposite not in label(sentences(t))]

    pos_ok = read_as(pos, "positive")
    neg_ok = read_as(neg, "negative")
    note = (f"tone: {len(pos_ok)}/{len(pos)} very positive and {len(neg_ok)}/{len(neg)} very negative SST-5 dev "
            f"sentences that the framework reads as their gold extreme with AFINN are paired")
    rng = random.Random(seed)
    rng.shuffle(pos_ok)
    rng.shuffle(neg_ok)
    out = []
    for i in range(min(n, len(pos_ok), len(neg_ok))):
        target = "positive" if i % 2 == 0 else "negative"
        right, wrong = (pos_ok[i], neg_ok[i]) if target == "positive" else (neg_ok[i], pos_ok[i])
        out.append({"id": f"tone{i}", "prompt": f"Write a one-sentence {target} movie review.",
                    "metadata": {"tone": target}, "right": right, "wrong": wrong, "asks": True})
    return out, note


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--tone", type=int, default=60, help="tone pairs")
    ap.add_argument("--grounding", type=int, default=60, help="grounding pairs")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    pairs, note = tone_pairs(a.tone, a.seed)
    for i, g in enumerate(grounding_records(a.grounding, a.seed)):
        pairs.append({"id": f"ground{i}-{g['source']}", "prompt": g["prompt"], "metadata": {"passage": g["passage"]},
                      "right": g["right"], "wrong": g["wrong"], "asks": True})
    a.output.write_text("".join(json.dumps(p) + "\n" for p in pairs), encoding="utf-8")
    print(f"{a.output}: {len(pairs)} pairs; {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
