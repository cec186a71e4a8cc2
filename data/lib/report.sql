-- lib/report.sql: after COMMIT, print one line per table a loader replaced
-- (set by lib/store_ratings.sql and lib/store_items.sql).  Included with \ir
-- by the data/load_*.sql loaders; not meant to be run on its own.

\if :{?report_ratings}
\echo :report_ratings
\endif
\if :{?report_items}
\echo :report_items
\endif
