/* Forward-mode jets for the C forms (dynamics.c): exact derivatives carried through a model's own formula.
 *
 * jet1: value and gradient in three variables; jet: and the Hessian (3, 3); pjet: value, the derivative along one
 * direction e (a step dtau of the inputs), the gradient in up to four parameters and the mixed second
 * derivatives d2 / (de dp_j): what the implicit gradient's Psi needs (dynamics.c, *_psi_gradient).
 */
#ifndef DILQR_RL_JETS_H
#define DILQR_RL_JETS_H

#include <string.h>

/* ---- jets in three variables: first order (value, gradient d (3,)) and second order (and Hessian h (3, 3)) ---- */

typedef struct {
    double v, d[3];
} jet1;

static inline jet1 jet1_variable(double v, int i) {
    jet1 r = {v, {0, 0, 0}};
    r.d[i] = 1.0;
    return r;
}

static inline jet1 jet1_add(jet1 a, jet1 b) {
    return (jet1){a.v + b.v, {a.d[0] + b.d[0], a.d[1] + b.d[1], a.d[2] + b.d[2]}};
}

static inline jet1 jet1_sub(jet1 a, jet1 b) {
    return (jet1){a.v - b.v, {a.d[0] - b.d[0], a.d[1] - b.d[1], a.d[2] - b.d[2]}};
}

static inline jet1 jet1_scale(double s, jet1 a) { return (jet1){s * a.v, {s * a.d[0], s * a.d[1], s * a.d[2]}}; }

static inline jet1 jet1_div_scalar(jet1 a, double s) {
    return (jet1){a.v / s, {a.d[0] / s, a.d[1] / s, a.d[2] / s}};
}

static inline jet1 jet1_constant_minus(double c, jet1 a) { return (jet1){c - a.v, {-a.d[0], -a.d[1], -a.d[2]}}; }

static inline jet1 jet1_mul(jet1 a, jet1 b) {
    jet1 r = {a.v * b.v, {0, 0, 0}};
    for (int i = 0; i < 3; ++i) r.d[i] = a.d[i] * b.v + a.v * b.d[i];
    return r;
}

static inline jet1 jet1_div(jet1 a, jet1 b) {
    jet1 r = {a.v / b.v, {0, 0, 0}};
    for (int i = 0; i < 3; ++i) r.d[i] = (a.d[i] - r.v * b.d[i]) / b.v;
    return r;
}

/* g(a) for a unary g with value g0 and derivative g1 at a.v. */
static inline jet1 jet1_apply(jet1 a, double g0, double g1) {
    return (jet1){g0, {g1 * a.d[0], g1 * a.d[1], g1 * a.d[2]}};
}

typedef struct {
    double v, d[3], h[9];
} jet;

static inline jet jet_constant(double v) {
    jet r;
    memset(&r, 0, sizeof r);
    r.v = v;
    return r;
}

static inline jet jet_variable(double v, int i) {
    jet r = jet_constant(v);
    r.d[i] = 1.0;
    return r;
}

static inline jet jet_add(jet a, jet b) {
    a.v += b.v;
    for (int i = 0; i < 3; ++i) a.d[i] += b.d[i];
    for (int i = 0; i < 9; ++i) a.h[i] += b.h[i];
    return a;
}

static inline jet jet_sub(jet a, jet b) {
    a.v -= b.v;
    for (int i = 0; i < 3; ++i) a.d[i] -= b.d[i];
    for (int i = 0; i < 9; ++i) a.h[i] -= b.h[i];
    return a;
}

static inline jet jet_scale(double s, jet a) {  /* s * a */
    a.v = s * a.v;
    for (int i = 0; i < 3; ++i) a.d[i] = s * a.d[i];
    for (int i = 0; i < 9; ++i) a.h[i] = s * a.h[i];
    return a;
}

static inline jet jet_mul(jet a, jet b) {
    jet r;
    r.v = a.v * b.v;
    for (int i = 0; i < 3; ++i) r.d[i] = a.d[i] * b.v + a.v * b.d[i];
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
            r.h[3 * i + j] = a.h[3 * i + j] * b.v + a.d[i] * b.d[j] + a.d[j] * b.d[i] + a.v * b.h[3 * i + j];
    return r;
}

