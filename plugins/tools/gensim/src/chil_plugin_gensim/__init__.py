"""chil-plugin-gensim: the ``embedding:gensim`` backend (word2vec / fastText trained on a user corpus
by ``chil index``).  Light entry point: gensim and numpy load in ``Tool.start`` or when a model is trained."""

from chil_core import hookimpl
from chil_plugin_gensim.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_gensim.tool import GensimEmbedding

    register(GensimEmbedding)
