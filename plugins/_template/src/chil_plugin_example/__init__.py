"""Entry point of the example plugin.  Keep it light: import component classes inside the hooks,
and heavy libraries only inside the components (``Tool.start``, or lazily)."""

from chil_core import hookimpl


@hookimpl
def chil_register_frameworks(register):
    from chil_plugin_example.framework import ExampleFramework

    register(ExampleFramework)


@hookimpl
def chil_register_tools(register):
    from chil_plugin_example.tool import ExampleTool

    register(ExampleTool)
