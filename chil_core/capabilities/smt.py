"""The ``smt`` capability: its two ops, their payloads and answers, and the FOL text → AST parser.

Every ``smt`` backend (Z3 today) answers the shapes below; every framework builds its payloads with
the helpers here, so neither depends on the other.

Op ``fol``: first-order entailment::

    payload = {"premises": [FOL, ...], "claims": [FOL, ...], "joint": bool}
    value   = {"premises_consistent": true | false | null,
               "premise_core": [i, ...],                    # when the premises contradict each other
               "claims": [{"verdict": VERDICT, "core": [i, ...]}, ...],   # one per claim; [] when inconsistent
               "conflicts": [[j, k, ...], ...]}             # with joint: undetermined claims jointly
                                                            # inconsistent with the premises
    FOL  = ["atom", name, [TERM, ...]] | ["eq", TERM, TERM] | ["true"] | ["false"]
         | ["not", FOL] | ["and", [FOL, ...]] | ["or", [FOL, ...]]
         | ["xor", FOL, FOL] | ["implies", FOL, FOL] | ["iff", FOL, FOL]
         | ["forall", [var, ...], FOL] | ["exists", [var, ...], FOL]
    TERM = ["var", name] | ["const", name] | ["fn", name, [TERM, ...]]

A claim is *entailed* when premises ∧ ¬claim is unsat, *contradicted* when premises ∧ claim is unsat,
*undetermined* when both are satisfiable, *unknown* when the backend cannot decide.  Cores index the
premises.  :func:`parse_fol` builds the AST from FOLIO's notation (below).

Op ``arith``: symbolic arithmetic and inequalities::

    payload = {"premises": [REL, ...], "claim": REL, "timeout_ms": 1000}    # timeout optional, 1..10000
    value   = {"verdict": VERDICT, "reason": "..."}
    REL  = [OP, ATERM, ATERM]       # OP: "=", "<", ">", "≤"/"<=", "≥"/">=", "≠"/"!="
    ATERM = ["num", "3/4" | "-12" | "0.25"] | ["var", "x"] | ["neg", ATERM]
          | ["+" | "-" | "*" | "/" | "//" | "^", ATERM, ATERM]   # "^": integer constant exponent, |n| <= 16

Every variable is a real and every divisor is assumed non-zero.  At most :data:`ARITH_MAX_PREMISES`
premises and :data:`ARITH_MAX_NODES` term nodes; a malformed payload is an ``error`` result naming the
field, a solver timeout a ``timeout`` result.

FOL text notation (the parser): ``∀x`` ``∃x`` (also ``forall x`` / ``exists x``, several variables ``∀x ∀y`` or ``∀x, y``,
an optional ``.`` after them), ``¬`` (``~`` ``!``), ``∧`` (``&`` ``^``), ``∨`` (``|``), ``⊕`` (xor),
``→`` (``->`` ``=>``), ``↔`` (``<->`` ``<=>``), ``=`` and ``≠`` between terms, predicates
``Name(t1, ..., tn)``, zero-arity propositions ``Rain``, function terms ``f(x)``.

Precedence, tightest first: ``¬`` > ``∧`` > ``∨``/``⊕`` (left to right) > ``→`` (right-assoc) > ``↔``.
A quantifier's scope reaches as far right as possible (``∀x Dog(x) → Animal(x)`` is
``∀x (Dog(x) → Animal(x))``), which is what FOLIO's unparenthesised formulas mean.

An identifier in a term is a variable when a quantifier around it binds it; otherwise it is a
constant, except the conventional variable letters ``u v w x y z`` on their own, which are free
variables and get a universal closure (noted).  FOLIO's quirks are handled and noted in
:attr:`ParsedFormula.notes`: unbalanced parentheses (missing ``(`` are added at the start, missing
``)`` at the end), spaces before argument lists (``Mammal (x)``), identifiers with ``’ - . +``
(``Companies’Stocks``, ``Non-rare``, ``mr.smith``, ``c++``), a trailing full stop.

AST nodes are lists, so they hash into cache keys and cross process boundaries as JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

Ast = list[Any]

#: the answers of both ops.
VERDICTS = ("entailed", "contradicted", "undetermined", "unknown")
#: bounds of the ``arith`` op (a backend rejects larger payloads with an ``error`` result).
ARITH_MAX_PREMISES = 64
ARITH_MAX_NODES = 2_000
ARITH_MAX_DEPTH = 100
ARITH_MAX_POWER = 16
ARITH_DEFAULT_TIMEOUT_MS = 1_000
ARITH_MAX_TIMEOUT_MS = 10_000


#: bounds on hostile input: longer text / more tokens / deeper nesting is a parse error, not a hang.
MAX_CHARS = 20_000
MAX_TOKENS = 4_000
MAX_DEPTH = 150
#: longest name (predicate, constant, variable): the smt backend refuses longer ones.
MAX_NAME_CHARS = 200
FREE_VARIABLE = re.compile(r"[u-z]")

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<forall>∀|\bforall\b)
  | (?P<exists>∃|\bexists\b)
  | (?P<iff>↔|⟷|<->|<=>)
  | (?P<implies>→|⟶|->|=>)
  | (?P<neq>≠|!=)
  | (?P<and>∧|&|\^)
  | (?P<or>∨|\|)
  | (?P<xor>⊕|⊻)
  | (?P<not>¬|~|!)
  | (?P<eq>=)
  | (?P<lp>\()
  | (?P<rp>\))
  | (?P<comma>,)
  | (?P<dot>\.)
  | (?P<ident>\w(?:[\w’']|[-.](?=\w)|\+)*)
    """,
    re.VERBOSE,
)

