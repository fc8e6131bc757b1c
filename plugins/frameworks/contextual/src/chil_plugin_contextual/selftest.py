"""``chil doctor``'s self-test cases for the contextual framework: right completions that must score, mutated
ones that must not be paid, hostile ones that must come back typed and unpaid."""


from chil_core import hookimpl


@hookimpl
def chil_self_tests():  # type: ignore[no-untyped-def]
    from chil_core.selftest import SelfTest

    c = "contextual"
    passage = "saxony, an area in Germany around the upper Elbe river; the original home of the Saxons"
    context = ["yes , that's my only day off until Thursday .",
               "my friends and I are planning on going to the beach on Sunday . Do you want to come with us ?"]

    def rec(completion: str, **metadata: object) -> dict:
        return {"prompt": "Answer the request.", "completion": completion, "metadata": metadata}

    return [
        SelfTest.framework(c, "tone asked for", "gold", rec("A wonderful, moving film. I loved it.", tone="positive"), min_score=0.5),
        SelfTest.framework(c, "grounded in the passage", "gold", rec("Saxony is an area in Germany around the upper Elbe river.", passage=passage),
                           min_score=1.0),
        SelfTest.framework(c, "relevant to the dialogue", "gold", rec("Sure, I would love to come to the beach on Sunday.", context=context),
                           min_score=0.5),
        SelfTest.framework(c, "wrong tone", "negative", rec("A boring, terrible film.", tone="positive"), max_score=0.5),
        SelfTest.framework(c, "facts not in the passage", "negative", rec("Saxony is an area in France, home to 3 million people.", passage=passage),
                           max_score=0.5),  # grounding pays the share of checked items found (here 1 of 3)
        SelfTest.framework(c, "empty answer", "hostile", rec("", tone="positive")),
        SelfTest.framework(c, "the passage copied back", "hostile", rec("Answer the request.", passage=passage)),
        SelfTest.framework(c, "control characters", "hostile", rec("\x00\x1b[2J\x07" * 50, context=context), max_score=0.05),  # relevance is a similarity: near 0, not 0
    ]
