"""The controlled-English reader: sentence forms, negation, relations, what is (not) a claim."""

from __future__ import annotations

import pytest
from chil_plugin_consistency.english import parse_claims, parse_sentence, parse_theory, singular, verb_base

from chil_core.capabilities.logic_program import Literal, Rule

X = "?x"


def lit(pred: str, *args: str, neg: bool = False) -> Literal:
    return Literal(pred, tuple(args), neg)


@pytest.mark.parametrize(
    ("sentence", "facts"),
    [
        ("Bob is cold.", [lit("cold", "bob")]),
        ("Bob is not big.", [lit("big", "bob", neg=True)]),
        ("Max is a yumpus.", [lit("yumpus", "max")]),
        ("The cat chases the dog.", [lit("chase", "cat", "dog")]),
        ("The bald eagle does not eat the bear.", [lit("eat", "bald_eagle", "bear", neg=True)]),
        ("Bob is big and not red.", [lit("big", "bob"), lit("red", "bob", neg=True)]),
    ],
)
def test_facts(sentence: str, facts: list[Literal]) -> None:
    assert parse_sentence(sentence) == (tuple(facts), ())


@pytest.mark.parametrize(
    ("sentence", "body", "head"),
    [
        ("All quiet things are rough.", [lit("quiet", X)], lit("rough", X)),
        ("If something is kind and rough then it is red.", [lit("kind", X), lit("rough", X)], lit("red", X)),
        ("Red, cold things are round.", [lit("red", X), lit("cold", X)], lit("round", X)),
        ("If Dave is smart and Dave is kind then Dave is quiet.", [lit("smart", "dave"), lit("kind", "dave")], lit("quiet", "dave")),
        ("If something is not red then it is big.", [lit("red", X, neg=True)], lit("big", X)),
        ("If something chases the cat then it visits the bear.", [lit("chase", X, "cat")], lit("visit", X, "bear")),
        ("If someone is cold and not big then they are nice.", [lit("cold", X), lit("big", X, neg=True)], lit("nice", X)),
        ("If someone chases the cat then they do not chase the dog.", [lit("chase", X, "cat")], lit("chase", X, "dog", neg=True)),
        ("All red, cold people are not big.", [lit("red", X), lit("cold", X)], lit("big", X, neg=True)),
        ("Jompuses are not shy.", [lit("jompus", X)], lit("shy", X, neg=True)),
        ("Every tumpus is not angry.", [lit("tumpus", X)], lit("angry", X, neg=True)),
        ("Each zumpus is a vumpus.", [lit("zumpus", X)], lit("vumpus", X)),
        ("Rompuses are not luminous.", [lit("rompus", X)], lit("luminous", X, neg=True)),
        ("No cats are dogs.", [lit("cat", X)], lit("dog", X, neg=True)),
        ("If something is big and chases the dog then the dog is red.", [lit("big", X), lit("chase", X, "dog")], lit("red", "dog")),
    ],
)
def test_rules(sentence: str, body: list[Literal], head: Literal) -> None:
    assert parse_sentence(sentence) == ((), (Rule(tuple(body), head),))


@pytest.mark.parametrize("sentence", [
    "Bob likes that.", "So the answer is yes.", "If Bob is big.", "Red things are.", "All are big.",
    "Bob big.", "Bob are big.", "If Bob is big then it is red.",
])
def test_outside_the_grammar_is_skipped_not_guessed(sentence: str) -> None:
    assert parse_sentence(sentence) is None


def test_one_variable_per_rule() -> None:
    assert parse_sentence("If something is big then someone is red.") == ((), (Rule((lit("big", X),), lit("red", X)),))


def test_word_forms() -> None:
    assert [singular(w) for w in ("jompuses", "butterflies", "cats", "luminous", "glass")] == [
        "jompus", "butterfly", "cat", "luminous", "glass"]
    assert [verb_base(w) for w in ("chases", "sees", "watches", "flies", "visits")] == [
        "chase", "see", "watch", "fly", "visit"]


def test_theory_stops_at_the_question() -> None:
    parsed = parse_theory("Bob is big. If something is big then it is red. "
                          "Based on the above information, is the following statement true, false, or unknown? Bob is red.")
    assert parsed.facts == [lit("big", "bob")] and len(parsed.rules) == 1
    assert parsed.question == "Bob is red."


