// chil_native._fitness: fitness kernels of the evolution framework, batched over a population.
//
// Every function has a pure-Python reference (chil_core.capabilities.optimizer / expression, and the
// kernels of chil_plugin_evolution.kernels) and is tested against it.  Inputs are validated here too
// (an index out of range never reads outside an array): an invalid solution gives NaN, never a crash.
// The GIL is released while a kernel runs.

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

namespace nb = nanobind;
using namespace nb::literals;

using CF64_1 = nb::ndarray<const double, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using CF64_2 = nb::ndarray<const double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using CI64_1 = nb::ndarray<const int64_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using CI64_2 = nb::ndarray<const int64_t, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using CI32_1 = nb::ndarray<const int32_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using CU8_2 = nb::ndarray<const uint8_t, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using OutF64 = nb::ndarray<nb::numpy, double, nb::ndim<1>>;
using OutI64 = nb::ndarray<nb::numpy, int64_t, nb::ndim<1>>;

static const double NaN = std::numeric_limits<double>::quiet_NaN();

template <typename T>
static nb::ndarray<nb::numpy, T, nb::ndim<1>> owned(std::vector<T>&& v) {
    auto* heap = new std::vector<T>(std::move(v));
    nb::capsule owner(heap, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
    return nb::ndarray<nb::numpy, T, nb::ndim<1>>(heap->data(), {heap->size()}, owner);
}

// Closed tour length of each row of `tours` (a permutation of 0..n-1) over `coords` (n x 2).
// A row that is not a permutation of the cities gives NaN.
static OutF64 tour_lengths(CF64_2 coords, CI64_2 tours) {
    if (coords.shape(1) != 2) throw std::invalid_argument("coords must be n x 2");
    const size_t n = coords.shape(0), pop = tours.shape(0), m = tours.shape(1);
    std::vector<double> out(pop, NaN);
    const double* c = coords.data();
    const int64_t* t = tours.data();
    {
        nb::gil_scoped_release release;
        std::vector<uint32_t> seen(n, 0);
        for (size_t p = 0; p < pop; ++p) {
            if (m != n || n == 0) continue;
            const int64_t* row = t + p * m;
            const uint32_t mark = static_cast<uint32_t>(p + 1);
            bool ok = true;
            for (size_t i = 0; i < m; ++i) {
                const int64_t k = row[i];
                if (k < 0 || static_cast<size_t>(k) >= n || seen[k] == mark) { ok = false; break; }
                seen[k] = mark;
            }
            if (!ok) { std::fill(seen.begin(), seen.end(), 0u); continue; }
            double total = 0.0;
            for (size_t i = 0; i < m; ++i) {
                const int64_t a = row[i], b = row[(i + 1) % m];
                const double dx = c[2 * a] - c[2 * b], dy = c[2 * a + 1] - c[2 * b + 1];
                total += std::sqrt(dx * dx + dy * dy);
            }
            out[p] = total;
        }
    }
    return owned(std::move(out));
}

// Value and weight of each selection row (0/1 bytes) of a knapsack.
static nb::tuple knapsack(CI64_1 values, CI64_1 weights, CU8_2 picks) {
    const size_t n = values.shape(0), pop = picks.shape(0);
    if (weights.shape(0) != n || picks.shape(1) != n) throw std::invalid_argument("values, weights and picks must agree in length");
    std::vector<int64_t> val(pop, 0), wt(pop, 0);
    const int64_t* v = values.data();
    const int64_t* w = weights.data();
    const uint8_t* s = picks.data();
    {
        nb::gil_scoped_release release;
        for (size_t p = 0; p < pop; ++p) {
            int64_t a = 0, b = 0;
            const uint8_t* row = s + p * n;
            for (size_t i = 0; i < n; ++i) {
                if (row[i]) { a += v[i]; b += w[i]; }
            }
            val[p] = a;
            wt[p] = b;
        }
    }
    return nb::make_tuple(owned(std::move(val)), owned(std::move(wt)));
}

// Rastrigin (A = 10) of each row of X.
static OutF64 rastrigin(CF64_2 x) {
    const size_t pop = x.shape(0), d = x.shape(1);
    std::vector<double> out(pop, 0.0);
    const double* X = x.data();
    const double two_pi = 2.0 * M_PI;
    {
        nb::gil_scoped_release release;
        for (size_t p = 0; p < pop; ++p) {
            double total = 10.0 * static_cast<double>(d);
            const double* row = X + p * d;
            for (size_t i = 0; i < d; ++i) total += row[i] * row[i] - 10.0 * std::cos(two_pi * row[i]);
            out[p] = total;
        }
    }
    return owned(std::move(out));
}

// Opcodes of chil_core.capabilities.expression.OPCODES (never renumbered).
enum Op : int32_t {
    CONST = 0, VAR = 1, ADD = 2, SUB = 3, MUL = 4, DIV = 5, POW = 6, NEG = 7,
    SIN = 8, COS = 9, TAN = 10, EXP = 11, LOG = 12, SQRT = 13, ABS = 14, TANH = 15,
};

static constexpr size_t MAX_STACK = 512;

// Mean squared error of each postfix program (code/args[offsets[p]:offsets[p+1]]) over the points
// (rows of `points`, one column per variable) against `targets`.  A malformed program gives NaN.
static OutF64 expr_mse(CI32_1 code, CF64_1 args, CI64_1 offsets, CF64_2 points, CF64_1 targets) {
    const size_t total = code.shape(0), pop = offsets.shape(0) ? offsets.shape(0) - 1 : 0;
    const size_t m = points.shape(0), k = points.shape(1);
    if (args.shape(0) != total) throw std::invalid_argument("code and args must have one entry per op");
    if (targets.shape(0) != m) throw std::invalid_argument("one target per point");
    std::vector<double> out(pop, NaN);
    const int32_t* C = code.data();
    const double* A = args.data();
    const int64_t* O = offsets.data();
    const double* X = points.data();
    const double* Y = targets.data();
    {
        nb::gil_scoped_release release;
        double stack[MAX_STACK];
        for (size_t p = 0; p < pop; ++p) {
            const int64_t lo = O[p], hi = O[p + 1];
            if (lo < 0 || hi < lo || static_cast<size_t>(hi) > total || m == 0) continue;
            double sse = 0.0;
            bool ok = true;
            for (size_t j = 0; j < m && ok; ++j) {
                const double* pt = X + j * k;
                size_t sp = 0;
                for (int64_t i = lo; i < hi; ++i) {
                    const int32_t op = C[i];
                    const double a = A[i];
                    if (op == CONST || op == VAR) {
                        if (sp >= MAX_STACK) { ok = false; break; }
                        if (op == CONST) {
                            stack[sp++] = a;
                        } else {
                            const int64_t v = static_cast<int64_t>(a);
                            if (v < 0 || static_cast<size_t>(v) >= k) { ok = false; break; }
                            stack[sp++] = pt[v];
                        }
                    } else if (op >= ADD && op <= DIV) {
                        if (sp < 2) { ok = false; break; }
                        const double r = stack[--sp];
                        double& l = stack[sp - 1];
                        if (op == ADD) l = l + r;
                        else if (op == SUB) l = l - r;
                        else if (op == MUL) l = l * r;
                        else l = l / r;
                    } else {
                        if (sp < 1) { ok = false; break; }
                        double& v = stack[sp - 1];
                        switch (op) {
                            case POW: v = std::pow(v, a); break;
                            case NEG: v = -v; break;
                            case SIN: v = std::sin(v); break;
                            case COS: v = std::cos(v); break;
                            case TAN: v = std::tan(v); break;
                            case EXP: v = std::exp(v); break;
                            case LOG: v = std::log(v); break;
                            case SQRT: v = std::sqrt(v); break;
                            case ABS: v = std::fabs(v); break;
                            case TANH: v = std::tanh(v); break;
                            default: ok = false;
                        }
                        if (!ok) break;
                    }
                }
                if (!ok || sp != 1) { ok = false; break; }
                const double diff = stack[0] - Y[j];
                sse += diff * diff;
            }
            if (ok) out[p] = sse / static_cast<double>(m);
        }
    }
    return owned(std::move(out));
}

NB_MODULE(_fitness, m) {
    m.doc() = "Fitness kernels of the chil evolution framework, batched over a population (C++17).";
    m.def("tour_lengths", &tour_lengths, "coords"_a, "tours"_a,
          "Closed tour length per row of tours (P x n int64) over coords (n x 2); NaN for a non-permutation.");
    m.def("knapsack", &knapsack, "values"_a, "weights"_a, "picks"_a,
          "(value, weight) per row of picks (P x n uint8).");
    m.def("rastrigin", &rastrigin, "x"_a, "Rastrigin (A=10) per row of x (P x d).");
    m.def("expr_mse", &expr_mse, "code"_a, "args"_a, "offsets"_a, "points"_a, "targets"_a,
          "Mean squared error per postfix program over the points; NaN for a malformed program.");
    m.attr("OPCODES_VERSION") = 1;
}
