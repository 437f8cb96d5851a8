/* The iLQR backward sweep for one control (m = 1), per batch item, in plain C.
 *
 * The same recursion as dilqr_rl/control/lqr.py:ilqr_gains (its reference; tests compare the two):
 *   Q_t = C_t + F_t^T V_{t+1} F_t,  q_t = c_t + F_t^T v_{t+1}        (V_T = 0, v_T = 0)
 *   k_free = -q_u / (Q_uu + mu),  K_free = -Q_ux / (Q_uu + mu)
 *   k_t = clamp(k_free, lo_t - u_t, hi_t - u_t),  K_t = K_free where k_free is strictly inside, else 0
 *   V_t = [I; K_t]^T Q_t [I; K_t] (states block),  v_t = q_x + Q_xu k + K^T (q_u + Q_uu k)
 * ok is false where some Q_uu + mu <= 0; those items get zero gains and zero expected decrease.
 *
 * Layouts (row-major, contiguous): F (B, T, n, N), c (B, T, N), C (B, T, N, N), u, lo, hi (B, T),
 * reg (B,) -> K (B, T, n), k (B, T), expected (B, 2), ok (B,) as 0/1 bytes. N = n + 1.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

/* The stage recursion both sweeps below share. P##_stage: Q = C_t + F_t^T V F_t and q = c_t + F_t^T v from the
 * next stage's V, v (at the last stage, ``last``, C_t and c_t alone); P##_value: the stage's V = [I; K]^T Q [I; K]
 * (states block) and v = q_x + Q_xu k + K^T (q_u + Q_uu k) for its gains K (n,) and k. */
#define DEFINE_STAGE(P, REAL)                                                                             \
static inline __attribute__((always_inline)) void P##_stage(                                              \
        const REAL *Ft, const REAL *ct, const REAL *Ct, int last, const long n, const REAL *V, const REAL *v, \
        REAL *Q, REAL *q, REAL *VF) {                                                                     \
    const long N = n + 1;                                                                                 \
    memcpy(Q, Ct, sizeof(REAL) * N * N);                                                                  \
    memcpy(q, ct, sizeof(REAL) * N);                                                                      \
    if (last) return;                                                                                     \
    for (long i = 0; i < n; ++i)          /* VF = V F (n, N) */                                           \
        for (long j = 0; j < N; ++j) {                                                                    \
            REAL s = 0;                                                                                   \
            for (long l = 0; l < n; ++l) s += V[i * n + l] * Ft[l * N + j];                               \
            VF[i * N + j] = s;                                                                            \
        }                                                                                                 \
    for (long i = 0; i < N; ++i) {                                                                        \
        REAL s = 0;                                                                                       \
        for (long l = 0; l < n; ++l) s += Ft[l * N + i] * v[l];                                           \
        q[i] += s;                                                                                        \
        for (long j = 0; j < N; ++j) {                                                                    \
            REAL s2 = 0;                                                                                  \
            for (long l = 0; l < n; ++l) s2 += Ft[l * N + i] * VF[l * N + j];                             \
            Q[i * N + j] += s2;                                                                           \
        }                                                                                                 \
    }                                                                                                     \
}                                                                                                         \
                                                                                                          \
static inline __attribute__((always_inline)) void P##_value(                                              \
        const long n, const REAL *Q, const REAL *q, const REAL *Kt, REAL kt, REAL *V, REAL *v) {          \
    const long N = n + 1;                                                                                 \
    REAL Quu = Q[n * N + n], g = q[n] + Quu * kt;                                                         \
    for (long i = 0; i < n; ++i) {                                                                        \
        v[i] = q[i] + Q[i * N + n] * kt + Kt[i] * g;                                                      \
        for (long j = 0; j < n; ++j)                                                                      \
            V[i * n + j] = Q[i * N + j] + Kt[i] * Q[n * N + j] + Q[i * N + n] * Kt[j] + Kt[i] * Quu * Kt[j]; \
    }                                                                                                     \
}

DEFINE_STAGE(stage_f64, double)
DEFINE_STAGE(stage_f32, float)

/* One item's sweep (the arrays point at its slices; work holds n * n + n + N * N + N + n * N reals): returns ok.
 * The body is inlined with n fixed for the common state sizes, so that the compiler unrolls its small loops (the
 * same operations in the same order: the same results). */
