"""chil-plugin-stereotype: the ``weat`` stereotype backend and the ``chil fit-stereotype`` command.

Light entry point: numpy, the embedding backend and scikit-learn load when used.
"""

from chil_core import hookimpl
from chil_plugin_stereotype.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):
    from chil_plugin_stereotype.tool import WeatStereotype

    register(WeatStereotype)


@hookimpl
def chil_register_commands(cli):
    from chil_plugin_stereotype.fit import register_command

    register_command(cli)