def test_claims_split_on_discourse_words_and_skip_hypotheticals() -> None:
    claims = parse_claims("Bob is cold, so Bob is red. Since the cat is big, the cat chases the dog. "
                          "If Bob is nice then Dave is nice. Maybe Dave is blue. The answer is True. Is Erin big?")
    assert claims.facts == [lit("cold", "bob"), lit("red", "bob"), lit("big", "cat"), lit("chase", "cat", "dog")]


def test_a_sentence_read_before_reads_the_same_and_its_claims_are_a_copy() -> None:
    """Claims are read once a sentence (``claim_parts``, memoised): a second completion that repeats a
    sentence gets the same claims and skips, as new lists, so that changing one reading (a caller
    appending to its statements) changes no later one."""
    text = "Bob is cold, so Bob is red. Maybe Dave is blue. Bob is cold."
    first = parse_claims(text)
    assert first.facts == [lit("cold", "bob"), lit("red", "bob"), lit("cold", "bob")]
    assert first.skipped == ["Maybe Dave is blue."]
    first.facts.append(lit("big", "erin"))
    first.statements[0][1].append(lit("big", "erin"))
    first.skipped.append("changed")
    again = parse_claims(text)
    assert again.facts == [lit("cold", "bob"), lit("red", "bob"), lit("cold", "bob")]
    assert again.statements == [("Bob is cold", [lit("cold", "bob")]), ("Bob is red.", [lit("red", "bob")]),
                                ("Bob is cold.", [lit("cold", "bob")])]
    assert again.skipped == ["Maybe Dave is blue."]


def test_every_proofwriter_and_prontoqa_sentence_parses(proofwriter: list[dict], prontoqa: list[dict]) -> None:
    for row in [*proofwriter, *prontoqa]:
        parsed = parse_theory(row["context"] + " " + row["question"])
        assert parsed.skipped == [], (row["id"], parsed.skipped)
        assert len(parse_claims(parsed.question or "").facts) == 1, row["id"]


def _sentences(proofwriter: list[dict], prontoqa: list[dict]) -> set[str]:
    from chil_plugin_consistency.english import _DISCOURSE, sentences

    out: set[str] = set()
    for row in [*proofwriter, *prontoqa]:
        for text in (row["context"], row["question"], row.get("explanation") or ""):
            for s in sentences(text if isinstance(text, str) else " ".join(text)):
                out.add(s)
                out.update(p.strip(" ,") for p in _DISCOURSE.split(s) if p.strip(" ,"))
    return out


def test_the_copular_shortcut_reads_what_the_grammar_reads(proofwriter: list[dict], prontoqa: list[dict]) -> None:
    """``_copular`` (the fast path for ``S is W`` / ``every N is W`` / ``Ns are W``) gives exactly the
    grammar's reading wherever it gives one: on every dev sentence, on 30,000 random word
    sequences and on 30,000 sentences of its shapes over words chosen to hit its edges (names, plurals,
    kinds, pronouns, function words, articles)."""
    import random

    from chil_plugin_consistency.english import _copular, _grammar, _Tokens

    texts = sorted(_sentences(proofwriter, prontoqa))
    vocab = ["Bob", "bob", "Every", "each", "All", "any", "No", "Tumpuses", "tumpus", "Jompuses", "rompus", "cats",
             "cat", "people", "things", "thing", "person", "It", "they", "Something", "the", "The", "glass", "buses",
             "butterflies", "is", "are", "is", "are", "not", "not", "a", "an", "A", "red", "furious", "impuses",
             "does", "and", ",", "if", "then", "chases", "o'brien", "big-ish", "answer", "Dave"]
    rng = random.Random(19)
    for _ in range(30_000):
        texts.append(" ".join(rng.choice(vocab) for _ in range(rng.randint(3, 6))) + ".")
    for _ in range(30_000):  # the shapes it reads, over the same words 
        words = [rng.choice(["", "every", "Each", "all", "any", "no"]), rng.choice(vocab), rng.choice(["is", "are"]),
                 rng.choice(["", "not"]), rng.choice(["", "a", "an"]), rng.choice(vocab)]
        texts.append(" ".join(w for w in words if w) + ".")
    read = differ = 0
    for text in texts:
        t = _Tokens.of(text)
        if not len(t.words):
            continue
        fast = _copular(t.words)
        if fast is None:
            continue
        read += 1
        if fast != _grammar(t):
            differ += 1
            assert fast == _grammar(t), text
    assert differ == 0
    assert read > 4_000  # it is the path most sentences take (every ProntoQA one)
    for text in ("Every tumpus is not angry.", "Tumpuses are rompuses.", "Each impus is a dumpus.", "Max is not a yumpus."):
        assert _copular(_Tokens.of(text).words) is not None, text
