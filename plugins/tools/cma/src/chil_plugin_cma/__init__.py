"""chil-plugin-cma: the ``optimizer`` backend ``cma`` (CMA-ES, Hansen's cma package).  Light entry
point: cma is imported when the tool starts."""

from chil_core import hookimpl


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_cma.tool import CmaOptimizer

    register(CmaOptimizer)
