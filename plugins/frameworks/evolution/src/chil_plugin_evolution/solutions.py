"""Reading a proposed solution out of a completion (hostile text).

The completion gives its solution in a closed fenced block tagged ``json``::

    ```json
    {"solution": [0, 3, 1, 2], "fitness": 2.83}
    ```

The block holds the solution itself (a list, or a string for an expression) or an object with
``solution`` (aliases: ``tour``, ``bits``, ``x``, ``expression``) and an optional claimed ``fitness``.
Several blocks that say different things are ``ambiguous`` (a hedge is not an answer); repeated
identical blocks count once.  A block over ``max_chars`` is ``oversize`` without being parsed; JSON
that does not parse (or nests too deep, or holds a number too long) is ``malformed``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

_BLOCK = re.compile(r"```[ \t]*json[ \t]*\n(?P<body>.*?)\n[ \t]*```", re.DOTALL | re.IGNORECASE)
_ALIASES = ("solution", "tour", "bits", "x", "expression")


@dataclass
class Proposal:
    status: str  # "ok" | "no_solution" | "ambiguous" | "oversize" | "malformed"
    solution: Any = None
    claimed: float | None = None
    claimed_raw: Any = None
    message: str = ""


def extract(completion: str, max_chars: int) -> Proposal:
    bodies: list[str] = []
    for m in _BLOCK.finditer(completion):
        body = m.group("body").strip()
        if body not in bodies:
            bodies.append(body)
    if not bodies:
        return Proposal("no_solution", message="no closed ```json block with a solution")
    if len(bodies) > 1:
        return Proposal("ambiguous", message=f"{len(bodies)} different ```json blocks: one solution is expected")
    body = bodies[0]
    if len(body) > max_chars:
        return Proposal("oversize", message=f"the solution block has {len(body)} characters (at most {max_chars})")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        return Proposal("malformed", message=f"the ```json block does not parse: {str(exc)[:120]}")
    claimed_raw = None
    if isinstance(data, dict):
        keys = [k for k in _ALIASES if k in data]
        if len(keys) != 1:
            return Proposal("malformed", message=f"the object must have one of the keys {', '.join(_ALIASES)}")
        claimed_raw = data.get("fitness")
        data = data[keys[0]]
    claimed = None
    if claimed_raw is not None:
        if isinstance(claimed_raw, bool) or not isinstance(claimed_raw, int | float) or not math.isfinite(float(claimed_raw)):
            return Proposal("malformed", claimed_raw=str(claimed_raw)[:40], message="the claimed fitness must be a finite number")
        claimed = float(claimed_raw)
    return Proposal("ok", data, claimed, claimed_raw)
