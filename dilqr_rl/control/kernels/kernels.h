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

/* One item's m = 1 adjoint LQR of the implicit gradient (riccati.c); work holds ADJOINT_WORK(T, n) doubles. Returns
 * ok: 0 where a free stage's reduced Hessian is not positive definite (then the gains are zero). */
#define ADJOINT_WORK(T, n) ((n) * (n) + (n) + ((n) + 1) * ((n) + 1) + (n) + 1 + (n) * ((n) + 1) + (T) * ((n) + 1) + (n))
int adjoint_scalar_f64_item(const double *H, const double *g, const double *F, const unsigned char *free_, long T,
                            long n, double *dx, double *du, double *dlam, double *grad_x_init, double *work);

/* Arrays of a PyTorch entry point in the caller's precision: single (float) or double. In double they are used in
 * place; in single, inputs are converted into doubles taken from an arena and outputs are computed there and
 * converted back (the C code computes in double precision either way). */
static inline double *arena_take(double **arena, long count) {
    double *out = *arena;
    *arena += count;
    return out;
}

static inline const double *input_doubles(const void *values, long count, int single, double **arena) {
    if (!single) return (const double *)values;
    double *out = arena_take(arena, count);
    for (long i = 0; i < count; ++i) out[i] = ((const float *)values)[i];
    return out;
}

static inline double *output_doubles(void *values, long count, int single, double **arena) {
    return single ? arena_take(arena, count) : (double *)values;
}

static inline void store_output(void *values, const double *computed, long count, int single) {
    if (single)
        for (long i = 0; i < count; ++i) ((float *)values)[i] = (float)computed[i];
}

#endif
