"""Game claims: what a completion says about a normal-form game, and their exact judgement.

Read from a fenced ```json``` block::

    {"equilibria": [{"row": ["1/3", "2/3"], "col": ["1/2", "1/2"], "payoffs": ["5/2", "1"]},
                    {"row": "Up", "col": "Left"}],                   # pure strategies by name
     "all": true,                                                    # "these are all the equilibria"
     "dominant": {"row": "Up", "col": null},                         # strictly dominant strategy (or none)
     "dominated": {"row": ["Down"], "col": []}}                      # strictly dominated strategies
    n-player games: {"equilibria": [{"profile": [[...], [...], [...]]}]}

or in words, for pure strategies: "the row player plays Up and the column player plays Left", "(Up, Left)";
"these are all the equilibria" / "the unique equilibrium" claim completeness.

Every claimed profile is checked exactly (:func:`chil_core.capabilities.game.check_profile`): verdict
``equilibrium`` or ``not_equilibrium`` with the most profitable deviation as evidence.  Completeness is
checked against the extreme equilibria the ``game`` backend enumerates: every one of them must be claimed
(in a degenerate game the claimed ones must be equilibria and include every extreme one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from itertools import product
from typing import Any

from chil_plugin_empirical.expr import Limits

from chil_core.capabilities import game as G
from chil_plugin_utility.common import ClaimError, value

_ALL_RE = re.compile(r"(?i)\b(?:these are (?:all|the only)|(?:this|that) is the only|the only (?:nash )?equilibri|"
                     r"unique (?:nash )?equilibrium|exactly (?:one|two|three|\d+) (?:nash )?equilibri)")
_PURE_ALL_RE = re.compile(r"(?i)\b(?:(?:these|those) are (?:all|the only) (?:the )?pure|all (?:the )?pure[- ](?:strategy )?(?:nash )?equilibria (?:are|is)|"
                          r"the only pure[- ](?:strategy )?(?:nash )?equilibri|unique pure[- ](?:strategy )?(?:nash )?equilibrium|"
                          r"exactly (?:one|two|three|\d+) pure[- ](?:strategy )?(?:nash )?equilibri)")


@dataclass
class Item:
    """One judged claim."""

    kind: str  # equilibrium | payoff | dominant | dominated | complete
    ok: bool
    text: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class GameClaims:
    profiles: list[tuple[str, Any]] = field(default_factory=list)  # (where, raw entry)
    all_claimed: bool = False
    all_pure_claimed: bool = False  # "these are all the pure(-strategy) equilibria"
    dominant: dict[int, Any] = field(default_factory=dict)
    dominated: dict[int, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.profiles or self.all_claimed or self.all_pure_claimed or self.dominant or self.dominated)


def _index(game: G.Game, player: int, name: Any) -> int:
    if isinstance(name, str):
        wanted = name.strip().lower()
        for i, s in enumerate(game.strategies[player]):
            if s.lower() == wanted:
                return i
    raise ClaimError(f"{str(name)[:40]!r} is not a strategy of {game.players[player]} ({', '.join(game.strategies[player])})")


def _name_pattern(names: tuple[str, ...]) -> str:
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


def extract(game: G.Game, text: str, blocks: list[dict[str, Any]]) -> GameClaims:
    out = GameClaims()
    for block in blocks:
        eqs = block.get("equilibria", block.get("equilibrium"))
        if isinstance(eqs, dict):
            eqs = [eqs]
        if isinstance(eqs, list):
            out.profiles += [(f"equilibria[{i}]", e) for i, e in enumerate(eqs[:1000])]
        if block.get("all") is True or block.get("complete") is True:
            out.all_claimed = True
        if block.get("all_pure") is True:
            out.all_pure_claimed = True
        for key, target in (("dominant", out.dominant), ("dominated", out.dominated)):
            claim = block.get(key)
            if isinstance(claim, dict):
                for p, pname in enumerate(("row", "col")[: game.n_players] if game.n_players == 2 else ()):
                    for alias in (pname, "column" if pname == "col" else pname):
                        if alias in claim:
                            target[p] = claim[alias]
    if game.n_players == 2 and not out.profiles:
        rows, cols = _name_pattern(game.strategies[0]), _name_pattern(game.strategies[1])
        verbs = r"(?:plays|chooses|picks|selects|should play|will play|plays strategy)"
        r_hits = re.findall(rf"(?i)\brow player {verbs} \W?({rows})\b", text)
        c_hits = re.findall(rf"(?i)\bcol(?:umn)? player {verbs} \W?({cols})\b", text)
        for i, (r, c) in enumerate(zip(r_hits, c_hits, strict=False)):
            out.profiles.append((f"sentence {i + 1}", {"row": r, "col": c}))
        for i, (r, c) in enumerate(re.findall(rf"(?i)\(\s*({rows})\s*,\s*({cols})\s*\)", text)):
            out.profiles.append((f"pair {i + 1}", {"row": r, "col": c}))
    if game.n_players > 2 and not out.profiles:  # "(Up, Left, Heads)": one strategy per player, in order
        pats = [rf"({_name_pattern(s)})" for s in game.strategies]
        tuple_re = r"(?i)\(\s*" + r"\s*,\s*".join(pats) + r"\s*\)"
        for i, names in enumerate(re.findall(tuple_re, text)):
            out.profiles.append((f"tuple {i + 1}", {"profile": list(names)}))
    if _PURE_ALL_RE.search(text):
        out.all_pure_claimed = True
    elif _ALL_RE.search(text):
        out.all_claimed = True
    return out


def _strategy(game: G.Game, player: int, raw: Any, where: str, limits: Limits) -> tuple[Fraction, ...]:
    n = len(game.strategies[player])
    if isinstance(raw, str):
        i = _index(game, player, raw)
        return tuple(int(k == i) for k in range(n))  # ints equal (and hash equal) to the Fractions
    if not isinstance(raw, list) or len(raw) != n:
        raise ClaimError(f"{where} must be a strategy name or {n} probabilities")
    probs = tuple(value(x, f"{where}[{k}]", limits) for k, x in enumerate(raw))
    if any(p < 0 for p in probs):
        raise ClaimError(f"{where} has a negative probability")
    if sum(probs) != 1:
        raise ClaimError(f"{where} sums to {sum(probs, Fraction(0))}, not 1")
    return probs


def profile_of(game: G.Game, raw: Any, where: str, limits: Limits) -> tuple[G.Profile, Any]:
    """(profile, claimed payoffs or None) of one claimed entry."""
    payoffs = None
    if isinstance(raw, dict):
        payoffs = raw.get("payoffs")
        if "profile" in raw:
            raw = raw["profile"]
        elif game.n_players == 2:
            if "row" not in raw or not ("col" in raw or "column" in raw):
                raise ClaimError(f"{where} needs 'row' and 'col'")
            raw = [raw["row"], raw.get("col", raw.get("column"))]
    if not isinstance(raw, list) or len(raw) != game.n_players:
        raise ClaimError(f"{where} must give one strategy per player ({game.n_players})")
    return tuple(_strategy(game, p, s, f"{where}[{p}]", limits) for p, s in enumerate(raw)), payoffs


@lru_cache(maxsize=65_536)
def backend_number(text: str) -> Fraction:
    """A probability as the ``game`` backend writes it (``"2/5"``): the backend's own canonical output,
    read without the length bound of a completion's numbers (exact payoffs can make long ones)."""
    return Fraction(text)


