/*
 * model.h
 *	  A trained model in memory, and the small ops table every algorithm
 *	  implements.
 *
 * Legend: U users, I items, N training positives, Q queries in a block.
 *
 * Every algorithm scores a block of queries.  A query is a user's training
 * history (item indexes) plus, when the user is known to the model, its user
 * index; a fold-in query (recgan_recommend_items) has user = -1.  Models
 * that score from the history alone (popularity, ItemKNN, EASE, CFGAN
 * user-based) ignore the user index; factor models use it.
 */
#ifndef RECGAN_MODEL_H
#define RECGAN_MODEL_H

#include "postgres.h"

#include "dataset.h"
#include "utils/jsonb.h"

#define RECGAN_MAX_HYPER 14		/* options stored in the model header */
#define RECGAN_MAX_OPTIONS 32	/* options an algorithm may declare */
#define RECGAN_MAX_TENSORS 16
#define RECGAN_DEFAULT_SEED 42
#define RECGAN_SCORE_BLOCK 256

typedef enum RecganAlgorithm
{
	RECGAN_ALG_POPULARITY = 1,
	RECGAN_ALG_ITEMKNN = 2,
	RECGAN_ALG_EASE = 3,
	RECGAN_ALG_CFGAN = 10,
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
	int64		len;			/* number of floats */
	float	   *data;
} Tensor;

/* A decoded model; all arrays are palloc'd and aligned. */
typedef struct Model
{
	RecganAlgorithm algorithm;
	int32		n_users;		/* U */
	int32		n_items;		/* I */
	uint64		seed;
	double		threshold;		/* NaN: every row was a positive */
	int			n_hyper;
	double		hyper[RECGAN_MAX_HYPER];	/* resolved options, in spec order; only
											 * the first RECGAN_MAX_HYPER are stored,
											 * so scoring options must come first */
	int64	   *user_ids;		/* (U) sorted raw ids */
	int64	   *item_ids;		/* (I) sorted raw ids */
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
	int32		user;			/* user index, or -1 for a fold-in history */
	const int32 *items;			/* history: item indexes, ascending */
	int32		n_items;
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
	const Dataset *data;
	const double *opt;			/* resolved option values, in spec order */
	uint64		seed;
} TrainInput;

/*
 * Reports one finished epoch of an iterative model to recgan_train's output;
 * closed-form models report once with epoch 1.
 */
typedef struct EpochReport
{
	int32		epoch;
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

	/* Train on in->data and fill model->tensors (model->pos etc. are set). */
	void		(*train) (const TrainInput *in, Model *model,
						  EpochCallback report, void *report_arg);

	/* Check tensor count and lengths after decoding; ereport on mismatch. */
	void		(*validate) (const Model *model);

	/* Scores of every item for Q queries: scores is (Q, I), row-major. */
	void		(*score) (const Model *model, const ScoreQuery *queries, int nq,
						  float *scores);

	/*
	 * Optional: precompute serving state once after a decode (it runs in the
	 * cache entry's memory context and may set model->serving).
	 */
	void		(*prepare) (Model *model);

	/*
	 * Optional: similarity of every item to item i (scores is (I)); NULL
	 * when the model has no item representations.
	 */
	void		(*similar) (const Model *model, int32 item, float *scores);
} ModelOps;

/* Registry (model.c) */
extern const ModelOps *ModelOpsByName(const char *name);
extern const ModelOps *ModelOpsById(int id);

/*
 * Resolve user options against an algorithm's spec; ereport on bad input.
 * Every algorithm also accepts "seed" (default RECGAN_DEFAULT_SEED).
 */
extern void ModelParseOptions(const ModelOps *ops, Jsonb *options,
							  double *values, uint64 *seed);

/* The resolved options (defaults included, seed last) as jsonb. */
extern Jsonb *ModelOptionsToJsonb(const ModelOps *ops, const double *values,
								  uint64 seed);

/* Per-item training positive counts, used for cold start and popularity. */
extern void ModelComputePopularity(Model *model);

/* Encode / decode (model_format.c) */
extern bytea *ModelEncode(const Model *model);
extern Model *ModelDecode(bytea *raw);

/* For validate(): DATA_CORRUPTED unless n tensors of these lengths. */
extern void ModelCheckTensors(const Model *model, int n, const int64 *expected);

/*
 * The decoded model of this name, through the per-backend cache (cache.c);
 * UNDEFINED_OBJECT if there is none.  Owned by the cache: read only.
 */
