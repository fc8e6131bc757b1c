"""chil-plugin-ortools: the ``solver`` backend ``ortools`` (GLOP, SCIP, CP-SAT through pywraplp).  Light
entry point: OR-Tools is imported when the tool starts."""

from chil_core import hookimpl


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_ortools.tool import OrToolsSolver

    register(OrToolsSolver)
