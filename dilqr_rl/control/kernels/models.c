/* The library's models in C, one row at a time, for the compiled solve (ilqr.c).
 *
 * Each function mirrors its PyTorch module (dilqr_rl/models, dilqr_rl/policies/expert_costs.py) operation by
 * operation, so values agree to the last bits or nearly; tests compare them with the modules' forward and with
 * their closed forms or autograd derivatives. Parameter vectors are laid out by
 * dilqr_rl/control/kernels/forms.py.
 *
 * The cart-pole has no closed forms in PyTorch (autograd differentiates it); here its accelerations are
 * evaluated on second-order jets in (theta, theta_dot, force), which carry the exact first and second
 * derivatives through the same formula.
 */
#include <math.h>
#include <string.h>

#include "kernels.h"

/* ---- pendulum: dilqr_rl.models.PendulumDynamics; p = (mass, length, gravity, dt, max_speed or inf) ---- */

static double pendulum_speed(const double *p, const double *x, double u) {
    double a = 1.5 * p[2] / p[1], b = 3.0 / (p[0] * p[1] * p[1]);
    return x[1] + (a * sin(x[0]) + b * u) * p[3];
}

static void pendulum_f(const double *p, const double *x, double u, double *out) {
    double speed = pendulum_speed(p, x, u), limit = p[4];
    speed = speed < -limit ? -limit : (speed > limit ? limit : speed);
    out[0] = x[0] + speed * p[3];
    out[1] = speed;
}

static double pendulum_unclipped(const double *p, const double *x, double u) {
    return isinf(p[4]) ? 1.0 : (fabs(pendulum_speed(p, x, u)) < p[4] ? 1.0 : 0.0);
}

static void pendulum_jacobians(const double *p, const double *x, double u, double *F) {
    double a = 1.5 * p[2] / p[1], b = 3.0 / (p[0] * p[1] * p[1]), dt = p[3];
    double s = pendulum_unclipped(p, x, u);
    double ds_dth = s * a * cos(x[0]) * dt, ds_du = s * b * dt;
    F[0] = 1.0 + ds_dth * dt; F[1] = s * dt; F[2] = ds_du * dt;
    F[3] = ds_dth;            F[4] = s;      F[5] = ds_du;
}

static void pendulum_lagrangian_hessian(const double *p, const double *x, double u, const double *lam, double *H) {
    double a = 1.5 * p[2] / p[1], dt = p[3];
    double s = pendulum_unclipped(p, x, u);
    double d2_speed = -s * a * sin(x[0]) * dt;
    memset(H, 0, sizeof(double) * 9);
    H[0] = (lam[0] * dt + lam[1]) * d2_speed;
}

/* ---- jets in three variables: first order (value, gradient d (3,)) and second order (and Hessian h (3, 3)) ---- */

typedef struct {
    double v, d[3];
} jet1;

static jet1 jet1_variable(double v, int i) {
    jet1 r = {v, {0, 0, 0}};
    r.d[i] = 1.0;
    return r;
}

static jet1 jet1_add(jet1 a, jet1 b) { return (jet1){a.v + b.v, {a.d[0] + b.d[0], a.d[1] + b.d[1], a.d[2] + b.d[2]}}; }
static jet1 jet1_sub(jet1 a, jet1 b) { return (jet1){a.v - b.v, {a.d[0] - b.d[0], a.d[1] - b.d[1], a.d[2] - b.d[2]}}; }
static jet1 jet1_scale(double s, jet1 a) { return (jet1){s * a.v, {s * a.d[0], s * a.d[1], s * a.d[2]}}; }
static jet1 jet1_div_scalar(jet1 a, double s) { return (jet1){a.v / s, {a.d[0] / s, a.d[1] / s, a.d[2] / s}}; }
static jet1 jet1_constant_minus(double c, jet1 a) { return (jet1){c - a.v, {-a.d[0], -a.d[1], -a.d[2]}}; }

static jet1 jet1_mul(jet1 a, jet1 b) {
    jet1 r = {a.v * b.v, {0, 0, 0}};
    for (int i = 0; i < 3; ++i) r.d[i] = a.d[i] * b.v + a.v * b.d[i];
    return r;
}

