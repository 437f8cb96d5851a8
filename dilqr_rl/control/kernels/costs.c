/* The library's stage costs in C, one row at a time (see dynamics.c); N = n + 1, tau = [x; u].
 *
 * psi_gradient: the gradient in the parameters p of c(tau; p) . dtau, the cost's row of the implicit gradient's
 * Psi, accumulated into grad (zero for the entries that are no parameters, e.g. the angle index).
 */
#include <math.h>
#include <string.h>

#include "kernels.h"

/* dilqr_rl.policies.PeriodicQuadraticCost: p = (angle index, w_1..w_N, goal_1..goal_N), z = tau - goal (the goal 0
 * where the solve passes none). */
static double periodic_quadratic_g(const double *p, const double *x, double u, long n) {
    long a = (long)p[0], N = n + 1;
    const double *w = p + 1, *goal = p + 1 + N;
    double sum = 0, theta = 0;
    for (long i = 0; i < N; ++i) {
        double z = (i < n ? x[i] : u) - goal[i];
        sum += w[i] * (z * z);
        if (i == a) theta = z;
    }
    return sum - w[a] * (theta * theta) + w[a] * 2.0 * (1.0 - cos(theta));
}

static void periodic_quadratic_derivatives(const double *p, const double *x, double u, long n, double *c,
                                           double *C) {
    long a = (long)p[0], N = n + 1;
    const double *w = p + 1, *goal = p + 1 + N;
    memset(C, 0, sizeof(double) * N * N);
    for (long i = 0; i < N; ++i) {
        double z = (i < n ? x[i] : u) - goal[i];
        c[i] = i == a ? w[i] * 2.0 * sin(z) : 2.0 * w[i] * z;
        C[i * N + i] = i == a ? w[i] * 2.0 * cos(z) : 2.0 * w[i];
    }
}

static void periodic_quadratic_psi_gradient(const double *p, const double *x, double u, const double *dx, double du,
                                            long n, double *grad) {
    long a = (long)p[0], N = n + 1;
    const double *w = p + 1, *goal = p + 1 + N;
    for (long i = 0; i < N; ++i) {
        double z = (i < n ? x[i] : u) - goal[i], step = i < n ? dx[i] : du;
        grad[1 + i] += (i == a ? 2.0 * sin(z) : 2.0 * z) * step;
        grad[1 + N + i] -= (i == a ? w[i] * 2.0 * cos(z) : 2.0 * w[i]) * step;
    }
}

/* dilqr_rl.models.GoalCost: p = (w_1..w_N, goal_1..goal_N), w = exp(log_weights) as the module computes it; per
 * row where the solve has per-item data or one goal per step. */
static double goal_g(const double *p, const double *x, double u, long n) {
    const double *w = p, *goal = p + n + 1;
    double sum = 0;
    for (long i = 0; i <= n; ++i) {
        double r = w[i] * ((i < n ? x[i] : u) - goal[i]);
        sum += r * r;
    }
    return sum;
}

static void goal_derivatives(const double *p, const double *x, double u, long n, double *c, double *C) {
    const double *w = p, *goal = p + n + 1;
    long N = n + 1;
    memset(C, 0, sizeof(double) * N * N);
    for (long i = 0; i < N; ++i) {
        double w2 = 2.0 * (w[i] * w[i]);
        c[i] = w2 * ((i < n ? x[i] : u) - goal[i]);
        C[i * N + i] = w2;
    }
}

static void goal_psi_gradient(const double *p, const double *x, double u, const double *dx, double du, long n,
                              double *grad) {
    const double *w = p, *goal = p + n + 1;
    for (long i = 0; i <= n; ++i) {
        double r = (i < n ? x[i] : u) - goal[i], step = i < n ? dx[i] : du;
        grad[i] += 4.0 * w[i] * r * step;
        grad[n + 1 + i] -= 2.0 * (w[i] * w[i]) * step;
    }
}

/* dilqr_rl.models.PendulumSwingUpCost: p = (angle, speed, control weights); n = 2. */
static double swing_up_g(const double *p, const double *x, double u, long n) {
    (void)n;
    return p[0] * 2.0 * (1.0 - cos(x[0])) + p[1] * (x[1] * x[1]) + p[2] * (u * u);
}

static void swing_up_derivatives(const double *p, const double *x, double u, long n, double *c, double *C) {
    (void)n;
    memset(C, 0, sizeof(double) * 9);
    c[0] = p[0] * 2.0 * sin(x[0]); c[1] = 2.0 * p[1] * x[1]; c[2] = 2.0 * p[2] * u;
    C[0] = p[0] * 2.0 * cos(x[0]); C[4] = 2.0 * p[1]; C[8] = 2.0 * p[2];
}

static void swing_up_psi_gradient(const double *p, const double *x, double u, const double *dx, double du, long n,
                                  double *grad) {
    (void)p;
    (void)n;
    grad[0] += 2.0 * sin(x[0]) * dx[0];
    grad[1] += 2.0 * x[1] * dx[1];
    grad[2] += 2.0 * u * du;
}

/* Cost forms compiled from your own modules (codegen.py), as the dynamics' (dynamics.c). */
static cost_form external_costs[EXTERNAL_KINDS];
static unsigned char external_costs_set[EXTERNAL_KINDS];

int set_external_cost(int slot, const cost_form *form) {
    if (slot < 0 || slot >= EXTERNAL_KINDS) return 1;
    external_costs[slot] = *form;
    external_costs_set[slot] = 1;
    return 0;
}

int cost_form_of(int kind, cost_form *out) {
    if (kind >= EXTERNAL_KIND_BASE) {
        int slot = kind - EXTERNAL_KIND_BASE;
        if (slot >= EXTERNAL_KINDS || !external_costs_set[slot]) return 0;
        *out = external_costs[slot];
        return 1;
    }
    static const cost_form forms[] = {
        {periodic_quadratic_g, periodic_quadratic_derivatives, periodic_quadratic_psi_gradient},
        {goal_g, goal_derivatives, goal_psi_gradient},
        {swing_up_g, swing_up_derivatives, swing_up_psi_gradient},
    };
    if (kind < 0 || kind >= (int)(sizeof forms / sizeof forms[0])) return 0;
    *out = forms[kind];
    return 1;
}

