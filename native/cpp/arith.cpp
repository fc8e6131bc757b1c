// chil_native._arith: the arithmetic scanner, parser and step checker of the empirical framework.
//
// A line-for-line port of chil_plugin_empirical.expr (tokenize, Parser, parse_literal, evaluate, power,
// factorial) and chil_plugin_empirical.steps (_line_steps, _chain_at, _check_chain, compare, rounds_to,
// _continues_from).  The Python modules are the reference: every function here must give what they give,
// and chil_plugin_empirical/tests/test_native.py checks it on GSM8K, the validity rewrites and fuzzed
// input.  Whenever this port cannot promise that, it returns None and the caller runs the Python path:
//
// * a line with any non-ASCII character (Unicode letters, digits, vulgar fractions, '×', '≤'...);
// * a value that does not fit a 64-bit rational (numerator and denominator within +-(2^63-1)); the
//   arithmetic is done in 128 bits and every result is checked before it is narrowed (overflow = fall
//   back, never a wrong value);
// * limits this port does not take (max_depth above 1000: the recursion here is bounded by max_depth),
//   or a factorial whose size estimate sits within 1e-6 of max_bits (Python's lgamma is its own).
//
// Errors are status codes, not C++ exceptions: ParseError (this is not an expression; the caller tries
// elsewhere), Unverifiable and Undefined (with the same message as Python) and Fallback.

#include <nanobind/nanobind.h>

#include <Python.h>
#include <structmember.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace nb = nanobind;
using namespace nb::literals;

using i64 = int64_t;
using i128 = __int128;
using u128 = unsigned __int128;

