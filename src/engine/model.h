/*
 * model.h
 *	  A trained model in memory, the small ops table every algorithm
 *	  implements.  Engine: no server headers.
 *
 * Legend: U users, I items, N training positives, Q queries in a block.
 *
 * Every algorithm scores a block of queries.  A query is a user's training
 * history (item indexes) plus, when the user is known to the model, its user
 * index; a fold-in query (recgan_recommend_items) has user = -1.  Models
 * that score from the history alone (popularity, ItemKNN, EASE, CFGAN
 * user-based) ignore the user index; factor models use it.
 *
 * Adding an algorithm: one engine file (src/engine/alg_<name>.c) defining
 * its ModelOps, one entry in the registry (registry.c), tests and docs.
 */
#ifndef RECGAN_ENGINE_MODEL_H
#define RECGAN_ENGINE_MODEL_H

#include "csr.h"
#include "engine.h"

#define RECGAN_MAX_HYPER 14		/* options stored in the model header */
#define RECGAN_MAX_OPTIONS 32	/* options an algorithm may declare */
#define RECGAN_MAX_TENSORS 16
#define RECGAN_DEFAULT_SEED 42

typedef enum RecganAlgorithm
{
	RECGAN_ALG_POPULARITY = 1,
	RECGAN_ALG_ITEMKNN = 2,
	RECGAN_ALG_EASE = 3,
	RECGAN_ALG_GFCF = 4,
	RECGAN_ALG_CFGAN = 10,
	RECGAN_ALG_SGAN = 11,
	RECGAN_ALG_BPR = 21,
	RECGAN_ALG_LIGHTGCN = 22,
	RECGAN_ALG_IALS = 20,
	RECGAN_ALG_GMF = 23,
	RECGAN_ALG_NEUMF = 24,
	RECGAN_ALG_CGAN = 25
} RecganAlgorithm;

/* A float32 weight tensor stored in the model. */
typedef struct Tensor
{
	int64_t		len;			/* number of floats */
	float	   *data;
} Tensor;

/* A decoded model; every array is allocated through the host. */
typedef struct Model
{
	RecganAlgorithm algorithm;
	int32_t		n_users;		/* U */
	int32_t		n_items;		/* I */
	uint64_t	seed;
	double		threshold;		/* NaN: every row was a positive */
	int			n_hyper;
	double		hyper[RECGAN_MAX_HYPER];	/* resolved options, in spec order; only
											 * the first RECGAN_MAX_HYPER are stored,
											 * so scoring options must come first */
	int64_t    *user_ids;		/* (U) sorted raw ids */
	int64_t    *item_ids;		/* (I) sorted raw ids */
	Csr			pos;			/* (U x I) training positives */
	int			n_tensors;
	Tensor		tensors[RECGAN_MAX_TENSORS];
	float	   *popularity;		/* (I) training positives per item, derived */
	void	   *serving;		/* optional state built by ops->prepare */
	const struct ModelOps *ops;
} Model;

/* One query of a scoring block. */
typedef struct ScoreQuery
{
	int32_t		user;			/* user index, or -1 for a fold-in history */
	const int32_t *items;		/* history: item indexes, ascending */
	int32_t		n_items;
} ScoreQuery;

/* Kind of an option value. */
typedef enum OptionType
{
	OPT_INT,
	OPT_REAL,
	OPT_BOOL,
	OPT_ENUM					/* one of a '|'-separated list; stored as its position */
} OptionType;

/* One accepted option key of an algorithm. */
typedef struct OptionSpec
{
	const char *key;
	OptionType	type;
	double		defval;
	double		min;			/* inclusive bounds for INT and REAL */
	double		max;
	const char *choices;		/* OPT_ENUM: "user|item" */
	const char *doc;
} OptionSpec;

/* Everything a training function gets. */
typedef struct TrainInput
{
	const Csr  *pos;			/* (U x I) training positives */
	const double *opt;			/* resolved option values, in spec order */
	uint64_t	seed;
} TrainInput;

/*
 * Reports one finished epoch of an iterative model to recgan_train's output;
 * closed-form models report once with epoch 1.
 */
typedef struct EpochReport
{
	int32_t		epoch;
	double		loss;			/* NaN when not applicable */
	double		aux_loss;		/* NaN when not applicable */
	double		validation;		/* NaN when no validation */
	double		seconds;
} EpochReport;

typedef void (*EpochCallback) (void *arg, const EpochReport *report);

typedef struct ModelOps
{
	const char *name;
	RecganAlgorithm algorithm;
	const OptionSpec *options;
	int			n_options;

	/*
	 * 0: a model stores all its first RECGAN_MAX_HYPER options.  H > 0: the
	 * options after the first H were added once models existed; a model
	 * stores them only when one differs from its default (which must be 0,
	 * the value of an unused slot), so older models still decode and the
	 * bytes of a model using none of them do not change (model_n_hyper).
	 */
	int			n_original_options;

	/*
	 * NULL when the model scores a history alone (fold-in, user = -1);
	 * otherwise why it cannot, a sentence the host reports before scoring
	 * such a query (score() gives zeros for it).
	 */
	const char *no_fold_in;

	/*
	 * Train on in->pos and fill model->tensors (model->pos etc. are set);
	 * the tensors are allocated through the host.
	 */
	RgStatus	(*train) (const TrainInput *in, Model *model,
						  EpochCallback report, void *report_arg, RgError *err);

	/* Check tensor count and lengths after decoding: RG_DATA_CORRUPTED. */
	RgStatus	(*validate) (const Model *model, RgError *err);

	/* Scores of every item for Q queries: scores is (Q, I), row-major. */
	void		(*score) (const Model *model, const ScoreQuery *queries, int nq,
						  float *scores);

	/*
	 * Optional: precompute serving state once after a decode (what it
	 * allocates lives as long as the decoded model; it may set
	 * model->serving).
	 */
	void		(*prepare) (Model *model);

	/*
	 * Optional: similarity of every item to item i (scores is (I)); NULL
	 * when the model has no item representations.
	 */
	void		(*similar) (const Model *model, int32_t item, float *scores);

	/*
	 * True when score() is linear in the history and ignores the user index:
	 * a history's scores are the sum over its items of the scores of the
	 * one-item histories, so recgan_explain's contributions add up to the
	 * score (up to float rounding).  False: recgan_explain ranks the
	 * history by similar() to the explained item.
	 */
	bool		additive;
} ModelOps;

/* Hyperparameters a model of ops with these resolved options stores. */
extern int	model_n_hyper(const struct ModelOps *ops, const double *opt);

/* Per-item training positive counts into model->popularity. */
extern void model_compute_popularity(Model *model);

/* Query of a known user: history from the training positives. */
extern void model_user_query(const Model *model, int32_t user, ScoreQuery *q);

/*
 * RG_DATA_CORRUPTED: "recgan model data is corrupted", the printf-style
 * detail, and the hint to retrain; what the decoder and every validate()
 * report.
 */
extern RgStatus model_corrupted(RgError *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/* For validate(): RG_DATA_CORRUPTED unless n tensors of these lengths. */
extern RgStatus model_check_tensors(const Model *model, int n, const int64_t *expected,
									RgError *err);

/*
 * For validate() of a neighbour model (itemknn, sparse ease): two (I, k)
 * tensors, item i's k neighbour indexes (int32 bits) then their weights,
 * every index -1 (none) or another item.
 */
extern RgStatus model_check_neighbors(const Model *model, int64_t k, RgError *err);

#endif							/* RECGAN_ENGINE_MODEL_H */
