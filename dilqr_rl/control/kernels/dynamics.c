/* The library's dynamics in C, one row at a time, for the compiled solve (ilqr.c) and the implicit gradient.
 *
 * Each form mirrors its PyTorch module (dilqr_rl/models) operation by operation, so values agree to the last bits
 * or nearly; tests compare them with the modules' forward and with their closed forms or autograd derivatives.
 * Parameter vectors are laid out by dilqr_rl/control/kernels/forms.py.
 *
 * The cart-pole has no closed forms in PyTorch (autograd differentiates it); here its accelerations are evaluated
 * on forward-mode jets (gjets.h, shared with the generated forms), which carry the exact derivatives through the
 * same formula.
 *
 * psi_gradient: the gradient in the parameters p of dlam . f(tau; p) + lam . (F(tau; p) dtau), one row of the
 * implicit gradient's Psi (dilqr_rl/control/implicit.py), accumulated into grad.
 */
#include <math.h>
#include <string.h>

#define JD 3 /* the cart-pole's jets: (theta, theta_dot, force) */
#define JP 4 /* and its parameters (cart_mass, pole_mass, length, gravity) */
#include "gjets.h"
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

/* Psi's row for p = (mass, length, gravity): through the speed, the clip passing the gradient of f where
 * -max_speed <= speed <= max_speed (torch.clamp) and the Jacobian's where |speed| < max_speed (the closed form). */
