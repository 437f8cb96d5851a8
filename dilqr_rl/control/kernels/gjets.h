/* Scalar types for the forms generated from your own modules (codegen.py): the same statements of a module's
 * traced forward run on each type, and the derivatives come out exactly, by forward mode.
 *
 *   d_   plain doubles (the values: f, g);
 *   g1_  value and gradient in the JD inputs tau = (x, u) (the dynamics' Jacobians);
 *   g2_  and the Hessian (JD, JD) (the cost's derivatives, the curvature hess[lam . f]);
 *   gp_  value, derivative along one direction e (a step dtau of the inputs), gradient in JP parameters and the
 *        mixed second derivatives d2 / (de dp_j) (the implicit gradient's Psi in the parameters).
 *
 * A file defines JD (the generated forms: n + 1) and JP (>= 1) before including this header; dynamics.c's hand-written
 * cart-pole form uses them too (JD 3, its (theta, theta_dot, force); JP 4, its parameters). Every type has the same
 * operations: NAME_const, _val, _add, _sub, _mul, _div, _addc, _csub, _subc, _scale, _divc, _cdiv, _neg and the
 * unary functions (chain rule with the function's first and second derivatives, _apply).
 */
#ifndef DILQR_RL_GJETS_H
#define DILQR_RL_GJETS_H

#include <math.h>

/* ---- plain doubles ---- */

typedef double dd;

static inline dd d_const(double v) { return v; }
static inline dd d_input(double v, int i) { (void)i; return v; }
static inline double d_val(dd a) { return a; }
static inline dd d_add(dd a, dd b) { return a + b; }
static inline dd d_sub(dd a, dd b) { return a - b; }
static inline dd d_mul(dd a, dd b) { return a * b; }
static inline dd d_div(dd a, dd b) { return a / b; }
static inline dd d_addc(dd a, double c) { return a + c; }
static inline dd d_csub(double c, dd a) { return c - a; }
static inline dd d_subc(dd a, double c) { return a - c; }
static inline dd d_scale(double c, dd a) { return c * a; }
static inline dd d_divc(dd a, double c) { return a / c; }
static inline dd d_cdiv(double c, dd a) { return c / a; }
static inline dd d_neg(dd a) { return -a; }
static inline dd d_apply(dd a, double g0, double g1, double g2) { (void)a; (void)g1; (void)g2; return g0; }

/* ---- first order in JD inputs ---- */

typedef struct {
    double v, d[JD];
} g1;

static inline g1 g1_const(double v) {
    g1 r;
    r.v = v;
    for (int i = 0; i < JD; ++i) r.d[i] = 0;
    return r;
}
static inline g1 g1_input(double v, int i) {
    g1 r = g1_const(v);
    r.d[i] = 1;
    return r;
}
static inline double g1_val(g1 a) { return a.v; }
static inline g1 g1_add(g1 a, g1 b) {
    for (int i = 0; i < JD; ++i) a.d[i] += b.d[i];
    a.v += b.v;
    return a;
}
static inline g1 g1_sub(g1 a, g1 b) {
    for (int i = 0; i < JD; ++i) a.d[i] -= b.d[i];
    a.v -= b.v;
    return a;
}
static inline g1 g1_mul(g1 a, g1 b) {
    g1 r;
    r.v = a.v * b.v;
    for (int i = 0; i < JD; ++i) r.d[i] = a.d[i] * b.v + a.v * b.d[i];
    return r;
}
static inline g1 g1_div(g1 a, g1 b) {
    g1 r;
    r.v = a.v / b.v;
    for (int i = 0; i < JD; ++i) r.d[i] = (a.d[i] - r.v * b.d[i]) / b.v;
    return r;
}
static inline g1 g1_addc(g1 a, double c) { a.v += c; return a; }
static inline g1 g1_subc(g1 a, double c) { a.v -= c; return a; }
static inline g1 g1_scale(double c, g1 a) {
    a.v *= c;
    for (int i = 0; i < JD; ++i) a.d[i] *= c;
    return a;
}
static inline g1 g1_neg(g1 a) { return g1_scale(-1.0, a); }
static inline g1 g1_csub(double c, g1 a) { return g1_addc(g1_neg(a), c); }
static inline g1 g1_divc(g1 a, double c) {
    a.v /= c;
    for (int i = 0; i < JD; ++i) a.d[i] /= c;
    return a;
}
static inline g1 g1_apply(g1 a, double g0, double gd1, double gd2) {
    (void)gd2;
    a.v = g0;
    for (int i = 0; i < JD; ++i) a.d[i] *= gd1;
    return a;
}
static inline g1 g1_cdiv(double c, g1 a) { return g1_apply(a, c / a.v, -c / (a.v * a.v), 0); }

