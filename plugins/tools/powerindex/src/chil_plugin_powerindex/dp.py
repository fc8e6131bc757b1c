"""Exact Shapley–Shubik and Banzhaf indices of a weighted voting game by dynamic programming.

``C[w]`` holds, for every coalition size ``k`` at once, the number of coalitions of ``k`` players with
total weight ``w`` (only ``w < quota`` matters): the counts are packed into one Python integer, ``B``
bits per size (Kronecker substitution; a count is below 2^n, so ``B = n + 1`` bits never overflow
into the next slot).  Adding a player of weight ``wj`` is ``C[w] += C[w - wj] << B`` for ``w`` from the
top down, one big-integer shift and add per cell; removing one player of weight ``wi`` again is the
exact inverse ``D[w] = C[w] - (D[w - wi] << B)``.  Player ``i`` swings a coalition ``S`` without it
when ``quota - wi <= w(S) < quota``, so with ``s_k`` the slot ``k`` of ``sum(D[quota - wi : quota])``:

    swings_i = sum_k s_k,      shapley_i = sum_k s_k * k! (n-1-k)! / n!

The table runs to min(quota, total - quota + 1) and packs only the coalition sizes that fit under
it (see :func:`swing_counts`).  Everything is an exact integer or :class:`fractions.Fraction`.  Cost: O(n * quota) big-integer
operations for the table and O(quota) per *distinct* weight, instead of 2^n coalitions or n!
orderings.
"""

from __future__ import annotations

import math
from fractions import Fraction

from chil_core.capabilities.voting import Game, encode


def swing_counts(weights: tuple[int, ...], quota: int) -> dict[int, list[int]]:
    """For each distinct weight ``wi``: ``[s_0, ..., s_{n-1}]``, the swings of a player of that weight
    by size of the coalition it joins.

    Two reductions keep the packed integers small.  *Complement*: ``S`` (without ``i``) is a swing when
    ``q - wi <= w(S) < q``, that is when its complement ``R`` in ``N \\ {i}`` has ``q' - wi <= w(R) < q'``
    with ``q' = W - q + 1``; the table runs to the smaller of ``q`` and ``q'``, and with the complement a
    swing of size ``k`` is counted at size ``n - 1 - k``.  *Sizes*: a coalition under the threshold has
    at most ``K`` members (``K`` smallest weights sum below it), so only ``K + 1`` slots are packed, and a
    slot needs only as many bits as the largest ``C(n, k)``, ``k <= K``."""
    n = len(weights)
    total = sum(weights)
    flipped = total - quota + 1 < quota
    q = total - quota + 1 if flipped else quota
    if q <= 0:
        return {wi: [0] * n for wi in set(weights)}
    k_max, acc = 0, 0
    for w in sorted(weights):
        if acc + w >= q:
            break
        acc += w
        k_max += 1
    bits = max(math.comb(n, k).bit_length() for k in range(k_max + 1)) + 1
    table = [0] * q
    table[0] = 1
    top = 0  # the highest cell that can be non-zero so far
    for wj in weights:
        if wj >= q:
            continue  # any coalition with this player weighs >= q: no cell below q changes
        hi = min(q - 1, top + wj)
        for w in range(hi, wj - 1, -1):
            c = table[w - wj]
            if c:
                table[w] += c << bits
        top = hi
    mask = (1 << bits) - 1
    out: dict[int, list[int]] = {}
    for wi in sorted(set(weights)):
        if wi >= q:
            without = table
        else:
            without = table[:]
            for w in range(wi, q):
                without[w] = table[w] - (without[w - wi] << bits)
        packed = sum(without[max(0, q - wi) : q])
        slots = []
        while packed and len(slots) < n:
            slots.append(packed & mask)
            packed >>= bits
        slots += [0] * (n - len(slots))
        out[wi] = slots[::-1] if flipped else slots
    return out


def indices(game: Game) -> dict:
    """The ``indices`` value (see :mod:`chil_core.capabilities.voting`)."""
    n, q, ws = len(game.players), game.quota, game.weights
    fact = [math.factorial(k) for k in range(n + 1)]
    per_weight = {}
    for wi, s in swing_counts(ws, q).items():
        per_weight[wi] = (sum(s), sum(s_k * fact[k] * fact[n - 1 - k] for k, s_k in enumerate(s) if s_k))
    total_swings = sum(per_weight[w][0] for w in ws)
    total_w = sum(ws)
    shapley, banzhaf, swings_of = {}, {}, {}
    dictators, veto, dummies = [], [], []
    for name, w in zip(game.players, ws, strict=True):
        sw, num = per_weight[w]
        shapley[name] = encode(Fraction(num, fact[n]))
        banzhaf[name] = encode(Fraction(sw, total_swings)) if total_swings else "0"
        swings_of[name] = sw
        if total_w - w < q:
            veto.append(name)
            if w >= q:
                dictators.append(name)
        if sw == 0:
            dummies.append(name)
    return {"players": list(game.players), "shapley_shubik": shapley, "banzhaf": banzhaf, "swings": swings_of,
            "dictators": dictators, "veto": veto, "dummies": dummies}
