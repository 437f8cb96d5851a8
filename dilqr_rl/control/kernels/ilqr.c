/* The whole forward solve for one control (m = 1) and models with a C form (dynamics.c, costs.c), per batch item.
 *
 * The same algorithm as dilqr_rl/control/ilqr.py:solve (its reference; tests compare the two), item by item:
 * the PyTorch loop runs the batch until every item has stopped, and an item that has stopped (converged or
 * stalled) is frozen, so each item's iterates are those of its own loop here. Per iteration: linearize along
 * (x, u), costate lam, reduced gradient and KKT residual, convergence test; the backward sweep (exact
 * Lagrangian Hessian C + hess[lam . f] below the item's Newton level, Gauss-Newton C otherwise or where the
 * exact sweep fails); closed-loop rollouts of the step sizes in order, keeping the first with sufficient
 * decrease (the PyTorch line search evaluates all of them and keeps the same one); the Levenberg-Marquardt
 * schedule. See ilqr.py for the reasons behind each test.
 *
 * Layouts: the cost's parameters of item b at step t at cp + b * cp_item + t * cp_step (strides 0 where they are
 * shared); x_init (B, n), u_init, lo, hi (B, T); alphas (S,); settings = (tol, atol, max_iter, reg_init,
 * reg_min, reg_max, reg_factor, newton_tol, armijo, noise_eps, newton_retry) -> x (B, T, n), u (B, T),
 * cost (B,), converged (B,) bytes, iterations (B,) longs, kkt (B,), active (B, T) bytes, F (B, T, n, N),
 * C (B, T, N, N), lam (B, T, n), error (B,) bytes: 0, or where the item stopped on a non-finite value: 1 the
 * initial rollout, 2 the initial cost, 3 the model derivatives. Returns 0, or 3 where an item has an error, 2 where a
 * form is unknown for n states, 1 where memory is short.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

typedef struct {
    double tol, atol, reg_init, reg_min, reg_max, reg_factor, newton_tol, armijo, noise_eps, newton_retry;
    long max_iter;
} settings;

typedef struct {
    const dynamics_form *dyn;
    const double *dp;
    const cost_form *cost;
    const double *cp;
    long cp_step; /* the cost's parameters at step t: cp + t * cp_step (0: one vector for every step) */
    long T, n;
} model;

static double clamp(double v, double lo, double hi) { return v < lo ? lo : (v > hi ? hi : v); }

static int all_finite(const double *v, long count) {
    for (long i = 0; i < count; ++i)
        if (!isfinite(v[i])) return 0;
    return 1;
}

static double total_cost(const model *m, const double *x, const double *u) {
    double J = 0;
    for (long t = 0; t < m->T; ++t) J += m->cost->g(m->cp + t * m->cp_step, x + t * m->n, u[t], m->n);
    return J;
}

/* The closed-loop rollout u_t = clamp(u_t + alpha k_t + K_t (xs_t - x_t)) from x_init: xs, us; returns its cost. */
static double rollout(const model *m, const double *x_init, const double *x, const double *u, const double *K,
                      const double *k, double alpha, const double *lo, const double *hi, double *xs, double *us) {
    long T = m->T, n = m->n;
    memcpy(xs, x_init, sizeof(double) * n);
    for (long t = 0; t < T; ++t) {
        double feedback = 0;
        for (long i = 0; i < n; ++i) feedback += (xs[t * n + i] - x[t * n + i]) * K[t * n + i];
        us[t] = clamp((u[t] + alpha * k[t]) + feedback, lo[t], hi[t]);
        if (t < T - 1) m->dyn->f(m->dp, xs + t * n, us[t], xs + (t + 1) * n);
    }
    return total_cost(m, xs, us);
}

