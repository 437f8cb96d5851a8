/* Batch entry points of the C forms (dynamics.c, costs.c) for PyTorch: the curvature of the implicit backward,
 * the gradient of its Psi in the models' parameters, and every form on rows (for the tests). */
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

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

/* Psi's gradient in the forms' parameters: sum over R rows of dlam . df/dp + lam . (dF/dp) dtau (dynamics,
 * dgrad (len dp)) and of dc/dp . dtau (cost, cgrad), at x, dx, lam, dlam (R, n), u, du (R,). The cost's
 * parameters of row r are at cp + r * cp_row and their gradient is added at cgrad + r * cp_row: with cp_row 0 one
 * vector shared by the rows and the sum of its gradient, with cp_row = len(cp) one per row and its row's gradient.
 * Returns 1 where a kind is unknown. */
int psi_gradient_f64(int dynamics_kind, const double *dp, int cost_kind, const double *cp, long cp_row,
                     const double *x, const double *u, const double *dx, const double *du, const double *lam,
                     const double *dlam, long R, long n, double *dgrad, double *cgrad) {
    dynamics_form dyn;
    cost_form cost;
    if (!dynamics_form_of(dynamics_kind, n, &dyn) || !cost_form_of(cost_kind, &cost)) return 1;
    for (long r = 0; r < R; ++r) {
        const double *xr = x + r * n, *dxr = dx + r * n;
        dyn.psi_gradient(dp, xr, u[r], dxr, du[r], lam + r * n, dlam + r * n, dgrad);
        cost.psi_gradient(cp + r * cp_row, xr, u[r], dxr, du[r], n, cgrad + r * cp_row);
    }
    return 0;
}

/* The implicit (exact) or DiffMPC backward for one control, in one call: per item, the adjoint LQR (riccati.c) with
 * H = C + hess[lam . f] where exact, else H = C; where exact and that H's reduced Hessian is not positive definite
 * on the free controls, C instead (status bit 1); where no H is, a zero gradient (status bit 2); then the gradient
 * of Psi in the forms' parameters over the rows (as psi_gradient_f64, where psi). The semantics, order of
 * operations and flags of implicit.py:implicit_backward, in double precision.
 *
 * Layouts, in the caller's precision (single: float, else double): x, grad_x, lam (B, T, n), u, grad_u (B, T),
 * F (B, T, n, N), C (B, T, N, N), weight (B,) (where 0 the item's gradient is zeroed and it gets no flags),
 * active (B, T) bytes (the controls held on a bound) -> grad_x_init (B, n); in double dgrad (len dp) and cgrad
 * (laid out as cp) added to; status (B,) bytes. The cost's parameters of item b at step t are at cp + b * cp_item +
 * t * cp_step (strides 0: one vector shared by every row), and their gradient is added at the same offset of cgrad. Returns the number of items with a status bit set, -1 where a kind is
 * unknown, -2 where memory is short. */
int implicit_backward_io(int single, int dynamics_kind, const double *dp, int cost_kind, const double *cp, long cp_item,
                         long cp_step, int exact, int psi, const void *x_in, const void *u_in, const void *F_in, const void *C_in,
                         const void *lam_in, const unsigned char *active, const void *grad_x_in, const void *grad_u_in,
                         const void *weight_in, long B, long T, long n, void *grad_x_init_out, double *dgrad,
                         double *cgrad, unsigned char *status) {
    dynamics_form dyn;
    cost_form cost;
    if (!dynamics_form_of(dynamics_kind, n, &dyn) || !cost_form_of(cost_kind, &cost)) return -1;
    long N = n + 1, flagged = 0, io = single ? B * (3 * T * n + 2 * T + T * n * N + T * N * N + 1 + n) : 0;
    long item = T * N * N + T * N + 2 * T * n + T + ADJOINT_WORK(T, n);
    double *memory = (double *)malloc(sizeof(double) * (io + item)), *arena = memory;
    unsigned char *free_ = (unsigned char *)malloc(T);
    if (!memory || !free_) {
        free(memory);
        free(free_);
        return -2;
    }
    const double *x = input_doubles(x_in, B * T * n, single, &arena), *u = input_doubles(u_in, B * T, single, &arena);
    const double *F = input_doubles(F_in, B * T * n * N, single, &arena);
    const double *C = input_doubles(C_in, B * T * N * N, single, &arena);
    const double *lam = input_doubles(lam_in, B * T * n, single, &arena);
    const double *grad_x = input_doubles(grad_x_in, B * T * n, single, &arena);
    const double *grad_u = input_doubles(grad_u_in, B * T, single, &arena);
    const double *weight = input_doubles(weight_in, B, single, &arena);
    double *grad_x_init = output_doubles(grad_x_init_out, B * n, single, &arena);
    double *H = arena_take(&arena, T * N * N), *g = arena_take(&arena, T * N), *dx = arena_take(&arena, T * n);
    double *du = arena_take(&arena, T), *dlam = arena_take(&arena, T * n), *work = arena;
    for (long b = 0; b < B; ++b) {
        const double *xb = x + b * T * n, *ub = u + b * T, *Fb = F + b * T * n * N, *Cb = C + b * T * N * N;
        const double *lamb = lam + b * T * n;
        double w = weight[b], *gxi = grad_x_init + b * n;
        for (long t = 0; t < T; ++t) {
            for (long i = 0; i < n; ++i) g[t * N + i] = grad_x[(b * T + t) * n + i] * w;
            g[t * N + n] = grad_u[b * T + t] * w;
        }
        if (exact) {
            for (long t = 0; t < T; ++t) {
                dyn.lagrangian_hessian(dp, xb + t * n, ub[t], lamb + t * n, H + t * N * N);
                for (long i = 0; i < N * N; ++i) H[t * N * N + i] = Cb[t * N * N + i] + H[t * N * N + i];
            }
        }
        for (long t = 0; t < T; ++t) free_[t] = !active[b * T + t];
        int ok = adjoint_scalar_f64_item(exact ? H : Cb, g, Fb, free_, T, n, dx, du, dlam, gxi, work);
        status[b] = 0;
        if (!ok && w != 0) {
            ++flagged;
            if (exact) {
                status[b] = 1;
                ok = adjoint_scalar_f64_item(Cb, g, Fb, free_, T, n, dx, du, dlam, gxi, work);
            }
            if (!ok) {
                status[b] |= 2;
                memset(dx, 0, sizeof(double) * T * n);
                memset(du, 0, sizeof(double) * T);
                memset(dlam, 0, sizeof(double) * T * n);
                memset(gxi, 0, sizeof(double) * n);
            }
        }
        if (psi)
            for (long t = 0; t < T; ++t) {
                dyn.psi_gradient(dp, xb + t * n, ub[t], dx + t * n, du[t], lamb + t * n, dlam + t * n, dgrad);
                long offset = b * cp_item + t * cp_step;
                cost.psi_gradient(cp + offset, xb + t * n, ub[t], dx + t * n, du[t], n, cgrad + offset);
            }
    }
    store_output(grad_x_init_out, grad_x_init, B * n, single);
    free(memory);
    free(free_);
    return (int)flagged;
}
