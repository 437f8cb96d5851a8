/* Declarations shared by the compiled kernels (riccati.c, dynamics.c, costs.c, forms.c, ilqr.c). */
#ifndef DILQR_RL_KERNELS_H
#define DILQR_RL_KERNELS_H

/* A model of the library in C, one row at a time (x (n,), one control u; N = n + 1; p its parameters):
 *   f: x' (n,);  jacobians: F = [A B] (n, N) row-major;  lagrangian_hessian: hess of lam . f in tau (N, N);
 *   psi_gradient: adds d/dp [dlam . f + lam . (F dtau)] at dtau = (dx, du) to grad (len p).
 * Each mirrors the PyTorch module's forward and closed forms operation by operation (dynamics.c). */
typedef struct {
    long n;
    void (*f)(const double *p, const double *x, double u, double *out);
    void (*jacobians)(const double *p, const double *x, double u, double *F);
    void (*lagrangian_hessian)(const double *p, const double *x, double u, const double *lam, double *H);
    void (*psi_gradient)(const double *p, const double *x, double u, const double *dx, double du, const double *lam,
                         const double *dlam, double *grad);
} dynamics_form;

/* A stage cost in C: g(x, u), its gradient c (N,) and Hessian C (N, N) in tau = [x; u]; psi_gradient adds
 * d/dp [c . dtau] to grad (len p) (costs.c). */
typedef struct {
    double (*g)(const double *p, const double *x, double u, long n);
    void (*derivatives)(const double *p, const double *x, double u, long n, double *c, double *C);
    void (*psi_gradient)(const double *p, const double *x, double u, const double *dx, double du, long n,
                         double *grad);
} cost_form;

/* Kinds from EXTERNAL_KIND_BASE on are forms compiled from your own modules (codegen.py), in libraries of their own:
 * set_external_* copies one into slot kind - EXTERNAL_KIND_BASE (returns 1 for a slot out of range). */
#define EXTERNAL_KIND_BASE 1000
#define EXTERNAL_KINDS 512
int set_external_dynamics(int slot, const dynamics_form *form);
int set_external_cost(int slot, const cost_form *form);

/* The forms by kind (the ids of dilqr_rl/control/kernels/forms.py); 0 where the kind is unknown or the state
 * size does not fit it. */
int dynamics_form_of(int kind, long n, dynamics_form *out);
int cost_form_of(int kind, cost_form *out);

/* One item's m = 1 iLQR backward sweep (riccati.c); work holds n * n + n + N * N + N + n * N doubles. */
int riccati_scalar_f64_item(const double *F, const double *c, const double *C, const double *u, const double *lo,
                            const double *hi, double mu, long T, long n, double *K, double *k, double *expected,
                            double *work);

#endif