/* Derivatives F, c, C along (x, u), the costate lam and the reduced gradient grad; returns 0 if non-finite. */
static int linearize(const model *m, const double *x, const double *u, double *F, double *c, double *C, double *lam,
                     double *grad) {
    long T = m->T, n = m->n, N = n + 1;
    for (long t = 0; t < T; ++t) {
        m->dyn->jacobians(m->dp, x + t * n, u[t], F + t * n * N);
        m->cost->derivatives(m->cp + t * m->cp_step, x + t * n, u[t], n, c + t * N, C + t * N * N);
    }
    if (!all_finite(F, T * n * N) || !all_finite(c, T * N) || !all_finite(C, T * N * N)) return 0;
    memset(lam + (T - 1) * n, 0, sizeof(double) * n);
    for (long t = T - 1; t >= 1; --t)  /* lam_{t-1} = c_x,t + A_t^T lam_t */
        for (long i = 0; i < n; ++i) {
            double s = 0;
            for (long j = 0; j < n; ++j) s += F[t * n * N + j * N + i] * lam[t * n + j];
            lam[(t - 1) * n + i] = c[t * N + i] + s;
        }
    for (long t = 0; t < T; ++t) {  /* c_u,t + B_t^T lam_t */
        double s = 0;
        for (long j = 0; j < n; ++j) s += F[t * n * N + j * N + n] * lam[t * n + j];
        grad[t] = c[t * N + n] + s;
    }
    return 1;
}

static int at_lower(double u, double lo, double atol) { return u <= lo + atol * (1 + fabs(lo)); }
static int at_upper(double u, double hi, double atol) { return u >= hi - atol * (1 + fabs(hi)); }

/* The largest |projected reduced gradient|: components pushing a control further into its bound count 0. */
static double kkt_residual(const double *grad, const double *u, const double *lo, const double *hi, long T,
                           double atol) {
    double kkt = 0;
    for (long t = 0; t < T; ++t) {
        int blocked = (at_lower(u[t], lo[t], atol) && grad[t] > 0) || (at_upper(u[t], hi[t], atol) && grad[t] < 0);
        double g = blocked ? 0.0 : fabs(grad[t]);
        if (g > kkt || isnan(g)) kkt = g;
    }
    return kkt;
}

static double max_abs(const double *v, long count) {
    double out = 0;
    for (long i = 0; i < count; ++i) {
        double a = fabs(v[i]);
        if (a > out || isnan(a)) out = a;
    }
    return out;
}

/* Work per item, in doubles: c, exact C, grad, K, k, the candidate (xs, us), the sweep's workspace. */
static long work_size(long T, long n) {
    long N = n + 1;
    return T * N + T * N * N + T + T * n + T + T * n + T + (n * n + n + N * N + N + n * N) + N * N;
}

