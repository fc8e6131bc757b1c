"""Subject–relation–object claims read from a dependency parse (the ``nlp`` capability's ``parse`` value).

Where :mod:`.claims` matches controlled verb phrases in the text, this walks the parse, so word order,
inserted phrases, passives, coordinated subjects and objects and modal verbs do not matter::

    "Mexico can be found in Central America."          find + in      -> locatedin(mexico, central america)
    "Germany shares a border with France and Poland."  share border with -> neighbor(germany, france), (germany, poland)
    "Spain and Portugal are neighbours."                be neighbour (subjects with each other) -> neighbor(spain, portugal)
    "Austria does not border Spain."                   border (neg)   -> negated neighbor(austria, spain)

A predicate (a verb, or the copula ``be``) is read along one of these paths of lemmas, and the path is
looked up in the **lexicon** (relation -> paths, configurable; :data:`DEFAULT_LEXICON`)::

    V dobj O                     "border"
    V prep P pobj O              "locate in", "lie in", "be in"
    V (dobj|attr|acomp) N prep P pobj O   "share border with", "be part of", "be adjacent to"
    V agent by pobj O            "border by"   (passive: "Jordan is bordered by Iraq")
    V attr N, subjects conjoined "be neighbour"   (a symmetric relation between the subjects)

Subjects are the predicate's ``nsubj`` / ``nsubjpass`` (or those of the verb it is conjoined with, or of
the clause a participle modifies: "Nestled in Western Asia, Jordan ...");
``neg`` on the predicate negates the claim; an entity is its head token with its ``compound``
children (no determiners), normalised by :func:`~chil_core.capabilities.fact_store.normalize_term`;
``conj`` children add entities.  A degraded parse (no ``deps``) gives no claims.
"""

from __future__ import annotations

from typing import Any

from chil_core.capabilities.fact_store import MAX_TERM_CHARS, normalize_term
from chil_plugin_empirical.claims import Claim

DEFAULT_LEXICON: dict[str, list[str]] = {
    "locatedin": ["locate in", "situate in", "lie in", "be in", "be part of", "be country in", "be nation in",
                  "be state in", "be island in", "be territory in", "find in", "belong to", "sit in", "be within",
                  "nestle in", "be region of"],
    "neighbor": ["border", "neighbor", "neighbour", "adjoin", "touch", "share border with", "be neighbor of",
                 "be neighbour of", "be adjacent to", "be next to", "be neighbor", "be neighbour", "border on",
                 "border by", "neighbor by", "neighbour by"],
}
SUBJ = ("nsubj", "nsubjpass")
OBJ_NOUN = ("dobj", "attr", "acomp", "oprd")
_MAX_CLAIMS = 256


def _lexicon(lexicon: dict[str, list[str]]) -> dict[tuple[str, ...], str]:
    out: dict[tuple[str, ...], str] = {}
    for relation, paths in lexicon.items():
        for path in paths:
            out[tuple(path.casefold().split())] = relation
    return out


def dependency_claims(parse: dict[str, Any], lexicon: dict[str, list[str]] | None = None,
                      symmetric: tuple[str, ...] = ("neighbor",)) -> list[Claim]:
    """Claims in one ``nlp`` ``parse`` value (tokens, lemmas, deps, heads, sentences)."""
    tokens, lemmas, deps, heads = parse.get("tokens", []), parse.get("lemmas", []), parse.get("deps", []), parse.get("heads", [])
    n = len(tokens)
    if not n or len(lemmas) != n or len(deps) != n or len(heads) != n or not any(deps):
        return []
    lex = _lexicon(lexicon if lexicon is not None else DEFAULT_LEXICON)
    kids: list[list[int]] = [[] for _ in range(n)]
    for i, h in enumerate(heads):
        if isinstance(h, int) and 0 <= h < n and h != i:
            kids[h].append(i)
    low = [str(x).casefold() for x in lemmas]

    def children(i: int, *names: str) -> list[int]:
        return [k for k in kids[i] if deps[k] in names]

    def with_conj(i: int) -> list[int]:
        out, todo = [], [i]
        while todo and len(out) < 16:
            j = todo.pop(0)
            out.append(j)
            todo += children(j, "conj")
        return out

    def entity(i: int) -> str | None:
        parts = sorted([*children(i, "compound"), i])
        words = " ".join(tokens[j] for j in range(parts[0], i + 1) if j in parts or deps[j] == "compound")
        key = normalize_term(words)
        return key if key and len(key) <= MAX_TERM_CHARS else None

    def subjects(v: int) -> list[int]:
        seen = set()
        while v not in seen:
            seen.add(v)
            found = children(v, *SUBJ)
            if found:
                return [s for f in found for s in with_conj(f)]
            if deps[v] in ("conj", "xcomp", "advcl") and heads[v] != v:
                # "Palau lies in X and borders Y": borders takes lies' subject;
                # "Nestled in X, Jordan is ...": the participle takes the main clause's subject
                v = heads[v]
                continue
            break
        return []

    def sentence_of(i: int) -> str:
        for a, b in parse.get("sentences", []) or [[0, n]]:
            if a <= i < b:
                return " ".join(tokens[a:b])[:200]
        return ""

    claims: list[Claim] = []

    def add(subj: int, relation: str, obj: int, negated: bool, v: int) -> None:
        s, o = entity(subj), entity(obj)
        if s and o and s != o and len(claims) < _MAX_CLAIMS:
            claims.append(Claim(s, relation, o, negated, sentence_of(v)))

    for v in range(n):
        if deps[v] in ("punct", "det", "compound"):
            continue
        subs = subjects(v)
        if not subs:
            continue
        negated = bool(children(v, "neg"))
        verb = low[v]
        paths: list[tuple[tuple[str, ...], int]] = []
        for o in children(v, "dobj"):
            paths.append(((verb,), o))
        for p in children(v, "prep", "agent"):
            for o in children(p, "pobj"):
                paths.append(((verb, low[p]), o))
        for noun in children(v, *OBJ_NOUN):
            negated = negated or bool(children(noun, "neg"))
            for p in children(noun, "prep"):
                for o in children(p, "pobj"):
                    paths.append(((verb, low[noun], low[p]), o))
            if len(subs) > 1 and (verb, low[noun]) in lex and lex[(verb, low[noun])] in symmetric:
                rel = lex[(verb, low[noun])]
                for a in range(len(subs)):
                    for b in range(a + 1, len(subs)):
                        add(subs[a], rel, subs[b], negated, v)
        for path, o in paths:
            rel = lex.get(path)
            if rel is None:
                continue
            for s in subs:
                for obj in with_conj(o):
                    add(s, rel, obj, negated, v)
    return list({(c.subject, c.relation, c.object, c.negated): c for c in claims}.values())
