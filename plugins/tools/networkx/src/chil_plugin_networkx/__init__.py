"""chil-plugin-networkx: the ``graph`` backend.  Light entry point: networkx loads in ``start``."""

from chil_core import hookimpl
from chil_plugin_networkx.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):
    from chil_plugin_networkx.tool import NetworkXGraph

    register(NetworkXGraph)
