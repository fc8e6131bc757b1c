"""Exact, bounded arithmetic over text as people write it.

``tokenize`` turns a line into tokens; :class:`Parser` reads arithmetic expressions and relation chains
(``48/2 = 24``, ``0.2 x 50 = $10``, ``20% of 50 = 10``, ``5 hours * 60 = 300``, ``2x + 3 = 7``) into small
tuple ASTs; :func:`evaluate` computes a numeric AST exactly with :class:`fractions.Fraction` under
:class:`Limits`, so that ``9**9**9`` or a 10,000-digit literal raises :class:`Unverifiable` at once
instead of hanging or eating memory.  Nothing is ever ``eval``-ed.

AST nodes (tuples, cheap to build):

* ``("n", value: Fraction, text: str, decimals: int, scale: Fraction)``: a literal as written
  (``decimals`` after the point, ``scale`` 1/100 for a percentage);
* ``("v", name)``: a variable;
* ``("neg", a)``, ``("!", a)`` (factorial, of a number or a parenthesised expression), and binary
  ``("+" | "-" | "*" | "/" | "^", a, b)``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

ONE = Fraction(1)
HUNDREDTH = Fraction(1, 100)


class Unverifiable(Exception):
    """The expression cannot be checked within the limits (too large, irrational...)."""


class Undefined(Exception):
    """The expression has no value (division by zero): a statement using it is wrong."""


@dataclass(frozen=True)
class Limits:
    """Bounds on the numbers the checker will compute with."""

    #: most digits in one written number (a 10,000-digit literal is unverifiable, not parsed).
    max_digits: int = 60
    #: most bits in the numerator or denominator of any intermediate value.
    max_bits: int = 4096
    #: largest absolute integer exponent of ``^`` / ``**`` / ``e``.
    max_exponent: int = 1000
    #: most operators in one expression and deepest nesting (parentheses, signs, powers).
    max_ops: int = 200
    max_depth: int = 40


DEFAULT_LIMITS = Limits()

# ---------------------------------------------------------------------------------------------
# Tokens: (kind, text, start, end, attached) where attached = no whitespace before the token.
# ---------------------------------------------------------------------------------------------
_TOKEN_RE = re.compile(
    r"""
    (?P<ws>[ \t\u00a0\u2009\u202f]+)
   |(?P<word>[A-Za-z]\d+(?![\d.,])|(?:lbs?|oz|ft|sq|hrs?|mins?|secs?|mi|yds?|qts?|pts?|gal|doz|pcs|approx)\.(?!\d)
             |[^\W\d_½⅓⅔¼¾⅛⅜⅝⅞]+(?:-[^\W\d_]+)*(?:['’][^\W\d_]+)?)
   |(?P<brk>\d{1,2}:[0-5]\d(?::[0-5]\d(?!\d)|[ ]?[AaPp]\.?[Mm]\b\.?))   # clock times end an expression
   |(?P<mixed>(?P<mw>\d+)(?:[ \t]+and[ \t]+|[ \t]+)(?P<mn>\d+)/(?P<md>\d+)(?![\d/.,]))
   |(?P<num>(?:\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?![\w/,-]|\.\d)|\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+(?![\w.]))?[½⅓⅔¼¾⅛⅜⅝⅞]?|[½⅓⅔¼¾⅛⅜⅝⅞])
   |(?P<op>\*\*|//|[-+*/^×÷·⋅−–])
   |(?P<fact>!(?!=))
   |(?P<rel><=|>=|!=|==|~=|[=<>≤≥≠≈])
   |(?P<lp>[(\[])
   |(?P<rp>[)\]])
   |(?P<cur>[$€£¥])
   |(?P<pct>%)
   |(?P<other>.)
    """,
    re.X | re.S,
)
_OP_CANON = {"**": "^", "×": "*", "·": "*", "⋅": "*", "÷": "/", "−": "-", "–": "-"}
_REL_CANON = {"==": "=", "<=": "≤", ">=": "≥", "!=": "≠", "~=": "≈"}
_VULGAR = {"½": Fraction(1, 2), "⅓": Fraction(1, 3), "⅔": Fraction(2, 3), "¼": Fraction(1, 4), "¾": Fraction(3, 4),
           "⅛": Fraction(1, 8), "⅜": Fraction(3, 8), "⅝": Fraction(5, 8), "⅞": Fraction(7, 8)}
_SEPARATORS_RE = re.compile(r"[, \u00a0\u202f]")
_LETTER_RE = re.compile(r"[A-Za-z]\d*\Z")
#: single letters that are English words, not variables, unless written attached to a number (5A).
_NOT_VARS = frozenset({"a", "A", "I"})
#: words that act as operators between two operands.
_WORD_OPS = {"x": "*", "X": "*", "times": "*", "of": "*", "plus": "+", "minus": "-"}
_TWO_WORD_OPS = {"divided": "/", "multiplied": "*"}
_REL_WORDS = frozenset({"equals", "makes"})
#: words that end a run of unit words ("60 kW would cost = ..." is prose, not "60 kW").
_NOT_UNITS = frozenset(
    ["is", "are", "was", "were", "be", "been", "being", "will", "would", "can", "could", "should", "shall", "may", "might", "must", "has", "have", "had", "do", "does", "did", "a", "an", "and", "or", "but", "nor", "to", "so", "then", "than", "that", "this", "these", "those", "which", "who", "whom", "what", "when", "where", "while", "of", "in", "on", "at", "by", "with", "from", "as", "into", "onto", "it", "he", "she", "they", "we", "you", "i", "his", "her", "their", "its", "our", "my", "your", "cost", "costs", "equal", "make", "gives", "give", "get", "gets", "got", "means", "mean", "leaves", "leave", "left", "already", "up", "down", "out", "more", "less", "over", "only", "just", "now", "still", "about", "around", "because", "since", "therefore", "thus", "hence", "if"]
)
_MAX_UNIT_WORDS = 4

Token = tuple[str, str, int, int, bool]
#: ``end`` tokens closing every token list (the parser looks at most this far past its position).
SENTINELS = 4


#: ``chil_native._arith`` when the C++ kernels are in use (set by :mod:`chil_plugin_empirical.native`).
_native: Any = None


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens (whitespace dropped, ``attached`` records it).

    Kinds: ``num op rel lp rp cur pct word`` and ``brk`` (anything that ends an expression); the list
    ends with :data:`SENTINELS` ``end`` tokens so that the parser may look ahead without bounds checks.
    The C++ kernel (ASCII text) gives the same tokens as :func:`tokenize_py`, the reference.
    """
    native = _native
    if native is not None:
        toks = native.tokenize(text)
        if toks is not None:
            return toks
    return tokenize_py(text)


def tokenize_py(text: str) -> list[Token]:
    """:func:`tokenize` in pure Python: the reference (and the fallback) of the C++ kernel."""
    out: list[Token] = []
    append = out.append
    attached = True
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup
        if kind == "ws":
            attached = False
            continue
        s = m.group()
        if kind == "word" and s not in _REL_WORDS:  # the common case first
            append(("word", s, *m.span(), attached))
            attached = True
            continue
        if kind == "mixed":
            if int(m.group("mn")) >= int(m.group("md")) or m.group("md").startswith("0"):
                # not a mixed number (12 10/5): whole, numerator, '/', denominator
                out.append(("num", m.group("mw"), m.start("mw"), m.end("mw"), attached))
                out.append(("num", m.group("mn"), m.start("mn"), m.end("mn"), False))
                out.append(("op", "/", m.end("mn"), m.start("md"), True))
                out.append(("num", m.group("md"), m.start("md"), m.end("md"), True))
                attached = True
                continue
            kind = "num"
        elif kind == "op":
            s = _OP_CANON.get(s, s)
        elif kind == "rel":
            s = _REL_CANON.get(s, s)
        elif kind == "word":  # equals, makes
            kind, s = "rel", "="
        elif kind == "other":
            kind = "brk"
        append((kind, s, *m.span(), attached))  # type: ignore[arg-type]
        attached = True
    end = len(text)
    out += [("end", "", end, end, True)] * SENTINELS
    return out


def is_var(tok: Token) -> bool:
    """A variable: one letter (``x``, ``D3``), English ``a``/``I`` only when attached to a number."""
    return tok[0] == "word" and _LETTER_RE.match(tok[1]) is not None and (tok[1] not in _NOT_VARS or tok[4])


def parse_literal(text: str, limits: Limits = DEFAULT_LIMITS) -> tuple[Fraction, int]:
    """Exact value and decimals of a written number: ``1,200.50``, ``.5``, ``7.2e1``, ``1 1/2``, ``2½``.

    ``decimals`` is -1 for exact fractions (no rounding applies to them).  Raises :class:`ParseError`
    for a zero-padded integer (``0730`` is a clock time or a code, not a quantity) and
    :class:`Unverifiable` beyond ``limits``."""
    return _literal(text, limits.max_digits)


@lru_cache(maxsize=8192)
def _literal(text: str, max_digits: int) -> tuple[Fraction, int]:
    if text[-1] in _VULGAR:
        whole = text[:-1]
        return (_literal(whole, max_digits)[0] if whole else Fraction(0)) + _VULGAR[text[-1]], -1
    if "/" in text:  # mixed number
        head, _, den = text.partition("/")
        w, num = head.replace("and", " ").split()
        if len(w) + len(num) + len(den) > max_digits:
            raise Unverifiable(f"number with {len(w) + len(num) + len(den)} digits exceeds the limit of {max_digits}")
        return int(w) + Fraction(int(num), int(den)), -1
    mant, _, exp = _SEPARATORS_RE.sub("", text).lower().partition("e")
    whole, _, frac = mant.partition(".")
    if len(whole) + len(frac) > max_digits:
        raise Unverifiable(f"number with {len(whole) + len(frac)} digits exceeds the limit of {max_digits}")
    if len(text) > 1 and text[0] == "0" and text[1].isdigit():
        raise ParseError(f"zero-padded number {text!r}")
    value = Fraction(int(whole + frac or "0"), 10 ** len(frac))
    decimals = len(frac)
    if exp:
        e = int(exp) if len(exp) <= 6 else max_digits + 1
        if abs(e) + len(whole) + len(frac) > max_digits:
            raise Unverifiable(f"number {text!r} exceeds the limit of {max_digits} digits")
        value *= Fraction(10) ** e
        decimals = max(0, decimals - e)
    return value, decimals


class ParseError(Exception):
    """Not an expression here (the caller tries elsewhere)."""


# ---------------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------------
class Parser:
    """Recursive-descent parser over ``tokens[pos:end]`` (lookahead relies on the ``end`` sentinels).

    Grammar: ``sum := product (('+'|'-') product)*``; ``product := power (mulop power | implicit)*``;
    ``power := unary ('^' power)?``; ``unary := ('-'|'+') unary | atom``; ``atom := cur? num '%'? units |
    var | '(' sum ')'``.  Units (``36 cookies``, ``$2/cantaloupe``, ``6 oz per bottle``) are skipped
    only when an operator or relation follows them, so prose after a result is never swallowed.
    """

    __slots__ = ("toks", "pos", "end", "limits", "n_ops", "has_var", "has_units", "depth")

    def __init__(self, toks: list[Token], pos: int, end: int, limits: Limits = DEFAULT_LIMITS) -> None:
        self.toks, self.pos, self.end, self.limits = toks, pos, end, limits
        self.n_ops = 0
        self.has_var = False
        self.has_units = False
        self.depth = 0

    # -- helpers ---------------------------------------------------------------------------
    def starts_operand(self, k: int) -> bool:
        t = self.toks[self.pos + k]
        return t[0] in ("num", "cur", "lp") or is_var(t)

    def binary_op(self) -> tuple[str, int] | None:
        """The binary operator at the cursor and how many tokens it spans, if any."""
        t = self.toks[self.pos]
        kind, s = t[0], t[1]
        if kind == "op":
            return s, 1
        if kind == "word":
            if s in _WORD_OPS and self.starts_operand(1):
                if s == "of" and self.toks[self.pos - 1][0] not in ("pct", "num", "rp"):
                    return None  # "12 out of 60", "a total of 5": prose, not 20% of 50
                if s in "xX" and t[4]:
                    return None  # 3x(1/3): the variable x, not a times sign
                return _WORD_OPS[s], 1
            if s in _TWO_WORD_OPS and self.toks[self.pos + 1][1] == "by" and self.starts_operand(2):
                return _TWO_WORD_OPS[s], 2
        return None

    # -- grammar ---------------------------------------------------------------------------
    def sum(self) -> tuple:
        node = self.product()
        while True:
            op = self.binary_op()
            if op is None or op[0] not in "+-" or not self._operand_follows(op[1]):
                return node
            self.pos += op[1]
            self.count_op()
            node = (op[0], node, self.product())

    def _operand_follows(self, width: int) -> bool:
        """An operand (possibly signed) follows an operator of ``width`` tokens."""
        t = self.toks[self.pos + width]
        if t[0] == "op" and t[1] in "+-":
            return self.starts_operand(width + 1)
        return self.starts_operand(width)

    def product(self) -> tuple:
        node = self.implicit()
        while True:
            op = self.binary_op()
            if op is None or op[0] not in ("*", "/", "//") or not self._operand_follows(op[1]):
                return node
            spaced = op[0] == "/" and not (self.toks[self.pos][4] and self.toks[self.pos + 1][4])
            self.pos += op[1]
            self.count_op()
            node = (op[0], node, self.tight_fraction() if spaced else self.implicit())

    def implicit(self) -> tuple:
        """Implicit multiplication binds tighter than ``*`` and ``/`` (``400g / 200g`` = (400g)/(200g)):
        ``4x`` and ``2(3+1)`` written attached, ``4 (x - 6)`` spaced when the group parses."""
        node = self.power()
        while True:
            t = self.toks[self.pos]
            if not self._ends_operand():
                return node
            if t[4] and is_var(t):
                self.count_op()
                node = ("*", node, self.power())
                continue
            if t[0] != "lp":
                return node
            save = (self.pos, self.n_ops, self.depth, self.has_var, self.has_units)
            try:
                self.count_op()
                node = ("*", node, self.power())
            except ParseError:
                self.pos, self.n_ops, self.depth, self.has_var, self.has_units = save
                return node

    def _ends_operand(self) -> bool:
        prev = self.toks[self.pos - 1]
        return prev[0] in ("num", "rp", "pct") or is_var(prev)

    def tight_fraction(self) -> tuple:
        """After a spaced ``/``, a tightly written fraction is one operand: ``25 / 1/3`` = 25 / (1/3)."""
        t0, t1, t2 = self.toks[self.pos : self.pos + 3]
        if t0[0] == "num" and t1[0] == "op" and t1[1] == "/" and t1[4] and t2[0] == "num" and t2[4]:
            num = self.atom()
            self.pos += 1
            self.count_op()
            return ("/", num, self.atom())
        return self.implicit()

    def _acts_as_operator(self, i: int) -> bool:
        save, self.pos = self.pos, i
        try:
            return self.binary_op() is not None
        finally:
            self.pos = save

    def count_op(self) -> None:
        self.n_ops += 1
        if self.n_ops > self.limits.max_ops:
            raise Unverifiable(f"expression has more than {self.limits.max_ops} operators")

    def nest(self) -> None:
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise Unverifiable(f"expression nested deeper than {self.limits.max_depth}")

    def power(self) -> tuple:
        base = self.unary()
        t = self.toks[self.pos]
        if t[0] == "op" and t[1] == "^" and self._operand_follows(1):
            self.pos += 1
            self.count_op()
            self.nest()
            node = ("^", base, self.power())
            self.depth -= 1
            return node
        return base

    def unary(self) -> tuple:
        t = self.toks[self.pos]
        if t[0] == "op" and t[1] in "+-":
            self.pos += 1
            self.nest()
            inner = self.unary()
            self.depth -= 1
            return ("neg", inner) if t[1] == "-" else inner
        return self.atom()

    def atom(self) -> tuple:
        t = self.toks[self.pos]
        kind = t[0]
        if kind == "cur":
            self.pos += 1
            t = self.toks[self.pos]
            if t[0] != "num":
                raise ParseError("expected a number after a currency sign")
            kind = "num"
        if kind == "num":
            self.pos += 1
            value, decimals = parse_literal(t[1], self.limits)
            scale = ONE
            if self.toks[self.pos][0] == "pct":
                self.pos += 1
                scale = HUNDREDTH
                value *= scale
            node = self.factorial(("n", value, t[1], decimals, scale))
            self.skip_units()
            return node
        if kind == "lp":
            self.pos += 1
            self.nest()
            node = self.sum()
            if self.toks[self.pos][0] != "rp":
                raise ParseError("unbalanced parenthesis")
            self.pos += 1
            self.depth -= 1
            if self.toks[self.pos][0] == "pct":
                self.pos += 1
                node = ("*", node, ("n", HUNDREDTH, "%", -1, HUNDREDTH))
            node = self.factorial(node)
            self.skip_units()
            return node
        if is_var(t):
            self.pos += 1
            self.has_var = True
            self.skip_units()
            return ("v", t[1])
        raise ParseError(f"unexpected {t[1]!r}")

    def factorial(self, node: tuple) -> tuple:
        """``5!`` / ``(2+3)!`` (``!=`` is a relation); of a variable: unverifiable.  Only inside an
        expression (an operator, relation or ``)`` follows): ``... = 72!`` ends a sentence."""
        while (self.toks[self.pos][0] == "fact" and self.toks[self.pos][4]
               and self.toks[self.pos + 1][0] in ("op", "rel", "rp", "fact")):
            if _has_var(node):
                raise Unverifiable("factorial of an expression with a variable")
            self.pos += 1
            self.count_op()
            node = ("!", node)
        return node

    def skip_units(self) -> None:
        """Skip unit words after an operand when an operator, relation or ')' comes after them."""
        i, words = self.pos, 0
        toks, end = self.toks, self.end
        while i < end:
            t = toks[i]
            # a word operator not followed by an operand is a unit word: "40 times/session", "weeks of school"
            as_word = t[0] == "word" and not self._acts_as_operator(i)
            if as_word:
                if (t[1].lower() in _NOT_UNITS and not (t[1] == "of" and words)) or (t[4] and is_var(t)):  # prose, 4x
                    break
                words += 1
                if words > _MAX_UNIT_WORDS:
                    return
                i += 1
            elif t[0] == "op" and t[1] == "/" and i + 1 < end and toks[i + 1][0] == "word" and not is_var(toks[i + 1]):
                i += 2  # per-unit: $2/cantaloupe, 3 hours/appointment
            else:
                break
        if i == self.pos:
            return
        if i >= end:
            return
        t = toks[i]
        if t[0] in ("rel", "rp") or (t[0] == "op" and t[1] != "^" and i + 1 < end):
            self.pos = i
            self.has_units = True
            return
        if t[0] == "word":
            save, self.pos = self.pos, i
            if self.binary_op() is None:
                self.pos = save
            else:
                self.has_units = True


def parse_prefix(toks: list[Token], pos: int, limits: Limits = DEFAULT_LIMITS) -> tuple[tuple, int, bool, bool, bool] | None:
    """Longest expression starting at ``pos``: ``(ast, end_pos, has_operator, has_variable, has_units)``,
    or None when none starts there.  Raises :class:`Unverifiable` when one does but breaks ``limits``."""
    p = Parser(toks, pos, len(toks), limits)
    try:
        node = p.sum()
    except ParseError:
        return None
    return node, p.pos, p.n_ops > 0, p.has_var, p.has_units


# ---------------------------------------------------------------------------------------------
# Exact evaluation
# ---------------------------------------------------------------------------------------------
def _check(value: Fraction, limits: Limits) -> Fraction:
    if value.numerator.bit_length() > limits.max_bits or value.denominator.bit_length() > limits.max_bits:
        raise Unverifiable(f"intermediate value exceeds {limits.max_bits} bits")
    return value


def _root(base: Fraction, q: int) -> Fraction:
    """Exact ``q``-th root of a rational, or Unverifiable when it is irrational."""
    if base < 0 and q % 2 == 0:
        raise Undefined("even root of a negative number")
    sign = -1 if base < 0 else 1
    out = []
    for part in (abs(base.numerator), base.denominator):
        r = round(math.exp(math.log(part) / q)) if part else 0
        for cand in (r - 1, r, r + 1):
            if cand >= 0 and cand**q == part:
                out.append(cand)
                break
        else:
            raise Unverifiable("irrational root")
    return sign * Fraction(out[0], out[1])


def power(base: Fraction, exp: Fraction, limits: Limits = DEFAULT_LIMITS) -> Fraction:
    """``base ** exp`` exactly, refusing anything whose size would break ``limits``."""
    if exp.denominator > 16:
        raise Unverifiable("fractional exponent")
    p = exp.numerator
    if abs(p) > limits.max_exponent:
        raise Unverifiable(f"exponent {p} exceeds the limit of {limits.max_exponent}")
    bits = max(base.numerator.bit_length(), base.denominator.bit_length())
    if bits * abs(p) > limits.max_bits:
        raise Unverifiable(f"power would exceed {limits.max_bits} bits")
    if base == 0 and p < 0:
        raise Undefined("zero to a negative power")
    if exp.denominator != 1:
        base = _root(base, exp.denominator)
    return base**p


def evaluate(node: tuple, limits: Limits = DEFAULT_LIMITS, percent_as_written: bool = False) -> Fraction:
    """Exact value of a numeric AST (Unverifiable / Undefined on bounds / division by zero).

    With ``percent_as_written`` a percentage counts as its written number (``75%`` → 75), the reading
    of ``0.75 * 100 = 75%`` where ``%`` labels the unit of the result."""
    tag = node[0]
    if tag == "n":
        return node[1] / node[4] if percent_as_written else node[1]
    if tag == "neg":
        return -evaluate(node[1], limits, percent_as_written)
    if tag == "v":
        raise Unverifiable(f"variable {node[1]!r}")
    if tag == "!":
        return factorial(evaluate(node[1], limits, percent_as_written), limits)
    a = evaluate(node[1], limits, percent_as_written)
    b = evaluate(node[2], limits, percent_as_written)
    if tag == "+":
        return _check(a + b, limits)
    if tag == "-":
        return _check(a - b, limits)
    if tag == "*":
        return _check(a * b, limits)
    if tag in ("/", "//"):
        if b == 0:
            raise Undefined("division by zero")
        return _check(a / b if tag == "/" else Fraction(math.floor(a / b)), limits)
    return power(a, b, limits)


def _has_var(node: tuple) -> bool:
    tag = node[0]
    if tag == "v":
        return True
    if tag == "n":
        return False
    return any(_has_var(child) for child in node[1:])


def factorial(n: Fraction, limits: Limits = DEFAULT_LIMITS) -> Fraction:
    """``n!`` for a natural number, refusing one whose value would exceed ``limits.max_bits``."""
    if n.denominator != 1 or n < 0:
        raise Undefined(f"factorial of {n}, not a natural number")
    if n > 1_000_000 or math.lgamma(float(n) + 1) / math.log(2) > limits.max_bits:
        raise Unverifiable(f"{n}! would exceed {limits.max_bits} bits")
    return Fraction(math.factorial(int(n)))


def has_percent(node: tuple) -> bool:
    tag = node[0]
    if tag == "n":
        return node[4] != 1
    if tag == "v":
        return False
    return any(has_percent(child) for child in node[1:])


def to_json(node: tuple) -> Any:
    """JSON form of an AST for the ``smt`` capability: ``["num", "p/q"]``, ``["var", "x"]``, ``[op, a, b]``."""
    tag = node[0]
    if tag == "n":
        return ["num", str(node[1])]
    if tag == "v":
        return ["var", node[1]]
    if tag == "neg":
        return ["neg", to_json(node[1])]
    if tag == "!":  # only ever of a number (the parser refuses variables): send its value
        return ["num", str(evaluate(node))]
    return [tag, to_json(node[1]), to_json(node[2])]


def render(node: tuple) -> str:
    """Compact canonical text of an AST (for evidence and deduplication)."""
    tag = node[0]
    if tag == "n":
        return str(node[1])
    if tag == "v":
        return node[1]
    if tag == "neg":
        return f"-{render(node[1])}"
    if tag == "!":
        return f"{render(node[1])}!"
    return f"({render(node[1])}{tag}{render(node[2])})"

