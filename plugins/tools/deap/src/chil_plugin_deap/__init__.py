"""chil-plugin-deap: the ``optimizer`` backend ``deap`` (DEAP genetic algorithms).  Light entry point:
DEAP is imported when the tool starts."""

from chil_core import hookimpl


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_deap.tool import DeapOptimizer

    register(DeapOptimizer)