static void solve_item(const model *m, const settings *s, const double *alphas, long S, const double *x_init,
                       const double *u_init, const double *lo, const double *hi, double *x, double *u, double *cost,
                       unsigned char *converged_out, long *iterations_out, double *kkt_out, unsigned char *active,
                       double *F, double *C, double *lam, unsigned char *error, double *work) {
    long T = m->T, n = m->n, N = n + 1;
    double *c = work, *Cx = c + T * N, *grad = Cx + T * N * N, *K = grad + T, *k = K + T * n, *xs = k + T;
    double *us = xs + T * n, *sweep = us + T, *Hf = sweep + (n * n + n + N * N + N + n * N);
    *error = 0;
    for (long t = 0; t < T; ++t) u[t] = clamp(u_init[t], lo[t], hi[t]);  /* torch.minimum(torch.maximum(.)) */
    memcpy(x, x_init, sizeof(double) * n);
    for (long t = 0; t < T - 1; ++t) m->dyn->f(m->dp, x + t * n, u[t], x + (t + 1) * n);
    if (!all_finite(x, T * n)) { *error = 1; return; }
    double J = total_cost(m, x, u);
    if (!isfinite(J)) { *error = 2; return; }
    double reg = s->reg_init, last_step = INFINITY, newton_level = s->newton_tol, kkt = 0, scale = 1;
    double noise_base = s->noise_eps * sqrt((double)T) * DBL_EPSILON;
    int converged = 0, stalled = 0;
    long iterations = 0;
    for (long it = 0; it <= s->max_iter; ++it) {
        if (!linearize(m, x, u, F, c, C, lam, grad)) { *error = 3; return; }
        kkt = kkt_residual(grad, u, lo, hi, T, s->atol);
        scale = 1.0 + fabs(J) / T;
        if (s->tol > 0) {
            int small_step = last_step <= s->tol * (1 + max_abs(u, T));
            converged = converged || (kkt <= s->tol * scale && small_step);
        }
        if (it == s->max_iter || converged || stalled) break;
        double expected[2];
        int ok, newton_failed = 0;
        if (kkt < newton_level * scale) {  /* exact Hessian C + hess[lam . f], Gauss-Newton where it fails */
            for (long t = 0; t < T; ++t) {
                m->dyn->lagrangian_hessian(m->dp, x + t * n, u[t], lam + t * n, Hf);
                for (long i = 0; i < N * N; ++i) Cx[t * N * N + i] = C[t * N * N + i] + Hf[i];
            }
            ok = riccati_scalar_f64_item(F, c, Cx, u, lo, hi, reg, T, n, K, k, expected, sweep);
            if (!ok) {
                newton_failed = 1;
                ok = riccati_scalar_f64_item(F, c, C, u, lo, hi, reg, T, n, K, k, expected, sweep);
            }
        } else {
            ok = riccati_scalar_f64_item(F, c, C, u, lo, hi, reg, T, n, K, k, expected, sweep);
        }
        if (newton_failed) newton_level = kkt / scale * s->newton_retry;
        int accept = 0;
        if (ok) {  /* a failed sweep's step is rejected whatever the line search finds */
            double noise = noise_base * (1 + fabs(J));
            double expected_full = -(alphas[0] * expected[0] + alphas[0] * alphas[0] * expected[1]);
            for (long i = 0; i < S && !accept; ++i) {
                double a = alphas[i], Js = rollout(m, x_init, x, u, K, k, a, lo, hi, xs, us);
                double predicted = -(a * expected[0] + a * a * expected[1]), decrease = J - Js;
                int armijo = decrease > s->armijo * (predicted > 0 ? predicted : 0) && decrease > 0;
                int unmeasurable = expected_full <= noise && decrease >= -noise;
                if ((armijo || unmeasurable) && isfinite(Js)) {
                    accept = 1;
                    double step = 0;
                    for (long t = 0; t < T; ++t) {
                        double d = fabs(us[t] - u[t]);
                        if (d > step || isnan(d)) step = d;
                    }
                    memcpy(x, xs, sizeof(double) * T * n);
                    memcpy(u, us, sizeof(double) * T);
                    J = Js;
                    last_step = step;
                }
            }
        }
        if (!accept) last_step = INFINITY;
        iterations += 1;
        if (accept) reg = reg / s->reg_factor;
        else reg = reg * s->reg_factor < s->reg_min ? s->reg_min : reg * s->reg_factor;
        if (reg < s->reg_min) reg = 0;
        if (s->tol > 0 && reg > s->reg_max) stalled = 1;
        if (reg > s->reg_max) reg = s->reg_max;
    }
    double mtol = (s->tol > 0 ? s->tol : s->atol) * scale;
    for (long t = 0; t < T; ++t)
        active[t] = (at_lower(u[t], lo[t], s->atol) && grad[t] > -mtol) ||
                    (at_upper(u[t], hi[t], s->atol) && grad[t] < mtol);
    *cost = J;
    *converged_out = (unsigned char)converged;
    *iterations_out = iterations;
    *kkt_out = kkt;
}