static void pendulum_psi_gradient(const double *p, const double *x, double u, const double *dx, double du,
                                  const double *lam, const double *dlam, double *grad) {
    double dt = p[3], limit = p[4];
    gp mass = gp_parameter(p[0], 0), length = gp_parameter(p[1], 1), gravity = gp_parameter(p[2], 2);
    gp theta = gp_along(x[0], dx[0]), speed0 = gp_along(x[1], dx[1]), torque = gp_along(u, du);
    gp a = gp_div(gp_scale(1.5, gravity), length);
    gp b = gp_div(gp_const(3.0), gp_mul(gp_mul(mass, length), length));
    double s0 = sin(x[0]), c0 = cos(x[0]);
    gp sine = gp_apply(theta, s0, c0, -s0);
    gp speed = gp_add(speed0, gp_scale(dt, gp_add(gp_mul(a, sine), gp_mul(b, torque))));
    double passes = speed.v >= -limit && speed.v <= limit, unclipped = isinf(limit) || fabs(speed.v) < limit;
    for (int j = 0; j < 3; ++j)
        grad[j] += (dlam[0] * dt + dlam[1]) * passes * speed.p[j] + (lam[0] * dt + lam[1]) * unclipped * speed.ep[j];
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
static void cartpole_accelerations_jet1(const double *p, double theta, double theta_dot, double force, g1 *x_acc,
                                        g1 *theta_acc) {
    double total_mass = p[0] + p[1], polemass_length = p[1] * p[2];
    g1 th = g1_input(theta, 0), w = g1_input(theta_dot, 1), F = g1_input(force, 2);
    double c0 = cos(theta), s0 = sin(theta);
    g1 c = g1_apply(th, c0, -s0, 0), s = g1_apply(th, s0, c0, 0);
    g1 temp = g1_divc(g1_add(F, g1_mul(g1_scale(polemass_length, g1_mul(w, w)), s)), total_mass);
    g1 inertia = g1_scale(p[2], g1_csub(4.0 / 3.0, g1_divc(g1_scale(p[1], g1_mul(c, c)), total_mass)));
    *theta_acc = g1_div(g1_sub(g1_scale(p[3], s), g1_mul(c, temp)), inertia);
    *x_acc = g1_sub(temp, g1_divc(g1_mul(g1_scale(polemass_length, *theta_acc), c), total_mass));
}

/* The same on second-order jets. */
static void cartpole_accelerations_jet(const double *p, double theta, double theta_dot, double force, g2 *x_acc,
                                       g2 *theta_acc) {
    double total_mass = p[0] + p[1], polemass_length = p[1] * p[2];
    g2 th = g2_input(theta, 0), w = g2_input(theta_dot, 1), F = g2_input(force, 2);
    double c0 = cos(theta), s0 = sin(theta);
    g2 c = g2_apply(th, c0, -s0, -c0), s = g2_apply(th, s0, c0, -s0);
    g2 temp = g2_divc(g2_add(F, g2_mul(g2_scale(polemass_length, g2_mul(w, w)), s)), total_mass);
    g2 inertia = g2_scale(p[2], g2_sub(g2_const(4.0 / 3.0), g2_divc(g2_scale(p[1], g2_mul(c, c)), total_mass)));
    *theta_acc = g2_div(g2_sub(g2_scale(p[3], s), g2_mul(c, temp)), inertia);
    *x_acc = g2_sub(temp, g2_divc(g2_mul(g2_scale(polemass_length, *theta_acc), c), total_mass));
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
    g1 x_acc, theta_acc;
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

/* Psi's row for p = (cart_mass, pole_mass, length, gravity): the accelerations on parameter jets. */
static void cartpole_psi_gradient(const double *p, const double *x, double u, const double *dx, double du,
                                  const double *lam, const double *dlam, double *grad) {
    double dt = p[4], c0 = cos(x[2]), s0 = sin(x[2]);
    gp cart_mass = gp_parameter(p[0], 0), pole_mass = gp_parameter(p[1], 1);
    gp length = gp_parameter(p[2], 2), gravity = gp_parameter(p[3], 3);
    gp theta = gp_along(x[2], dx[2]), theta_dot = gp_along(x[3], dx[3]), force = gp_along(u, du);
    gp c = gp_apply(theta, c0, -s0, -c0), s = gp_apply(theta, s0, c0, -s0);
    gp total_mass = gp_add(cart_mass, pole_mass), polemass_length = gp_mul(pole_mass, length);
    gp temp = gp_div(gp_add(force, gp_mul(gp_mul(polemass_length, gp_mul(theta_dot, theta_dot)), s)), total_mass);
    gp inertia = gp_mul(length, gp_sub(gp_const(4.0 / 3.0), gp_div(gp_mul(pole_mass, gp_mul(c, c)), total_mass)));
    gp theta_acc = gp_div(gp_sub(gp_mul(gravity, s), gp_mul(c, temp)), inertia);
    gp x_acc = gp_sub(temp, gp_div(gp_mul(gp_mul(polemass_length, theta_acc), c), total_mass));
    for (int j = 0; j < 4; ++j)
        grad[j] += dt * (dlam[1] * x_acc.p[j] + dlam[3] * theta_acc.p[j] + lam[1] * x_acc.ep[j]
                         + lam[3] * theta_acc.ep[j]);
}

static void cartpole_lagrangian_hessian(const double *p, const double *x, double u, const double *lam, double *H) {
    g2 x_acc, theta_acc;
    double dt = p[4];
    cartpole_accelerations_jet(p, x[2], x[3], u, &x_acc, &theta_acc);
    memset(H, 0, sizeof(double) * 25);
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
            H[5 * (2 + i) + 2 + j] = lam[1] * dt * x_acc.h[3 * i + j] + lam[3] * dt * theta_acc.h[3 * i + j];
}

/* Forms compiled from your own modules (codegen.py), each in a library of its own, registered here by kind:
 * EXTERNAL_KIND_BASE + slot. */
static dynamics_form external_dynamics[EXTERNAL_KINDS];
static unsigned char external_dynamics_set[EXTERNAL_KINDS];

int set_external_dynamics(int slot, const dynamics_form *form) {
    if (slot < 0 || slot >= EXTERNAL_KINDS) return 1;
    external_dynamics[slot] = *form;
    external_dynamics_set[slot] = 1;
    return 0;
}

int dynamics_form_of(int kind, long n, dynamics_form *out) {
    if (kind >= EXTERNAL_KIND_BASE) {
        int slot = kind - EXTERNAL_KIND_BASE;
        if (slot >= EXTERNAL_KINDS || !external_dynamics_set[slot] || external_dynamics[slot].n != n) return 0;
        *out = external_dynamics[slot];
        return 1;
    }
    static const dynamics_form forms[] = {
        {2, pendulum_f, pendulum_jacobians, pendulum_lagrangian_hessian, pendulum_psi_gradient},
        {4, cartpole_f, cartpole_jacobians, cartpole_lagrangian_hessian, cartpole_psi_gradient},
    };
    if (kind < 0 || kind >= (int)(sizeof forms / sizeof forms[0]) || forms[kind].n != n) return 0;
    *out = forms[kind];
    return 1;
}

