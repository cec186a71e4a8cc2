/*
 * versions.h
 *	  Model versions (versions.c): the "deploy" and "keep_versions" training
 *	  options, and storing a trained model as a new version.
 */
#ifndef RECGAN_VERSIONS_H
#define RECGAN_VERSIONS_H

#include "utils/jsonb.h"

#include "model.h"

#define RECGAN_KEEP_VERSIONS 5	/* default of "keep_versions" */

typedef enum VersionDeploy
{
	VERSION_DEPLOY_MOST_RECENT,	/* every new version is deployed */
	VERSION_DEPLOY_BEST_SCORE	/* only one whose validation is not worse */
} VersionDeploy;

/* What a training does with its new version. */
typedef struct VersionPolicy
{
	VersionDeploy deploy;
	int			keep;			/* versions kept per model, deployed one included */
} VersionPolicy;

/* The catalog columns of a new version (everything but the bytes). */
typedef struct VersionRow
{
	const char *name;
	const char *algorithm;
	const char *source;
	Jsonb	   *options;
	int32		n_users;
	int32		n_items;
	int64		n_interactions;
	double		train_seconds;
	Jsonb	   *metrics;
	double		validation;		/* metrics' "validation", NaN if none */
	const char *user_col;		/* the source's columns, for live histories */
	const char *item_col;
	const char *rating_col;		/* NULL: every row is a positive */
} VersionRow;

/*
 * What the last VersionsStore of this backend did: the version number (0 on a
 * 0.1.0 catalog), whether it was deployed, and a message for the run history
 * ("" when there is nothing to say: strategy most_recent).  A background
 * worker reads it after its training (worker_job.c).
 */
typedef struct VersionOutcome
{
	int32		version;
	bool		deployed;
	char		message[512];
} VersionOutcome;

extern PGDLLIMPORT VersionOutcome RecganLastStore;

/* "deploy" and "keep_versions" of a training's options; ereport when bad. */
extern void VersionsParseOptions(Jsonb *options, VersionPolicy *policy);

/*
 * Store model as the next version of row->name, deployed or not as policy
 * says, then prune the oldest undeployed versions beyond policy->keep.  In
 * the caller's transaction, with the caller's privileges.
 */
extern void VersionsStore(const VersionRow *row, const VersionPolicy *policy,
						  const Model *model);

#endif							/* RECGAN_VERSIONS_H */