int ilqr_scalar_f64(int dynamics_kind, const double *dp, int cost_kind, const double *cp, long cp_item,
                    long cp_step, const double *x_init,
                    const double *u_init, const double *lo, const double *hi, long B, long T, long n,
                    const double *alphas, long S, const double *config, double *x, double *u, double *cost,
                    unsigned char *converged, long *iterations, double *kkt, unsigned char *active, double *F,
                    double *C, double *lam, unsigned char *error) {
    dynamics_form dyn;
    cost_form cst;
    if (!dynamics_form_of(dynamics_kind, n, &dyn) || !cost_form_of(cost_kind, &cst)) return 2;
    settings s = {config[0], config[1], config[3], config[4], config[5], config[6], config[7], config[8], config[9],
                  config[10], (long)config[2]};
    model m = {&dyn, dp, &cst, cp, cp_step, T, n};
    long N = n + 1;
    double *work = (double *)malloc(sizeof(double) * work_size(T, n));
    if (!work) return 1;
    for (long b = 0; b < B; ++b) {
        m.cp = cp + b * cp_item;
        solve_item(&m, &s, alphas, S, x_init + b * n, u_init + b * T, lo + b * T, hi + b * T, x + b * T * n,
                   u + b * T, cost + b, converged + b, iterations + b, kkt + b, active + b * T, F + b * T * n * N,
                   C + b * T * N * N, lam + b * T * n, error + b, work);
    }
    free(work);
    for (long b = 0; b < B; ++b)
        if (error[b]) return 3;
    return 0;
}

/* ilqr_scalar_f64 for a caller in single or double precision (single: x_init, u_init, lo, hi and the outputs x, u,
 * cost, kkt, F, C, lam are floats, converted on the way in and out; the solve runs in double precision). Returns
 * as ilqr_scalar_f64, or 1 where memory is short. */
int ilqr_scalar_io(int single, int dynamics_kind, const double *dp, int cost_kind, const double *cp, long cp_item,
                   long cp_step, const void *x_init_in, const void *u_init_in, const void *lo_in, const void *hi_in,
                   long B, long T, long n, const double *alphas, long S, const double *config, void *x_out,
                   void *u_out, void *cost_out, unsigned char *converged, long *iterations, void *kkt_out,
                   unsigned char *active, void *F_out, void *C_out, void *lam_out, unsigned char *error) {
    long N = n + 1;
    if (!single)
        return ilqr_scalar_f64(dynamics_kind, dp, cost_kind, cp, cp_item, cp_step, x_init_in, u_init_in, lo_in, hi_in,
                               B, T, n, alphas, S, config, x_out, u_out, cost_out, converged, iterations, kkt_out,
                               active, F_out, C_out, lam_out, error);
    long counts[7] = {B * T * n, B * T, B, B, B * T * n * N, B * T * N * N, B * T * n};
    void *outputs[7] = {x_out, u_out, cost_out, kkt_out, F_out, C_out, lam_out};
    double *memory = (double *)malloc(sizeof(double) * (B * n + 3 * B * T + counts[0] + counts[1] + counts[2]
                                                        + counts[3] + counts[4] + counts[5] + counts[6]));
    if (!memory) return 1;
    double *arena = memory, *out[7];
    const double *x_init = input_doubles(x_init_in, B * n, 1, &arena);
    const double *u_init = input_doubles(u_init_in, B * T, 1, &arena);
    const double *lo = input_doubles(lo_in, B * T, 1, &arena), *hi = input_doubles(hi_in, B * T, 1, &arena);
    for (int i = 0; i < 7; ++i) out[i] = output_doubles(outputs[i], counts[i], 1, &arena);
    int code = ilqr_scalar_f64(dynamics_kind, dp, cost_kind, cp, cp_item, cp_step, x_init, u_init, lo, hi, B, T, n,
                               alphas, S, config, out[0], out[1], out[2], converged, iterations, out[3], active, out[4],
                               out[5], out[6], error);
    for (int i = 0; i < 7; ++i) store_output(outputs[i], out[i], counts[i], 1);
    free(memory);
    return code;
}
