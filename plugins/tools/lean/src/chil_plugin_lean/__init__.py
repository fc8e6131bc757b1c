"""chil-plugin-lean: the Lean 4 ``theorem_prover`` backend (needs a ``lean`` binary on PATH)."""

from chil_core import hookimpl


@hookimpl
def chil_register_tools(register):
    from chil_plugin_lean.prover import LeanProver

    register(LeanProver)
