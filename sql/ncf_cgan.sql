-- GMF, NeuMF and the conditional GAN: learning, determinism, options, fold-in.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS recgan;
RESET client_min_messages;
SET recgan.threads = 1;

-- two taste groups of 12 users and 10 items each, plus a few cross-group likes
CREATE TABLE nc AS
SELECT u AS user_id, i AS item_id, 5 AS rating
FROM generate_series(1, 24) u, generate_series(1, 20) i
WHERE ((u <= 12) = (i <= 10) AND (u * 3 + i) % 4 <> 0) OR (u * 7 + i * 5) % 31 = 0;

-- share of each user's top-2 recommendations from their own group
CREATE FUNCTION nc_in_group(m text) RETURNS numeric LANGUAGE sql
AS $$ SELECT avg(((r.item_id <= 10) = (u <= 12))::int)
	  FROM generate_series(1, 24) u, LATERAL recgan_recommend(u, 2, m) r $$;

-- GMF and NeuMF learn the groups
SELECT count(*) AS epochs FROM recgan_train('nc', 'nc_gmf', 'gmf',
	'{"factors": 4, "negatives": 1, "reg": 0.01, "epochs": 30, "patience": 0, "validation_fraction": 0, "lr": 0.01, "batch_size": 32}');
SELECT nc_in_group('nc_gmf') >= 0.85 AS gmf_learns_groups;
SELECT bool_and(item_id <= 10) AS gmf_similar1 FROM recgan_similar_items(2, 3, 'nc_gmf');
SELECT header->'tensors' AS gmf_tensors FROM recgan_model_info('nc_gmf');

SELECT count(*) AS epochs FROM recgan_train('nc', 'nc_neumf', 'neumf',
	'{"factors": 4, "mlp_factors": 2, "negatives": 1, "reg": 0.003, "pretrain_epochs": 10, "epochs": 10, "patience": 0, "validation_fraction": 0, "lr": 0.01, "batch_size": 32}');
SELECT nc_in_group('nc_neumf') >= 0.85 AS neumf_learns_groups;
SELECT header->'tensors' AS neumf_tensors FROM recgan_model_info('nc_neumf');

-- the conditional GAN learns the groups
SELECT count(*) AS epochs FROM recgan_train('nc', 'nc_cgan', 'cgan',
	'{"embed_dim": 8, "noise_dim": 4, "hidden_g": 16, "embed_dim_d": 8, "hidden_d": 16, "reg": 0.01, "mle_epochs": 30, "lr_mle": 0.01, "batch_users": 4, "epochs": 5, "patience": 0, "validation_fraction": 0}');
SELECT nc_in_group('nc_cgan') >= 0.85 AS cgan_learns_groups;
SELECT header->'tensors' AS cgan_tensors FROM recgan_model_info('nc_cgan');

-- same seed, same bytes; another seed, other bytes (each algorithm)
CREATE FUNCTION nc_md5(m text) RETURNS text LANGUAGE sql
AS $$ SELECT md5(model) FROM recgan_models WHERE name = m $$;
SELECT count(*) FROM recgan_train('nc', 'nc_gmf2', 'gmf',
	'{"factors": 4, "negatives": 1, "reg": 0.01, "epochs": 30, "patience": 0, "validation_fraction": 0, "lr": 0.01, "batch_size": 32}');
SELECT count(*) FROM recgan_train('nc', 'nc_gmf3', 'gmf',
	'{"factors": 4, "negatives": 1, "reg": 0.01, "epochs": 30, "patience": 0, "validation_fraction": 0, "lr": 0.01, "batch_size": 32, "seed": 7}');
SELECT nc_md5('nc_gmf') = nc_md5('nc_gmf2') AS gmf_same, nc_md5('nc_gmf') <> nc_md5('nc_gmf3') AS gmf_other;
SELECT count(*) FROM recgan_train('nc', 'nc_neumf2', 'neumf',
	'{"factors": 4, "mlp_factors": 2, "negatives": 1, "reg": 0.003, "pretrain_epochs": 10, "epochs": 10, "patience": 0, "validation_fraction": 0, "lr": 0.01, "batch_size": 32}');
SELECT count(*) FROM recgan_train('nc', 'nc_neumf3', 'neumf',
	'{"factors": 4, "mlp_factors": 2, "negatives": 1, "reg": 0.003, "pretrain_epochs": 10, "epochs": 10, "patience": 0, "validation_fraction": 0, "lr": 0.01, "batch_size": 32, "seed": 7}');
SELECT nc_md5('nc_neumf') = nc_md5('nc_neumf2') AS neumf_same, nc_md5('nc_neumf') <> nc_md5('nc_neumf3') AS neumf_other;
SELECT count(*) FROM recgan_train('nc', 'nc_cgan2', 'cgan',
	'{"embed_dim": 8, "noise_dim": 4, "hidden_g": 16, "embed_dim_d": 8, "hidden_d": 16, "reg": 0.01, "mle_epochs": 30, "lr_mle": 0.01, "batch_users": 4, "epochs": 5, "patience": 0, "validation_fraction": 0}');