static jet1 jet1_div(jet1 a, jet1 b) {
    jet1 r = {a.v / b.v, {0, 0, 0}};
    for (int i = 0; i < 3; ++i) r.d[i] = (a.d[i] - r.v * b.d[i]) / b.v;
    return r;
}

/* g(a) for a unary g with value g0 and derivative g1 at a.v. */
static jet1 jet1_apply(jet1 a, double g0, double g1) { return (jet1){g0, {g1 * a.d[0], g1 * a.d[1], g1 * a.d[2]}}; }

typedef struct {
    double v, d[3], h[9];
} jet;

static jet jet_constant(double v) {
    jet r;
    memset(&r, 0, sizeof r);
    r.v = v;
    return r;
}

static jet jet_variable(double v, int i) {
    jet r = jet_constant(v);
    r.d[i] = 1.0;
    return r;
}

static jet jet_add(jet a, jet b) {
    a.v += b.v;
    for (int i = 0; i < 3; ++i) a.d[i] += b.d[i];
    for (int i = 0; i < 9; ++i) a.h[i] += b.h[i];
    return a;
}

static jet jet_sub(jet a, jet b) {
    a.v -= b.v;
    for (int i = 0; i < 3; ++i) a.d[i] -= b.d[i];
    for (int i = 0; i < 9; ++i) a.h[i] -= b.h[i];
    return a;
}

static jet jet_scale(double s, jet a) {  /* s * a */
    a.v = s * a.v;
    for (int i = 0; i < 3; ++i) a.d[i] = s * a.d[i];
    for (int i = 0; i < 9; ++i) a.h[i] = s * a.h[i];
    return a;
}

static jet jet_mul(jet a, jet b) {
    jet r;
    r.v = a.v * b.v;
    for (int i = 0; i < 3; ++i) r.d[i] = a.d[i] * b.v + a.v * b.d[i];
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
            r.h[3 * i + j] = a.h[3 * i + j] * b.v + a.d[i] * b.d[j] + a.d[j] * b.d[i] + a.v * b.h[3 * i + j];
    return r;
}

static jet jet_div(jet a, jet b) {
    jet r;
    r.v = a.v / b.v;
    for (int i = 0; i < 3; ++i) r.d[i] = (a.d[i] - r.v * b.d[i]) / b.v;
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
            r.h[3 * i + j] = (a.h[3 * i + j] - r.d[i] * b.d[j] - r.d[j] * b.d[i] - r.v * b.h[3 * i + j]) / b.v;
    return r;
}

static jet jet_div_scalar(jet a, double s) {
    a.v = a.v / s;
    for (int i = 0; i < 3; ++i) a.d[i] = a.d[i] / s;
    for (int i = 0; i < 9; ++i) a.h[i] = a.h[i] / s;
    return a;
}

/* g(a) for a unary g with value g0 and derivatives g1, g2 at a.v (the chain rule to second order). */
static jet jet_apply(jet a, double g0, double g1, double g2) {
    jet r;
    r.v = g0;
    for (int i = 0; i < 3; ++i) r.d[i] = g1 * a.d[i];
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) r.h[3 * i + j] = g1 * a.h[3 * i + j] + g2 * a.d[i] * a.d[j];
    return r;
}

/* ---- cart-pole: dilqr_rl.models.CartpoleDynamics; p = (cart_mass, pole_mass, length, gravity, dt) ---- */

/* Gymnasium's accelerations (dilqr_rl.models.cartpole.cartpole_accelerations) in plain doubles. */
static void cartpole_accelerations(const double *p, double cos_, double sin_, double theta_dot, double force,
                                   double *x_acc, double *theta_acc) {
    double total_mass = p[0] + p[1], polemass_length = p[1] * p[2];
    double temp = (force + polemass_length * (theta_dot * theta_dot) * sin_) / total_mass;
    double inertia = p[2] * (4.0 / 3.0 - p[1] * (cos_ * cos_) / total_mass);
    *theta_acc = (p[3] * sin_ - cos_ * temp) / inertia;
    *x_acc = temp - polemass_length * *theta_acc * cos_ / total_mass;
}