#define DEFINE_SWEEP(NAME, REAL, STAGE)                                                                   \
static inline __attribute__((always_inline)) int NAME##_body(                                             \
        const REAL *F, const REAL *c, const REAL *C, const REAL *u, const REAL *lo, const REAL *hi, REAL mu, \
        long T, const long n, REAL *K, REAL *k, REAL *expected, REAL *work) {                             \
    const long N = n + 1;                                                                                 \
    REAL *restrict V = work, *restrict v = V + n * n, *restrict Q = v + n, *restrict q = Q + N * N;       \
    REAL *restrict VF = q + N;                                                                            \
    int good = 1;                                                                                         \
    REAL lin = 0, quad = 0;                                                                               \
    memset(V, 0, sizeof(REAL) * (n * n + n));                                                             \
    for (long t = T - 1; t >= 0; --t) {                                                                   \
        STAGE##_stage(F + t * n * N, c + t * N, C + t * N * N, t == T - 1, n, V, v, Q, q, VF);            \
        REAL Quu = Q[n * N + n], qu = q[n], den = Quu + mu;                                               \
        if (!(den > 0)) { good = 0; den = 1; }                                                            \
        REAL kf = -qu / den, lower = lo[t] - u[t], upper = hi[t] - u[t];                                  \
        int free_ = (kf > lower) && (kf < upper);                                                         \
        REAL kt = kf < lower ? lower : (kf > upper ? upper : kf);                                         \
        REAL *Kt = K + t * n;                                                                             \
        for (long i = 0; i < n; ++i) Kt[i] = free_ ? -Q[n * N + i] / den : 0;                             \
        k[t] = kt;                                                                                        \
        lin += kt * qu;                                                                                   \
        quad += 0.5 * kt * Quu * kt;                                                                      \
        STAGE##_value(n, Q, q, Kt, kt, V, v);                                                             \
    }                                                                                                     \
    expected[0] = good ? lin : 0;                                                                         \
    expected[1] = good ? quad : 0;                                                                        \
    if (!good) {                                                                                          \
        memset(K, 0, sizeof(REAL) * T * n);                                                               \
        memset(k, 0, sizeof(REAL) * T);                                                                   \
    }                                                                                                     \
    return good;                                                                                          \
}                                                                                                         \
                                                                                                          \
int NAME##_item(const REAL *F, const REAL *c, const REAL *C, const REAL *u, const REAL *lo, const REAL *hi, \
                REAL mu, long T, long n, REAL *K, REAL *k, REAL *expected, REAL *work) {                  \
    switch (n) {                                                                                          \
    case 2: return NAME##_body(F, c, C, u, lo, hi, mu, T, 2, K, k, expected, work);                       \
    case 3: return NAME##_body(F, c, C, u, lo, hi, mu, T, 3, K, k, expected, work);                       \
    case 4: return NAME##_body(F, c, C, u, lo, hi, mu, T, 4, K, k, expected, work);                       \
    default: return NAME##_body(F, c, C, u, lo, hi, mu, T, n, K, k, expected, work);                      \
    }                                                                                                     \
}                                                                                                         \
                                                                                                          \
int NAME(const REAL *F, const REAL *c, const REAL *C, const REAL *u, const REAL *lo, const REAL *hi,       \
         const REAL *reg, long B, long T, long n, REAL *K, REAL *k, REAL *expected, unsigned char *ok) {  \
    long N = n + 1;                                                                                       \
    REAL *work = (REAL *)malloc(sizeof(REAL) * (n * n + n + N * N + N + n * N));                         \
    if (!work) return 1;                                                                                  \
    for (long b = 0; b < B; ++b)                                                                          \
        ok[b] = (unsigned char)NAME##_item(F + b * T * n * N, c + b * T * N, C + b * T * N * N, u + b * T, \
                                           lo + b * T, hi + b * T, reg[b], T, n, K + b * T * n, k + b * T, \
                                           expected + 2 * b, work);                                       \
    free(work);                                                                                           \
    return 0;                                                                                             \
}

DEFINE_SWEEP(riccati_scalar_f64, double, stage_f64)
DEFINE_SWEEP(riccati_scalar_f32, float, stage_f32)

/* The adjoint LQR of the implicit gradient for one control (m = 1): lqr.py:adjoint_lqr, per batch item.
 *
 *   min sum_t 1/2 dtau_t^T H_t dtau_t + g_t^T dtau_t  s.t. dx_1 = 0, dx_{t+1} = F_t dtau_t, du_t = 0 where not free
 *
 * Backward sweep as above (no regularization, no box: du_t = K_t dx_t + k_t on free stages, 0 elsewhere; ok is
 * false where a free stage has H's reduced Q_uu <= 0, and those items get zero gains), forward pass for dtau,
 * then the multipliers dlam_{t-1} = g_x,t + H_x,t dtau_t + A_t^T dlam_t (dlam_T = 0) and
 * grad_x_init = g_x,1 + H_x,1 dtau_1 + A_1^T dlam_1.
 *
 * Layouts: H (B, T, N, N), g (B, T, N), F (B, T, n, N), free (B, T) bytes -> dx (B, T, n), du (B, T),
 * dlam (B, T, n), grad_x_init (B, n), ok (B,) bytes. NAME##_item solves one item (the arrays point at its slices;
 * work holds ADJOINT_WORK(T, n) reals) and returns ok.
 */
