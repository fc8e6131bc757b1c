"""chil-plugin-networkx: the ``graph`` backend.  Light entry point: networkx loads in ``start``."""

from chil_core import hookimpl


@hookimpl
def chil_register_tools(register):
    from chil_plugin_networkx.tool import NetworkXGraph

    register(NetworkXGraph)