_SYMBOL = {"lp": "'('", "rp": "')'", "comma": "','", "dot": "'.'", "eq": "'='", "neq": "'≠'", "not": "'¬'",
           "and": "'∧'", "or": "'∨'", "xor": "'⊕'", "implies": "'→'", "iff": "'↔'", "forall": "'∀'",
           "exists": "'∃'", "end": "end of formula"}


class FolSyntaxError(ValueError):
    """A formula that cannot be parsed; ``column`` is 1-based in the text as given."""

    def __init__(self, message: str, text: str, column: int | None = None) -> None:
        self.reason = message
        self.text = text
        self.column = column
        where = f" at column {column}" if column is not None else ""
        snippet = text if len(text) <= 80 else text[:77] + "..."
        super().__init__(f"{message}{where} in {snippet!r}")


@dataclass(frozen=True, slots=True)
class ParsedFormula:
    """A parsed formula: the AST and the repairs/assumptions made on the way."""

    text: str
    ast: Ast
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    value: str
    pos: int  # 0-based offset in the text, -1 for tokens added by a repair


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    n = len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None:
            raise FolSyntaxError(f"unexpected character {text[pos]!r}", text, pos + 1)
        kind = m.lastgroup
        assert kind is not None
        if kind == "ident" and m.end() - pos > MAX_NAME_CHARS:
            raise FolSyntaxError(f"a name longer than {MAX_NAME_CHARS} characters", text, pos + 1)
        if kind != "ws":
            toks.append(_Tok(kind, m.group(), pos))
            if len(toks) > MAX_TOKENS:
                raise FolSyntaxError(f"formula has more than {MAX_TOKENS} tokens", text)
        pos = m.end()
    while toks and toks[-1].kind == "dot":  # "... Giant(gpt-3))." : a sentence's full stop
        toks.pop()
    return toks


def _balance(toks: list[_Tok]) -> tuple[list[_Tok], list[str]]:
    """Add the parentheses FOLIO's formulas sometimes miss: '(' at the start, ')' at the end."""
    depth = lowest = 0
    for t in toks:
        if t.kind == "lp":
            depth += 1
        elif t.kind == "rp":
            depth -= 1
            lowest = min(lowest, depth)
    notes: list[str] = []
    opens, closes = -lowest, depth - lowest
    if opens:
        notes.append(f"unbalanced parentheses: added {opens} '(' at the start")
    if closes:
        notes.append(f"unbalanced parentheses: added {closes} ')' at the end")
    if opens or closes:
        toks = [_Tok("lp", "(", -1)] * opens + toks + [_Tok("rp", ")", -1)] * closes
    return toks, notes


