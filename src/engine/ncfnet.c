/*
 * ncfnet.c
 *	  GMF, MLP and NeuMF batch passes, and the Gumbel-softmax and REINFORCE
 *	  generator gradients (see ncfnet.h for the equations).
 *
 * Legend: B batch pairs, U users, I items, G GMF factors, M MLP embedding
 * width per side, L1 L2 L3 tower widths, O = G + L3, K samples per row,
 * W scratch width.
 */
#include "ncfnet.h"

#include <math.h>
#include <string.h>

/* Inputs of the output layer: G, plus L3 with the tower. */
static int
ncf_out_width(const NcfDims *d)
{
	return d->G + (d->M > 0 ? d->L3 : 0);
}

/* Width of the scratch rows: the widest gradient the backward pass writes. */
static int
ncf_scratch_width(const NcfDims *d)
{
	int			w = d->G;

	if (d->M > 0)
	{
		w = w > 2 * d->M ? w : 2 * d->M;
		w = w > d->L1 ? w : d->L1;
	}
	return w;
}

/* Fill the size table; GMF is P, Q, h, b; NeuMF adds the tower between. */
int
ncf_param_specs(ParamSpec *specs, const NcfDims *d)
{
	int			n = 0;

	specs[n++] = (ParamSpec) {"P", d->n_users, d->G};
	specs[n++] = (ParamSpec) {"Q", d->n_items, d->G};
	if (d->M > 0)
	{
		specs[n++] = (ParamSpec) {"Pm", d->n_users, d->M};
		specs[n++] = (ParamSpec) {"Qm", d->n_items, d->M};
		specs[n++] = (ParamSpec) {"W1", d->L1, 2 * d->M};
		specs[n++] = (ParamSpec) {"b1", d->L1, 1};
		specs[n++] = (ParamSpec) {"W2", d->L2, d->L1};
		specs[n++] = (ParamSpec) {"b2", d->L2, 1};
		specs[n++] = (ParamSpec) {"W3", d->L3, d->L2};
		specs[n++] = (ParamSpec) {"b3", d->L3, 1};
	}
	specs[n++] = (ParamSpec) {"h", ncf_out_width(d), 1};
	specs[n++] = (ParamSpec) {"b", 1, 1};
	return n;
}

/* Point the fields at block's tensors, in ncf_param_specs order. */
void
ncf_params_point(NcfParams *p, const ParamArena *arena, float *block, const NcfDims *d)
{
	float	  **gmf[] = {&p->P, &p->Q, &p->h, &p->b};
	float	  **neumf[] = {&p->P, &p->Q, &p->Pm, &p->Qm, &p->W1, &p->b1, &p->W2, &p->b2,
	&p->W3, &p->b3, &p->h, &p->b};

	memset(p, 0, sizeof(*p));
	param_arena_point(arena, block, d->M > 0 ? neumf : gmf);
}

/* Cache floats: p, q, x0, a1, a2, a3, cat, dcat, d1, d2. */
int64_t
ncf_cache_floats(const NcfDims *d, int B)
{
	int64_t		per = 2 * d->G + 2 * ncf_out_width(d) + 2 * ncf_scratch_width(d);

	if (d->M > 0)
		per += 2 * d->M + d->L1 + d->L2 + d->L3;
	return per * B;
}

/* Carve the cache out of mem. */
void
ncf_cache_init(NcfCache *c, float *mem, const NcfDims *d, int B)
{
	int			m = d->M > 0;

	c->p = mem;
	c->q = c->p + (size_t) B * d->G;
	c->x0 = c->q + (size_t) B * d->G;
	c->a1 = c->x0 + (size_t) B * 2 * d->M * m;
	c->a2 = c->a1 + (size_t) B * d->L1 * m;
	c->a3 = c->a2 + (size_t) B * d->L2 * m;
	c->cat = c->a3 + (size_t) B * d->L3 * m;
	c->dcat = c->cat + (size_t) B * ncf_out_width(d);
	c->d1 = c->dcat + (size_t) B * ncf_out_width(d);
	c->d2 = c->d1 + (size_t) B * ncf_scratch_width(d);
}

/* The tower: a3 (B, L3) from the concatenated embeddings. */
static void
ncf_mlp_forward(NcfCache *c, const NcfParams *p, const NcfDims *d,
				const int32_t *users, const int32_t *items, int B)
{
	int			M = d->M;

	for (int r = 0; r < B; r++)
	{
		memcpy(c->x0 + (size_t) r * 2 * M, p->Pm + (size_t) users[r] * M, sizeof(float) * M);
		memcpy(c->x0 + (size_t) r * 2 * M + M, p->Qm + (size_t) items[r] * M, sizeof(float) * M);
	}
	linear_forward(c->a1, c->x0, p->W1, p->b1, B, 2 * M, d->L1);
	relu_forward(c->a1, c->a1, (int64_t) B * d->L1);
	linear_forward(c->a2, c->a1, p->W2, p->b2, B, d->L1, d->L2);
	relu_forward(c->a2, c->a2, (int64_t) B * d->L2);
	linear_forward(c->a3, c->a2, p->W3, p->b3, B, d->L2, d->L3);
	relu_forward(c->a3, c->a3, (int64_t) B * d->L3);
}