extern Model *ModelLoad(const char *name);

/*
 * Users per scoring block: at most 256, fewer when a (block, I) float score
 * matrix would exceed maintenance_work_mem; at least 1.
 */
extern int	ModelScoreBlockSize(const Model *model);

/* A known user's memoized recommendation: best first (cache.c). */
typedef struct UserTop
{
	int32		n;
	int32	   *items;			/* (n) item indexes */
	float	   *scores;			/* (n) */
} UserTop;

#define RECGAN_MEMO_K 100

extern const UserTop *ModelMemoGet(const Model *model, int32 u);
extern void ModelMemoPut(const Model *model, int32 u, const int32 *items,
						 const float *scores, int32 n);

/* Query of a known user: history from the training positives. */
extern void ModelUserQuery(const Model *model, int32 user, ScoreQuery *q);

/*
 * ---- Iterative training (trainloop.c).  What every iterative model gets
 * without writing it: a validation holdout, epochs, early stopping on the
 * validation NDCG with the best epoch's weights kept, a row per epoch,
 * progress NOTICEs, interrupts and divergence checks every batch.
 *
 * A model declares RECGAN_LOOP_OPTIONS at the end of its OptionSpec table
 * and its train function calls TrainLoopRun with an IterativeOps table.
 */
#define RECGAN_LOOP_OPTIONS(max_epochs, patience) \
	{"epochs", OPT_INT, (max_epochs), 1, 100000, NULL, \
	 "maximum number of epochs"}, \
	{"patience", OPT_INT, (patience), 0, 100000, NULL, \
	 "stop after this many epochs without a better validation NDCG; 0 runs every epoch"}, \
	{"validation_fraction", OPT_REAL, 0.1, 0, 0.9, NULL, \
	 "share of each user's training positives held out for validation; 0 for none"}, \
	{"validation_k", OPT_INT, 20, 1, 10000, NULL, \
	 "cutoff of the validation NDCG"}, \
	{"refit", OPT_BOOL, 1, 0, 1, NULL, \
	 "retrain on all positives for the best epoch count after validation"}
#define RECGAN_N_LOOP_OPTIONS 5

typedef struct TrainLoop TrainLoop;

typedef struct IterativeOps
{
	/*
	 * Set up training on fit (the U x I positives to fit, with the
	 * validation positives removed) with the resolved options opt: call
	 * TrainLoopCheckMemory before allocating, initialise the weights from
	 * seed, and point model->tensors at the live weights (ops->score reads
	 * them there).  Returns the model's training state.
	 */
	void	   *(*begin) (TrainLoop *loop, Model *model, const double *opt,
						  const Csr *fit, uint64 seed);

	/*
	 * Train one epoch; call TrainLoopBatch after every batch.  *loss and
	 * *aux_loss get the epoch's losses (NaN when not applicable).
	 */
	void		(*epoch) (void *state, TrainLoop *loop, double *loss, double *aux_loss);

	const char *diverged_hint;	/* errhint when a loss is not finite */
} IterativeOps;

/*
 * Train model with it: the options RECGAN_LOOP_OPTIONS start at position
 * first_loop_option of in->opt.  On return model->tensors hold the final
 * weights (see trainloop.c: the refit's, the best epoch's, or the last
 * epoch's) in the current memory context, and model->pos is all of
 * in->data's positives again.
 */
extern void TrainLoopRun(const TrainInput *in, Model *model, const IterativeOps *it,
						 int first_loop_option, EpochCallback report, void *report_arg);

/*
 * Refuse, through RecganCheckTrainMemory, when model_bytes of training
 * memory plus the loop's own (holdout, best weights for tensor_floats
 * floats, validation scores) exceed recgan.max_train_memory.
 */
extern void TrainLoopCheckMemory(TrainLoop *loop, double model_bytes, double tensor_floats);

/* After every batch: honour interrupts; DATA_EXCEPTION unless loss is finite. */
extern void TrainLoopBatch(TrainLoop *loop, double loss);

/* Per-algorithm ops tables */
extern const ModelOps popularity_ops;
extern const ModelOps itemknn_ops;
extern const ModelOps ease_ops;
extern const ModelOps bpr_ops;
extern const ModelOps lightgcn_ops;
extern const ModelOps ials_ops;
extern const ModelOps gmf_ops;
extern const ModelOps neumf_ops;
extern const ModelOps cgan_ops;
extern const ModelOps cfgan_ops;

#endif							/* RECGAN_MODEL_H */