class _Parser:
    def __init__(self, text: str, toks: list[_Tok]) -> None:
        self.text = text
        self.toks = toks
        self.i = 0
        self.bound: list[str] = []
        self.free: list[str] = []
        self.notes: list[str] = []
        self.depth = 0

    # -- helpers -------------------------------------------------------------------------------
    def peek(self, ahead: int = 0) -> str:
        j = self.i + ahead
        return self.toks[j].kind if j < len(self.toks) else "end"

    def error(self, message: str) -> FolSyntaxError:
        tok = self.toks[self.i] if self.i < len(self.toks) else None
        if tok is None:  # ran out of formula: the problem is at its end
            column: int | None = len(self.text.rstrip().rstrip(".")) + 1
        else:
            column = tok.pos + 1 if tok.pos >= 0 else None
        found = f"{tok.value!r}" if tok is not None else "end of formula"
        return FolSyntaxError(f"{message}, found {found}", self.text, column)

    def expect(self, kind: str, what: str) -> _Tok:
        if self.peek() != kind:
            raise self.error(f"expected {what}")
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FolSyntaxError(f"formula nested deeper than {MAX_DEPTH} levels", self.text)

    # -- grammar -------------------------------------------------------------------------------
    def formula(self) -> Ast:
        self.enter()
        left = self.implication()
        while self.peek() == "iff":
            self.i += 1
            left = ["iff", left, self.implication()]
        self.depth -= 1
        return left

    def implication(self) -> Ast:
        left = self.disjunction()
        if self.peek() == "implies":
            self.i += 1
            self.enter()
            right = self.implication()
            self.depth -= 1
            return ["implies", left, right]
        return left

    def disjunction(self) -> Ast:
        left = self.conjunction()
        while self.peek() in ("or", "xor"):
            op = self.peek()
            self.i += 1
            right = self.conjunction()
            if op == "xor":
                left = ["xor", left, right]
            elif left[0] == "or":
                left[1].append(right)
            else:
                left = ["or", [left, right]]
        return left

    def conjunction(self) -> Ast:
        left = self.unary()
        while self.peek() == "and":
            self.i += 1
            right = self.unary()
            if left[0] == "and":
                left[1].append(right)
            else:
                left = ["and", [left, right]]
        return left

    def unary(self) -> Ast:
        kind = self.peek()
        if kind == "not":
            self.i += 1
            self.enter()
            inner = self.unary()
            self.depth -= 1
            return ["not", inner]
        if kind in ("forall", "exists"):
            return self.quantified(kind)
        if kind == "lp":
            self.i += 1
            inner = self.formula()
            self.expect("rp", "')'")
            return inner
        if kind == "ident":
            return self.atom()
        raise self.error("expected a formula")

    def quantified(self, kind: str) -> Ast:
        self.i += 1
        names = [self.expect("ident", "a variable after the quantifier").value]
        # "∀x, y" and "∀x ∀y" make one node; "∀x ∃y" nests.
        while self.peek() in ("comma", kind) and self.peek(1) == "ident":
            self.i += 1
            names.append(self.expect("ident", "a variable").value)
        if self.peek() == "dot":
            self.i += 1
        self.bound.extend(names)
        self.enter()
        body = self.formula()  # widest scope
        self.depth -= 1
        del self.bound[len(self.bound) - len(names):]
        return [kind, names, body]

    def atom(self) -> Ast:
        name = self.toks[self.i].value
        if self.peek(1) == "lp":
            self.i += 2
            args = self.terms()
            self.expect("rp", "')' after the arguments")
            if self.peek() in ("eq", "neq"):
                return self.equation(["fn", name, args])
            return ["atom", name, args]
        if self.peek(1) in ("eq", "neq"):
            self.i += 1
            return self.equation(self.name_term(name))
        self.i += 1
        if name in ("True", "⊤"):
            return ["true"]
        if name in ("False", "⊥"):
            return ["false"]
        return ["atom", name, []]

    def equation(self, left: Ast) -> Ast:
        op = self.peek()
        self.i += 1
        node = ["eq", left, self.term()]
        return ["not", node] if op == "neq" else node

    def terms(self) -> list[Ast]:
        out = [self.term()]
        while self.peek() == "comma":
            self.i += 1
            out.append(self.term())
        return out

    def term(self) -> Ast:
        tok = self.expect("ident", "a term (a constant or a variable)")
        if self.peek() == "ident":  # "captain america": a constant written with spaces
            words = [tok.value]
            while self.peek() == "ident":
                words.append(self.toks[self.i].value)
                self.i += 1
            if self.peek() not in ("comma", "rp"):
                raise self.error("expected ',' or ')' after a term")
            name = "_".join(words)
            self.notes.append(f"constant written with spaces read as {name!r}")
            return self.name_term(name)
        if self.peek() == "lp":
            self.i += 1
            self.enter()
            args = self.terms()
            self.depth -= 1
            self.expect("rp", "')' after the function arguments")
            return ["fn", tok.value, args]
        return self.name_term(tok.value)

    def name_term(self, name: str) -> Ast:
        if name in self.bound:
            return ["var", name]
        if FREE_VARIABLE.fullmatch(name):
            if name not in self.free:
                self.free.append(name)
            return ["var", name]
        return ["const", name]