/*
 * GMF alone (no tower): z (B) = (p_r * q_r) . h + b, fused, without the
 * output layer's sgemm of width 1.  The dot in eight interleaved partial
 * sums (a fixed order).
 */
RECGAN_VECTOR_CLONES static void
gmf_head_forward(float *z, const float *pe, const float *qe, const float *h, float b, int B,
				 int G)
{
	for (int r = 0; r < B; r++)
	{
		const float *pr = pe + (size_t) r * G,
				   *qr = qe + (size_t) r * G;
		float		s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
		int			k = 0;
		float		t;

		for (; k + 8 <= G; k += 8)
			for (int l = 0; l < 8; l++)
				s[l] += (pr[k + l] * qr[k + l]) * h[k + l];
		t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
		for (; k < G; k++)
			t += (pr[k] * qr[k]) * h[k];
		z[r] = t + b;
	}
}

/* y (n) += (a x1) x2 elementwise (x1, x2 and y distinct). */
static inline void
add_scaled_product(float *restrict y, float a, const float *restrict x1,
				   const float *restrict x2, int n)
{
	for (int k = 0; k < n; k++)
		y[k] += (a * x1[k]) * x2[k];
}

/* y (n) += a (x1 x2) elementwise (x1, x2 and y distinct). */
static inline void
add_scaled_hadamard(float *restrict y, float a, const float *restrict x1,
					const float *restrict x2, int n)
{
	for (int k = 0; k < n; k++)
		y[k] += a * (x1[k] * x2[k]);
}

/*
 * Backward of gmf_head_forward from dz (B): dh += sum_r dz_r (p_r * q_r)
 * (rows in order), and each pair's embedding gradients straight into the
 * tables: dP[u_r] += (dz_r h) * q_r, dQ[i_r] += (dz_r h) * p_r, the same
 * products and the same order of additions as the unfused layers.
 */
RECGAN_VECTOR_CLONES static void
gmf_head_backward(NcfParams *g, const float *dz, const float *pe, const float *qe,
				  const float *h, const int32_t *users, const int32_t *items, int B, int G)
{
	for (int r = 0; r < B; r++)
	{
		const float *pr = pe + (size_t) r * G,
				   *qr = qe + (size_t) r * G;

		add_scaled_hadamard(g->h, dz[r], pr, qr, G);
		add_scaled_product(g->P + (size_t) users[r] * G, dz[r], h, qr, G);
		add_scaled_product(g->Q + (size_t) items[r] * G, dz[r], h, pr, G);
	}
}

/* z (B): the logits of the batch (see ncfnet.h). */
void
ncf_forward(float *z, NcfCache *c, const NcfParams *p, const NcfDims *d,
			const int32_t *users, const int32_t *items, int B, int branches)
{
	int			O = ncf_out_width(d),
				G = d->G;
	int			mlp = d->M > 0 && (branches & NCF_MLP);

	embedding_forward(c->p, users, p->P, B, G);
	embedding_forward(c->q, items, p->Q, B, G);
	if (d->M == 0 && (branches & NCF_GMF))
	{
		gmf_head_forward(z, c->p, c->q, p->h, p->b[0], B, G);
		return;
	}
	if (mlp)
		ncf_mlp_forward(c, p, d, users, items, B);
	for (int r = 0; r < B; r++)
	{
		float	   *row = c->cat + (size_t) r * O;

		if (branches & NCF_GMF)
			mul_forward(row, c->p + (size_t) r * G, c->q + (size_t) r * G, G);
		else
			memset(row, 0, sizeof(float) * G);
		if (mlp)
			memcpy(row + G, c->a3 + (size_t) r * d->L3, sizeof(float) * d->L3);
		else if (O > G)
			memset(row + G, 0, sizeof(float) * (O - G));
	}
	linear_forward(z, c->cat, p->h, p->b, B, O, 1);
}

/* Backward through the tower from da3 in c->d1; scatter into Pm and Qm. */
static void
ncf_mlp_backward(NcfParams *g, NcfCache *c, const NcfParams *p, const NcfDims *d,
				 const int32_t *users, const int32_t *items, int B)
{
	int			M = d->M;

	relu_backward(c->d1, c->d1, c->a3, (int64_t) B * d->L3);
	linear_backward(c->d2, g->W3, g->b3, c->d1, c->a2, p->W3, B, d->L2, d->L3);
	relu_backward(c->d2, c->d2, c->a2, (int64_t) B * d->L2);
	linear_backward(c->d1, g->W2, g->b2, c->d2, c->a1, p->W2, B, d->L1, d->L2);
	relu_backward(c->d1, c->d1, c->a1, (int64_t) B * d->L1);
	linear_backward(c->d2, g->W1, g->b1, c->d1, c->x0, p->W1, B, 2 * M, d->L1);
	for (int r = 0; r < B; r++)
	{
		const float *dx = c->d2 + (size_t) r * 2 * M;
		float	   *du = g->Pm + (size_t) users[r] * M;
		float	   *di = g->Qm + (size_t) items[r] * M;

		for (int k = 0; k < M; k++)
		{
			du[k] += dx[k];
			di[k] += dx[M + k];
		}
	}
}