#define DEFINE_ADJOINT(NAME, REAL, STAGE)                                                                 \
int NAME##_item(const REAL *H, const REAL *g, const REAL *F, const unsigned char *free_, long T, long n,  \
                REAL *dx, REAL *du, REAL *dlam, REAL *grad_x_init, REAL *work) {                          \
    long N = n + 1;                                                                                       \
    REAL *V = work, *v = V + n * n, *Q = v + n, *q = Q + N * N, *VF = q + N, *Kk = VF + n * N;            \
    REAL *s = Kk + T * (n + 1);                                                                           \
    int good = 1;                                                                                         \
    memset(V, 0, sizeof(REAL) * (n * n + n));                                                             \
    for (long t = T - 1; t >= 0; --t) {                                                                   \
        STAGE##_stage(F + t * n * N, g + t * N, H + t * N * N, t == T - 1, n, V, v, Q, q, VF);            \
        REAL Quu = Q[n * N + n], qu = q[n], *Kt = Kk + t * (n + 1);                                       \
        int is_free = free_[t] != 0;                                                                      \
        if (is_free && !(Quu > 0)) good = 0;                                                              \
        REAL den = Quu > 0 ? Quu : 1;                                                                     \
        for (long i = 0; i < n; ++i) Kt[i] = is_free ? -Q[n * N + i] / den : 0;                           \
        REAL kt = is_free ? -qu / den : 0;                                                                \
        Kt[n] = kt;                                                                                       \
        STAGE##_value(n, Q, q, Kt, kt, V, v);                                                             \
    }                                                                                                     \
    if (!good) memset(Kk, 0, sizeof(REAL) * T * (n + 1));                                                 \
    REAL *x = dx;                                                                                         \
    memset(x, 0, sizeof(REAL) * n);                                                                       \
    for (long t = 0; t < T; ++t) {                                                                        \
        const REAL *Kt = Kk + t * (n + 1), *xt = x + t * n;                                               \
        REAL ut = Kt[n];                                                                                  \
        for (long i = 0; i < n; ++i) ut += Kt[i] * xt[i];                                                 \
        du[t] = ut;                                                                                       \
        if (t < T - 1) {                                                                                  \
            const REAL *Ft = F + t * n * N;                                                               \
            for (long i = 0; i < n; ++i) {                                                                \
                REAL acc = Ft[i * N + n] * ut;                                                            \
                for (long l = 0; l < n; ++l) acc += Ft[i * N + l] * xt[l];                                \
                x[(t + 1) * n + i] = acc;                                                                 \
            }                                                                                             \
        }                                                                                                 \
    }                                                                                                     \
    REAL *lam = dlam;                                                                                     \
    memset(lam + (T - 1) * n, 0, sizeof(REAL) * n);                                                       \
    for (long t = T - 1; t >= 0; --t) {                                                                   \
        const REAL *Ht = H + t * N * N, *gt = g + t * N, *Ft = F + t * n * N;                             \
        const REAL *xt = x + t * n, *lt = lam + t * n;                                                    \
        REAL ut = du[t];                                                                                  \
        for (long i = 0; i < n; ++i) {        /* s = g_x + H_x dtau + A^T dlam_t */                       \
            REAL acc = gt[i] + Ht[i * N + n] * ut;                                                        \
            for (long l = 0; l < n; ++l) acc += Ht[i * N + l] * xt[l] + Ft[l * N + i] * lt[l];            \
            s[i] = acc;                                                                                   \
        }                                                                                                 \
        REAL *out = t > 0 ? lam + (t - 1) * n : grad_x_init;                                              \
        memcpy(out, s, sizeof(REAL) * n);                                                                 \
    }                                                                                                     \
    return good;                                                                                          \
}                                                                                                         \
                                                                                                          \
int NAME(const REAL *H, const REAL *g, const REAL *F, const unsigned char *free_, long B, long T, long n, \
         REAL *dx, REAL *du, REAL *dlam, REAL *grad_x_init, unsigned char *ok) {                          \
    long N = n + 1;                                                                                       \
    REAL *work = (REAL *)malloc(sizeof(REAL) * ADJOINT_WORK(T, n));                                       \
    if (!work) return 1;                                                                                  \
    for (long b = 0; b < B; ++b)                                                                          \
        ok[b] = (unsigned char)NAME##_item(H + b * T * N * N, g + b * T * N, F + b * T * n * N, free_ + b * T, \
                                           T, n, dx + b * T * n, du + b * T, dlam + b * T * n,            \
                                           grad_x_init + b * n, work);                                    \
    free(work);                                                                                           \
    return 0;                                                                                             \
}

DEFINE_ADJOINT(adjoint_scalar_f64, double, stage_f64)
DEFINE_ADJOINT(adjoint_scalar_f32, float, stage_f32)