def iesds(game: G.Game) -> list[list[int]]:
    """The strategies of each player that survive iterated elimination of strictly dominated strategies
    (dominated by another pure strategy against every surviving profile of the others).  Elimination
    keeps every Nash equilibrium, mixed ones included (a strictly dominated strategy is never played
    in one), so the game's equilibria are those of the reduced game."""
    alive = [list(range(len(s))) for s in game.strategies]
    changed = True
    while changed:
        changed = False
        for p in range(game.n_players):
            if len(alive[p]) < 2:
                continue
            others = [alive[k] if k != p else [0] for k in range(game.n_players)]
            cells = list(product(*others))
            pay = {s: [game.payoff(c[:p] + (s,) + c[p + 1:], p) for c in cells] for s in alive[p]}
            for s in list(alive[p]):
                if any(t != s and t in alive[p] and all(u > v for u, v in zip(pay[t], pay[s], strict=True)) for t in alive[p]):
                    alive[p].remove(s)
                    changed = True
    return alive


def pure_equilibria(game: G.Game) -> list[tuple[int, ...]]:
    """Every pure Nash equilibrium, exactly: each player's best payoff against each profile of the others
    is found in one pass over the cells, then a cell is an equilibrium when every player gets it there.
    O(cells x players) payoff look-ups (the cells are bounded by ``max_cells``)."""
    n = game.n_players
    cells = list(product(*(range(len(s)) for s in game.strategies)))
    pays = {c: [game.payoff(c, p) for p in range(n)] for c in cells}
    best: list[dict[tuple[int, ...], Any]] = [{} for _ in range(n)]
    for c, u in pays.items():
        for p in range(n):
            key = c[:p] + c[p + 1:]
            cur = best[p].get(key)
            if cur is None or u[p] > cur:
                best[p][key] = u[p]
    return [c for c, u in pays.items() if all(u[p] == best[p][c[:p] + c[p + 1:]] for p in range(n))]