/* The same on first-order jets in (theta, theta_dot, force). */
static void cartpole_accelerations_jet1(const double *p, double theta, double theta_dot, double force, jet1 *x_acc,
                                        jet1 *theta_acc) {
    double total_mass = p[0] + p[1], polemass_length = p[1] * p[2];
    jet1 th = jet1_variable(theta, 0), w = jet1_variable(theta_dot, 1), F = jet1_variable(force, 2);
    double c0 = cos(theta), s0 = sin(theta);
    jet1 c = jet1_apply(th, c0, -s0), s = jet1_apply(th, s0, c0);
    jet1 temp = jet1_div_scalar(jet1_add(F, jet1_mul(jet1_scale(polemass_length, jet1_mul(w, w)), s)), total_mass);
    jet1 inertia = jet1_scale(p[2], jet1_constant_minus(4.0 / 3.0,
                                                        jet1_div_scalar(jet1_scale(p[1], jet1_mul(c, c)), total_mass)));
    *theta_acc = jet1_div(jet1_sub(jet1_scale(p[3], s), jet1_mul(c, temp)), inertia);
    *x_acc = jet1_sub(temp, jet1_div_scalar(jet1_mul(jet1_scale(polemass_length, *theta_acc), c), total_mass));
}

/* The same on second-order jets. */
static void cartpole_accelerations_jet(const double *p, double theta, double theta_dot, double force, jet *x_acc,
                                       jet *theta_acc) {
    double total_mass = p[0] + p[1], polemass_length = p[1] * p[2];
    jet th = jet_variable(theta, 0), w = jet_variable(theta_dot, 1), F = jet_variable(force, 2);
    double c0 = cos(theta), s0 = sin(theta);
    jet c = jet_apply(th, c0, -s0, -c0), s = jet_apply(th, s0, c0, -s0);
    jet temp = jet_div_scalar(jet_add(F, jet_mul(jet_scale(polemass_length, jet_mul(w, w)), s)), total_mass);
    jet inertia = jet_scale(p[2], jet_sub(jet_constant(4.0 / 3.0),
                                          jet_div_scalar(jet_scale(p[1], jet_mul(c, c)), total_mass)));
    *theta_acc = jet_div(jet_sub(jet_scale(p[3], s), jet_mul(c, temp)), inertia);
    *x_acc = jet_sub(temp, jet_div_scalar(jet_mul(jet_scale(polemass_length, *theta_acc), c), total_mass));
}

static void cartpole_f(const double *p, const double *x, double u, double *out) {
    double x_acc, theta_acc, dt = p[4];
    cartpole_accelerations(p, cos(x[2]), sin(x[2]), x[3], u, &x_acc, &theta_acc);
    out[0] = x[0] + dt * x[1];
    out[1] = x[1] + dt * x_acc;
    out[2] = x[2] + dt * x[3];
    out[3] = x[3] + dt * theta_acc;
}

static void cartpole_jacobians(const double *p, const double *x, double u, double *F) {
    jet1 x_acc, theta_acc;
    double dt = p[4];
    cartpole_accelerations_jet1(p, x[2], x[3], u, &x_acc, &theta_acc);
    memset(F, 0, sizeof(double) * 20);  /* (4, 5): columns x, x_dot, theta, theta_dot, force */
    F[0] = 1.0; F[1] = dt;
    F[5 + 1] = 1.0;
    F[10 + 2] = 1.0; F[10 + 3] = dt;
    F[15 + 3] = 1.0;
    for (int i = 0; i < 3; ++i) {
        F[5 + 2 + i] += dt * x_acc.d[i];
        F[15 + 2 + i] += dt * theta_acc.d[i];
    }
}

static void cartpole_lagrangian_hessian(const double *p, const double *x, double u, const double *lam, double *H) {
    jet x_acc, theta_acc;
    double dt = p[4];
    cartpole_accelerations_jet(p, x[2], x[3], u, &x_acc, &theta_acc);
    memset(H, 0, sizeof(double) * 25);
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
            H[5 * (2 + i) + 2 + j] = lam[1] * dt * x_acc.h[3 * i + j] + lam[3] * dt * theta_acc.h[3 * i + j];
}