SELECT count(*) FROM recgan_train('nc', 'nc_cgan3', 'cgan',
	'{"embed_dim": 8, "noise_dim": 4, "hidden_g": 16, "embed_dim_d": 8, "hidden_d": 16, "reg": 0.01, "mle_epochs": 30, "lr_mle": 0.01, "batch_users": 4, "epochs": 5, "patience": 0, "validation_fraction": 0, "seed": 7}');
SELECT nc_md5('nc_cgan') = nc_md5('nc_cgan2') AS cgan_same, nc_md5('nc_cgan') <> nc_md5('nc_cgan3') AS cgan_other;

-- the adversarial phase itself moves the generator: from the same seed and
-- warm start, the generator tensors after 3 adversarial epochs with g_steps
-- 0 (generator fixed) and with g_steps 1 differ, for both gradient paths;
-- with g_steps 0 they equal the warm start's whatever the epoch count
CREATE FUNCTION nc_generator(m text) RETURNS text LANGUAGE sql
AS $$ SELECT md5(substr(r.model, length(r.model) - (SELECT sum(t::bigint * 4)
		FROM recgan_model_info(m) i, jsonb_array_elements_text(i.header->'tensors') t)::int + 1))
	  FROM recgan_models r WHERE r.name = m $$;
SELECT count(*) FROM recgan_train('nc', 'adv0', 'cgan',
	'{"embed_dim": 8, "noise_dim": 4, "hidden_g": 16, "embed_dim_d": 8, "hidden_d": 16, "mle_epochs": 10, "lr_mle": 0.01, "batch_users": 4, "epochs": 3, "patience": 0, "validation_fraction": 0, "g_steps": 0}');
SELECT count(*) FROM recgan_train('nc', 'adv0b', 'cgan',
	'{"embed_dim": 8, "noise_dim": 4, "hidden_g": 16, "embed_dim_d": 8, "hidden_d": 16, "mle_epochs": 10, "lr_mle": 0.01, "batch_users": 4, "epochs": 1, "patience": 0, "validation_fraction": 0, "g_steps": 0}');
SELECT count(*) FROM recgan_train('nc', 'adv_rf', 'cgan',
	'{"embed_dim": 8, "noise_dim": 4, "hidden_g": 16, "embed_dim_d": 8, "hidden_d": 16, "mle_epochs": 10, "lr_mle": 0.01, "batch_users": 4, "epochs": 3, "patience": 0, "validation_fraction": 0, "g_steps": 1}');
SELECT count(*) FROM recgan_train('nc', 'adv_gs', 'cgan',
	'{"embed_dim": 8, "noise_dim": 4, "hidden_g": 16, "embed_dim_d": 8, "hidden_d": 16, "mle_epochs": 10, "lr_mle": 0.01, "batch_users": 4, "epochs": 3, "patience": 0, "validation_fraction": 0, "g_steps": 1, "generator_gradient": "gumbel"}');
SELECT nc_generator('adv0') = nc_generator('adv0b') AS fixed_generator_unchanged,
	nc_generator('adv0') <> nc_generator('adv_rf') AS reinforce_moves_generator,
	nc_generator('adv0') <> nc_generator('adv_gs') AS gumbel_moves_generator;

-- fold-in is not supported by these models
SELECT * FROM recgan_recommend_items(ARRAY[11, 12], 3, 'nc_gmf');
SELECT * FROM recgan_recommend_items(ARRAY[11, 12], 3, 'nc_neumf');
SELECT * FROM recgan_recommend_items(ARRAY[11, 12], 3, 'nc_cgan');

-- validation, early stopping and the refit by default
SELECT count(*) FILTER (WHERE validation IS NOT NULL) > 0 AS validated,
	count(*) FILTER (WHERE validation IS NULL) > 0 AS refit
FROM recgan_train('nc', 'nc_gmf4', 'gmf', '{"factors": 8, "epochs": 4}');

-- bad options; no model is written
SELECT * FROM recgan_train('nc', 'bad', 'gmf', '{"factors": 0}');
SELECT * FROM recgan_train('nc', 'bad', 'gmf', '{"mlp_factors": 8}');
SELECT * FROM recgan_train('nc', 'bad', 'neumf', '{"negatives": 0}');
SELECT * FROM recgan_train('nc', 'bad', 'neumf', '{"lr": "x"}');
SELECT * FROM recgan_train('nc', 'bad', 'cgan', '{"generator_gradient": "multinomial"}');
SELECT * FROM recgan_train('nc', 'bad', 'cgan', '{"generated_fraction": 2}');
SELECT * FROM recgan_train('nc', 'bad', 'cgan', '{"temperature": 0}');
SELECT count(*) AS no_bad_model FROM recgan_models WHERE name = 'bad';
SELECT count(*) FILTER (WHERE recgan_drop_model(name)) > 0 AS dropped FROM recgan_models WHERE name LIKE 'nc%' OR name LIKE 'adv%';
DROP TABLE nc;
