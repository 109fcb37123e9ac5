-- DuckDB functions used by the store's SQL that PostgreSQL lacks, with DuckDB's meaning.
-- Created (or replaced) in the store's schema each time a process opens the store.

-- json_extract_string(doc, '$.key' / '$."any key"'): the value as text (NULL when missing);
-- DuckDB's paths are valid SQL/JSON paths.
CREATE OR REPLACE FUNCTION json_extract_string(doc json, path text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT jsonb_path_query_first(doc::jsonb, path::jsonpath) #>> '{}' $$;
CREATE OR REPLACE FUNCTION json_extract_string(doc text, path text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT jsonb_path_query_first(doc::jsonb, path::jsonpath) #>> '{}' $$;

-- log(base, x) with floating-point arguments (PostgreSQL has only log(numeric, numeric)).
CREATE OR REPLACE FUNCTION log(base double precision, x double precision) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ln(x) / ln(base) $$;
