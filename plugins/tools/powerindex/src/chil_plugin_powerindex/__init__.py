"""chil-plugin-powerindex: the ``voting`` backend (exact power indices by dynamic programming)."""

from chil_core import hookimpl


@hookimpl
def chil_register_tools(register):
    from chil_plugin_powerindex.tool import PowerIndexTool

    register(PowerIndexTool)
