"""chil-plugin-stereotype: the ``weat`` stereotype backend and the ``chil fit-stereotype`` command.

Light entry point: numpy, the embedding backend and scikit-learn load when used.
"""

from chil_core import hookimpl


@hookimpl
def chil_register_tools(register):
    from chil_plugin_stereotype.tool import WeatStereotype

    register(WeatStereotype)


@hookimpl
def chil_register_commands(cli):
    from chil_plugin_stereotype.fit import register_command

    register_command(cli)
