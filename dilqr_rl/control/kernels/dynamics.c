/* The library's dynamics in C, one row at a time, for the compiled solve (ilqr.c) and the implicit gradient.
 *
 * Each form mirrors its PyTorch module (dilqr_rl/models) operation by operation, so values agree to the last bits
 * or nearly; tests compare them with the modules' forward and with their closed forms or autograd derivatives.
 * Parameter vectors are laid out by dilqr_rl/control/kernels/forms.py.
 *
 * The cart-pole has no closed forms in PyTorch (autograd differentiates it); here its accelerations are evaluated
 * on jets (jets.h), which carry the exact derivatives through the same formula.
 *
 * psi_gradient: the gradient in the parameters p of dlam . f(tau; p) + lam . (F(tau; p) dtau), one row of the
 * implicit gradient's Psi (dilqr_rl/control/implicit.py), accumulated into grad.
 */
#include <math.h>
#include <string.h>

#include "jets.h"
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
    pjet mass = pjet_parameter(p[0], 0), length = pjet_parameter(p[1], 1), gravity = pjet_parameter(p[2], 2);
    pjet theta = pjet_input(x[0], dx[0]), speed0 = pjet_input(x[1], dx[1]), torque = pjet_input(u, du);
    pjet a = pjet_div(pjet_scale(1.5, gravity), length);
    pjet b = pjet_div(pjet_constant(3.0), pjet_mul(pjet_mul(mass, length), length));
    double s0 = sin(x[0]), c0 = cos(x[0]);
    pjet sine = pjet_apply(theta, s0, c0, -s0);
    pjet speed = pjet_add(speed0, pjet_scale(dt, pjet_add(pjet_mul(a, sine), pjet_mul(b, torque))));
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

/* Psi's row for p = (cart_mass, pole_mass, length, gravity): the accelerations on parameter jets. */
static void cartpole_psi_gradient(const double *p, const double *x, double u, const double *dx, double du,
                                  const double *lam, const double *dlam, double *grad) {
    double dt = p[4], c0 = cos(x[2]), s0 = sin(x[2]);
    pjet cart_mass = pjet_parameter(p[0], 0), pole_mass = pjet_parameter(p[1], 1);
    pjet length = pjet_parameter(p[2], 2), gravity = pjet_parameter(p[3], 3);
    pjet theta = pjet_input(x[2], dx[2]), theta_dot = pjet_input(x[3], dx[3]), force = pjet_input(u, du);
    pjet c = pjet_apply(theta, c0, -s0, -c0), s = pjet_apply(theta, s0, c0, -s0);
    pjet total_mass = pjet_add(cart_mass, pole_mass), polemass_length = pjet_mul(pole_mass, length);
    pjet temp = pjet_div(pjet_add(force, pjet_mul(pjet_mul(polemass_length, pjet_mul(theta_dot, theta_dot)), s)),
                         total_mass);
    pjet inertia = pjet_mul(length, pjet_sub(pjet_constant(4.0 / 3.0),
                                             pjet_div(pjet_mul(pole_mass, pjet_mul(c, c)), total_mass)));
    pjet theta_acc = pjet_div(pjet_sub(pjet_mul(gravity, s), pjet_mul(c, temp)), inertia);
    pjet x_acc = pjet_sub(temp, pjet_div(pjet_mul(pjet_mul(polemass_length, theta_acc), c), total_mass));
    for (int j = 0; j < 4; ++j)
        grad[j] += dt * (dlam[1] * x_acc.p[j] + dlam[3] * theta_acc.p[j] + lam[1] * x_acc.ep[j]
                         + lam[3] * theta_acc.ep[j]);
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

