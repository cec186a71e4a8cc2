/*
 * unit.h
 *	  A minimal unit-test harness for the engine: CHECK macros that count
 *	  and report, and a summary line "N passed, N failed" at the end.
 */
#ifndef RECGAN_UNIT_H
#define RECGAN_UNIT_H

#include <math.h>
#include <stdio.h>

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

/* Print the summary line and return the process exit status. */
static inline int
unit_summary(void)
{
	printf("%d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed == 0 && unit_passed > 0 ? 0 : 1;
}

#endif							/* RECGAN_UNIT_H */
