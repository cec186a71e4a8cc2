/*
 * registry.h
 *	  Every algorithm's ops table, and lookups by name and stored id
 *	  (registry.c).  Adding an algorithm: its alg_<name>.c, one line here
 *	  and one entry in registry.c.
 */
#ifndef RECGAN_REGISTRY_H
#define RECGAN_REGISTRY_H

#include "model.h"

/* Per-algorithm ops tables */
extern const ModelOps popularity_ops;
extern const ModelOps itemknn_ops;
extern const ModelOps ease_ops;
extern const ModelOps gfcf_ops;
extern const ModelOps bpr_ops;
extern const ModelOps lightgcn_ops;
extern const ModelOps ials_ops;
extern const ModelOps gmf_ops;
extern const ModelOps neumf_ops;
extern const ModelOps cgan_ops;
extern const ModelOps cfgan_ops;
extern const ModelOps sgan_ops;


/* Every algorithm, in the order they are listed. */
extern const ModelOps *const model_registry[];
extern const int model_registry_size;

/* An algorithm by name or by stored id; NULL if there is none. */
extern const ModelOps *model_ops_by_name(const char *name);
extern const ModelOps *model_ops_by_id(int id);

#endif							/* RECGAN_REGISTRY_H */