namespace {

// -------------------------------------------------------------------------------------------------
// Tokens
// -------------------------------------------------------------------------------------------------
enum Kind : uint8_t { K_NUM, K_OP, K_REL, K_LP, K_RP, K_CUR, K_PCT, K_WORD, K_BRK, K_FACT, K_END, K_COUNT };
static const char* const KIND_NAMES[K_COUNT] = {"num", "op", "rel", "lp", "rp", "cur", "pct", "word", "brk", "fact", "end"};

struct Tok {
    Kind kind;
    bool attached;
    int32_t start, end;
    std::string_view text;  // into the source, or a static canonical spelling
};

constexpr int SENTINELS = 4;

inline bool isdig(char c) { return c >= '0' && c <= '9'; }
inline bool isalpha_(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool isword(char c) { return isdig(c) || isalpha_(c) || c == '_'; }
inline bool isws(char c) { return c == ' ' || c == '\t'; }

struct Src {
    const char* s;
    int n;
    char at(int i) const { return (i >= 0 && i < n) ? s[i] : '\0'; }
    bool has(int i) const { return i >= 0 && i < n; }
    bool dig(int i) const { return has(i) && isdig(s[i]); }
    bool alpha(int i) const { return has(i) && isalpha_(s[i]); }
    int digits(int i) const {  // end of the run of digits at i
        while (dig(i)) ++i;
        return i;
    }
};

static const char* const ABBREVS[] = {"lbs", "lb", "oz", "ft", "sq", "hrs", "hr", "mins", "min", "secs", "sec", "mi",
                                      "yds", "yd", "qts", "qt", "pts", "pt", "gal", "doz", "pcs", "approx"};

// (?:lbs?|oz|...|approx)\.(?!\d) at i: the end of the match or -1
static int abbrev(const Src& x, int i) {
    int run = i;
    while (x.alpha(run)) ++run;
    if (x.at(run) != '.' || run - i > 6) return -1;  // the letters of an abbreviation end at its '.' (fast path)
    for (const char* a : ABBREVS) {
        int len = (int)std::strlen(a);
        if (i + len < x.n && std::memcmp(x.s + i, a, len) == 0 && x.s[i + len] == '.' && !x.dig(i + len + 1)) return i + len + 1;
    }
    return -1;
}

// \d{1,2}:[0-5]\d(?::[0-5]\d(?!\d)|[ ]?[AaPp]\.?[Mm]\b\.?) at i: end or -1
static int clock(const Src& x, int i) {
    for (int L = 2; L >= 1; --L) {
        bool ok = true;
        for (int j = 0; j < L; ++j) ok = ok && x.dig(i + j);
        if (!ok) continue;
        int p = i + L;
        if (x.at(p) != ':' || !(x.at(p + 1) >= '0' && x.at(p + 1) <= '5') || !x.dig(p + 2)) continue;
        p += 3;
        if (x.at(p) == ':' && x.at(p + 1) >= '0' && x.at(p + 1) <= '5' && x.dig(p + 2) && !x.dig(p + 3)) return p + 3;
        for (int sp = 1; sp >= 0; --sp) {  // [ ]? greedy
            int q = p;
            if (sp) {
                if (x.at(q) != ' ') continue;
                ++q;
            }
            char c = x.at(q);
            if (!(c == 'A' || c == 'a' || c == 'P' || c == 'p')) continue;
            ++q;
            for (int dot = 1; dot >= 0; --dot) {
                int r = q;
                if (dot) {
                    if (x.at(r) != '.') continue;
                    ++r;
                }
                if (!(x.at(r) == 'M' || x.at(r) == 'm')) continue;
                ++r;
                if (x.has(r) && isword(x.s[r])) continue;  // \b after M
                if (x.at(r) == '.') ++r;
                return r;
            }
        }
    }
    return -1;
}

struct Mixed {
    int mw0, mw1, mn0, mn1, md0, md1, end;
};

// (?P<mw>\d+)(?:[ \t]+and[ \t]+|[ \t]+)(?P<mn>\d+)/(?P<md>\d+)(?![\d/.,]) at i
static bool mixed(const Src& x, int i, Mixed& m) {
    int j = x.digits(i);
    if (j == i || !isws(x.at(j))) return false;
    auto rest = [&](int r) -> bool {
        int e = x.digits(r);
        if (e == r || x.at(e) != '/') return false;
        int d = x.digits(e + 1);
        if (d == e + 1) return false;
        char c = x.at(d);
        if (x.has(d) && (isdig(c) || c == '/' || c == '.' || c == ',')) return false;
        m = {i, j, r, e, e + 1, d, d};
        return true;
    };
    int q = j;
    while (isws(x.at(q))) ++q;
    if (q + 3 < x.n && std::memcmp(x.s + q, "and", 3) == 0 && isws(x.s[q + 3])) {
        int r = q + 3;
        while (isws(x.at(r))) ++r;
        if (rest(r)) return true;
    }
    return rest(q);
}

// the num alternative at i: end or -1
static int number(const Src& x, int i) {
    int e = -1;
    if (x.dig(i)) {
        int L = x.digits(i) - i;
        if (L <= 3) {
            // A: \d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?
            std::vector<int> ends;
            int p = i + L;
            while (x.at(p) == ',' && x.dig(p + 1) && x.dig(p + 2) && x.dig(p + 3)) {
                p += 4;
                ends.push_back(p);
            }
            for (int t = (int)ends.size() - 1; t >= 0 && e < 0; --t)
                if (!x.dig(ends[t])) e = ends[t];
            if (e >= 0) {
                if (x.at(e) == '.' && x.dig(e + 1)) e = x.digits(e + 1);
            } else {
                // B: \d{1,3}(?:[ ]\d{3})+(?![\w/,-]|\.\d)
                ends.clear();
                p = i + L;
                while (x.at(p) == ' ' && x.dig(p + 1) && x.dig(p + 2) && x.dig(p + 3)) {
                    p += 4;
                    ends.push_back(p);
                }
                for (int t = (int)ends.size() - 1; t >= 0 && e < 0; --t) {
                    int q = ends[t];
                    char c = x.at(q);
                    bool bad = x.has(q) && (isword(c) || c == '/' || c == ',' || c == '-');
                    bad = bad || (c == '.' && x.dig(q + 1));
                    if (!bad) e = q;
                }
            }
        }
        if (e < 0) {  // C: \d+(?:\.\d+)?
            e = i + L;
            if (x.at(e) == '.' && x.dig(e + 1)) e = x.digits(e + 1);
        }
    } else if (x.at(i) == '.' && x.dig(i + 1)) {  // D
        e = x.digits(i + 1);
    } else {
        return -1;
    }
    // (?:[eE][+-]?\d+(?![\w.]))?
    if (x.at(e) == 'e' || x.at(e) == 'E') {
        int p = e + 1;
        if (x.at(p) == '+' || x.at(p) == '-') ++p;
        if (x.dig(p)) {
            int q = x.digits(p);
            if (!(x.has(q) && (isword(x.s[q]) || x.s[q] == '.'))) e = q;
        }
    }
    return e;
}

// digit strings compared as integers
static int cmp_digits(std::string_view a, std::string_view b) {
    while (a.size() > 1 && a[0] == '0') a.remove_prefix(1);
    while (b.size() > 1 && b[0] == '0') b.remove_prefix(1);
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    int c = a.compare(b);
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

static void tokenize(const char* s, int n, std::vector<Tok>& out) {
    Src x{s, n};
    out.clear();
    bool att = true;
    int i = 0;
    auto push = [&](Kind k, int a, int b, std::string_view text) {
        out.push_back({k, att, a, b, text});
        att = true;
    };
    while (i < n) {
        char c = s[i];
        if (isws(c)) {
            while (i < n && isws(s[i])) ++i;
            att = false;
            continue;
        }
        if (isalpha_(c)) {
            int k = -1;
            if (x.dig(i + 1)) {
                int q = x.digits(i + 1);
                if (!(x.at(q) == '.' || x.at(q) == ',')) k = q;
            }
            if (k < 0) k = abbrev(x, i);
            if (k < 0) {
                k = i;
                while (x.alpha(k)) ++k;
                while (x.at(k) == '-' && x.alpha(k + 1)) {
                    ++k;
                    while (x.alpha(k)) ++k;
                }
                if (x.at(k) == '\'' && x.alpha(k + 1)) {
                    ++k;
                    while (x.alpha(k)) ++k;
                }
            }
            std::string_view w(s + i, k - i);
            if (w == "equals" || w == "makes")
                push(K_REL, i, k, "=");
            else
                push(K_WORD, i, k, w);
            i = k;
            continue;
        }
        if (isdig(c)) {
            int k = clock(x, i);
            if (k >= 0) {
                push(K_BRK, i, k, std::string_view(s + i, k - i));
                i = k;
                continue;
            }
            Mixed m;
            if (mixed(x, i, m)) {
                std::string_view mn(s + m.mn0, m.mn1 - m.mn0), md(s + m.md0, m.md1 - m.md0);
                if (cmp_digits(mn, md) >= 0 || md[0] == '0') {
                    push(K_NUM, m.mw0, m.mw1, std::string_view(s + m.mw0, m.mw1 - m.mw0));
                    att = false;
                    push(K_NUM, m.mn0, m.mn1, mn);
                    push(K_OP, m.mn1, m.md0, "/");
                    push(K_NUM, m.md0, m.md1, md);
                } else {
                    push(K_NUM, i, m.end, std::string_view(s + i, m.end - i));
                }
                i = m.end;
                continue;
            }
        }
        {
            int k = number(x, i);
            if (k >= 0) {
                push(K_NUM, i, k, std::string_view(s + i, k - i));
                i = k;
                continue;
            }
        }
        char d = x.at(i + 1);
        switch (c) {
            case '*':
                if (d == '*') { push(K_OP, i, i + 2, "^"); i += 2; } else { push(K_OP, i, i + 1, "*"); ++i; }
                continue;
            case '/':
                if (d == '/') { push(K_OP, i, i + 2, "//"); i += 2; } else { push(K_OP, i, i + 1, "/"); ++i; }
                continue;
            case '-': push(K_OP, i, i + 1, "-"); ++i; continue;
            case '+': push(K_OP, i, i + 1, "+"); ++i; continue;
            case '^': push(K_OP, i, i + 1, "^"); ++i; continue;
            case '!':
                if (d == '=') { push(K_REL, i, i + 2, "\xe2\x89\xa0"); i += 2; } else { push(K_FACT, i, i + 1, "!"); ++i; }
                continue;
            case '<':
                if (d == '=') { push(K_REL, i, i + 2, "\xe2\x89\xa4"); i += 2; } else { push(K_REL, i, i + 1, "<"); ++i; }
                continue;
            case '>':
                if (d == '=') { push(K_REL, i, i + 2, "\xe2\x89\xa5"); i += 2; } else { push(K_REL, i, i + 1, ">"); ++i; }
                continue;
            case '=':
                if (d == '=') { push(K_REL, i, i + 2, "="); i += 2; } else { push(K_REL, i, i + 1, "="); ++i; }
                continue;
            case '~':
                if (d == '=') { push(K_REL, i, i + 2, "\xe2\x89\x88"); i += 2; continue; }
                break;
            case '(': case '[': push(K_LP, i, i + 1, std::string_view(s + i, 1)); ++i; continue;
            case ')': case ']': push(K_RP, i, i + 1, std::string_view(s + i, 1)); ++i; continue;
            case '$': push(K_CUR, i, i + 1, "$"); ++i; continue;
            case '%': push(K_PCT, i, i + 1, "%"); ++i; continue;
            default: break;
        }
        push(K_BRK, i, i + 1, std::string_view(s + i, 1));
        ++i;
    }
    for (int j = 0; j < SENTINELS; ++j) out.push_back({K_END, true, n, n, ""});
}

// -------------------------------------------------------------------------------------------------
// Exact rationals in 64 bits, arithmetic in 128 bits, overflow detected
// -------------------------------------------------------------------------------------------------
constexpr i64 BOUND = INT64_MAX;  // |numerator| and denominator stay within this (never INT64_MIN)

struct Rat {
    i64 n = 0, d = 1;
};

inline u128 uabs(i128 v) { return v < 0 ? (u128)(-v) : (u128)v; }
static u128 gcd(u128 a, u128 b) {
    if (b == 1 || a == 1) return 1;
    if (a <= UINT64_MAX && b <= UINT64_MAX) {  // the common case: 64-bit division is far cheaper
        uint64_t x = (uint64_t)a, y = (uint64_t)b;
        while (y) {
            uint64_t t = x % y;
            x = y;
            y = t;
        }
        return x;
    }
    while (b) {
        u128 t = a % b;
        a = b;
        b = t;
    }
    return a;
}

// n/d normalized into r; false when it does not fit
static bool mk(i128 n, i128 d, Rat& r) {
    if (d < 0) {
        n = -n;
        d = -d;
    }
    u128 g = gcd(uabs(n), (u128)d);
    if (g > 1) {
        n /= (i128)g;
        d /= (i128)g;
    }
    if (n > BOUND || n < -BOUND || d > BOUND) return false;
    r.n = (i64)n;
    r.d = (i64)d;
    return true;
}
inline bool r_add(Rat a, Rat b, Rat& r) { return mk((i128)a.n * b.d + (i128)b.n * a.d, (i128)a.d * b.d, r); }
inline bool r_sub(Rat a, Rat b, Rat& r) { return mk((i128)a.n * b.d - (i128)b.n * a.d, (i128)a.d * b.d, r); }
inline bool r_mul(Rat a, Rat b, Rat& r) { return mk((i128)a.n * b.n, (i128)a.d * b.d, r); }
inline bool r_div(Rat a, Rat b, Rat& r) { return mk((i128)a.n * b.d, (i128)a.d * b.n, r); }  // b != 0
inline int r_cmp(Rat a, Rat b) {
    i128 l = (i128)a.n * b.d, rr = (i128)b.n * a.d;
    return l < rr ? -1 : (l > rr ? 1 : 0);
}
inline bool r_eq(Rat a, Rat b) { return a.n == b.n && a.d == b.d; }
inline int bitlen(u128 v) {
    int b = 0;
    while (v) {
        ++b;
        v >>= 1;
    }
    return b;
}
inline i128 floordiv(i128 a, i128 b) {  // b > 0
    i128 q = a / b;
    if ((a % b != 0) && (a < 0)) --q;
    return q;
}
static std::string r_str(Rat v) {  // str(Fraction)
    std::string s = std::to_string(v.n);
    if (v.d != 1) s += "/" + std::to_string(v.d);
    return s;
}
// integer power with overflow detection; false on overflow
static bool ipow(i128 base, i64 e, i128& out) {
    if (base == 0 || base == 1) {
        out = e == 0 ? 1 : base;
        return true;
    }
    if (base == -1) {
        out = (e % 2) ? -1 : 1;
        return true;
    }
    i128 r = 1;
    for (i64 k = 0; k < e; ++k) {
        r *= base;
        if (r > BOUND || r < -BOUND) return false;
    }
    out = r;
    return true;
}

// -------------------------------------------------------------------------------------------------
// Parser
// -------------------------------------------------------------------------------------------------
struct Limits {
    i64 max_digits, max_bits, max_exponent, max_ops, max_depth;
};

enum Err : uint8_t { E_NONE, E_PARSE, E_UNVERIFIABLE, E_UNDEFINED, E_FALLBACK };

// Node tags: 'n' literal, 'v' variable, 'N' negation, '!' factorial, binary + - * / D(//) ^
struct Node {
    char tag;
    int a = -1, b = -1;
    Rat value;    // n: the value (a percentage already scaled)
    Rat written;  // n: value / scale (the percentage as written)
    int tok = -1; // n, v: the token; -1 for the '%' node after a parenthesis
    int decimals = 0;
    bool pct = false;  // scale is 1/100
};

static const std::vector<std::string_view> NOT_UNITS = {
    "is", "are", "was", "were", "be", "been", "being", "will", "would", "can", "could", "should", "shall", "may", "might",
    "must", "has", "have", "had", "do", "does", "did", "a", "an", "and", "or", "but", "nor", "to", "so", "then", "than",
    "that", "this", "these", "those", "which", "who", "whom", "what", "when", "where", "while", "of", "in", "on", "at",
    "by", "with", "from", "as", "into", "onto", "it", "he", "she", "they", "we", "you", "i", "his", "her", "their", "its",
    "our", "my", "your", "cost", "costs", "equal", "make", "gives", "give", "get", "gets", "got", "means", "mean",
    "leaves", "leave", "left", "already", "up", "down", "out", "more", "less", "over", "only", "just", "now", "still",
    "about", "around", "because", "since", "therefore", "thus", "hence", "if"};
constexpr int MAX_UNIT_WORDS = 4;

static bool not_unit(std::string_view w) {
    if (w.size() > 9) return false;
    char buf[16];
    for (size_t i = 0; i < w.size(); ++i) {
        char c = w[i];
        buf[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    std::string_view low(buf, w.size());
    static const std::vector<std::vector<std::string_view>> by_len = [] {
        std::vector<std::vector<std::string_view>> v(10);
        for (auto u : NOT_UNITS) v[u.size()].push_back(u);
        return v;
    }();
    for (auto u : by_len[w.size()])
        if (std::memcmp(u.data(), buf, w.size()) == 0) return true;
    return false;
}

inline bool is_var(const Tok& t) {
    if (t.kind != K_WORD || t.text.empty() || !isalpha_(t.text[0])) return false;
    for (size_t i = 1; i < t.text.size(); ++i)
        if (!isdig(t.text[i])) return false;
    if (t.text.size() == 1 && (t.text[0] == 'a' || t.text[0] == 'A' || t.text[0] == 'I') && !t.attached) return false;
    return true;
}

// a word operator: "*", "+", "-" or nullptr
static const char* word_op(std::string_view s) {
    if (s == "x" || s == "X" || s == "times" || s == "of") return "*";
    if (s == "plus") return "+";
    if (s == "minus") return "-";
    return nullptr;
}

struct Op {
    std::string_view op;
    int width = 0;
    bool ok() const { return width > 0; }
};

struct Ctx {
    const std::vector<Tok>& T;
    const Limits& L;
    std::vector<Node> nodes;
    Err err = E_NONE;
    std::string msg;
    bool fail(Err e, std::string m = "") {
        err = e;
        msg = std::move(m);
        return false;
    }
    const Tok& tok(int i) const {
        int n = (int)T.size();
        if (i < 0) i += n;
        if (i >= n) i = n - 1;
        return T[i];
    }
    int add(Node nd) {
        nodes.push_back(nd);
        return (int)nodes.size() - 1;
    }
};

// parse_literal: (value, decimals) of a num token
static bool literal(Ctx& c, std::string_view text, Rat& value, int& decimals) {
    const i64 maxd = c.L.max_digits;
    size_t slash = text.find('/');
    if (slash != std::string_view::npos) {  // mixed number "w n/d" or "w and n/d"
        std::string_view head = text.substr(0, slash), den = text.substr(slash + 1);
        size_t a = 0;
        while (a < head.size() && isdig(head[a])) ++a;
        std::string_view w = head.substr(0, a);
        size_t b = head.size();
        while (b > 0 && isdig(head[b - 1])) --b;
        std::string_view num = head.substr(b);
        i64 nd = (i64)(w.size() + num.size() + den.size());
        if (nd > maxd) return c.fail(E_UNVERIFIABLE, "number with " + std::to_string(nd) + " digits exceeds the limit of " + std::to_string(maxd));
        if (w.size() > 18 || num.size() > 18 || den.size() > 18) return c.fail(E_FALLBACK);
        i64 W = std::stoll(std::string(w)), N = std::stoll(std::string(num)), D = std::stoll(std::string(den));
        Rat f, whole{W, 1};
        if (!mk(N, D, f) || !r_add(whole, f, value)) return c.fail(E_FALLBACK);
        decimals = -1;
        return true;
    }
    {  // fast path: digits with at most one '.' (what the general path below computes, without its strings)
        size_t dot = std::string_view::npos, k = 0;
        for (; k < text.size(); ++k) {
            char ch = text[k];
            if (ch == '.' && dot == std::string_view::npos) dot = k;
            else if (!isdig(ch)) break;
        }
        size_t nd = dot == std::string_view::npos ? text.size() : text.size() - 1;
        bool padded = text.size() > 1 && text[0] == '0' && isdig(text[1]);
        if (k == text.size() && !padded && (i64)nd <= maxd && nd <= 18) {
            i64 m = 0;
            for (char ch : text)
                if (ch != '.') m = m * 10 + (ch - '0');
            size_t nfrac = dot == std::string_view::npos ? 0 : text.size() - dot - 1;
            i64 p10 = 1;
            for (size_t q = 0; q < nfrac; ++q) p10 *= 10;
            if (!mk(m, p10, value)) return c.fail(E_FALLBACK);
            decimals = (int)nfrac;
            return true;
        }
    }
    std::string mant;
    mant.reserve(text.size());
    for (char ch : text)
        if (ch != ',' && ch != ' ') mant.push_back((ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch);
    std::string exp;
    size_t epos = mant.find('e');
    if (epos != std::string::npos) {
        exp = mant.substr(epos + 1);
        mant.resize(epos);
    }
    std::string whole = mant, frac;
    size_t dot = mant.find('.');
    if (dot != std::string::npos) {
        whole = mant.substr(0, dot);
        frac = mant.substr(dot + 1);
    }
    i64 nd = (i64)(whole.size() + frac.size());
    if (nd > maxd) return c.fail(E_UNVERIFIABLE, "number with " + std::to_string(nd) + " digits exceeds the limit of " + std::to_string(maxd));
    if (text.size() > 1 && text[0] == '0' && isdig(text[1])) return c.fail(E_PARSE, "zero-padded number");
    if (nd > 18) return c.fail(E_FALLBACK);
    std::string digits = whole + frac;
    i64 m = digits.empty() ? 0 : std::stoll(digits);
    i128 p10 = 1;
    for (size_t k = 0; k < frac.size(); ++k) p10 *= 10;
    if (!mk(m, p10, value)) return c.fail(E_FALLBACK);
    decimals = (int)frac.size();
    if (!exp.empty()) {
        i64 e;
        if (exp.size() <= 6) {
            e = std::stoll(exp);  // "+12", "-3", "7"
        } else {
            e = maxd + 1;
        }
        i64 ae = e < 0 ? -e : e;
        if (ae + nd > maxd) return c.fail(E_UNVERIFIABLE, "number '" + std::string(text) + "' exceeds the limit of " + std::to_string(maxd) + " digits");
        if (ae > 36) return c.fail(E_FALLBACK);
        i128 q = 1;
        for (i64 k = 0; k < ae; ++k) q *= 10;
        Rat scale;
        if (!(e >= 0 ? mk(q, 1, scale) : mk(1, q, scale)) || !r_mul(value, scale, value)) return c.fail(E_FALLBACK);
        decimals = (int)std::max<i64>(0, decimals - e);
    }
    return true;
}

struct Parser {
    Ctx& c;
    int pos, end;
    int n_ops = 0;
    bool has_var = false, has_units = false;
    int depth = 0;

    const Tok& t(int i) const { return c.tok(i); }
    bool starts_operand(int k) const {
        const Tok& x = t(pos + k);
        return x.kind == K_NUM || x.kind == K_CUR || x.kind == K_LP || is_var(x);
    }
    Op binary_op() const {
        const Tok& x = t(pos);
        if (x.kind == K_OP) return {x.text, 1};
        if (x.kind == K_WORD) {
            const char* w = word_op(x.text);
            if (w && starts_operand(1)) {
                if (x.text == "of") {
                    Kind k = t(pos - 1).kind;
                    if (!(k == K_PCT || k == K_NUM || k == K_RP)) return {};
                }
                if ((x.text == "x" || x.text == "X") && x.attached) return {};
                return {w, 1};
            }
            if ((x.text == "divided" || x.text == "multiplied") && t(pos + 1).text == "by" && starts_operand(2))
                return {x.text == "divided" ? "/" : "*", 2};
        }
        return {};
    }
    bool count_op() {
        if (++n_ops > c.L.max_ops) return c.fail(E_UNVERIFIABLE, "expression has more than " + std::to_string(c.L.max_ops) + " operators");
        return true;
    }
    bool nest() {
        if (++depth > c.L.max_depth) return c.fail(E_UNVERIFIABLE, "expression nested deeper than " + std::to_string(c.L.max_depth));
        return true;
    }
    bool operand_follows(int width) const {
        const Tok& x = t(pos + width);
        if (x.kind == K_OP && (x.text == "+" || x.text == "-")) return starts_operand(width + 1);
        return starts_operand(width);
    }
    bool ends_operand() const {
        const Tok& p = t(pos - 1);
        return p.kind == K_NUM || p.kind == K_RP || p.kind == K_PCT || is_var(p);
    }
    int bin(char tag, int a, int b) {
        Node nd;
        nd.tag = tag;
        nd.a = a;
        nd.b = b;
        return c.add(nd);
    }
    static char tag_of(std::string_view op) {
        if (op == "//") return 'D';
        return op[0];
    }

    int sum() {
        int node = product();
        if (node < 0) return -1;
        while (true) {
            Op op = binary_op();
            if (!op.ok() || !(op.op == "+" || op.op == "-") || !operand_follows(op.width)) return node;
            pos += op.width;
            if (!count_op()) return -1;
            int rhs = product();
            if (rhs < 0) return -1;
            node = bin(op.op[0], node, rhs);
        }
    }
    int product() {
        int node = implicit();
        if (node < 0) return -1;
        while (true) {
            Op op = binary_op();
            if (!op.ok() || !(op.op == "*" || op.op == "/" || op.op == "//") || !operand_follows(op.width)) return node;
            bool spaced = op.op == "/" && !(t(pos).attached && t(pos + 1).attached);
            pos += op.width;
            if (!count_op()) return -1;
            int rhs = spaced ? tight_fraction() : implicit();
            if (rhs < 0) return -1;
            node = bin(tag_of(op.op), node, rhs);
        }
    }
    int implicit() {
        int node = power();
        if (node < 0) return -1;
        while (true) {
            const Tok& x = t(pos);
            if (!ends_operand()) return node;
            if (x.attached && is_var(x)) {
                if (!count_op()) return -1;
                int rhs = power();
                if (rhs < 0) return -1;
                node = bin('*', node, rhs);
                continue;
            }
            if (x.kind != K_LP) return node;
            int s_pos = pos, s_ops = n_ops, s_depth = depth;
            bool s_var = has_var, s_units = has_units;
            if (!count_op()) return -1;
            int rhs = power();
            if (rhs < 0) {
                if (c.err != E_PARSE) return -1;
                c.err = E_NONE;
                pos = s_pos, n_ops = s_ops, depth = s_depth, has_var = s_var, has_units = s_units;
                return node;
            }
            node = bin('*', node, rhs);
        }
    }
    int tight_fraction() {
        const Tok &t0 = t(pos), &t1 = t(pos + 1), &t2 = t(pos + 2);
        if (t0.kind == K_NUM && t1.kind == K_OP && t1.text == "/" && t1.attached && t2.kind == K_NUM && t2.attached) {
            int num = atom();
            if (num < 0) return -1;
            pos += 1;
            if (!count_op()) return -1;
            int den = atom();
            if (den < 0) return -1;
            return bin('/', num, den);
        }
        return implicit();
    }
    bool acts_as_operator(int i) {
        int save = pos;
        pos = i;
        bool r = binary_op().ok();
        pos = save;
        return r;
    }
    int power() {
        int base = unary();
        if (base < 0) return -1;
        const Tok& x = t(pos);
        if (x.kind == K_OP && x.text == "^" && operand_follows(1)) {
            pos += 1;
            if (!count_op() || !nest()) return -1;
            int e = power();
            if (e < 0) return -1;
            depth -= 1;
            return bin('^', base, e);
        }
        return base;
    }
    int unary() {
        const Tok& x = t(pos);
        if (x.kind == K_OP && (x.text == "+" || x.text == "-")) {
            pos += 1;
            if (!nest()) return -1;
            int inner = unary();
            if (inner < 0) return -1;
            depth -= 1;
            if (x.text == "-") {
                Node nd;
                nd.tag = 'N';
                nd.a = inner;
                return c.add(nd);
            }
            return inner;
        }
        return atom();
    }
    bool has_var_node(int i) const {
        const Node& nd = c.nodes[i];
        if (nd.tag == 'v') return true;
        if (nd.tag == 'n') return false;
        if (nd.a >= 0 && has_var_node(nd.a)) return true;
        return nd.b >= 0 && has_var_node(nd.b);
    }
    int atom() {
        int ti = pos;
        const Tok* x = &t(pos);
        Kind kind = x->kind;
        if (kind == K_CUR) {
            pos += 1;
            ti = pos;
            x = &t(pos);
            if (x->kind != K_NUM) return c.fail(E_PARSE), -1;
            kind = K_NUM;
        }
        if (kind == K_NUM) {
            pos += 1;
            Node nd;
            nd.tag = 'n';
            nd.tok = ti < 0 ? ti + (int)c.T.size() : ti;
            if (!literal(c, x->text, nd.written, nd.decimals)) return -1;
            nd.value = nd.written;
            if (t(pos).kind == K_PCT) {
                pos += 1;
                nd.pct = true;
                if (!r_mul(nd.written, Rat{1, 100}, nd.value)) return c.fail(E_FALLBACK), -1;
            }
            int node = factorial(c.add(nd));
            if (node < 0) return -1;
            skip_units();
            return node;
        }
        if (kind == K_LP) {
            pos += 1;
            if (!nest()) return -1;
            int node = sum();
            if (node < 0) return -1;
            if (t(pos).kind != K_RP) return c.fail(E_PARSE, "unbalanced parenthesis"), -1;
            pos += 1;
            depth -= 1;
            if (t(pos).kind == K_PCT) {
                pos += 1;
                Node pn;
                pn.tag = 'n';
                pn.value = Rat{1, 100};
                pn.written = Rat{1, 1};
                pn.tok = -1;
                pn.decimals = -1;
                pn.pct = true;
                node = bin('*', node, c.add(pn));
            }
            node = factorial(node);
            if (node < 0) return -1;
            skip_units();
            return node;
        }
        if (is_var(*x)) {
            pos += 1;
            has_var = true;
            skip_units();
            Node nd;
            nd.tag = 'v';
            nd.tok = ti;
            return c.add(nd);
        }
        return c.fail(E_PARSE), -1;
    }
    int factorial(int node) {
        while (t(pos).kind == K_FACT && t(pos).attached) {
            Kind nk = t(pos + 1).kind;
            if (!(nk == K_OP || nk == K_REL || nk == K_RP || nk == K_FACT)) break;
            if (has_var_node(node)) return c.fail(E_UNVERIFIABLE, "factorial of an expression with a variable"), -1;
            pos += 1;
            if (!count_op()) return -1;
            Node nd;
            nd.tag = '!';
            nd.a = node;
            node = c.add(nd);
        }
        return node;
    }
    void skip_units() {
        int i = pos, words = 0;
        while (i < end) {
            const Tok& x = t(i);
            bool as_word = x.kind == K_WORD && !acts_as_operator(i);
            if (as_word) {
                if ((not_unit(x.text) && !(x.text == "of" && words)) || (x.attached && is_var(x))) break;
                words += 1;
                if (words > MAX_UNIT_WORDS) return;
                i += 1;
            } else if (x.kind == K_OP && x.text == "/" && i + 1 < end && t(i + 1).kind == K_WORD && !is_var(t(i + 1))) {
                i += 2;
            } else {
                break;
            }
        }
        if (i == pos || i >= end) return;
        const Tok& x = t(i);
        if (x.kind == K_REL || x.kind == K_RP || (x.kind == K_OP && x.text != "^" && i + 1 < end)) {
            pos = i;
            has_units = true;
            return;
        }
        if (x.kind == K_WORD) {
            int save = pos;
            pos = i;
            if (!binary_op().ok())
                pos = save;
            else
                has_units = true;
        }
    }
};

struct Parsed {
    int node, end;
    bool has_op, has_var, has_units;
};

// parse_prefix: 1 found, 0 none (ParseError), -1 error (Unverifiable / Fallback in c.err)
static int parse_prefix(Ctx& c, int pos, Parsed& out) {
    Parser p{c, pos, (int)c.T.size()};
    int node = p.sum();
    if (node < 0) {
        if (c.err == E_PARSE) {
            c.err = E_NONE;
            return 0;
        }
        return -1;
    }
    out = {node, p.pos, p.n_ops > 0, p.has_var, p.has_units};
    return 1;
}

// -------------------------------------------------------------------------------------------------
// Evaluation
// -------------------------------------------------------------------------------------------------
static bool check(Ctx& c, Rat v) {
    if (bitlen(uabs(v.n)) > c.L.max_bits || bitlen((u128)v.d) > c.L.max_bits)
        return c.fail(E_UNVERIFIABLE, "intermediate value exceeds " + std::to_string(c.L.max_bits) + " bits");
    return true;
}

static bool root(Ctx& c, Rat base, i64 q, Rat& out) {
    if (base.n < 0 && q % 2 == 0) return c.fail(E_UNDEFINED, "even root of a negative number");
    i64 sign = base.n < 0 ? -1 : 1;
    i64 parts[2] = {base.n < 0 ? -base.n : base.n, base.d}, res[2];
    for (int k = 0; k < 2; ++k) {
        i64 part = parts[k];
        double r = part ? std::nearbyint(std::exp(std::log((double)part) / (double)q)) : 0.0;
        if (!(r < 9.0e18)) return c.fail(E_FALLBACK);
        i64 ri = (i64)r;
        bool found = false;
        for (i64 cand = ri - 1; cand <= ri + 1; ++cand) {
            i128 pw;
            if (cand >= 0 && ipow(cand, q, pw) && pw == part) {
                res[k] = cand;
                found = true;
                break;
            }
        }
        if (!found) return c.fail(E_UNVERIFIABLE, "irrational root");
    }
    return mk((i128)sign * res[0], res[1], out) || c.fail(E_FALLBACK);
}

static bool power(Ctx& c, Rat base, Rat exp, Rat& out) {
    if (exp.d > 16) return c.fail(E_UNVERIFIABLE, "fractional exponent");
    i64 p = exp.n, ap = p < 0 ? -p : p;
    if (ap > c.L.max_exponent) return c.fail(E_UNVERIFIABLE, "exponent " + std::to_string(p) + " exceeds the limit of " + std::to_string(c.L.max_exponent));
    i128 bits = std::max(bitlen(uabs(base.n)), bitlen((u128)base.d));
    if (bits * ap > c.L.max_bits) return c.fail(E_UNVERIFIABLE, "power would exceed " + std::to_string(c.L.max_bits) + " bits");
    if (base.n == 0 && p < 0) return c.fail(E_UNDEFINED, "zero to a negative power");
    if (exp.d != 1 && !root(c, base, exp.d, base)) return false;
    i128 n, d;
    if (!ipow(base.n, ap, n) || !ipow(base.d, ap, d)) return c.fail(E_FALLBACK);
    if (p < 0) std::swap(n, d);
    return mk(n, d, out) || c.fail(E_FALLBACK);
}

static bool factorial(Ctx& c, Rat n, Rat& out) {
    if (n.d != 1 || n.n < 0) return c.fail(E_UNDEFINED, "factorial of " + r_str(n) + ", not a natural number");
    if (n.n > 1000000) return c.fail(E_UNVERIFIABLE, r_str(n) + "! would exceed " + std::to_string(c.L.max_bits) + " bits");
    double est = std::lgamma((double)n.n + 1.0) / std::log(2.0);
    if (std::fabs(est - (double)c.L.max_bits) < 1e-6) return c.fail(E_FALLBACK);
    if (est > (double)c.L.max_bits) return c.fail(E_UNVERIFIABLE, r_str(n) + "! would exceed " + std::to_string(c.L.max_bits) + " bits");
    i128 f = 1;
    for (i64 k = 2; k <= n.n; ++k) {
        f *= k;
        if (f > BOUND) return c.fail(E_FALLBACK);
    }
    out = Rat{(i64)f, 1};
    return true;
}

static bool evaluate(Ctx& c, int i, bool pw, Rat& out) {
    const Node& nd = c.nodes[i];
    switch (nd.tag) {
        case 'n': out = pw ? nd.written : nd.value; return true;
        case 'N': {
            if (!evaluate(c, nd.a, pw, out)) return false;
            out.n = -out.n;
            return true;
        }
        case 'v': return c.fail(E_UNVERIFIABLE, "variable '" + std::string(c.T[nd.tok].text) + "'");
        case '!': {
            Rat v;
            return evaluate(c, nd.a, pw, v) && factorial(c, v, out);
        }
        default: break;
    }
    Rat a, b;
    if (!evaluate(c, nd.a, pw, a) || !evaluate(c, nd.b, pw, b)) return false;
    switch (nd.tag) {
        case '+': return (r_add(a, b, out) || c.fail(E_FALLBACK)) && check(c, out);
        case '-': return (r_sub(a, b, out) || c.fail(E_FALLBACK)) && check(c, out);
        case '*': return (r_mul(a, b, out) || c.fail(E_FALLBACK)) && check(c, out);
        case '/':
        case 'D': {
            if (b.n == 0) return c.fail(E_UNDEFINED, "division by zero");
            Rat q;
            if (!r_div(a, b, q)) return c.fail(E_FALLBACK);
            if (nd.tag == 'D') q = Rat{(i64)floordiv(q.n, q.d), 1};
            out = q;
            return check(c, out);
        }
        default: return power(c, a, b, out);
    }
}

static bool has_percent(const Ctx& c, int i) {
    const Node& nd = c.nodes[i];
    if (nd.tag == 'n') return nd.pct;
    if (nd.tag == 'v') return false;
    return (nd.a >= 0 && has_percent(c, nd.a)) || (nd.b >= 0 && has_percent(c, nd.b));
}

// -------------------------------------------------------------------------------------------------
// Steps
// -------------------------------------------------------------------------------------------------
constexpr int MAX_LHS_TOKENS = 128;
constexpr int ROUNDING_MIN_DECIMALS = 2;

// rounds_to: 1 yes, 0 no, -1 fallback
static int rounds_to(const Ctx& c, Rat exact, int lit, bool pw) {
    const Node& nd = c.nodes[lit];
    if (nd.decimals < ROUNDING_MIN_DECIMALS) return 0;
    if (nd.decimals > 18) return -1;
    Rat scale = (nd.pct && !pw) ? Rat{1, 100} : Rat{1, 1};
    Rat x, w;
    if (!r_div(exact, scale, x) || !r_div(nd.value, scale, w)) return -1;
    i64 q = 1;
    for (int k = 0; k < nd.decimals; ++k) q *= 10;
    Rat scaled;
    if (!r_mul(x, Rat{q, 1}, scaled)) return -1;
    i64 sign = scaled.n < 0 ? -1 : 1;
    i128 mn = scaled.n < 0 ? -(i128)scaled.n : scaled.n, md = scaled.d;
    i128 fl = mn / md, rem = mn - fl * md;
    i128 half_up = (2 * mn + md) / (2 * md);
    i128 even = (2 * rem > md) ? fl + 1 : (2 * rem < md ? fl : fl + (fl & 1));
    for (i128 cand : {half_up, even, fl}) {
        // Fraction(sign * cand, q) == w  <=>  sign * cand * w.d == w.n * q (both sides fit 128 bits? check)
        if (cand > BOUND) return -1;
        Rat v;
        if (!mk((i128)sign * cand, q, v)) return -1;
        if (r_eq(v, w)) return 1;
    }
    return 0;
}

enum Verdict { V_CORRECT, V_ROUNDED, V_WRONG, V_FALLBACK };

static Verdict compare(const Ctx& c, Rat va, std::string_view rel, Rat vb, int a, int b, bool rounding, bool pw) {
    if (rel == "=" || rel == "\xe2\x89\x88") {
        bool approx = rel != "=";
        if (r_eq(va, vb)) return V_CORRECT;
        if (rounding || approx) {
            if (c.nodes[b].tag == 'n') {
                int r = rounds_to(c, va, b, pw);
                if (r < 0) return V_FALLBACK;
                if (r) return approx ? V_CORRECT : V_ROUNDED;
            }
            if (c.nodes[a].tag == 'n') {
                int r = rounds_to(c, vb, a, pw);
                if (r < 0) return V_FALLBACK;
                if (r) return approx ? V_CORRECT : V_ROUNDED;
            }
        }
        if (approx) {
            Rat diff, m, m100;
            if (!r_sub(va, vb, diff)) return V_FALLBACK;
            if (diff.n < 0) diff.n = -diff.n;
            Rat aa = va, ab = vb;
            if (aa.n < 0) aa.n = -aa.n;
            if (ab.n < 0) ab.n = -ab.n;
            m = r_cmp(aa, ab) >= 0 ? aa : ab;
            if (!mk(m.n, (i128)m.d * 100, m100)) return V_FALLBACK;
            if (r_cmp(diff, m100) <= 0) return V_CORRECT;
        }
        return V_WRONG;
    }
    int k = r_cmp(va, vb);
    bool ok;
    if (rel == "<") ok = k < 0;
    else if (rel == ">") ok = k > 0;
    else if (rel == "\xe2\x89\xa4") ok = k <= 0;
    else if (rel == "\xe2\x89\xa5") ok = k >= 0;
    else ok = k != 0;  // ≠
    return ok ? V_CORRECT : V_WRONG;
}

struct Seg {
    int node, start, end;
    bool has_op, has_var, has_units;
};

struct StepOut {
    int text_start, text_end;
    bool whole_line;  // the Python side strips the text
    std::string_view rel;
    int lhs = -1, rhs = -1;
    const char* verdict = "";
    std::string detail;
    bool detail_from_values = false;  // "wrong": Python formats "<va> rel <vb> is false"
    Rat va, vb;
    bool symbolic = false;
};

// _chain_at: 1 found (segs, rels, lo), 0 none, -1 error
static int chain_at(Ctx& c, int lo, int k, std::vector<Seg>& segs, std::vector<std::string_view>& rels, int& new_lo) {
    const auto& T = c.T;
    int window = std::max(lo, k - MAX_LHS_TOKENS), start_min = window;
    for (int i = k - 1; i >= window; --i)
        if (T[i].kind == K_BRK || T[i].kind == K_REL) {
            start_min = i + 1;
            break;
        }
    bool have_lhs = false;
    Seg lhs{};
    for (int s = start_min; s < k; ++s) {
        const Tok& x = T[s];
        if (x.kind == K_OP) {
            if (!(x.text == "+" || x.text == "-")) continue;
            if (s > 0) {
                Kind pk = T[s - 1].kind;
                if (pk == K_NUM || pk == K_RP || pk == K_PCT || pk == K_WORD || pk == K_FACT) continue;
            }
        } else if (!(x.kind == K_NUM || x.kind == K_CUR || x.kind == K_LP || is_var(x))) {
            continue;
        }
        Parsed p;
        int r = parse_prefix(c, s, p);
        if (r < 0) return -1;
        if (r == 1 && p.end == k) {
            if (s == 0 || T[s - 1].kind != K_OP) {
                lhs = {p.node, s, k, p.has_op, p.has_var, p.has_units};
                have_lhs = true;
            }
            break;
        }
    }
    if (!have_lhs) {
        if (window > lo) {
            bool all_math = true;
            for (int i = window; i < k && all_math; ++i) {
                Kind kk = T[i].kind;
                all_math = kk == K_NUM || kk == K_OP || kk == K_LP || kk == K_RP || kk == K_PCT || kk == K_CUR;
            }
            if (all_math) return c.fail(E_UNVERIFIABLE, "left side longer than " + std::to_string(MAX_LHS_TOKENS) + " tokens"), -1;
        }
        return 0;
    }
    segs.clear();
    rels.clear();
    segs.push_back(lhs);
    int j = k, n = (int)T.size();
    while (j < n && T[j].kind == K_REL) {
        Parsed p;
        int r = parse_prefix(c, j + 1, p);
        if (r < 0) return -1;
        if (r == 0 || p.end == j + 1) break;
        rels.push_back(T[j].text);
        segs.push_back({p.node, j + 1, p.end, p.has_op, p.has_var, p.has_units});
        j = p.end;
    }
    if (segs.size() < 2) return 0;
    new_lo = j;
    return 1;
}

static bool is_binary(char tag) { return tag == '+' || tag == '-' || tag == '*' || tag == '/' || tag == 'D' || tag == '^'; }

// _continues_from: 1 / 0, -1 fallback
static int continues_from(Ctx& c, Rat value, int node) {
    while (is_binary(c.nodes[node].tag)) {
        node = c.nodes[node].a;
        Rat v;
        if (!evaluate(c, node, false, v)) {
            if (c.err == E_FALLBACK) return -1;
            c.err = E_NONE;
            return 0;
        }
        if (r_eq(v, value)) return 1;
    }
    return 0;
}

// _check_chain; false = fall back
static bool check_chain(Ctx& c, bool inline_kind, const std::vector<Seg>& segs, const std::vector<std::string_view>& rels,
                        bool rounding, std::vector<StepOut>& out) {
    const auto& T = c.T;
    std::vector<Rat> values(segs.size());
    std::vector<bool> known(segs.size(), false);
    for (size_t i = 0; i < rels.size(); ++i) {
        std::string_view rel = rels[i];
        const Seg &a = segs[i], &b = segs[i + 1];
        if (rel == "=" && inline_kind && !(a.has_op || b.has_op || a.has_var || b.has_var)) continue;
        StepOut st;
        st.text_start = T[a.start].start;
        st.text_end = T[b.end - 1].end;
        st.whole_line = false;
        st.rel = rel;
        st.lhs = a.node;
        st.rhs = b.node;
        if (a.has_var || b.has_var) {
            st.verdict = "pending";
            st.symbolic = true;
            out.push_back(std::move(st));
            continue;
        }
        Verdict v = V_WRONG;
        bool ok = true;
        if (!known[i]) {
            ok = evaluate(c, a.node, false, values[i]);
            known[i] = ok;
        }
        if (ok && !known[i + 1]) {
            ok = evaluate(c, b.node, false, values[i + 1]);
            known[i + 1] = ok;
        }
        if (ok) {
            v = compare(c, values[i], rel, values[i + 1], a.node, b.node, rounding, false);
            if (v == V_FALLBACK) return false;
            if (v == V_WRONG && (has_percent(c, a.node) || has_percent(c, b.node))) {
                Rat wa, wb;
                ok = evaluate(c, a.node, true, wa) && evaluate(c, b.node, true, wb);
                if (ok) {
                    v = compare(c, wa, rel, wb, a.node, b.node, rounding, true);
                    if (v == V_FALLBACK) return false;
                }
            }
        }
        if (!ok) {
            if (c.err == E_FALLBACK) return false;
            st.verdict = c.err == E_UNVERIFIABLE ? "unverifiable" : "wrong";
            st.detail = c.msg;
            c.err = E_NONE;
            out.push_back(std::move(st));
            continue;
        }
        Rat va = values[i], vb = values[i + 1];
        st.verdict = v == V_CORRECT ? "correct" : (v == V_ROUNDED ? "rounded" : "wrong");
        if (v == V_WRONG && rel == "=") {
            int r = b.has_op ? continues_from(c, va, b.node) : 0;
            if (r < 0) return false;
            if (r) {
                st.verdict = "running";  // 48/2 = 24 + 10 = 34: a running total written as a chain
            } else if (c.nodes[a.node].tag == 'n' && b.has_op) {
                continue;  // 2 kg = 2 * 1000 g: a conversion or a label
            }
        }
        if (std::string_view(st.verdict) == "wrong") {
            st.detail_from_values = true;
            st.va = va;
            st.vb = vb;
        }
        out.push_back(std::move(st));
    }
    return true;
}

// _line_steps; false = fall back
static bool line_steps(Ctx& c, bool inline_kind, bool rounding, std::vector<StepOut>& out) {
    const auto& T = c.T;
    int n = (int)T.size(), lo = 0;
    std::vector<Seg> segs;
    std::vector<std::string_view> rels;
    for (int k = 0; k < n; ++k) {
        if (k < lo || T[k].kind != K_REL) continue;
        int new_lo = lo;
        int r = chain_at(c, lo, k, segs, rels, new_lo);
        if (r < 0) {
            if (c.err != E_UNVERIFIABLE) return false;
            StepOut st;
            st.text_start = T[lo].start;
            st.text_end = T[n - 1].end;
            st.whole_line = true;
            st.rel = T[k].text;
            st.verdict = "unverifiable";
            st.detail = c.msg;
            out.push_back(std::move(st));
            return true;
        }
        if (r == 0) continue;
        lo = new_lo;
        if (!check_chain(c, inline_kind, segs, rels, rounding, out)) return false;
    }
    return true;
}

// -------------------------------------------------------------------------------------------------
// Python objects (raw C API: this is the hot part of a call; every reference is owned and released)
// -------------------------------------------------------------------------------------------------
struct Py {
    PyTypeObject* fraction = nullptr;  // fractions.Fraction (instances built by tp_alloc + its two slots)
    Py_ssize_t off_num = 0, off_den = 0;
    PyObject* one = nullptr;
    PyObject* hundredth = nullptr;
    PyObject* kinds[K_COUNT] = {};
    PyObject *s_n, *s_v, *s_neg, *s_fact, *s_pct, *s_floordiv, *s_empty, *s_inline, *s_calculator, *s_lhs, *s_rhs;
    PyObject* s_char[128] = {};  // one-character strings
    PyObject* small[1025] = {};  // Fraction(k) for 0 <= k <= 1024
};
static Py* py = nullptr;

// a new reference to str(v) (UTF-8 bytes)
static PyObject* str_of(std::string_view v) {
    if (v.size() == 1 && (unsigned char)v[0] < 128) {
        PyObject* o = py->s_char[(unsigned char)v[0]];
        Py_INCREF(o);
        return o;
    }
    if (v.empty()) {
        Py_INCREF(py->s_empty);
        return py->s_empty;
    }
    return PyUnicode_FromStringAndSize(v.data(), (Py_ssize_t)v.size());
}

static PyObject* new_ref(PyObject* o) {
    Py_INCREF(o);
    return o;
}

// a new reference to Fraction(v) (v is normalized); nullptr with an exception set on failure
static PyObject* fraction(Rat v) {
    if (v.d == 1 && v.n >= 0 && v.n <= 1024 && py->small[v.n]) return new_ref(py->small[v.n]);
    PyObject* f = py->fraction->tp_alloc(py->fraction, 0);
    if (!f) return nullptr;
    PyObject* n = PyLong_FromLongLong(v.n);
    PyObject* d = PyLong_FromLongLong(v.d);
    if (!n || !d) {
        Py_XDECREF(n);
        Py_XDECREF(d);
        Py_DECREF(f);
        return nullptr;
    }
    *(PyObject**)((char*)f + py->off_num) = n;
    *(PyObject**)((char*)f + py->off_den) = d;
    return f;
}

// PyTuple of new references (stolen); nullptr when one is nullptr (the others are released)
static PyObject* tuple(std::initializer_list<PyObject*> items) {
    bool ok = true;
    for (PyObject* o : items) ok = ok && o;
    PyObject* t = ok ? PyTuple_New((Py_ssize_t)items.size()) : nullptr;
    Py_ssize_t i = 0;
    for (PyObject* o : items) {
        if (t)
            PyTuple_SET_ITEM(t, i++, o);
        else
            Py_XDECREF(o);
    }
    return t;
}

static PyObject* tag_str(char tag) {
    switch (tag) {
        case 'n': return new_ref(py->s_n);
        case 'v': return new_ref(py->s_v);
        case 'N': return new_ref(py->s_neg);
        case '!': return new_ref(py->s_fact);
        case 'D': return new_ref(py->s_floordiv);
        default: return new_ref(py->s_char[(unsigned char)tag]);
    }
}

static PyObject* ast(const Ctx& c, int i) {
    const Node& nd = c.nodes[i];
    switch (nd.tag) {
        case 'n': {
            PyObject* text = nd.tok < 0 ? new_ref(py->s_pct) : str_of(c.T[nd.tok].text);
            return tuple({tag_str('n'), fraction(nd.value), text, PyLong_FromLong(nd.decimals), new_ref(nd.pct ? py->hundredth : py->one)});
        }
        case 'v': return tuple({tag_str('v'), str_of(c.T[nd.tok].text)});
        case 'N':
        case '!': return tuple({tag_str(nd.tag), ast(c, nd.a)});
        default: return tuple({tag_str(nd.tag), ast(c, nd.a), ast(c, nd.b)});
    }
}

static void render(const Ctx& c, int i, std::string& s) {  // expr.render
    const Node& nd = c.nodes[i];
    switch (nd.tag) {
        case 'n': s += r_str(nd.value); return;
        case 'v': s += c.T[nd.tok].text; return;
        case 'N': s += "-"; render(c, nd.a, s); return;
        case '!': render(c, nd.a, s); s += "!"; return;
        default:
            s += "(";
            render(c, nd.a, s);
            s += nd.tag == 'D' ? "//" : std::string(1, nd.tag);
            render(c, nd.b, s);
            s += ")";
    }
}

// the ASCII bytes of a str, or false (non-ASCII: the caller falls back)
static bool ascii(nb::handle s, const char*& data, int& n) {
    PyObject* o = s.ptr();
    if (!PyUnicode_Check(o) || !PyUnicode_IS_ASCII(o)) return false;
    Py_ssize_t len = PyUnicode_GET_LENGTH(o);
    if (len > (1 << 28)) return false;
    data = (const char*)PyUnicode_DATA(o);
    n = (int)len;
    return true;
}

// a token buffer reused by the calls on this thread (no allocation per line); a nested call (a finalizer
// the garbage collector runs while Python objects are built may call back into this module) gets its own
static thread_local std::vector<Tok> tls_toks;
static thread_local bool tls_toks_busy = false;
struct TokBuf {
    std::vector<Tok> own;
    bool borrowed;
    std::vector<Tok>& v;
    TokBuf() : borrowed(!tls_toks_busy), v(borrowed ? tls_toks : own) { tls_toks_busy = true; }
    ~TokBuf() {
        if (borrowed) tls_toks_busy = false;
    }
    TokBuf(const TokBuf&) = delete;
    TokBuf& operator=(const TokBuf&) = delete;
};

static nb::object steal(PyObject* o) {
    if (!o) throw nb::python_error();
    return nb::steal(o);
}

static nb::object py_tokenize(nb::handle text) {
    const char* s;
    int n;
    if (!py || !ascii(text, s, n)) return nb::none();
    TokBuf buf;
    std::vector<Tok>& T = buf.v;
    tokenize(s, n, T);
    nb::object out = steal(PyList_New((Py_ssize_t)T.size()));
    for (size_t i = 0; i < T.size(); ++i) {
        const Tok& t = T[i];
        PyObject* item = tuple({new_ref(py->kinds[t.kind]), str_of(t.text), PyLong_FromLong(t.start), PyLong_FromLong(t.end),
                                PyBool_FromLong(t.attached)});
        if (!item) throw nb::python_error();
        PyList_SET_ITEM(out.ptr(), (Py_ssize_t)i, item);
    }
    return out;
}

// [(text_start, text_end, whole_line, relation, lhs, rhs, verdict, detail, symbolic, key), ...] or None;
// detail is a str, or (va, vb) for a false statement (formatted by the caller)
static nb::object py_line_steps(nb::handle line, bool inline_kind, i64 max_digits, i64 max_bits, i64 max_exponent, i64 max_ops,
                                i64 max_depth, bool rounding) {
    const char* s;
    int n;
    if (!py || !ascii(line, s, n) || max_depth > 1000 || max_depth < 0 || max_ops > 2000 || max_ops < 0 || max_digits < 0) return nb::none();
    Limits L{max_digits, max_bits, max_exponent, max_ops, max_depth};
    TokBuf buf;
    std::vector<Tok>& T = buf.v;
    tokenize(s, n, T);
    Ctx c{T, L};
    c.nodes.reserve(64);
    std::vector<StepOut> steps;
    if (!line_steps(c, inline_kind, rounding, steps)) return nb::none();
    nb::object out = steal(PyList_New((Py_ssize_t)steps.size()));
    std::string l, r;
    for (size_t i = 0; i < steps.size(); ++i) {
        const StepOut& st = steps[i];
        PyObject* lhs = st.lhs >= 0 ? ast(c, st.lhs) : new_ref(Py_None);
        PyObject* rhs = st.rhs >= 0 ? ast(c, st.rhs) : new_ref(Py_None);
        PyObject* detail = st.detail_from_values ? tuple({fraction(st.va), fraction(st.vb)}) : str_of(st.detail);
        PyObject* key = nullptr;
        if (st.lhs >= 0 && st.rhs >= 0) {
            l.clear();
            r.clear();
            render(c, st.lhs, l);
            render(c, st.rhs, r);
            key = tuple({str_of(l), str_of(st.rel), str_of(r)});
        } else {
            key = new_ref(Py_None);
        }
        PyObject* item = tuple({PyLong_FromLong(st.text_start), PyLong_FromLong(st.text_end), PyBool_FromLong(st.whole_line),
                                str_of(st.rel), lhs, rhs, PyUnicode_FromString(st.verdict), detail, PyBool_FromLong(st.symbolic), key});
        if (!item) throw nb::python_error();
        PyList_SET_ITEM(out.ptr(), (Py_ssize_t)i, item);
    }
    return out;
}

static bool is_ascii(std::string_view v) {
    for (char ch : v)
        if ((unsigned char)ch >= 0x80) return false;
    return true;
}

// str.strip() of an ASCII string, then [:200]
static std::string_view strip200(std::string_view v, bool strip) {
    auto space = [](char ch) { return ch == ' ' || (ch >= '\t' && ch <= '\r') || (ch >= '\x1c' && ch <= '\x1f'); };
    if (strip) {
        while (!v.empty() && space(v.front())) v.remove_prefix(1);
        while (!v.empty() && space(v.back())) v.remove_suffix(1);
    }
    return v.substr(0, 200);
}

// _REL_CHARS_RE.search on ASCII: [=<>] or \bequals\b or \bmakes\b
static bool has_relation(std::string_view v) {
    for (size_t i = 0; i < v.size(); ++i) {
        char ch = v[i];
        if (ch == '=' || ch == '<' || ch == '>') return true;
        if ((ch == 'e' || ch == 'm') && (i == 0 || !isword(v[i - 1]))) {
            for (std::string_view w : {std::string_view("equals"), std::string_view("makes")})
                if (v.compare(i, w.size(), w) == 0 && (i + w.size() == v.size() || !isword(v[i + w.size()]))) return true;
        }
    }
    return false;
}

// the steps of one line appended to `out` as Python tuples; a line the port cannot promise is appended
// as (line, kind) for the Python reference
// `seen`: the keys of the steps already appended (a later step with one of them is left out: steps._unique
// would drop it, keeping the first)
static void line_items(std::string_view line, bool inline_kind, const Limits& L, bool rounding, PyObject* out,
                       std::unordered_set<std::string>& seen, std::string& keybuf) {
    PyObject* kind = inline_kind ? py->s_inline : py->s_calculator;
    TokBuf buf;
    std::vector<Tok>& T = buf.v;
    std::vector<StepOut> steps;
    bool taken = is_ascii(line);
    if (taken) tokenize(line.data(), (int)line.size(), T);
    Ctx c{T, L};
    c.nodes.reserve(64);
    if (!taken || !line_steps(c, inline_kind, rounding, steps)) {
        PyObject* item = tuple({str_of(line), new_ref(kind)});
        if (!item || PyList_Append(out, item) < 0) {
            Py_XDECREF(item);
            throw nb::python_error();
        }
        Py_DECREF(item);
        return;
    }
    std::string l, r;
    for (const StepOut& st : steps) {
        // Step.key(): (render(lhs), relation, render(rhs)), or (text,) without both sides; "3"/"1" + NUL-joined
        // parts here (no part holds a NUL but the text, which is last)
        std::string_view text = strip200(line.substr(st.text_start, st.text_end - st.text_start), st.whole_line);
        bool sides = st.lhs >= 0 && st.rhs >= 0;
        keybuf.clear();
        if (sides) {
            l.clear();
            r.clear();
            render(c, st.lhs, l);
            render(c, st.rhs, r);
            keybuf.append("3\0", 2).append(l).append(1, '\0').append(st.rel).append(1, '\0').append(r);
        } else {
            keybuf.append("1\0", 2).append(text);
        }
        if (!seen.insert(keybuf).second) continue;  // a duplicate: never built
        PyObject* lhs = st.lhs >= 0 ? ast(c, st.lhs) : new_ref(Py_None);
        PyObject* rhs = st.rhs >= 0 ? ast(c, st.rhs) : new_ref(Py_None);
        PyObject* detail = st.detail_from_values ? tuple({fraction(st.va), fraction(st.vb)}) : str_of(st.detail);
        PyObject* key = sides ? tuple({str_of(l), str_of(st.rel), str_of(r)}) : new_ref(Py_None);
        PyObject* item = tuple({new_ref(kind), str_of(text), str_of(st.rel), lhs, rhs, PyUnicode_FromString(st.verdict), detail,
                                PyBool_FromLong(st.symbolic), key});
        if (!item || PyList_Append(out, item) < 0) {
            Py_XDECREF(item);
            throw nb::python_error();
        }
        Py_DECREF(item);
    }
}

// steps.extract_steps after normalize_text: a list of (kind, text, relation, lhs, rhs, verdict, detail,
// symbolic, key) and (line, kind) items (a line it hands back: non-ASCII, or beyond 64-bit rationals; an
// inline one that is not ASCII is handed back unchecked for a relation), None when the reference must read
// the whole text (lone surrogates, limits it does not take).  A step whose key an
// earlier step of the list has is left out (so without (line, kind) items the list is deduplicated; with
// them, steps._unique over the whole still gives what it gives without this)
static nb::object py_extract(nb::handle text, i64 max_digits, i64 max_bits, i64 max_exponent, i64 max_ops, i64 max_depth,
                             bool rounding) {
    const char* s;
    int n;
    if (!py || max_depth > 1000 || max_depth < 0 || max_ops > 2000 || max_ops < 0 || max_digits < 0) return nb::none();
    bool all_ascii = ascii(text, s, n);
    if (!all_ascii) {  // UTF-8: ASCII lines are read here, the others handed back whole
        if (!PyUnicode_Check(text.ptr())) return nb::none();
        Py_ssize_t len = 0;
        s = PyUnicode_AsUTF8AndSize(text.ptr(), &len);
        if (!s) {  // lone surrogates (surrogateescape): the reference reads the text
            PyErr_Clear();
            return nb::none();
        }
        if (len > (1 << 28)) return nb::none();
        n = (int)len;
    }
    Limits L{max_digits, max_bits, max_exponent, max_ops, max_depth};
    nb::object out = steal(PyList_New(0));
    std::unordered_set<std::string> seen;
    std::string keybuf;
    std::string_view v(s, n);
    std::string rest;  // the text without its annotations
    bool any = v.find("<<") != std::string_view::npos;
    if (any) {
        // _ANNOTATION_RE = <<([^<>\n]{0,400})>>, finditer then sub(""); 400 characters, not bytes (UTF-8: a
        // character is a byte that does not continue one; no byte of a multi-byte character is '<', '>', '\n')
        rest.reserve(v.size());
        size_t p = 0, copied = 0;
        while (p + 1 < v.size()) {
            if (v[p] == '<' && v[p + 1] == '<') {
                size_t q = p + 2, run = 0;
                bool over = false;
                while (q < v.size() && v[q] != '<' && v[q] != '>' && v[q] != '\n') {
                    if (((unsigned char)v[q] & 0xC0) != 0x80 && ++run > 400) {
                        over = true;
                        break;
                    }
                    ++q;
                }
                if (!over && q + 1 < v.size() && v[q] == '>' && v[q + 1] == '>') {
                    line_items(v.substr(p + 2, q - (p + 2)), false, L, rounding, out.ptr(), seen, keybuf);
                    rest.append(v.substr(copied, p - copied));
                    p = copied = q + 2;
                    continue;
                }
            }
            ++p;
        }
        rest.append(v.substr(copied));
        v = rest;
    }
    if (!all_ascii || has_relation(v)) {
        size_t p = 0;
        while (p <= v.size()) {
            size_t e = v.find('\n', p);
            if (e == std::string_view::npos) e = v.size();
            std::string_view line = v.substr(p, e - p);
            // a non-ASCII line goes back whole; the caller checks it for a relation (_REL_CHARS_RE) first
            if (!line.empty() && (!is_ascii(line) || has_relation(line))) line_items(line, true, L, rounding, out.ptr(), seen, keybuf);
            p = e + 1;
        }
    }
    return out;
}

// the exact values of the first `max_tokens` tokens' numbers, as (numerator, denominator) pairs: what
// framework._numbers reads from a prompt (a number too big to read is skipped); None when the text is not
// ASCII or a value does not fit 64-bit rationals
// the numbers themselves, appended to `out`; false when the text is not ASCII or a value does not fit
static bool numbers(nb::handle text, i64 max_digits, i64 max_tokens, std::vector<Rat>& out) {
    const char* s;
    int n;
    if (!py || !ascii(text, s, n) || max_digits < 0) return false;
    TokBuf buf;
    std::vector<Tok>& T = buf.v;
    tokenize(s, n, T);
    Limits L{max_digits, 0, 0, 0, 0};
    Ctx c{T, L};
    size_t upto = std::min<size_t>(T.size(), (size_t)std::max<i64>(0, max_tokens));
    for (size_t i = 0; i < upto; ++i) {
        if (T[i].kind != K_NUM) continue;
        Rat v;
        int decimals;
        if (!literal(c, T[i].text, v, decimals)) {
            if (c.err == E_FALLBACK) return false;
            c.err = E_NONE;
            continue;
        }
        out.push_back(v);
    }
    return true;
}

static nb::object py_numbers(nb::handle text, i64 max_digits, i64 max_tokens) {
    std::vector<Rat> found;
    if (!numbers(text, max_digits, max_tokens, found)) return nb::none();
    nb::object out = steal(PyList_New(0));
    for (const Rat& v : found) {
        PyObject* item = tuple({PyLong_FromLongLong(v.n), PyLong_FromLongLong(v.d)});
        if (!item || PyList_Append(out.ptr(), item) < 0) {
            Py_XDECREF(item);
            throw nb::python_error();
        }
        Py_DECREF(item);
    }
    return out;
}

// answer.read_answer after normalize_text and strip, for an ASCII text: the first number or expression among
// the first four places one may start (a number, '$', '(', '-') that has no variable: (value, as_written),
// (None, None) when there is none, a str (the Unverifiable / Undefined message) when it cannot be evaluated;
// None when the reference must decide (non-ASCII, a value beyond 64-bit rationals, limits it does not take)
static nb::object py_answer(nb::handle text, i64 max_digits, i64 max_bits, i64 max_exponent, i64 max_ops, i64 max_depth) {
    const char* s;
    int n;
    if (!py || !ascii(text, s, n) || max_depth > 1000 || max_depth < 0 || max_ops > 2000 || max_ops < 0 || max_digits < 0) return nb::none();
    Limits L{max_digits, max_bits, max_exponent, max_ops, max_depth};
    TokBuf buf;
    std::vector<Tok>& T = buf.v;
    tokenize(s, n, T);
    Ctx c{T, L};
    c.nodes.reserve(32);
    int tried = 0;
    for (int start = 0; start < (int)T.size() && tried < 4; ++start) {
        const Tok& t = T[start];
        if (!(t.kind == K_NUM || t.kind == K_CUR || t.kind == K_LP || (t.kind == K_OP && t.text == "-"))) continue;
        ++tried;
        Parsed p;
        int r = parse_prefix(c, start, p);
        Rat value, written;
        bool ok = r > 0;
        if (r > 0) {
            if (p.has_var) continue;
            ok = evaluate(c, p.node, false, value) && (!has_percent(c, p.node) ? (written = value, true) : evaluate(c, p.node, true, written));
        } else if (r == 0) {
            continue;
        }
        if (!ok) {
            if (c.err == E_UNVERIFIABLE || c.err == E_UNDEFINED) return steal(str_of(c.msg));
            return nb::none();
        }
        return steal(tuple({fraction(value), fraction(written)}));
    }
    return steal(tuple({new_ref(Py_None), new_ref(Py_None)}));
}

struct RatHash {
    size_t operator()(const std::pair<i64, i64>& v) const {
        return std::hash<i64>()(v.first) * 1000003u ^ std::hash<i64>()(v.second);
    }
};

// the exact values of the literals of one AST (expr's tuples) appended to `out`; false when a node is not
// what the kernel builds (not a tuple, a value that is not a Fraction or does not fit 64 bits): the caller
// then runs the reference
static bool ast_literals(PyObject* node, std::vector<PyObject*>& stack, std::vector<std::pair<i64, i64>>& out) {
    stack.clear();
    stack.push_back(node);
    while (!stack.empty()) {
        PyObject* nd = stack.back();
        stack.pop_back();
        if (nd == Py_None) continue;
        if (!PyTuple_CheckExact(nd) || PyTuple_GET_SIZE(nd) < 1) return false;
        PyObject* tag = PyTuple_GET_ITEM(nd, 0);
        if (!PyUnicode_Check(tag)) return false;
        if (tag == py->s_n || PyUnicode_CompareWithASCIIString(tag, "n") == 0) {
            if (PyTuple_GET_SIZE(nd) < 2) return false;
            PyObject* f = PyTuple_GET_ITEM(nd, 1);
            if (Py_TYPE(f) != py->fraction) return false;
            PyObject* num = *(PyObject**)((char*)f + py->off_num);
            PyObject* den = *(PyObject**)((char*)f + py->off_den);
            if (!num || !den || !PyLong_CheckExact(num) || !PyLong_CheckExact(den)) return false;
            int o1 = 0, o2 = 0;
            long long a = PyLong_AsLongLongAndOverflow(num, &o1), b = PyLong_AsLongLongAndOverflow(den, &o2);
            if (o1 || o2 || ((a == -1 || b == -1) && PyErr_Occurred())) {
                PyErr_Clear();
                return false;
            }
            out.emplace_back(a, b);
        } else if (!(tag == py->s_v || PyUnicode_CompareWithASCIIString(tag, "v") == 0)) {
            for (Py_ssize_t k = PyTuple_GET_SIZE(nd) - 1; k >= 1; --k) stack.push_back(PyTuple_GET_ITEM(nd, k));
        }
    }
    return true;
}

// framework._grounded: per step, does it use a number of the prompt or one an earlier such step produced?
// A list of bools, or None when the reference must decide (a prompt or a value beyond what the kernel reads)
static nb::object py_grounded(nb::handle prompt, nb::handle steps, i64 max_digits) {
    std::vector<Rat> prompt_numbers;
    if (!PyList_CheckExact(steps.ptr()) || !numbers(prompt, max_digits, 10000, prompt_numbers)) return nb::none();
    std::unordered_set<std::pair<i64, i64>, RatHash> known;
    for (const Rat& v : prompt_numbers) known.emplace(v.n, v.d);
    Py_ssize_t count = PyList_GET_SIZE(steps.ptr());
    std::vector<char> flags((size_t)count, 0);
    std::vector<PyObject*> stack;
    std::vector<std::pair<i64, i64>> values;
    for (Py_ssize_t i = 0; i < count; ++i) {
        if (i >= PyList_GET_SIZE(steps.ptr())) return nb::none();  // the list changed under us (a finalizer)
        nb::object step = nb::borrow(PyList_GET_ITEM(steps.ptr(), i));
        values.clear();
        for (PyObject* name : {py->s_lhs, py->s_rhs}) {
            PyObject* side = PyObject_GetAttr(step.ptr(), name);
            if (!side) throw nb::python_error();
            bool ok = ast_literals(side, stack, values);
            Py_DECREF(side);
            if (!ok) return nb::none();
        }
        bool hit = false;
        for (const auto& v : values)
            if (known.count(v)) {
                hit = true;
                break;
            }
        if (hit) known.insert(values.begin(), values.end());
        flags[(size_t)i] = hit;
    }
    nb::object out = steal(PyList_New(count));
    for (Py_ssize_t i = 0; i < count; ++i) PyList_SET_ITEM(out.ptr(), i, PyBool_FromLong(flags[(size_t)i]));
    return out;
}

static Py_ssize_t slot_offset(PyObject* cls, const char* name) {
    PyObject* dict = ((PyTypeObject*)cls)->tp_dict;
    PyObject* descr = dict ? PyDict_GetItemString(dict, name) : nullptr;  // borrowed
    if (!descr || Py_TYPE(descr) != &PyMemberDescr_Type) throw std::runtime_error(std::string("Fraction has no slot ") + name);
    PyMemberDef* m = ((PyMemberDescrObject*)descr)->d_member;
    if (m->type != T_OBJECT_EX && m->type != T_OBJECT) throw std::runtime_error(std::string("Fraction slot ") + name + " is not an object");
    return m->offset;
}

static void py_init(nb::handle fraction_cls, nb::handle one, nb::handle hundredth) {
    if (!PyType_Check(fraction_cls.ptr())) throw std::invalid_argument("fraction_cls must be a type");
    if (py && (PyObject*)py->fraction == fraction_cls.ptr() && py->one == one.ptr() && py->hundredth == hundredth.ptr())
        return;  // already set up with these objects (activate() may run many times)
    Py* p = new Py();  // lives as long as the interpreter (never freed: no teardown-order issues)
    p->fraction = (PyTypeObject*)fraction_cls.ptr();
    Py_INCREF(p->fraction);
    p->off_num = slot_offset(fraction_cls.ptr(), "_numerator");
    p->off_den = slot_offset(fraction_cls.ptr(), "_denominator");
    p->one = new_ref(one.ptr());
    p->hundredth = new_ref(hundredth.ptr());
    for (int k = 0; k < K_COUNT; ++k) p->kinds[k] = PyUnicode_InternFromString(KIND_NAMES[k]);
    p->s_n = PyUnicode_InternFromString("n");
    p->s_v = PyUnicode_InternFromString("v");
    p->s_neg = PyUnicode_InternFromString("neg");
    p->s_fact = PyUnicode_InternFromString("!");
    p->s_pct = PyUnicode_InternFromString("%");
    p->s_floordiv = PyUnicode_InternFromString("//");
    p->s_empty = PyUnicode_InternFromString("");
    p->s_inline = PyUnicode_InternFromString("inline");
    p->s_calculator = PyUnicode_InternFromString("calculator");
    p->s_lhs = PyUnicode_InternFromString("lhs");
    p->s_rhs = PyUnicode_InternFromString("rhs");
    for (int ch = 0; ch < 128; ++ch) {
        char b[1] = {(char)ch};
        p->s_char[ch] = PyUnicode_FromStringAndSize(b, 1);
    }
    Py* old = py;
    py = p;  // small[] is filled through fraction(), which reads py
    for (int k = 0; k <= 1024; ++k) {
        PyObject* f = fraction(Rat{k, 1});
        if (!f) throw nb::python_error();
        p->small[k] = f;
    }
    (void)old;  // a previous table stays alive: objects built from it may still be referenced
}

}  // namespace

NB_MODULE(_arith, m) {
    m.doc() = "Arithmetic scanner, parser and step checker of the empirical framework (reference: chil_plugin_empirical).";
    m.def("init", &py_init, "fraction_cls"_a, "one"_a, "hundredth"_a,
          "Give the module fractions.Fraction and the ONE / HUNDREDTH constants its ASTs use.");
    m.def("tokenize", &py_tokenize, "text"_a, "expr.tokenize of an ASCII text; None for any other text.");
    m.def("line_steps", &py_line_steps, "line"_a, "inline"_a, "max_digits"_a, "max_bits"_a, "max_exponent"_a, "max_ops"_a,
          "max_depth"_a, "rounding"_a, "steps._line_steps of an ASCII line; None when the Python path must decide.");
    m.def("extract", &py_extract, "text"_a, "max_digits"_a, "max_bits"_a, "max_exponent"_a, "max_ops"_a, "max_depth"_a,
          "rounding"_a, "steps.extract_steps of a normalized ASCII text, before deduplication; None for any other text.");
    m.def("numbers", &py_numbers, "text"_a, "max_digits"_a, "max_tokens"_a,
          "(numerator, denominator) of every readable number among the first max_tokens tokens; None: use Python.");
    m.def("answer", &py_answer, "text"_a, "max_digits"_a, "max_bits"_a, "max_exponent"_a, "max_ops"_a, "max_depth"_a,
          "answer.read_answer's value of a normalized, stripped ASCII text: (value, as_written), (None, None), a problem "
          "str, or None: use Python.");
    m.def("grounded", &py_grounded, "prompt"_a, "steps"_a, "max_digits"_a,
          "framework._grounded: per step (objects with .lhs / .rhs ASTs), does it use a number of the prompt or of an "
          "earlier such step; None: use Python.");
    m.def("fraction", [](i64 n, i64 d) -> nb::object {
        Rat r;
        if (!py || d == 0 || !mk(n, d, r)) return nb::none();
        return steal(fraction(r));
    }, "n"_a, "d"_a, "A Fraction built the way the ASTs are built (for tests).");
}