/* ---- second order in JD inputs ---- */

typedef struct {
    double v, d[JD], h[JD * JD];
} g2;

static inline g2 g2_const(double v) {
    g2 r;
    r.v = v;
    for (int i = 0; i < JD; ++i) r.d[i] = 0;
    for (int i = 0; i < JD * JD; ++i) r.h[i] = 0;
    return r;
}
static inline g2 g2_input(double v, int i) {
    g2 r = g2_const(v);
    r.d[i] = 1;
    return r;
}
static inline double g2_val(g2 a) { return a.v; }
static inline g2 g2_add(g2 a, g2 b) {
    a.v += b.v;
    for (int i = 0; i < JD; ++i) a.d[i] += b.d[i];
    for (int i = 0; i < JD * JD; ++i) a.h[i] += b.h[i];
    return a;
}
static inline g2 g2_sub(g2 a, g2 b) {
    a.v -= b.v;
    for (int i = 0; i < JD; ++i) a.d[i] -= b.d[i];
    for (int i = 0; i < JD * JD; ++i) a.h[i] -= b.h[i];
    return a;
}
static inline g2 g2_mul(g2 a, g2 b) {
    g2 r;
    r.v = a.v * b.v;
    for (int i = 0; i < JD; ++i) r.d[i] = a.d[i] * b.v + a.v * b.d[i];
    for (int i = 0; i < JD; ++i)
        for (int j = 0; j < JD; ++j)
            r.h[i * JD + j] = a.h[i * JD + j] * b.v + a.d[i] * b.d[j] + a.d[j] * b.d[i] + a.v * b.h[i * JD + j];
    return r;
}
/* g(a) for a unary g with value g0, first derivative gd1 and second gd2 at a.v. */
static inline g2 g2_apply(g2 a, double g0, double gd1, double gd2) {
    g2 r;
    r.v = g0;
    for (int i = 0; i < JD; ++i) r.d[i] = gd1 * a.d[i];
    for (int i = 0; i < JD; ++i)
        for (int j = 0; j < JD; ++j) r.h[i * JD + j] = gd1 * a.h[i * JD + j] + gd2 * a.d[i] * a.d[j];
    return r;
}
static inline g2 g2_cdiv(double c, g2 a) {
    double inv = 1.0 / a.v;
    return g2_apply(a, c / a.v, -c * inv * inv, 2 * c * inv * inv * inv);
}
static inline g2 g2_div(g2 a, g2 b) {
    g2 r;
    r.v = a.v / b.v;
    for (int i = 0; i < JD; ++i) r.d[i] = (a.d[i] - r.v * b.d[i]) / b.v;
    for (int i = 0; i < JD; ++i)
        for (int j = 0; j < JD; ++j)
            r.h[i * JD + j] = (a.h[i * JD + j] - r.d[i] * b.d[j] - r.d[j] * b.d[i] - r.v * b.h[i * JD + j]) / b.v;
    return r;
}
static inline g2 g2_addc(g2 a, double c) { a.v += c; return a; }
static inline g2 g2_subc(g2 a, double c) { a.v -= c; return a; }
static inline g2 g2_scale(double c, g2 a) {
    a.v *= c;
    for (int i = 0; i < JD; ++i) a.d[i] *= c;
    for (int i = 0; i < JD * JD; ++i) a.h[i] *= c;
    return a;
}
static inline g2 g2_neg(g2 a) { return g2_scale(-1.0, a); }
static inline g2 g2_csub(double c, g2 a) { return g2_addc(g2_neg(a), c); }
static inline g2 g2_divc(g2 a, double c) {
    a.v /= c;
    for (int i = 0; i < JD; ++i) a.d[i] /= c;
    for (int i = 0; i < JD * JD; ++i) a.h[i] /= c;
    return a;
}

