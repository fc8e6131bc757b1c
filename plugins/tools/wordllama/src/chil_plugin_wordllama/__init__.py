"""chil-plugin-wordllama: the ``embedding:wordllama`` backend.  Light entry point: wordllama and numpy
load in ``Tool.start``."""

from chil_core import hookimpl
from chil_plugin_wordllama.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_wordllama.tool import WordLlamaEmbedding

    register(WordLlamaEmbedding)
