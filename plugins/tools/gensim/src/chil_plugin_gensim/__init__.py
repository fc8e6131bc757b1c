"""chil-plugin-gensim: the ``embedding:gensim`` backend (word2vec / fastText trained on a user corpus
by ``chil index``) and the ``topic_model:lda`` backend (LDA topics trained by ``chil topics``).
Light entry point: gensim and numpy load in ``Tool.start``, when a model is trained, or when the
``chil topics`` command runs."""

from chil_core import hookimpl
from chil_plugin_gensim.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_gensim.tool import GensimEmbedding
    from chil_plugin_gensim.topics import LdaTopics

    register(GensimEmbedding)
    register(LdaTopics)


@hookimpl
def chil_register_commands(cli):  # type: ignore[no-untyped-def]
    from chil_plugin_gensim.command import topics_command

    cli.add_command(topics_command)
