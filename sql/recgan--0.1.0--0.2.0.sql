/* recgan--0.1.0--0.2.0.sql: upgrade from 0.1.0 to 0.2.0 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION recgan UPDATE TO '0.2.0'" to load this file. \quit

-- sql/recgan--0.1.0.sql is frozen: every object added after 0.1.0 is created
-- here, and CREATE EXTENSION recgan (default_version 0.2.0) runs the 0.1.0
-- script and then this one.  The C entry points the 0.1.0 script declares keep
-- their argument lists in the library; a function whose signature changes gets
-- a new C symbol, so a 0.1.0 catalog running against the 0.2.0 library (between
-- the package upgrade and ALTER EXTENSION UPDATE) never calls a function with
-- arguments it was not declared with.
