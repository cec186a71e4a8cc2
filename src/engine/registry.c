/*
 * registry.c
 *	  The algorithms recgan knows, by name and by stored id.
 */
#include <string.h>

#include "registry.h"

/* Every algorithm; a new one is added here and in its own alg_<name>.c. */
const ModelOps *const model_registry[] = {
	&popularity_ops,
	&itemknn_ops,
	&ease_ops,
	&gfcf_ops,
	&cfgan_ops,
	&sgan_ops,
	&bpr_ops,
	&lightgcn_ops,
	&ials_ops,
	&gmf_ops,
	&neumf_ops,
	&cgan_ops,
};

const int	model_registry_size = (int) RG_LENGTHOF(model_registry);

/* Look up an algorithm by name; NULL if unknown. */
const ModelOps *
model_ops_by_name(const char *name)
{
	for (int i = 0; i < model_registry_size; i++)
		if (strcmp(model_registry[i]->name, name) == 0)
			return model_registry[i];
	return NULL;
}

/* Look up an algorithm by its stored id; NULL if unknown. */
const ModelOps *
model_ops_by_id(int id)
{
	for (int i = 0; i < model_registry_size; i++)
		if ((int) model_registry[i]->algorithm == id)
			return model_registry[i];
	return NULL;
}
