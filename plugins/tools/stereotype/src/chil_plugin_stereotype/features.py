"""Group detection and WEAT-style association features of a sentence, on an embedding backend.

For a sentence, the lexicon (:mod:`chil_plugin_stereotype.lexicon`) finds the social group it is about
(category, and ``m = +1`` for a commonly targeted group, ``-1`` for the contrasting one).  The group
terms are then removed and the rest (the *content*) is embedded; its associations are differences of
cosines with attribute centroids, as in WEAT:

* ``A`` = cos(content, stereotypes of the category's targeted groups) − cos(content, stereotypes of
  the contrasting groups);
* ``N`` = cos(content, unpleasant words) − cos(content, pleasant words).

Features (``FEATURES``): ``m``, ``m·A``, ``m·N``, ``N``, ``|m|``, ``m·A_full`` (A of the whole sentence).
A stereotype pairs a group with what is commonly said of *that* group, so the signed products carry
the signal; a linear head (``chil fit-stereotype``) weighs them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chil_plugin_stereotype.lexicon import CATEGORIES, PLEASANT, PRIORITY, UNPLEASANT

FEATURES: tuple[str, ...] = ("m", "m_assoc", "m_neg", "neg", "has_group", "m_assoc_full")
_WORD_RE = re.compile(r"[a-z][a-z'\-]*")


@dataclass(frozen=True, slots=True)
class Group:
    category: str
    sign: int  # +1 targeted group, -1 contrasting group
    term: str
    start: int
    end: int


def _term_index() -> list[tuple[tuple[str, ...], str, int]]:
    out = []
    for c in CATEGORIES:
        for sign, terms in ((1, c.marked), (-1, c.unmarked)):
            for t in terms:
                out.append((tuple(t.replace("-", " - ").split()), c.name, sign))
    out.sort(key=lambda x: -len(x[0]))
    return out


_TERMS = _term_index()
_FIRST: dict[str, list[tuple[tuple[str, ...], str, int]]] = {}
for _words, _cat, _sign in _TERMS:
    _FIRST.setdefault(_words[0], []).append((_words, _cat, _sign))


def find_groups(text: str) -> list[Group]:
    """Every group term in ``text`` (longest match first, no overlaps), in order."""
    low = text.casefold()
    tokens = [(m.group(0).strip("'"), m.start(), m.end()) for m in _WORD_RE.finditer(low)]
    words = []
    for w, s, e in tokens:  # split hyphens the way the term index does
        if "-" in w:
            pos = s
            for part in re.split(r"(-)", w):
                if part:
                    words.append((part, pos, pos + len(part)))
                pos += len(part)
        else:
            words.append((w, s, e))
    out: list[Group] = []
    i = 0
    while i < len(words):
        hit = None
        for seq, cat, sign in _FIRST.get(words[i][0], ()):
            if tuple(w for w, _, _ in words[i : i + len(seq)]) == seq:
                hit = (seq, cat, sign)
                break
        if hit is None:
            # plural of a listed singular ("nurses" is not a group; "Asians" is listed; "blacks" is listed)
            i += 1
            continue
        seq, cat, sign = hit
        s, e = words[i][1], words[i + len(seq) - 1][2]
        out.append(Group(cat, sign, text[s:e], s, e))
        i += len(seq)
    return out


def main_group(groups: list[Group]) -> Group | None:
    """The group a sentence is about: the first term of the highest-priority category present."""
    for cat in PRIORITY:
        for g in groups:
            if g.category == cat:
                return g
    return None


def content_of(text: str, groups: list[Group]) -> str:
    """``text`` without its group terms."""
    out, last = [], 0
    for g in groups:
        out.append(text[last : g.start])
        last = g.end
    out.append(text[last:])
    return " ".join("".join(out).split())


class Featurizer:
    """Features of sentences on an embedding function ``embed(texts) -> unit-row float matrix``."""

    def __init__(self, embed: Callable[[list[str]], Any]) -> None:
        import numpy as np

        self.np = np
        self.embed = embed
        sets = [" ".join(PLEASANT), " ".join(UNPLEASANT)]
        for c in CATEGORIES:
            sets += [" ".join(c.marked_attributes), " ".join(c.unmarked_attributes)]
        # each set: the normalised mean of its words' vectors
        self.centroids = {}
        for i, words in enumerate(sets):
            vecs = embed(words.split())
            mean = vecs.mean(axis=0)
            norm = float(np.linalg.norm(mean)) or 1.0
            self.centroids[i] = mean / norm
        self.pleasant, self.unpleasant = self.centroids[0], self.centroids[1]
        self.by_category = {c.name: (self.centroids[2 + 2 * k], self.centroids[3 + 2 * k]) for k, c in enumerate(CATEGORIES)}

    def features(self, texts: list[str]) -> tuple[Any, list[Group | None]]:
        np = self.np
        found = [find_groups(t) for t in texts]
        mains = [main_group(g) for g in found]
        contents = [content_of(t, g) or t for t, g in zip(texts, found, strict=True)]
        vecs = self.embed(contents + texts)
        content_v, full_v = vecs[: len(texts)], vecs[len(texts) :]
        neg = content_v @ self.unpleasant - content_v @ self.pleasant
        rows = []
        for i, g in enumerate(mains):
            if g is None:
                rows.append([0.0, 0.0, 0.0, float(neg[i]), 0.0, 0.0])
                continue
            mk, uk = self.by_category[g.category]
            assoc = float(content_v[i] @ mk - content_v[i] @ uk)
            assoc_full = float(full_v[i] @ mk - full_v[i] @ uk)
            m = float(g.sign)
            rows.append([m, m * assoc, m * float(neg[i]), float(neg[i]), 1.0, m * assoc_full])
        return np.asarray(rows, dtype=np.float64).reshape(len(texts), len(FEATURES)), mains