def parse_fol(text: str, repair: bool = True) -> ParsedFormula:
    """Parse one formula; raises :class:`FolSyntaxError` with the column of the problem.

    ``repair=True`` (premises from the data) adds the parentheses FOLIO's formulas miss, noted;
    ``repair=False`` (a completion's claims) makes unbalanced parentheses a parse error: a model's
    formula is judged as written.  Memoised (premises repeat across the completions of a group):
    treat the AST as read-only."""
    if not isinstance(text, str):
        raise FolSyntaxError(f"a formula must be a string, got {type(text).__name__}", repr(text)[:80])
    return _parse_cached(text, repair)


@lru_cache(maxsize=1 << 14)
def _parse_cached(text: str, repair: bool = True) -> ParsedFormula:
    if len(text) > MAX_CHARS:
        raise FolSyntaxError(f"formula longer than {MAX_CHARS} characters", text[:80])
    toks = _tokenize(text)
    if not toks:
        raise FolSyntaxError("empty formula", text)
    if repair:
        toks, notes = _balance(toks)
    else:
        notes = []
    parser = _Parser(text, toks)
    ast = parser.formula()
    if parser.i != len(toks):
        raise parser.error("unexpected token after a complete formula")
    notes.extend(parser.notes)
    if parser.free:
        ast = ["forall", list(parser.free), ast]
        notes.append(f"free variable(s) {', '.join(parser.free)} closed universally")
    return ParsedFormula(text, ast, tuple(notes))


def split_formulas(block: str) -> list[str]:
    """The formulas of a ```fol block: one per line (``;`` also separates); ``#``/``%`` comments dropped."""
    out: list[str] = []
    for line in block.splitlines():
        line = re.split(r"\s(?:#|%|//)|^(?:#|%|//)", line, maxsplit=1)[0]
        out.extend(part.strip() for part in line.split(";") if part.strip())
    return out


def symbols(ast: Ast) -> set[str]:
    """Predicate, function and constant names in a formula (for the episode-memory index)."""
    out: set[str] = set()
    stack: list[Any] = [ast]
    while stack:
        node = stack.pop()
        if not isinstance(node, list) or not node:
            continue
        tag = node[0]
        if tag in ("atom", "fn"):
            out.add(node[1])
            stack.extend(node[2])
        elif tag == "const":
            out.add(node[1])
        elif tag in ("and", "or"):
            stack.extend(node[1])
        elif tag in ("forall", "exists"):
            stack.append(node[2])
        else:
            stack.extend(x for x in node[1:] if isinstance(x, list))
    return out
