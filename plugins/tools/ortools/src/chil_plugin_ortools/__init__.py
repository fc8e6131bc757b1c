"""chil-plugin-ortools: the ``solver`` backend ``ortools`` (GLOP, SCIP, CP-SAT through pywraplp).  Light
entry point: OR-Tools is imported when the tool starts."""

from chil_core import hookimpl
from chil_plugin_ortools.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_ortools.tool import OrToolsSolver

    register(OrToolsSolver)