/* ---- a direction e and JP parameters ---- */

typedef struct {
    double v, e, p[JP], ep[JP];
} gp;

static inline gp gp_const(double v) {
    gp r;
    r.v = v;
    r.e = 0;
    for (int j = 0; j < JP; ++j) r.p[j] = r.ep[j] = 0;
    return r;
}
/* An input (x_i or u) with its step along the direction. */
static inline gp gp_along(double v, double step) {
    gp r = gp_const(v);
    r.e = step;
    return r;
}
static inline gp gp_parameter(double v, int j) {
    gp r = gp_const(v);
    r.p[j] = 1;
    return r;
}
static inline double gp_val(gp a) { return a.v; }
static inline gp gp_add(gp a, gp b) {
    a.v += b.v;
    a.e += b.e;
    for (int j = 0; j < JP; ++j) {
        a.p[j] += b.p[j];
        a.ep[j] += b.ep[j];
    }
    return a;
}
static inline gp gp_sub(gp a, gp b) {
    a.v -= b.v;
    a.e -= b.e;
    for (int j = 0; j < JP; ++j) {
        a.p[j] -= b.p[j];
        a.ep[j] -= b.ep[j];
    }
    return a;
}
static inline gp gp_mul(gp a, gp b) {
    gp r;
    r.v = a.v * b.v;
    r.e = a.e * b.v + a.v * b.e;
    for (int j = 0; j < JP; ++j) {
        r.p[j] = a.p[j] * b.v + a.v * b.p[j];
        r.ep[j] = a.ep[j] * b.v + a.e * b.p[j] + a.p[j] * b.e + a.v * b.ep[j];
    }
    return r;
}
static inline gp gp_apply(gp a, double g0, double gd1, double gd2) {
    gp r;
    r.v = g0;
    r.e = gd1 * a.e;
    for (int j = 0; j < JP; ++j) {
        r.p[j] = gd1 * a.p[j];
        r.ep[j] = gd1 * a.ep[j] + gd2 * a.e * a.p[j];
    }
    return r;
}
static inline gp gp_cdiv(double c, gp a) {
    double inv = 1.0 / a.v;
    return gp_apply(a, c / a.v, -c * inv * inv, 2 * c * inv * inv * inv);
}
static inline gp gp_div(gp a, gp b) {
    gp r;
    r.v = a.v / b.v;
    r.e = (a.e - r.v * b.e) / b.v;
    for (int j = 0; j < JP; ++j) {
        r.p[j] = (a.p[j] - r.v * b.p[j]) / b.v;
        r.ep[j] = (a.ep[j] - r.e * b.p[j] - r.p[j] * b.e - r.v * b.ep[j]) / b.v;
    }
    return r;
}
static inline gp gp_addc(gp a, double c) { a.v += c; return a; }
static inline gp gp_subc(gp a, double c) { a.v -= c; return a; }
static inline gp gp_scale(double c, gp a) {
    a.v *= c;
    a.e *= c;
    for (int j = 0; j < JP; ++j) {
        a.p[j] *= c;
        a.ep[j] *= c;
    }
    return a;
}
static inline gp gp_neg(gp a) { return gp_scale(-1.0, a); }
static inline gp gp_csub(double c, gp a) { return gp_addc(gp_neg(a), c); }
static inline gp gp_divc(gp a, double c) { return gp_scale(1.0 / c, a); }

/* ---- unary functions on every type: T##_sin(a) etc. (value, first and second derivative) ---- */

