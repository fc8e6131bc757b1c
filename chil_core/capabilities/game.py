"""The ``game`` capability's data: normal-form games, mixed profiles, and the ``equilibria`` op contract.

Every ``game`` backend (``exact``, ``gambit``) validates its payload with :func:`load_game` and answers
with :func:`answer`, so they accept the same games and report equilibria the same way.  The exact checks
of a claimed profile (:func:`check_profile`, :func:`dominance`) live here too: they are pure rational
arithmetic, cheap, and the same for every backend, so frameworks call them in-process.

Game (``metadata.game`` of a record, and the payload's ``game``)::

    {"row_payoffs": [[a11, a12, ...], ...], "col_payoffs": [[b11, ...], ...],      # bimatrix, m x n
     "row_strategies": ["Up", "Down"], "col_strategies": ["Left", "Right"]}         # optional names
    {"players": ["P1", "P2", "P3"], "strategies": [["a", "b"], ["c", "d"], ["e", "f"]],
     "payoffs": [[[[u1, u2, u3], ...], ...], ...]}                                  # n-player: nested by strategy
    numbers: JSON integers, finite JSON floats (taken at their exact binary value: prefer strings), or
    strings "3", "-2/5", "0.25".

Op ``equilibria`` (two-player games only)::

    payload {"game": game, "max_equilibria": 1000}
    value   {"equilibria": [{"row": ["1/3", "2/3"], "col": ["1/2", "1/2"], "payoffs": ["5/2", "1"]}, ...],
             "degenerate": bool, "complete": bool}

``equilibria`` are the *extreme* Nash equilibria (vertices of the equilibrium components), in rationals,
sorted by :func:`profile_key`: in a nondegenerate game that is every equilibrium; in a degenerate one the
convex hulls of some of them are equilibria too (the extreme ones are what both backends enumerate).
``complete`` is false when ``max_equilibria`` cut the list.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from itertools import product
from typing import Any

MAX_STRATEGIES = 1000
MAX_CELLS = 10_000
MAX_PLAYERS = 6
MAX_NUMBER_CHARS = 60
MAX_NAME = 100

_NUM_RE = re.compile(r"\s*([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d{1,3}))?(?:\s*/\s*(\d+))?\s*\Z")


#: JSON integers below this magnitude stay Python ints in a game's payoffs (exact, equal and hashing
#: equal to the Fraction of the same value, and far cheaper to compute with)
_SMALL = 10**18


class GameError(ValueError):
    """A malformed game or profile; the message names the offending field."""


def number(value: Any, where: str) -> Fraction:
    """An exact rational from a JSON number or a string ("3", "-2/5", "0.25", "1e3"); NaN, infinities,
    booleans and over-long literals are refused with the field named."""
    if isinstance(value, bool):
        raise GameError(f"{where} must be a number, got a boolean")
    if isinstance(value, int):
        if value.bit_length() > 4 * MAX_NUMBER_CHARS:
            raise GameError(f"{where} is too large")
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise GameError(f"{where} must be finite, got {value}")
        return Fraction(value)
    if isinstance(value, Fraction):
        return value
    if isinstance(value, str):
        if len(value) > MAX_NUMBER_CHARS:
            raise GameError(f"{where} has more than {MAX_NUMBER_CHARS} characters")
        out = _parse_text(value)
        if out is None:
            raise GameError(f"{where} is not a number: {value!r}")
        if isinstance(out, str):
            raise GameError(f"{where} {out}: {value!r}")
        return out
    raise GameError(f"{where} must be a number or a string like '2/5', got {type(value).__name__}")


@lru_cache(maxsize=65_536)
def _parse_text(value: str) -> Fraction | str | None:
    """The rational a numeric string denotes, None when it is not one, or a reason (str) when it is
    malformed in a way worth naming.  Cached: models and games repeat their coefficients."""
    if value.isdigit():
        return Fraction(int(value))
    m = _NUM_RE.match(value)
    if not m:
        return None
    sign, mant, exp, den = m.groups()
    if "." in mant:
        whole, _, frac = mant.partition(".")
        out = Fraction(int(whole or "0") * 10 ** len(frac) + int(frac or "0"), 10 ** len(frac))
    else:
        out = Fraction(int(mant))
    if exp:
        out *= Fraction(10) ** int(exp)
    if den is not None:
        if int(den) == 0:
            return "divides by zero"
        out /= int(den)
    return -out if sign == "-" else out


def fmt(x: Fraction) -> str:
    """Canonical text of a rational ("2/5", "-3")."""
    return str(x)


@dataclass(frozen=True, slots=True)
class Game:
    """A finite normal-form game: ``payoffs[s1][s2]...[sn][player]`` as nested tuples of exact numbers
    (Fractions, or ints for integer payoffs)."""

    players: tuple[str, ...]
    strategies: tuple[tuple[str, ...], ...]
    payoffs: Any  # nested tuples

    @property
    def n_players(self) -> int:
        return len(self.players)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(s) for s in self.strategies)

    def payoff(self, cell: tuple[int, ...], player: int) -> Fraction:
        node = self.payoffs
        for s in cell:
            node = node[s]
        return node[player]

    def matrices(self) -> tuple[list[list[Fraction]], list[list[Fraction]]]:
        """(A, B) of a two-player game."""
        if self.n_players != 2:
            raise GameError(f"a bimatrix needs 2 players, the game has {self.n_players}")
        m, n = self.shape
        return ([[self.payoffs[i][j][0] for j in range(n)] for i in range(m)],
                [[self.payoffs[i][j][1] for j in range(n)] for i in range(m)])

    def to_json(self) -> dict[str, Any]:
        if self.n_players == 2:
            a, b = self.matrices()
            return {"row_payoffs": [[fmt(x) for x in r] for r in a], "col_payoffs": [[fmt(x) for x in r] for r in b],
                    "row_strategies": list(self.strategies[0]), "col_strategies": list(self.strategies[1])}

        def walk(node: Any, depth: int) -> Any:
            if depth == self.n_players:
                return [fmt(x) for x in node]
            return [walk(c, depth + 1) for c in node]

        return {"players": list(self.players), "strategies": [list(s) for s in self.strategies], "payoffs": walk(self.payoffs, 0)}


def _names(data: Any, count: int, default: list[str], where: str) -> tuple[str, ...]:
    if data is None:
        return tuple(default)
    if not isinstance(data, list) or len(data) != count:
        raise GameError(f"{where} must be a list of {count} names")
    out = []
    for i, name in enumerate(data):
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            raise GameError(f"{where}[{i}] must be a non-empty string of at most {MAX_NAME} characters")
        out.append(name.strip())
    if len({n.lower() for n in out}) != len(out):
        raise GameError(f"{where} has duplicate names")
    return tuple(out)


def default_strategy_names(player: int, count: int) -> list[str]:
    if count == 2:
        return [["Up", "Down"], ["Left", "Right"]][player] if player < 2 else ["A", "B"]
    prefix = "R" if player == 0 else "C" if player == 1 else f"P{player + 1}s"
    return [f"{prefix}{i + 1}" for i in range(count)]


def _matrix(data: Any, where: str, max_strategies: int, max_cells: int) -> list[list[Fraction]]:
    if not isinstance(data, list) or not data:
        raise GameError(f"{where} must be a non-empty list of rows")
    if len(data) > max_strategies:
        raise GameError(f"{where} has {len(data)} rows; at most {max_strategies} strategies per player are allowed")
    if not all(isinstance(r, list) for r in data):
        raise GameError(f"{where} must be a list of rows (lists)")
    n = len(data[0])
    if n == 0 or n > max_strategies:
        raise GameError(f"{where} rows must have 1 to {max_strategies} entries")
    if len(data) * n > max_cells:
        raise GameError(f"{where} has {len(data) * n} cells; at most {max_cells} are allowed")
    out = []
    for i, row in enumerate(data):
        if len(row) != n:
            raise GameError(f"{where}[{i}] has {len(row)} entries, row 0 has {n}")
        out.append([v if type(v) is int and -_SMALL < v < _SMALL else number(v, f"{where}[{i}][{j}]") for j, v in enumerate(row)])
    return out


def load_game(data: Any, where: str = "game", *, max_strategies: int = MAX_STRATEGIES, max_cells: int = MAX_CELLS) -> Game:
    """Validate a game (bimatrix or n-player form) within the size bounds."""
    if not isinstance(data, dict):
        raise GameError(f"{where} must be an object")
    if "row_payoffs" in data or "col_payoffs" in data:
        unknown = set(data) - {"row_payoffs", "col_payoffs", "row_strategies", "col_strategies"}
        if unknown:
            raise GameError(f"{where} has unknown field(s) {sorted(unknown)}")
        a = _matrix(data.get("row_payoffs"), f"{where}.row_payoffs", max_strategies, max_cells)
        b = _matrix(data.get("col_payoffs"), f"{where}.col_payoffs", max_strategies, max_cells)
        if (len(a), len(a[0])) != (len(b), len(b[0])):
            raise GameError(f"{where}.row_payoffs is {len(a)}x{len(a[0])} but {where}.col_payoffs is {len(b)}x{len(b[0])}")
        m, n = len(a), len(a[0])
        rows = _names(data.get("row_strategies"), m, default_strategy_names(0, m), f"{where}.row_strategies")
        cols = _names(data.get("col_strategies"), n, default_strategy_names(1, n), f"{where}.col_strategies")
        pay = tuple(tuple((a[i][j], b[i][j]) for j in range(n)) for i in range(m))
        return Game(("row", "column"), (rows, cols), pay)
    if "payoffs" not in data:
        raise GameError(f"{where} needs row_payoffs and col_payoffs (bimatrix) or players, strategies and payoffs")
    unknown = set(data) - {"players", "strategies", "payoffs"}
    if unknown:
        raise GameError(f"{where} has unknown field(s) {sorted(unknown)}")
    strategies_in = data.get("strategies")
    if not isinstance(strategies_in, list) or not 2 <= len(strategies_in) <= MAX_PLAYERS:
        raise GameError(f"{where}.strategies must list 2 to {MAX_PLAYERS} players' strategy names (or counts)")
    k = len(strategies_in)
    strategies = []
    for p, s in enumerate(strategies_in):
        if isinstance(s, int) and not isinstance(s, bool):
            if not 1 <= s <= max_strategies:
                raise GameError(f"{where}.strategies[{p}] must be 1 to {max_strategies}")
            strategies.append(tuple(default_strategy_names(p, s)))
        else:
            strategies.append(_names(s, len(s) if isinstance(s, list) else -1, [], f"{where}.strategies[{p}]"))
            if not 1 <= len(strategies[-1]) <= max_strategies:
                raise GameError(f"{where}.strategies[{p}] must have 1 to {max_strategies} names")
    if math.prod(len(s) for s in strategies) > max_cells:
        raise GameError(f"{where} has {math.prod(len(s) for s in strategies)} cells; at most {max_cells} are allowed")
    players = _names(data.get("players"), k, [f"P{i + 1}" for i in range(k)], f"{where}.players")

    def walk(node: Any, depth: int, path: str) -> Any:
        if depth == k:
            if not isinstance(node, list) or len(node) != k:
                raise GameError(f"{path} must be a list of {k} payoffs")
            return tuple(v if type(v) is int and -_SMALL < v < _SMALL else number(v, f"{path}[{i}]") for i, v in enumerate(node))
        size = len(strategies[depth])
        if not isinstance(node, list) or len(node) != size:
            raise GameError(f"{path} must be a list of {size} entries (player {depth + 1}'s strategies)")
        return tuple(walk(c, depth + 1, f"{path}[{i}]") for i, c in enumerate(node))

    return Game(players, tuple(strategies), walk(data["payoffs"], 0, f"{where}.payoffs"))


# ---------------------------------------------------------------------------------------------
# Profiles and exact checks
# ---------------------------------------------------------------------------------------------
Profile = tuple[tuple[Fraction, ...], ...]


def load_profile(game: Game, data: Any, where: str = "profile") -> Profile:
    """A mixed profile: one probability list per player (``[[p...], [q...]]``)."""
    if not isinstance(data, (list, tuple)) or len(data) != game.n_players:
        raise GameError(f"{where} must give one probability list per player ({game.n_players})")
    out = []
    for p, (probs, names) in enumerate(zip(data, game.strategies, strict=True)):
        if not isinstance(probs, (list, tuple)) or len(probs) != len(names):
            raise GameError(f"{where}[{p}] must have {len(names)} probabilities")
        vals = tuple(number(v, f"{where}[{p}][{i}]") for i, v in enumerate(probs))
        if any(v < 0 for v in vals):
            raise GameError(f"{where}[{p}] has a negative probability")
        if sum(vals) != 1:
            raise GameError(f"{where}[{p}] sums to {fmt(sum(vals, Fraction(0)))}, not 1")
        out.append(vals)
    return tuple(out)


def pure_profile(game: Game, choice: tuple[int, ...]) -> Profile:
    """The pure profile ``choice`` (probabilities 0 and 1 as ints: equal, and hashing equal, to Fractions)."""
    return tuple(tuple(int(i == c) for i in range(len(s))) for c, s in zip(choice, game.strategies, strict=True))


def strategy_values(game: Game, profile: Profile, player: int) -> list[Fraction]:
    """Expected payoff to ``player`` of each of its pure strategies against the others' mixtures."""
    if game.n_players == 2:
        pay, (p, q) = game.payoffs, profile
        if player == 0:
            return [sum((cell[j][0] * y for j, y in enumerate(q) if y), Fraction(0)) for cell in pay]
        return [sum((pay[i][j][1] * x for i, x in enumerate(p) if x), Fraction(0)) for j in range(len(q))]
    others = [k for k in range(game.n_players) if k != player]
    values = [Fraction(0)] * len(game.strategies[player])
    supports = [[(i, pr) for i, pr in enumerate(profile[k]) if pr] for k in others]
    for combo in product(*supports):
        weight = Fraction(1)
        cell = [0] * game.n_players
        for k, (i, pr) in zip(others, combo, strict=True):
            weight *= pr
            cell[k] = i
        for s in range(len(values)):
            cell[player] = s
            values[s] += weight * game.payoff(tuple(cell), player)
    return values