def reduced_bimatrix(game: G.Game, alive: list[list[int]]) -> tuple[G.Game, tuple[int, int]] | None:
    """When at most two players keep more than one strategy after :func:`iesds`: the two-player game
    between two players (those that keep several strategies first; the rest play their single
    survivor), and which players they are.  None when three or more players keep several."""
    active = [p for p in range(game.n_players) if len(alive[p]) > 1]
    if len(active) > 2:
        return None
    pair = (active + [p for p in range(game.n_players) if p not in active])[:2]
    a, b = sorted(pair)
    base = [alive[k][0] for k in range(game.n_players)]
    rows, cols = [], []
    for i in alive[a]:
        r0, r1 = [], []
        for j in alive[b]:
            cell = list(base)
            cell[a], cell[b] = i, j
            r0.append(game.payoff(tuple(cell), a))
            r1.append(game.payoff(tuple(cell), b))
        rows.append(r0)
        cols.append(r1)
    reduced = G.load_game({"row_payoffs": [[G.fmt(x) for x in r] for r in rows], "col_payoffs": [[G.fmt(x) for x in r] for r in cols],
                           "row_strategies": [game.strategies[a][i] for i in alive[a]],
                           "col_strategies": [game.strategies[b][j] for j in alive[b]]})
    return reduced, (a, b)


def lift(game: G.Game, alive: list[list[int]], pair: tuple[int, int], profile: G.Profile) -> G.Profile:
    """A profile of the reduced two-player game as a profile of ``game`` (eliminated strategies get 0,
    the other players their single surviving strategy)."""
    out = []
    for k in range(game.n_players):
        probs = [0] * len(game.strategies[k])
        if k in pair:
            for idx, x in zip(alive[k], profile[pair.index(k)], strict=True):
                probs[idx] = x
        else:
            probs[alive[k][0]] = 1
        out.append(tuple(probs))
    return tuple(out)


def _describe(game: G.Game, profile: G.Profile) -> str:
    parts = []
    for p, probs in enumerate(profile):
        support = [(game.strategies[p][i], x) for i, x in enumerate(probs) if x]
        if len(support) == 1:
            parts.append(support[0][0])
        else:
            parts.append("(" + ", ".join(f"{n} {x}" for n, x in support) + ")")
    return "(" + ", ".join(parts) + ")"


