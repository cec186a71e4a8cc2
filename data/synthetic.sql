-- synthetic.sql: generate a synthetic ratings dataset with planted structure,
-- deterministically, for tests and demos that must not depend on licensed data.
--
--   psql -f data/synthetic.sql
--   psql -v users=6000 -v items=2000 -v groups=10 -v per_user=50 -v seed=7 \
--        -v ratings=syn -v items_table=syn_items -f data/synthetic.sql
--
-- Variables (psql -v name=value):
--   users        number of users, ids 1..users                    (default: 600)
--   items        number of items, ids 1..items                    (default: 400)
--   groups       number of taste groups                           (default: 8)
--   per_user     ratings per user, at most items                  (default: 40)
--   seed         any bigint; same variables, same tables          (default: 42)
--   skew         Zipf exponent of item popularity (0 = none)      (default: 1.0)
--   off_group    weight of an item outside the user's group,
--                relative to one inside it (0 < off_group <= 1)   (default: 0.02)
--   ratings      ratings table to create or replace               (default: ratings)
--   items_table  items table to create or replace                 (default: items)
--   mode         exact | sampled                                  (default: exact)
--
-- The model:
--   groups   user u is in group 1 + (u - 1) % groups, item i in 1 + (i - 1) % groups.
--   taste    each user rates exactly per_user distinct items, drawn without
--            replacement with weight popularity(i) * affinity(u, i), where
--            affinity is 1 inside the user's group and off_group outside it.
--            (Priority sampling: keep the per_user largest weight / r, r uniform
--            in (0, 1]; an item's inclusion probability is min(1, weight / t).)
--   skew     popularity(i) = 1 / rank(i) ^ skew, with the ranks a seeded
--            permutation of the items, so a long tail of rarely rated items.
--   rating   1..5 from a fixed distribution: in the user's group mostly 4-5
--            (mean about 4.2), outside it mostly 2-3 (mean about 2.8).
--   time     each user starts on a day of 2020 and rates one item a day, at a
--            random second of that day, in a random order: ts (Unix seconds)
--            strictly increases along a user's ratings.
--   items    title 'Item 18 (group 2)', genres 'group 2'.
-- With the defaults: 24000 ratings, about 74% of them in the user's group, and
-- the most rated 10% of the items hold about 29% of the ratings.
--
-- mode=sampled: the same groups, popularity, ratings and times, at a cost that
-- grows with the number of ratings instead of users * items, for large tables
-- (MovieLens-20M's shape: -v users=138493 -v items=26744 -v per_user=145
-- -v groups=20 -v mode=sampled gives about 20M ratings in a few minutes):
--   activity each user rates about n(u) items, long-tailed:
--            n(u) = m + (per_user - m) * (1 / (1 - 0.9 r) - 1) / 1.5584...,
--            m = min(20, per_user), r uniform, so the mean is per_user and the
--            heaviest users rate about 6.8 times as many; at most items.
--   taste    slot s = 1, 2, ... of user u draws an item: with probability
--            W(g) / (W(g) + off_group * (W - W(g))) (g the user's group, W(g)
--            its total popularity, W the catalogue's) an item of the group,
--            else one of the whole catalogue, each in proportion to its
--            popularity (inverse CDF: width_bucket over the cumulative
--            popularity); the user's items are the first n(u) distinct ones
--            (2 n(u) + 20 slots, so a heavy user of a small group may get
--            fewer).
--
-- Determinism: every random choice is a pure function of (seed, stream, ids)
-- through hashint8extended, never random() or row order, and the arithmetic
-- is +, -, *, / and floor on float8 (exactly rounded by IEEE 754) or numeric
-- (PostgreSQL's own code), so the same variables give byte-identical tables on
-- any machine.  Cost grows with users * items (every pair gets a key).
--
-- Creates (replacing tables of those names, in the first schema of search_path),
-- in one transaction:
--   :ratings      (user_id bigint, item_id bigint, rating real, ts bigint)
--   :items_table  (item_id bigint primary key, title text, genres text)

\set ON_ERROR_STOP on
\set QUIET on
\if :{?users} \else \set users 600 \endif
\if :{?items} \else \set items 400 \endif
\if :{?groups} \else \set groups 8 \endif
\if :{?per_user} \else \set per_user 40 \endif
\if :{?seed} \else \set seed 42 \endif
\if :{?skew} \else \set skew 1.0 \endif
\if :{?off_group} \else \set off_group 0.02 \endif
\if :{?mode} \else \set mode exact \endif

BEGIN;
\ir lib/common.sql

-- Check the variables before using any of them as a number.
SELECT pg_catalog.count(pg_temp.recgan_fail(pg_catalog.format('-v %s must be %s, not %s',
		name, rule, pg_catalog.quote_literal(value)))) AS ok
	FROM (VALUES
		('users', :'users', 'a whole number from 1 to 10000000', 'count'),
		('items', :'items', 'a whole number from 1 to 10000000', 'count'),
		('groups', :'groups', 'a whole number from 1 to 10000000', 'count'),
		('per_user', :'per_user', 'a whole number from 1 to 10000000', 'count'),
		('seed', :'seed', 'an integer in the range of bigint', 'int8'),
		('skew', :'skew', 'a number from 0 to 10', 'skew'),
		('off_group', :'off_group', 'a number above 0 and at most 1', 'share'),
		('mode', :'mode', 'exact or sampled', 'mode')
	) AS v(name, value, rule, kind)
	WHERE NOT CASE kind
		WHEN 'count' THEN CASE WHEN value ~ '^[0-9]{1,8}$'
			THEN value::integer BETWEEN 1 AND 10000000 ELSE false END
		WHEN 'int8' THEN pg_temp.recgan_is_int8(value)
		WHEN 'skew' THEN CASE WHEN pg_temp.recgan_is_number(value)
			THEN value::numeric BETWEEN 0 AND 10 ELSE false END
		WHEN 'share' THEN CASE WHEN pg_temp.recgan_is_number(value)
			THEN value::numeric > 0 AND value::numeric <= 1 ELSE false END
		WHEN 'mode' THEN value IN ('exact', 'sampled')
		END \gset
SELECT :'mode' = 'sampled' AS sampled \gset

SELECT pg_catalog.count(pg_temp.recgan_fail(msg)) AS ok
	FROM (VALUES
		(:'groups'::integer > :'users'::integer, '-v groups must not exceed -v users'),
		(:'groups'::integer > :'items'::integer, '-v groups must not exceed -v items'),
		(:'per_user'::integer > :'items'::integer, '-v per_user must not exceed -v items')
	) AS v(bad, msg)
	WHERE bad \gset

-- A uniform number in (0, 1], a pure function of (seed, stream, a, b): 53 bits
-- of a hash chain, exactly representable in float8.
CREATE OR REPLACE FUNCTION pg_temp.recgan_uniform(seed bigint, stream bigint, a bigint, b bigint)
RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
	SELECT (((pg_catalog.hashint8extended(b, pg_catalog.hashint8extended(a,
		pg_catalog.hashint8extended(stream, seed))) >> 11) & 9007199254740991)::float8 + 1)
		/ 9007199254740992::float8
$$;

-- Streams of random numbers, one per purpose.
\set s_rank 1
\set s_pick 2
\set s_rating 3
\set s_order 4
\set s_start 5
\set s_second 6
\set s_activity 7
\set s_side 8

-- Items: group, popularity rank (a seeded permutation) and weight 1 / rank^skew.
CREATE TEMP TABLE recgan_syn_items ON COMMIT DROP AS
	SELECT item_id, 1 + (item_id - 1) % :'groups'::integer AS grp,
		(1 / pg_catalog.power(rnk::numeric, :'skew'::numeric))::float8 AS popularity
	FROM (SELECT item_id, pg_catalog.row_number() OVER (ORDER BY
			pg_temp.recgan_uniform(:'seed', :s_rank, item_id, 0), item_id) AS rnk
		FROM pg_catalog.generate_series(1, :'items'::bigint) AS item_id) ranked;

\if :sampled
-- Cumulative popularity, as constant arrays for width_bucket (a binary search):
-- bounds_all over the catalogue in item order, in [0, 1); bounds_grp over the
-- items sorted by (group, item), group g's bounds in [g - 1, g), so that
-- width_bucket(g - 1 + r, bounds_grp) is the position of an item of group g
-- drawn in proportion to its popularity (1 - r is in [0, 1); the position is
-- clamped to the group against a sum rounded up to g).  float8 prints exactly
-- (shortest round-trip form), so the arrays come back bit for bit.
SELECT pg_catalog.array_agg(lower ORDER BY item_id)::text AS bounds_all
	FROM (SELECT item_id, COALESCE(pg_catalog.sum(popularity) OVER (ORDER BY item_id
			ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
			/ pg_catalog.sum(popularity) OVER () AS lower
		FROM recgan_syn_items) b \gset
SELECT pg_catalog.array_agg(grp - 1 + lower ORDER BY grp, item_id)::text AS bounds_grp
	FROM (SELECT grp, item_id, COALESCE(pg_catalog.sum(popularity) OVER (PARTITION BY grp
			ORDER BY item_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
			/ pg_catalog.sum(popularity) OVER (PARTITION BY grp) AS lower
		FROM recgan_syn_items) b \gset

-- Groups: where their items start in (group, item) order and the chance that a
-- slot of one of their users stays in the group.
CREATE TEMP TABLE recgan_syn_groups ON COMMIT DROP AS
	SELECT grp, n::integer AS n_grp, COALESCE(pg_catalog.sum(n) OVER (ORDER BY grp
			ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)::integer AS start,
		w / (w + :'off_group'::float8 * (pg_catalog.sum(w) OVER () - w)) AS p_in
	FROM (SELECT grp, pg_catalog.count(*) AS n, pg_catalog.sum(popularity) AS w
		FROM recgan_syn_items GROUP BY grp) g;

CREATE TEMP TABLE recgan_syn_users ON COMMIT DROP AS
	SELECT user_id, grp, start, n_grp, p_in, LEAST(:'items'::integer,
			pg_catalog.floor(m + (:'per_user'::integer - m)
				* (1 / (1 - 0.9 * pg_temp.recgan_uniform(:'seed', :s_activity, user_id, 0)) - 1)
				/ 1.558427881104495)::integer) AS n
	FROM (SELECT user_id, 1 + (user_id - 1) % :'groups'::integer AS grp,
			LEAST(20, :'per_user'::integer) AS m
		FROM pg_catalog.generate_series(1, :'users'::bigint) AS user_id) u
		JOIN recgan_syn_groups USING (grp);

-- Draw the slots; an item's position k in its group maps back to the item
-- grp + k * groups (items are dealt to groups in turn).
CREATE TEMP TABLE recgan_syn_picks ON COMMIT DROP AS
	SELECT user_id, item_id, in_group
	FROM (SELECT user_id, item_id, in_group,
			pg_catalog.row_number() OVER (PARTITION BY user_id ORDER BY slot) AS pick, n
		FROM (SELECT user_id, item_id, (1 + (item_id - 1) % :'groups'::integer) = grp AS in_group,
				pg_catalog.min(slot) AS slot, pg_catalog.min(n) AS n
			FROM (SELECT u.user_id, u.grp, u.n, s.slot,
					CASE WHEN pg_temp.recgan_uniform(:'seed', :s_side, u.user_id, s.slot) <= u.p_in
						THEN u.grp + :'groups'::integer::bigint * GREATEST(0, LEAST(u.n_grp - 1,
							pg_catalog.width_bucket(u.grp - 1
								+ (1 - pg_temp.recgan_uniform(:'seed', :s_pick, u.user_id, s.slot)),
								:'bounds_grp'::float8[]) - 1 - u.start))
						ELSE pg_catalog.width_bucket(1 - pg_temp.recgan_uniform(:'seed', :s_pick, u.user_id, s.slot),
							:'bounds_all'::float8[])::bigint
					END AS item_id
				FROM recgan_syn_users u,
					LATERAL pg_catalog.generate_series(1, (2 * u.n + 20)::bigint) AS s(slot)) draws
			GROUP BY user_id, item_id, grp) firsts) ranked
	WHERE pick <= n;
\else
-- Ratings: the per_user items of largest priority weight / r for each user,
-- then a rating from the in- or off-group distribution and a position in the
-- user's sequence.
CREATE TEMP TABLE recgan_syn_picks ON COMMIT DROP AS
	SELECT user_id, item_id, in_group
	FROM (SELECT u.user_id, i.item_id, i.grp = u.grp AS in_group,
			pg_catalog.row_number() OVER (PARTITION BY u.user_id ORDER BY
				i.popularity * CASE WHEN i.grp = u.grp THEN 1 ELSE :'off_group'::float8 END
					/ pg_temp.recgan_uniform(:'seed', :s_pick, u.user_id, i.item_id) DESC,
				i.item_id) AS pick
		FROM (SELECT user_id, 1 + (user_id - 1) % :'groups'::integer AS grp
				FROM pg_catalog.generate_series(1, :'users'::bigint) AS user_id) u
			CROSS JOIN recgan_syn_items i) p
	WHERE pick <= :'per_user'::integer;
\endif

CREATE TEMP TABLE recgan_load_ratings ON COMMIT DROP AS
	SELECT pg_catalog.row_number() OVER (ORDER BY user_id, ts) AS lineno, 1 AS pos,
		user_id, item_id, rating, ts
	FROM (SELECT user_id, item_id,
			CASE WHEN in_group THEN
				CASE WHEN r <= 0.02 THEN 1 WHEN r <= 0.06 THEN 2 WHEN r <= 0.20 THEN 3
					WHEN r <= 0.55 THEN 4 ELSE 5 END
			ELSE
				CASE WHEN r <= 0.15 THEN 1 WHEN r <= 0.40 THEN 2 WHEN r <= 0.75 THEN 3
					WHEN r <= 0.93 THEN 4 ELSE 5 END
			END::real AS rating,
			1577836800	-- 2020-01-01 00:00:00 UTC
				+ 86400 * pg_catalog.floor(365 * pg_temp.recgan_uniform(:'seed', :s_start, user_id, 0))::bigint
				+ 86400 * (pg_catalog.row_number() OVER (PARTITION BY user_id ORDER BY
					pg_temp.recgan_uniform(:'seed', :s_order, user_id, item_id), item_id) - 1)
				+ pg_catalog.floor(86400 * pg_temp.recgan_uniform(:'seed', :s_second, user_id, item_id))::bigint
				AS ts
		FROM (SELECT user_id, item_id, in_group,
				pg_temp.recgan_uniform(:'seed', :s_rating, user_id, item_id) AS r
			FROM recgan_syn_picks) picks) rated;

CREATE TEMP TABLE recgan_load_items ON COMMIT DROP AS
	SELECT item_id AS lineno, NULL::text AS line, item_id,
		pg_catalog.format('Item %s (group %s)', item_id, grp) AS title,
		pg_catalog.format('group %s', grp) AS genres
	FROM recgan_syn_items;

SELECT pg_catalog.format('data/synthetic.sql (users=%s items=%s groups=%s per_user=%s seed=%s skew=%s off_group=%s%s)',
	:'users', :'items', :'groups', :'per_user', :'seed', :'skew', :'off_group',
	CASE WHEN :'mode' = 'sampled' THEN ' mode=sampled' ELSE '' END) AS source \gset
\set what 'synthetic'
\ir lib/store_ratings.sql
\ir lib/store_items.sql

COMMIT;
\ir lib/report.sql