/* Accumulate the gradients of the pass from dz (B). */
void
ncf_backward(NcfParams *g, NcfCache *c, const float *dz, const NcfParams *p,
			 const NcfDims *d, const int32_t *users, const int32_t *items,
			 int B, int branches)
{
	int			O = ncf_out_width(d),
				G = d->G;

	if (d->M == 0 && (branches & NCF_GMF))
	{
		double		db = 0;

		gmf_head_backward(g, dz, c->p, c->q, p->h, users, items, B, G);
		for (int r = 0; r < B; r++)
			db += dz[r];
		g->b[0] += (float) db;
		return;
	}
	linear_backward(c->dcat, g->h, g->b, dz, c->cat, p->h, B, O, 1);
	if (branches & NCF_GMF)
	{
		for (int r = 0; r < B; r++)
			mul_backward(c->d1 + (size_t) r * G, c->d2 + (size_t) r * G,
						 c->dcat + (size_t) r * O, c->p + (size_t) r * G,
						 c->q + (size_t) r * G, G);
		embedding_backward(g->P, c->d1, users, B, G);
		embedding_backward(g->Q, c->d2, items, B, G);
	}
	if (d->M > 0 && (branches & NCF_MLP))
	{
		for (int r = 0; r < B; r++)
			memcpy(c->d1 + (size_t) r * d->L3, c->dcat + (size_t) r * O + G,
				   sizeof(float) * d->L3);
		ncf_mlp_backward(g, c, p, d, users, items, B);
	}
}

/* Softmax of each row of x (B, n_items), scaled by 1 / tau, stable. */
static void
softmax_rows_scaled(float *y, const float *x, const float *add, float tau, int B, int n_items)
{
	for (int r = 0; r < B; r++)
	{
		const float *xr = x + (size_t) r * n_items;
		const float *ar = add ? add + (size_t) r * n_items : NULL;
		float	   *yr = y + (size_t) r * n_items;
		float		mx = -INFINITY;
		double		sum = 0.0;

		for (int j = 0; j < n_items; j++)
		{
			yr[j] = (xr[j] + (ar ? ar[j] : 0.0f)) / tau;
			mx = yr[j] > mx ? yr[j] : mx;
		}
		for (int j = 0; j < n_items; j++)
		{
			yr[j] = expf(yr[j] - mx);
			sum += yr[j];
		}
		for (int j = 0; j < n_items; j++)
			yr[j] = (float) (yr[j] / sum);
	}
}

/* p (B, n_items) = row softmax of logits. */
void
softmax_rows(float *p, const float *logits, int B, int n_items)
{
	softmax_rows_scaled(p, logits, NULL, 1.0f, B, n_items);
}

/* y = softmax((logits + gumbel) / tau) per row. */
void
gumbel_softmax_forward(float *y, const float *logits, const float *gumbel,
					   float tau, int B, int n_items)
{
	softmax_rows_scaled(y, logits, gumbel, tau, B, n_items);
}

/* dlogits_j = y_j (dy_j - y . dy) / tau per row. */
void
gumbel_softmax_backward(float *dlogits, const float *dy, const float *y,
						float tau, int B, int n_items)
{
	for (int r = 0; r < B; r++)
	{
		const float *yr = y + (size_t) r * n_items;
		const float *gr = dy + (size_t) r * n_items;
		float	   *dr = dlogits + (size_t) r * n_items;
		double		dot = 0.0;

		for (int j = 0; j < n_items; j++)
			dot += (double) yr[j] * gr[j];
		for (int j = 0; j < n_items; j++)
			dr[j] = (float) (yr[j] * (gr[j] - dot) / tau);
	}
}

/* dlogits_r = -scale sum_k adv_rk (e_{s_rk} - p_r). */
void
reinforce_backward(float *dlogits, const float *p, const int32_t *samples,
				   const float *adv, float scale, int B, int K, int n_items)
{
	for (int r = 0; r < B; r++)
	{
		const float *pr = p + (size_t) r * n_items;
		float	   *dr = dlogits + (size_t) r * n_items;
		double		total = 0.0;

		for (int k = 0; k < K; k++)
			total += adv[(size_t) r * K + k];
		for (int j = 0; j < n_items; j++)
			dr[j] = (float) (scale * total * pr[j]);
		for (int k = 0; k < K; k++)
			dr[samples[(size_t) r * K + k]] -= scale * adv[(size_t) r * K + k];
	}
}