/* ---- costs; N = n + 1, tau = [x; u] ---- */

/* dilqr_rl.policies.PeriodicQuadraticCost (no per-item data): p = (angle index, w_1..w_N). */
static double periodic_quadratic_g(const double *p, const double *x, double u, long n) {
    long a = (long)p[0];
    const double *w = p + 1;
    double sum = 0, theta = a < n ? x[a] : u;
    for (long i = 0; i < n; ++i) sum += w[i] * (x[i] * x[i]);
    sum += w[n] * (u * u);
    return sum - w[a] * (theta * theta) + w[a] * 2.0 * (1.0 - cos(theta));
}

static void periodic_quadratic_derivatives(const double *p, const double *x, double u, long n, double *c,
                                           double *C) {
    long a = (long)p[0], N = n + 1;
    const double *w = p + 1;
    memset(C, 0, sizeof(double) * N * N);
    for (long i = 0; i < N; ++i) {
        double z = i < n ? x[i] : u;
        c[i] = i == a ? w[i] * 2.0 * sin(z) : 2.0 * w[i] * z;
        C[i * N + i] = i == a ? w[i] * 2.0 * cos(z) : 2.0 * w[i];
    }
}

/* dilqr_rl.models.GoalCost with one goal for all steps (no per-item data): p = (w_1..w_N, goal_1..goal_N),
 * w = exp(log_weights) as the module computes it. */
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

int dynamics_form_of(int kind, long n, dynamics_form *out) {
    static const dynamics_form forms[] = {
        {2, pendulum_f, pendulum_jacobians, pendulum_lagrangian_hessian},
        {4, cartpole_f, cartpole_jacobians, cartpole_lagrangian_hessian},
    };
    if (kind < 0 || kind >= (int)(sizeof forms / sizeof forms[0]) || forms[kind].n != n) return 0;
    *out = forms[kind];
    return 1;
}

int cost_form_of(int kind, cost_form *out) {
    static const cost_form forms[] = {
        {periodic_quadratic_g, periodic_quadratic_derivatives},
        {goal_g, goal_derivatives},
        {swing_up_g, swing_up_derivatives},
    };
    if (kind < 0 || kind >= (int)(sizeof forms / sizeof forms[0])) return 0;
    *out = forms[kind];
    return 1;
}

/* The forms on R rows, for the tests: f (R, n), F (R, n, N), H (R, N, N) at lam (R, n), g (R,), c (R, N),
 * C (R, N, N). Returns 1 where a kind is unknown. */
int evaluate_forms_f64(int dynamics_kind, const double *dp, int cost_kind, const double *cp, const double *x,
                       const double *u, const double *lam, long R, long n, double *f, double *F, double *H,
                       double *g, double *c, double *C) {
    dynamics_form dyn;
    cost_form cost;
    if (!dynamics_form_of(dynamics_kind, n, &dyn) || !cost_form_of(cost_kind, &cost)) return 1;
    long N = n + 1;
    for (long r = 0; r < R; ++r) {
        const double *xr = x + r * n;
        dyn.f(dp, xr, u[r], f + r * n);
        dyn.jacobians(dp, xr, u[r], F + r * n * N);
        dyn.lagrangian_hessian(dp, xr, u[r], lam + r * n, H + r * N * N);
        g[r] = cost.g(cp, xr, u[r], n);
        cost.derivatives(cp, xr, u[r], n, c + r * N, C + r * N * N);
    }
    return 0;
}

/* hess[lam . f] of a dynamics form on R rows: H (R, N, N) at x (R, n), u (R,), lam (R, n). Returns 1 where the kind is
 * unknown. */
int lagrangian_hessian_f64(int kind, const double *dp, const double *x, const double *u, const double *lam, long R,
                           long n, double *H) {
    dynamics_form dyn;
    if (!dynamics_form_of(kind, n, &dyn)) return 1;
    long N = n + 1;
    for (long r = 0; r < R; ++r) dyn.lagrangian_hessian(dp, x + r * n, u[r], lam + r * n, H + r * N * N);
    return 0;
}