static inline jet jet_div(jet a, jet b) {
    jet r;
    r.v = a.v / b.v;
    for (int i = 0; i < 3; ++i) r.d[i] = (a.d[i] - r.v * b.d[i]) / b.v;
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
            r.h[3 * i + j] = (a.h[3 * i + j] - r.d[i] * b.d[j] - r.d[j] * b.d[i] - r.v * b.h[3 * i + j]) / b.v;
    return r;
}

static inline jet jet_div_scalar(jet a, double s) {
    a.v = a.v / s;
    for (int i = 0; i < 3; ++i) a.d[i] = a.d[i] / s;
    for (int i = 0; i < 9; ++i) a.h[i] = a.h[i] / s;
    return a;
}

/* g(a) for a unary g with value g0 and derivatives g1, g2 at a.v (the chain rule to second order). */
static inline jet jet_apply(jet a, double g0, double g1, double g2) {
    jet r;
    r.v = g0;
    for (int i = 0; i < 3; ++i) r.d[i] = g1 * a.d[i];
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) r.h[3 * i + j] = g1 * a.h[3 * i + j] + g2 * a.d[i] * a.d[j];
    return r;
}

typedef struct {
    double v, e, p[4], ep[4];
} pjet;

static inline pjet pjet_constant(double v) { return (pjet){v, 0, {0, 0, 0, 0}, {0, 0, 0, 0}}; }

/* An input moving along the direction: v + e * step. */
static inline pjet pjet_input(double v, double step) { return (pjet){v, step, {0, 0, 0, 0}, {0, 0, 0, 0}}; }

/* Parameter j. */
static inline pjet pjet_parameter(double v, int j) {
    pjet r = pjet_constant(v);
    r.p[j] = 1.0;
    return r;
}

static inline pjet pjet_add(pjet a, pjet b) {
    a.v += b.v;
    a.e += b.e;
    for (int j = 0; j < 4; ++j) { a.p[j] += b.p[j]; a.ep[j] += b.ep[j]; }
    return a;
}

static inline pjet pjet_sub(pjet a, pjet b) {
    a.v -= b.v;
    a.e -= b.e;
    for (int j = 0; j < 4; ++j) { a.p[j] -= b.p[j]; a.ep[j] -= b.ep[j]; }
    return a;
}

static inline pjet pjet_scale(double s, pjet a) {
    a.v = s * a.v;
    a.e = s * a.e;
    for (int j = 0; j < 4; ++j) { a.p[j] = s * a.p[j]; a.ep[j] = s * a.ep[j]; }
    return a;
}

static inline pjet pjet_mul(pjet a, pjet b) {
    pjet r;
    r.v = a.v * b.v;
    r.e = a.e * b.v + a.v * b.e;
    for (int j = 0; j < 4; ++j) {
        r.p[j] = a.p[j] * b.v + a.v * b.p[j];
        r.ep[j] = a.ep[j] * b.v + a.e * b.p[j] + a.p[j] * b.e + a.v * b.ep[j];
    }
    return r;
}

static inline pjet pjet_div(pjet a, pjet b) {
    pjet r;
    r.v = a.v / b.v;
    r.e = (a.e - r.v * b.e) / b.v;
    for (int j = 0; j < 4; ++j) {
        r.p[j] = (a.p[j] - r.v * b.p[j]) / b.v;
        r.ep[j] = (a.ep[j] - r.e * b.p[j] - r.p[j] * b.e - r.v * b.ep[j]) / b.v;
    }
    return r;
}

/* g(a) for a unary g with value g0 and derivatives g1, g2 at a.v. */
static inline pjet pjet_apply(pjet a, double g0, double g1, double g2) {
    pjet r;
    r.v = g0;
    r.e = g1 * a.e;
    for (int j = 0; j < 4; ++j) {
        r.p[j] = g1 * a.p[j];
        r.ep[j] = g1 * a.ep[j] + g2 * a.e * a.p[j];
    }
    return r;
}

#endif
