"""chil-plugin-cma: the ``optimizer`` backend ``cma`` (CMA-ES, Hansen's cma package).  Light entry
point: cma is imported when the tool starts."""

from chil_core import hookimpl
from chil_plugin_cma.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_cma.tool import CmaOptimizer

    register(CmaOptimizer)
