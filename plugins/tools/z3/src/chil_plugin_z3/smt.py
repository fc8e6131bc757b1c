"""``Z3Smt``: the ``smt`` capability backed by Z3.

Ops:

- ``fol``: first-order entailment (premises, claims) → verdicts with unsat cores; see
  :mod:`chil_plugin_z3.fol` for the payload and the answer.
- ``arith``: symbolic/inequality arithmetic checks for the empirical framework; the work is done by
  :func:`chil_plugin_z3.arith.check_arith` (imported on first use).
"""

from __future__ import annotations

from typing import Any, ClassVar

from chil_core import ToolCall, ToolResult
from chil_plugin_z3.base import Z3Tool


class Z3Smt(Z3Tool):
    """Z3 as the ``smt`` backend: FOL entailment (op ``fol``) and arithmetic (op ``arith``)."""

    name: ClassVar[str] = "z3"
    capability: ClassVar[str] = "smt"
    description: ClassVar[str] = "Z3: first-order entailment with unsat cores (fol), arithmetic checks (arith)."
    ops: ClassVar[frozenset[str]] = frozenset({"fol", "arith"})
    max_batch: ClassVar[int] = 64
    priority: ClassVar[int] = 10

    def run_batch(self, calls: list[ToolCall]) -> list[ToolResult | Any]:
        from chil_plugin_z3.fol import decide_fol

        out: list[ToolResult | Any] = []
        for call in calls:
            try:
                if call.op == "fol":
                    out.append(decide_fol(self, call.payload))
                elif call.op == "arith":
                    from chil_plugin_z3.arith import check_arith

                    out.append(check_arith(call.payload))
                else:
                    out.append(ToolResult.failure(f"z3 smt has no op {call.op!r}; ops: arith, fol"))
            except Exception as exc:  # noqa: BLE001 - one bad call is a status, not a failed batch
                out.append(self.failure(exc))
        return out
