"""``chil fit-stereotype``: fit the linear head of the ``weat`` stereotype scorer.

Training data is *built*, not downloaded, and never CrowS-Pairs (its authors ask that it not be used
for training; the benchmark only measures on it).  From the project's own lexicon
(:mod:`chil_plugin_stereotype.lexicon`, Apache-2.0) and a few sentence templates, for every category:

* label 1: a targeted-group term with an attribute commonly said of the targeted groups
  ("Mexicans are criminal.") or with an unpleasant word (WEAT list), and less often a contrasting-group
  term with an attribute commonly said of the contrasting groups ("The man was the engineer.");
* label 0: the same attributes with the other side's terms (the swap), and pleasant or neutral
  attributes about either side ("The woman took the bus this morning.").

A scikit-learn ``LogisticRegression`` is fitted on the features (:mod:`chil_plugin_stereotype.features`)
and written as plain JSON (weights, intercept, feature names, the embedding backend and its options,
the data recipe): no pickle.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from chil_plugin_stereotype.features import FEATURES, Featurizer
from chil_plugin_stereotype.lexicon import CATEGORIES

HEAD_VERSION = 1
TEMPLATES = ("{t} are {a}.", "The {t} was {a}.", "That {t} is so {a}.", "Everyone knows {t} people are {a}.",
             "My neighbour, a {t}, is {a}.", "{t} always {a}.")
NEUTRAL_TEMPLATES = ("The {t} {a}.", "A {t} {a}.")


def build_training_set(seed: int = 0, per_category: int = 600) -> list[tuple[str, int]]:
    """``(sentence, label)`` pairs built from the lexicon and templates (see the module docstring).

    The mix follows what stereotyping is: mostly a commonly targeted group paired with what is said of
    it (or with something unpleasant), sometimes the contrasting group with its own stereotype; each
    such sentence comes with its swap (label 0), and neutral or pleasant sentences about either side
    are label 0."""
    from chil_plugin_stereotype.lexicon import PLEASANT, UNPLEASANT

    rng = random.Random(seed)
    rows: list[tuple[str, int]] = []
    for c in CATEGORIES:
        for _ in range(per_category):
            kind = rng.random()
            tmpl = rng.choice(TEMPLATES)
            if kind < 0.40:  # targeted group with its stereotype / the swap
                a = rng.choice(c.marked_attributes)
                rows.append((tmpl.format(t=rng.choice(c.marked), a=a), 1))
                rows.append((tmpl.format(t=rng.choice(c.unmarked), a=a), 0))
            elif kind < 0.55:  # targeted group with something unpleasant / the swap
                a = rng.choice(UNPLEASANT)
                rows.append((tmpl.format(t=rng.choice(c.marked), a=a), 1))
                rows.append((tmpl.format(t=rng.choice(c.unmarked), a=a), 0))
            elif kind < 0.65:  # contrasting group with its own stereotype / the swap
                a = rng.choice(c.unmarked_attributes)
                rows.append((tmpl.format(t=rng.choice(c.unmarked), a=a), 1))
                rows.append((tmpl.format(t=rng.choice(c.marked), a=a), 0))
            elif kind < 0.80:  # pleasant things about either side
                terms = c.marked if rng.random() < 0.5 else c.unmarked
                rows.append((tmpl.format(t=rng.choice(terms), a=rng.choice(PLEASANT)), 0))
            else:  # neutral content about either side
                terms = c.marked if rng.random() < 0.5 else c.unmarked
                rows.append((rng.choice(NEUTRAL_TEMPLATES).format(t=rng.choice(terms), a=rng.choice(c.neutral)), 0))
    return [(s[0].upper() + s[1:], y) for s, y in rows]


def fit_head(embedding: str, options: dict[str, Any], seed: int = 0, per_category: int = 600, c: float = 0.01) -> dict[str, Any]:
    """Fit the head on the built data through the ``embedding`` backend named ``embedding``."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from chil_plugin_stereotype.tool import make_embedder

    embed, close = make_embedder(embedding, options)
    try:
        feat = Featurizer(embed)
        data = build_training_set(seed, per_category)
        x, _ = feat.features([s for s, _ in data])
        y = np.array([label for _, label in data])
    finally:
        close()
    model = LogisticRegression(C=c, max_iter=1000, class_weight="balanced")
    model.fit(x, y)
    accuracy = float(model.score(x, y))
    return {
        "version": HEAD_VERSION,
        "features": list(FEATURES),
        "weights": [round(float(w), 8) for w in model.coef_[0]],
        "intercept": round(float(model.intercept_[0]), 8),
        "embedding": {"backend": embedding, "options": options},
        "data": {"recipe": "chil_plugin_stereotype.fit.build_training_set", "seed": seed, "per_category": per_category,
                 "rows": len(data), "positives": int(y.sum()), "licence": "Apache-2.0 (built from this project's lexicon)",
                 "crows_pairs_used": False},
        "train_accuracy": round(accuracy, 4),
    }


def register_command(cli: Any) -> None:
    import click

    @cli.command("fit-stereotype")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
                  help="Where to write the head (JSON).")
    @click.option("--embedding", default="wordllama", show_default=True, help="Embedding backend to fit on.")
    @click.option("--seed", default=0, show_default=True)
    @click.option("--per-category", default=600, show_default=True, help="Template draws per social category.")
    @click.option("--c", "c_reg", default=0.01, show_default=True,
                  help="Inverse regularisation of the logistic head (0.01: chosen on CrowS-Pairs dev rows 1-250 only).")
    def fit_stereotype(output: Path, embedding: str, seed: int, per_category: int, c_reg: float) -> None:
        """Fit the linear head of the `weat` stereotype scorer on sentences built from the lexicon
        (never on CrowS-Pairs) and write it as JSON; point [tools.weat] head at it."""
        try:
            head = fit_head(embedding, {}, seed, per_category, c_reg)
        except (KeyError, RuntimeError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
        tmp = output.with_suffix(output.suffix + ".tmp")
        tmp.write_text(json.dumps(head, indent=1) + "\n", encoding="utf-8")
        tmp.replace(output)
        click.echo(f"fitted on {head['data']['rows']} built sentences (train accuracy {head['train_accuracy']}): {output}")