def judge(game: G.Game, claims: GameClaims, asks_all: bool, enumeration: dict[str, Any] | None, limits: Limits,
          max_claims: int, asks_pure: bool = False) -> list[Item]:
    """Every judged item.  Completeness ("these are all the equilibria") is judged against
    ``enumeration`` (the ``equilibria`` value of the game backend, or ``{"profiles": ...}`` lifted from
    a reduced game) when there is one.  Without one (an n-player game that elimination of dominated
    strategies does not reduce to two players, or no backend), the pure equilibria are enumerated here:
    "these are all the pure equilibria" is judged exactly, and "these are all the equilibria" is wrong
    when a pure equilibrium is missing or a claimed profile is not one, and otherwise left unjudged
    (mixed equilibria of such games are not enumerated)."""
    items: list[Item] = []
    valid: set[G.Profile] = set()
    seen: set[G.Profile] = set()
    for where, raw in claims.profiles[:max_claims]:
        try:
            profile, payoffs = profile_of(game, raw, where, limits)
        except ClaimError as exc:
            items.append(Item("equilibrium", False, f"{where}: unreadable profile: {exc}", {"verdict": "malformed"}))
            continue
        if profile in seen:
            continue
        seen.add(profile)
        chk = G.check_profile(game, profile)
        desc = _describe(game, profile)
        if chk.equilibrium:
            valid.add(profile)
            items.append(Item("equilibrium", True, f"{desc} is a Nash equilibrium (payoffs {', '.join(map(str, chk.payoffs))})",
                              {"verdict": "equilibrium", "payoffs": [str(x) for x in chk.payoffs]}))
        else:
            p, s, gain = chk.deviation  # type: ignore[misc]
            items.append(Item("equilibrium", False,
                              f"{desc} is not an equilibrium: the {game.players[p]} player gains {gain} by playing "
                              f"{game.strategies[p][s]}", {"verdict": "not_equilibrium", "deviation":
                                                           {"player": game.players[p], "strategy": game.strategies[p][s], "gain": str(gain)}}))
        if payoffs is not None:
            try:
                if not isinstance(payoffs, list) or len(payoffs) != game.n_players:
                    raise ClaimError(f"{where}.payoffs must list {game.n_players} numbers")
                got = [value(x, f"{where}.payoffs[{k}]", limits) for k, x in enumerate(payoffs)]
                ok = got == chk.payoffs
                items.append(Item("payoff", ok, f"payoffs at {desc}: claimed {', '.join(map(str, got))}, exact "
                                  f"{', '.join(map(str, chk.payoffs))}", {"claimed": [str(x) for x in got]}))
            except ClaimError as exc:
                items.append(Item("payoff", False, str(exc)))
    for p, raw in claims.dominant.items():
        truth = G.dominant_strategy(game, p)
        try:
            claimed = None if raw in (None, "none", "None", "") else _index(game, p, raw)
            ok = claimed == truth
        except ClaimError as exc:
            ok, claimed = False, None
            items.append(Item("dominant", False, str(exc)))
            continue
        truth_txt = game.strategies[p][truth] if truth is not None else "none"
        claim_txt = game.strategies[p][claimed] if claimed is not None else "none"
        items.append(Item("dominant", ok, f"{game.players[p]} player's strictly dominant strategy: claimed {claim_txt}, "
                          f"exact {truth_txt}"))
    for p, raw in claims.dominated.items():
        names = raw if isinstance(raw, list) else [raw]
        n = len(game.strategies[p])
        truth = {s for s in range(n) if any(G.dominance(game, p, t, s) == "strict" for t in range(n) if t != s)}
        try:
            claimed = {_index(game, p, x) for x in names[:100] if x not in (None, "none")}
        except ClaimError as exc:
            items.append(Item("dominated", False, str(exc)))
            continue
        ok = claimed == truth
        items.append(Item("dominated", ok, f"{game.players[p]} player's strictly dominated strategies: claimed "
                          f"{sorted(game.strategies[p][s] for s in claimed)}, exact {sorted(game.strategies[p][s] for s in truth)}"))
    if (claims.all_claimed or asks_all) and enumeration is not None:
        if "profiles" in enumeration:  # already profiles of this game (n players, lifted from a reduced game)
            extreme = set(enumeration["profiles"])
        else:
            extreme = {tuple(tuple(backend_number(x) for x in side) for side in (e["row"], e["col"]))
                       for e in enumeration["equilibria"]}
        missing = extreme - valid
        wrong = len(seen) - len(valid)
        ok = not missing and not wrong and bool(enumeration.get("complete", True))
        text = (f"all equilibria: {len(valid)} claimed equilibria cover the {len(extreme)} extreme ones" if ok else
                f"not all equilibria: {len(missing)} of {len(extreme)} extreme equilibria missing"
                + (f" (e.g. {_describe(game, next(iter(sorted(missing))))})" if missing else "")
                + (f", {wrong} claimed profile(s) are not equilibria" if wrong else ""))
        items.append(Item("complete", ok, text, {"extreme": len(extreme), "missing": len(missing),
                                                 "degenerate": bool(enumeration.get("degenerate"))}))
    elif not claims.empty and (claims.all_claimed or asks_all or claims.all_pure_claimed or asks_pure):
        # the pure equilibria are enumerated exactly for any number of players (every cell)
        pure = {G.pure_profile(game, c) for c in pure_equilibria(game)}
        claimed_pure = {pr for pr in valid if all(sum(1 for x in side if x) == 1 for side in pr)}
        missing = pure - claimed_pure
        wrong = len(seen) - len(valid)
        example = f" (e.g. {_describe(game, next(iter(sorted(missing))))})" if missing else ""
        if claims.all_pure_claimed or asks_pure:
            ok = not missing and not wrong
            items.append(Item("complete", ok, (f"all pure equilibria: the {len(pure)} pure equilibria are claimed" if ok else
                                               f"not all pure equilibria: {len(missing)} of {len(pure)} missing{example}"
                                               + (f", {wrong} claimed profile(s) are not equilibria" if wrong else "")),
                              {"pure": len(pure), "missing": len(missing)}))
        elif missing or wrong:  # "all the equilibria" is wrong for sure; when nothing is missing it stays unjudged
            items.append(Item("complete", False, f"not all equilibria: {len(missing)} of {len(pure)} pure equilibria missing{example}"
                              + (f", {wrong} claimed profile(s) are not equilibria" if wrong else ""),
                              {"pure": len(pure), "missing": len(missing)}))
    return items