#define GJ_UNARY(T, S)                                                                                         \
    static inline S T##_sin(S a) { double v = T##_val(a); return T##_apply(a, sin(v), cos(v), -sin(v)); }     \
    static inline S T##_cos(S a) { double v = T##_val(a); return T##_apply(a, cos(v), -sin(v), -cos(v)); }    \
    static inline S T##_tan(S a) {                                                                             \
        double t = tan(T##_val(a)), s = 1 + t * t;                                                             \
        return T##_apply(a, t, s, 2 * t * s);                                                                  \
    }                                                                                                          \
    static inline S T##_tanh(S a) {                                                                            \
        double t = tanh(T##_val(a)), s = 1 - t * t;                                                            \
        return T##_apply(a, t, s, -2 * t * s);                                                                 \
    }                                                                                                          \
    static inline S T##_exp(S a) { double e = exp(T##_val(a)); return T##_apply(a, e, e, e); }                 \
    static inline S T##_log(S a) { double v = T##_val(a); return T##_apply(a, log(v), 1 / v, -1 / (v * v)); } \
    static inline S T##_sqrt(S a) {                                                                            \
        double s = sqrt(T##_val(a));                                                                           \
        return T##_apply(a, s, 0.5 / s, -0.25 / (s * s * s));                                                  \
    }                                                                                                          \
    static inline S T##_rsqrt(S a) {                                                                           \
        double v = T##_val(a), r = 1 / sqrt(v);                                                                \
        return T##_apply(a, r, -0.5 * r / v, 0.75 * r / (v * v));                                              \
    }                                                                                                          \
    static inline S T##_sigmoid(S a) {                                                                         \
        double s = 1 / (1 + exp(-T##_val(a)));                                                                 \
        return T##_apply(a, s, s * (1 - s), s * (1 - s) * (1 - 2 * s));                                       \
    }                                                                                                          \
    static inline S T##_atan(S a) {                                                                            \
        double v = T##_val(a), s = 1 / (1 + v * v);                                                            \
        return T##_apply(a, atan(v), s, -2 * v * s * s);                                                       \
    }                                                                                                          \
    /* torch's subgradients: abs' = sign (0 at 0), relu' = 1 above 0 */                                        \
    static inline S T##_abs(S a) {                                                                             \
        double v = T##_val(a);                                                                                 \
        return T##_apply(a, fabs(v), v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0), 0);                                   \
    }                                                                                                          \
    static inline S T##_relu(S a) { double v = T##_val(a); return T##_apply(a, v > 0 ? v : 0, v > 0, 0); }    \
    /* a ** c for a constant c (torch: the derivative c a^(c-1), 0 for c = 0) */                               \
    static inline S T##_powc(S a, double c) {                                                                  \
        double v = T##_val(a);                                                                                 \
        if (c == 0) return T##_const(1.0);                                                                     \
        if (c == 1) return a;                                                                                  \
        if (c == 2) return T##_mul(a, a);                                                                      \
        return T##_apply(a, pow(v, c), c * pow(v, c - 1), c == 1 ? 0 : c * (c - 1) * pow(v, c - 2));          \
    }                                                                                                          \
    /* clamp(a, lo, hi): torch passes the gradient where lo <= a <= hi */                                      \
    static inline S T##_clamp(S a, double lo, double hi) {                                                     \
        double v = T##_val(a);                                                                                 \
        if (v < lo) return T##_const(lo > hi ? hi : lo); /* torch: hi everywhere where lo > hi */             \
        if (v > hi) return T##_const(hi);                                                                      \
        return a;                                                                                              \
    }

GJ_UNARY(d, dd)
GJ_UNARY(g1, g1)
GJ_UNARY(g2, g2)
GJ_UNARY(gp, gp)

/* ---- atan2(y, x) ---- */

/* On jets: atan(y / x), or -atan(x / y) where |y| > |x| (a ratio of magnitude at most 1, well conditioned), which
 * differ from atan2 by a constant of the branch: their derivatives are atan2's (x / r^2 in y, -y / r^2 in x, and
 * so on), and the value is set to atan2's. At x = y = 0 the derivatives are 0, as torch's autograd gives them. */
#define GJ_ATAN2(T, S)                                                                                         \
    static inline S T##_atan2(S y, S x) {                                                                      \
        double yv = T##_val(y), xv = T##_val(x);                                                               \
        if (xv == 0 && yv == 0) return T##_const(atan2(yv, xv));                                               \
        S r = fabs(xv) >= fabs(yv) ? T##_atan(T##_div(y, x)) : T##_neg(T##_atan(T##_div(x, y)));              \
        r.v = atan2(yv, xv);                                                                                   \
        return r;                                                                                              \
    }

static inline dd d_atan2(dd y, dd x) { return atan2(y, x); }
GJ_ATAN2(g1, g1)
GJ_ATAN2(g2, g2)
GJ_ATAN2(gp, gp)

#endif
