/*
 * unit.h
 *	  A minimal unit-test harness for the engine: CHECK macros that count
 *	  and report, and a summary line "N passed, N failed" at the end.
 */
#ifndef RECGAN_UNIT_H
#define RECGAN_UNIT_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "registry.h"
#include "rng.h"

static int	unit_passed = 0;
static int	unit_failed = 0;

#define CHECK(cond, ...) \
	do { \
		if (cond) \
			unit_passed++; \
		else \
		{ \
			unit_failed++; \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__); \
			fprintf(stderr, "\n"); \
		} \
	} while (0)

/* |a - b| <= tol * max(1, |a|, |b|) */
#define CHECK_CLOSE(a, b, tol, what) \
	do { \
		double _a = (a), _b = (b); \
		double _scale = fmax(1.0, fmax(fabs(_a), fabs(_b))); \
		CHECK(fabs(_a - _b) <= (tol) * _scale, "%s: %.10g vs %.10g (tol %g)", \
			  (what), _a, _b, (double) (tol)); \
	} while (0)

#define RUN(test) \
	do { \
		int _f = unit_failed; \
		test(); \
		printf("%s %s\n", unit_failed == _f ? "ok  " : "FAIL", #test); \
	} while (0)

/*
 * ---- Gradient checks.  The kernels are float32, so finite differences are
 * taken on float inputs with central differences x +- eps, dividing by the
 * exact float step (x + eps) - (x - eps), and the scalar being differentiated
 * is accumulated in double.  The error of a whole gradient tensor is
 *		max_i |analytic_i - numeric_i| / max_i max(|analytic_i|, |numeric_i|)
 * (relative to the tensor's largest entry, so near-zero entries do not turn
 * float rounding into a spurious failure) and must be below GRAD_TOL.
 */
#define GRAD_TOL 1e-3

/* A scalar function of whatever the context points at. */
typedef double (*ScalarFn) (void *ctx);

/* Fill a (n) with scale * N(0, 1) draws. */
static inline void
fill_normal(float *a, int64_t n, double scale, Rng *rng)
{
	for (int64_t i = 0; i < n; i++)
		a[i] = (float) (scale * rng_normal(rng));
}

/* sum_i r_i y_i in double. */
static inline double
project(const float *y, const float *r, int64_t n)
{
	double		sum = 0.0;

	for (int64_t i = 0; i < n; i++)
		sum += (double) r[i] * y[i];
	return sum;
}

/*
 * Compare analytic (n) with central differences of f with respect to each
 * x[i]; print and return the relative error defined in the file comment.
 */
static inline double
grad_check(const char *what, ScalarFn f, void *ctx, float *x,
		   const float *analytic, int64_t n, float eps)
{
	double		max_diff = 0.0,
				max_mag = 0.0,
				err;

	for (int64_t i = 0; i < n; i++)
	{
		float		orig = x[i],
					xp = orig + eps,
					xm = orig - eps;
		double		lp,
					lm,
					num;

		x[i] = xp;
		lp = f(ctx);
		x[i] = xm;
		lm = f(ctx);
		x[i] = orig;
		num = (lp - lm) / ((double) xp - (double) xm);
		max_diff = fmax(max_diff, fabs(num - analytic[i]));
		max_mag = fmax(max_mag, fmax(fabs(num), fabs((double) analytic[i])));
	}
	err = max_mag > 0.0 ? max_diff / max_mag : max_diff;
	printf("     grad %-28s rel err %.2e (max |g| %.3g)\n", what, err, max_mag);
	CHECK(err < GRAD_TOL, "gradient of %s: rel err %g >= %g", what, err, GRAD_TOL);
	return err;
}

/* Largest |a_i - b_i|. */
static inline double
max_abs_diff(const float *a, const float *b, int64_t n)
{
	double		m = 0.0;

	for (int64_t i = 0; i < n; i++)
		m = fmax(m, fabs((double) a[i] - b[i]));
	return m;
}

/* Print the summary line and return the process exit status. */
static inline int
unit_summary(void)
{
	printf("%d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed == 0 && unit_passed > 0 ? 0 : 1;
}

/* ---- Training a model of the registry in a test. */

/* Ignore a training's epoch reports. */
static inline void
unit_ignore_epoch(void *arg, const EpochReport *report)
{
	(void) arg;
	(void) report;
}

/*
 * Make m a model of algorithm name on the positives csr, with seed and the
 * options opt (spec order) stored as training stores them (model_n_hyper):
 * what m->ops->train expects.
 */
static inline void
unit_model(Model *m, const char *name, const Csr *csr, const double *opt, uint64_t seed)
{
	memset(m, 0, sizeof(*m));
	m->ops = model_ops_by_name(name);
	m->algorithm = m->ops->algorithm;
	m->n_users = csr->n_rows;
	m->n_items = csr->n_cols;
	m->seed = seed;
	m->threshold = NAN;
	m->n_hyper = model_n_hyper(m->ops, opt);
	memcpy(m->hyper, opt, sizeof(double) * m->n_hyper);
	m->pos = *csr;
}

/* Train algorithm name on csr into m (unit_model); a failure is printed. */
static inline RgStatus
unit_train(Model *m, const char *name, const Csr *csr, const double *opt, uint64_t seed)
{
	TrainInput	in = {csr, opt, seed};
	RgError		err;
	RgStatus	st;

	unit_model(m, name, csr, opt, seed);
	st = m->ops->train(&in, m, unit_ignore_epoch, NULL, &err);
	if (st != RG_OK)
		fprintf(stderr, "train: %s (%s)\n", err.message, err.detail);
	return st;
}

#endif							/* RECGAN_UNIT_H */