@dataclass(slots=True)
class ProfileCheck:
    equilibrium: bool
    payoffs: list[Fraction]
    #: the most profitable deviation, when not an equilibrium: (player, strategy index, gain)
    deviation: tuple[int, int, Fraction] | None


def check_profile(game: Game, profile: Profile) -> ProfileCheck:
    """Exact Nash check: every player's expected payoff equals its best pure response's."""
    if game.n_players == 2:
        return _check_bimatrix(game, profile)
    payoffs, best_dev = [], None
    for player in range(game.n_players):
        values = strategy_values(game, profile, player)
        own = sum((v * pr for v, pr in zip(values, profile[player], strict=True)), Fraction(0))
        payoffs.append(own)
        top = max(range(len(values)), key=lambda s: values[s])
        gain = values[top] - own
        if gain > 0 and (best_dev is None or gain > best_dev[2]):
            best_dev = (player, top, gain)
    return ProfileCheck(best_dev is None, payoffs, best_dev)


def _lcm_of_denominators(values: Any) -> int:
    out = 1
    for x in values:
        d = x.denominator
        if d != 1 and out % d:
            out = out * d // math.gcd(out, d)
    return out


def _check_bimatrix(game: Game, profile: Profile) -> ProfileCheck:
    """:func:`check_profile` of a two-player game in integers: probabilities over their common
    denominator, each player's payoffs over theirs; one Fraction per result.  Exactly the same answer."""
    p, q = profile
    pay = game.payoffs
    dp, dq = _lcm_of_denominators(p), _lcm_of_denominators(q)
    pn = [x.numerator * (dp // x.denominator) for x in p]
    qn = [x.numerator * (dq // x.denominator) for x in q]
    la = _lcm_of_denominators(c[0] for row in pay for c in row)
    lb = _lcm_of_denominators(c[1] for row in pay for c in row)
    # row player: value of row i = vr[i] / (la * dq); column player: value of column j = vc[j] / (lb * dp)
    vr = []
    for row in pay:
        acc = 0
        for c, y in zip(row, qn, strict=True):
            if y:
                a = c[0]
                acc += (a.numerator * (la // a.denominator)) * y
        vr.append(acc)
    vc = [0] * len(q)
    for row, x in zip(pay, pn, strict=True):
        if x:
            for j, c in enumerate(row):
                b = c[1]
                vc[j] += (b.numerator * (lb // b.denominator)) * x
    own_r = sum(v * x for v, x in zip(vr, pn, strict=True) if x)  # over la * dq * dp
    own_c = sum(v * y for v, y in zip(vc, qn, strict=True) if y)  # over lb * dp * dq
    scale_r, scale_c = la * dq * dp, lb * dp * dq
    best_dev = None
    for player, values, own, dmine, scale in ((0, vr, own_r, dp, scale_r), (1, vc, own_c, dq, scale_c)):
        top = max(range(len(values)), key=values.__getitem__)
        excess = values[top] * dmine - own
        if excess > 0:
            gain = Fraction(excess, scale)
            if best_dev is None or gain > best_dev[2]:
                best_dev = (player, top, gain)
    return ProfileCheck(best_dev is None, [Fraction(own_r, scale_r), Fraction(own_c, scale_c)], best_dev)


def pure_equilibria(game: Game) -> list[tuple[int, ...]]:
    """Every pure-strategy Nash equilibrium (cells where each player best-responds)."""
    out = []
    for cell in product(*(range(len(s)) for s in game.strategies)):
        ok = True
        for p in range(game.n_players):
            mine = game.payoff(cell, p)
            for s in range(len(game.strategies[p])):
                alt = list(cell)
                alt[p] = s
                if game.payoff(tuple(alt), p) > mine:
                    ok = False
                    break
            if not ok:
                break
        if ok:
            out.append(cell)
    return out


def dominance(game: Game, player: int, s: int, t: int) -> str:
    """How ``s`` compares with ``t`` for ``player`` over every opponents' cell: ``"strict"`` (better
    everywhere), ``"weak"`` (never worse, better somewhere), ``"equal"`` or ``"none"``."""
    better = worse = False
    for cell in product(*(range(len(x)) if k != player else [0] for k, x in enumerate(game.strategies))):
        c1, c2 = list(cell), list(cell)
        c1[player], c2[player] = s, t
        u, v = game.payoff(tuple(c1), player), game.payoff(tuple(c2), player)
        better |= u > v
        worse |= u < v
        if worse:
            return "none"
    return "strict" if better and _strict(game, player, s, t) else ("weak" if better else "equal")


def _strict(game: Game, player: int, s: int, t: int) -> bool:
    for cell in product(*(range(len(x)) if k != player else [0] for k, x in enumerate(game.strategies))):
        c1, c2 = list(cell), list(cell)
        c1[player], c2[player] = s, t
        if game.payoff(tuple(c1), player) <= game.payoff(tuple(c2), player):
            return False
    return True


def dominant_strategy(game: Game, player: int, strict: bool = True) -> int | None:
    """The (strictly / weakly) dominant strategy of ``player``, or None."""
    n = len(game.strategies[player])
    for s in range(n):
        rels = [dominance(game, player, s, t) for t in range(n) if t != s]
        if strict and all(r == "strict" for r in rels):
            return s
        if not strict and all(r in ("strict", "weak") for r in rels):
            return s
    return None


# ---------------------------------------------------------------------------------------------
# The ``equilibria`` op
# ---------------------------------------------------------------------------------------------
def load_equilibria(payload: Any, *, max_strategies: int = MAX_STRATEGIES, max_cells: int = MAX_CELLS) -> tuple[Game, int]:
    """Validate an ``equilibria`` payload into a two-player game and the cap on equilibria."""
    if not isinstance(payload, dict):
        raise GameError("payload must be an object {game, max_equilibria}")
    game = load_game(payload.get("game"), "payload.game", max_strategies=max_strategies, max_cells=max_cells)
    if game.n_players != 2:
        raise GameError(f"op equilibria takes two-player games; this one has {game.n_players} players")
    cap = payload.get("max_equilibria", 1000)
    if not isinstance(cap, int) or isinstance(cap, bool) or not 1 <= cap <= 100_000:
        raise GameError("payload.max_equilibria must be an integer from 1 to 100000")
    return game, cap


def profile_key(eq: dict[str, Any]) -> tuple:
    return (tuple(Fraction(x) for x in eq["row"]), tuple(Fraction(x) for x in eq["col"]))


def answer(game: Game, profiles: list[Profile], degenerate: bool, cap: int) -> dict[str, Any]:
    """The ``equilibria`` value from a backend's extreme equilibria (any order, duplicates allowed)."""
    unique = sorted({(tuple(p), tuple(q)) for p, q in profiles})
    eqs = []
    for p, q in unique[:cap]:
        chk = check_profile(game, (p, q))
        eqs.append({"row": [fmt(x) for x in p], "col": [fmt(x) for x in q], "payoffs": [fmt(x) for x in chk.payoffs]})
    return {"equilibria": eqs, "degenerate": degenerate, "complete": len(unique) <= cap}
