"""The ``theorem_prover`` capability: check a proof snippet with a real prover (Lean 4 today).

Op ``check``::

    payload = {"code": "theorem t : 1 + 1 = 2 := by decide"}
    value   = {"valid": bool, "sorry": bool, "exit_code": int, "messages": "..."}

``valid`` is true only when the prover accepts the snippet with no error and no ``sorry``/``admit``.  A
snippet a backend refuses to run (a denied construct, an import outside its allow-list) is answered
``valid: false`` with ``exit_code`` :data:`REFUSED` and the reason in ``messages``: the completion wrote
it, so it is judged, not masked.  A payload that is not a non-empty string is an ``error`` result; a
prover that runs past its time limit is a ``timeout`` result; a missing prover binary is
``unavailable`` (Lean cannot be installed everywhere: backends detect and report it).
"""

from __future__ import annotations

import re
from typing import Any

OPS = frozenset({"check"})
REFUSED = -1
MAX_MESSAGES = 2_000
SORRY = re.compile(r"\bsorry\b|\badmit\b")


class ProverPayloadError(ValueError):
    """A malformed ``check`` payload; the message names the field."""


def parse_check(payload: Any) -> str:
    """The snippet of a ``check`` payload; :class:`ProverPayloadError` when it is not a non-empty string.
    (An over-long snippet is the completion's doing: a backend answers it with :func:`refused`.)"""
    code = payload.get("code") if isinstance(payload, dict) else None
    if not isinstance(code, str) or not code.strip():
        raise ProverPayloadError("payload.code: must be a non-empty string")
    return code


def verdict(*, valid: bool, sorry: bool, exit_code: int, messages: str) -> dict[str, Any]:
    """The ``check`` value (messages keep their last :data:`MAX_MESSAGES` characters)."""
    return {"valid": bool(valid and not sorry), "sorry": sorry, "exit_code": exit_code, "messages": messages[-MAX_MESSAGES:]}


def refused(reason: str) -> dict[str, Any]:
    """The ``check`` value for a snippet the backend would not run."""
    return verdict(valid=False, sorry=False, exit_code=REFUSED, messages=reason)
