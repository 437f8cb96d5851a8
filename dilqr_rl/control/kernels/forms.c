/* Batch entry points of the C forms (dynamics.c, costs.c) for PyTorch: the curvature of the implicit backward,
 * the gradient of its Psi in the models' parameters, and every form on rows (for the tests). */
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
