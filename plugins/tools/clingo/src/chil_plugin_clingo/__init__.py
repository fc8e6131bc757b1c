"""chil-plugin-clingo: Datalog ``logic_program`` backends, clingo and Soufflé (when its binary is on
PATH).  Light entry point: clingo is imported when the tool starts."""

from chil_core import hookimpl
from chil_plugin_clingo.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_clingo.clingo_tool import ClingoLogic
    from chil_plugin_clingo.souffle_tool import SouffleLogic

    register(ClingoLogic)
    register(SouffleLogic)
