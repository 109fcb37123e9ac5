"""Append-only named schema migrations, recorded in ``_migrations`` (never edit a shipped one)."""

from __future__ import annotations

from collections.abc import Callable

import duckdb

Migration = Callable[[duckdb.DuckDBPyConnection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(name: str) -> Callable[[Migration], Migration]:
    """Register a migration under a unique name; order of definition is order of application."""

    def register(fn: Migration) -> Migration:
        if any(existing == name for existing, _ in MIGRATIONS):
            raise ValueError(f"duplicate migration name {name!r}")
        MIGRATIONS.append((name, fn))
        return fn

    return register


def applied_migrations(cur: duckdb.DuckDBPyConnection) -> list[str]:
    cur.execute(
        "CREATE TABLE IF NOT EXISTS _migrations ("
        " name VARCHAR PRIMARY KEY, applied_at TIMESTAMP DEFAULT current_timestamp)"
    )
    return [
        row[0]
        for row in cur.execute("SELECT name FROM _migrations ORDER BY applied_at, name").fetchall()
    ]


def migrate(cur: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply every migration not yet recorded; return the names applied now."""
    done = set(applied_migrations(cur))
    applied: list[str] = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        cur.execute("BEGIN TRANSACTION")
        try:
            fn(cur)
            cur.execute("INSERT INTO _migrations (name) VALUES (?)", [name])
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied


@migration("0001_core_schema")
def _core_schema(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute(
        """
        CREATE TABLE sources (
            source_id      VARCHAR PRIMARY KEY,
            name           VARCHAR NOT NULL,
            file_hash      VARCHAR NOT NULL UNIQUE,
            format         VARCHAR NOT NULL,
            mapping        JSON NOT NULL,
            rows_total     INTEGER NOT NULL,
            rows_ingested  INTEGER NOT NULL,
            rows_duplicate INTEGER NOT NULL,
            rows_rejected  INTEGER NOT NULL,
            ingested_at    TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE TABLE prompts (
            prompt_id      VARCHAR PRIMARY KEY,
            source_id      VARCHAR NOT NULL,
            row_number     INTEGER NOT NULL,
            external_id    VARCHAR,
            messages       JSON NOT NULL,
            prompt_text    VARCHAR NOT NULL,
            metadata       JSON NOT NULL,
            created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE TABLE quarantine (
            source_id      VARCHAR NOT NULL,
            source_name    VARCHAR NOT NULL,
            row_number     INTEGER NOT NULL,
            reason         VARCHAR NOT NULL,
            raw            VARCHAR,
            created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE TABLE variants (
            name                  VARCHAR PRIMARY KEY,
            provider              VARCHAR NOT NULL,
            model                 VARCHAR NOT NULL,
            base_url              VARCHAR,
            api_key_env           VARCHAR,
            params                JSON NOT NULL,
            price_input_per_mtok  DOUBLE NOT NULL DEFAULT 0,
            price_output_per_mtok DOUBLE NOT NULL DEFAULT 0,
            created_at            TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE TABLE responses (
            prompt_id      VARCHAR NOT NULL,
            variant        VARCHAR NOT NULL,
            request_hash   VARCHAR NOT NULL,
            text           VARCHAR,
            finish_reason  VARCHAR,
            latency_ms     DOUBLE,
            input_tokens   INTEGER,
            output_tokens  INTEGER,
            cost           DOUBLE,
            error          VARCHAR,
            attempts       INTEGER NOT NULL DEFAULT 1,
            created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (prompt_id, variant)
        );
        CREATE TABLE studies (
            study_id           VARCHAR PRIMARY KEY,
            name               VARCHAR NOT NULL UNIQUE,
            baseline_variant   VARCHAR NOT NULL,
            candidate_variant  VARCHAR NOT NULL,
            source_ids         JSON NOT NULL,
            slice_columns      JSON NOT NULL,
            overlap            INTEGER NOT NULL DEFAULT 1,
            margin             DOUBLE NOT NULL DEFAULT 0.05,
            blind_salt         VARCHAR NOT NULL,
            created_at         TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE TABLE pairs (
            pair_id      VARCHAR PRIMARY KEY,
            study_id     VARCHAR NOT NULL,
            prompt_id    VARCHAR NOT NULL,
            position     INTEGER NOT NULL,
            UNIQUE (study_id, prompt_id)
        );
        CREATE TABLE judgments (
            judgment_id     VARCHAR PRIMARY KEY,
            study_id        VARCHAR NOT NULL,
            pair_id         VARCHAR NOT NULL,
            reviewer        VARCHAR NOT NULL,
            left_role       VARCHAR NOT NULL CHECK (left_role IN ('baseline', 'candidate')),
            choice          VARCHAR NOT NULL
                            CHECK (choice IN ('baseline', 'candidate', 'tie', 'both_bad')),
            comment         VARCHAR,
            time_on_item_ms BIGINT,
            created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE TABLE evaluations (
            prompt_id   VARCHAR NOT NULL,
            variant     VARCHAR NOT NULL,
            evaluator   VARCHAR NOT NULL,
            version     INTEGER NOT NULL,
            value       DOUBLE,
            label       VARCHAR,
            created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (prompt_id, variant, evaluator)
        );
        """
    )


@migration("0002_reservations")
def _reservations(cur: duckdb.DuckDBPyConnection) -> None:
    # One row per review slot of a pair (slot < overlap). A slot is held by a reviewer until it
    # expires or is judged; the primary key makes two reviewers racing for one slot collide.
    cur.execute(
        """
        CREATE TABLE reservations (
            study_id    VARCHAR NOT NULL,
            pair_id     VARCHAR NOT NULL,
            slot        INTEGER NOT NULL,
            reviewer    VARCHAR NOT NULL,
            reserved_at TIMESTAMP NOT NULL,
            expires_at  TIMESTAMP NOT NULL,
            judged      BOOLEAN NOT NULL DEFAULT false,
            PRIMARY KEY (study_id, pair_id, slot)
        )
        """
    )


@migration("0003_ingest_at_scale")
def _ingest_at_scale(cur: duckdb.DuckDBPyConnection) -> None:
    # prompts: the whole logged conversation (``messages`` is the prompt replayed up to the turn
    # under study), when it was logged, how many log rows it stands for (exact and, optionally,
    # near duplicates) and whether its context holds answers the old model wrote.
    # pairs: stratum and inclusion probability of the study sample (1.0 = every prompt).
    # studies: the filter and sampling plan that chose its prompts. settings: project-wide
    # options such as the redaction configuration.
    cur.execute(
        """
        ALTER TABLE prompts ADD COLUMN conversation JSON;
        ALTER TABLE prompts ADD COLUMN logged_at TIMESTAMP;
        ALTER TABLE prompts ADD COLUMN weight BIGINT DEFAULT 1;
        ALTER TABLE prompts ADD COLUMN context_has_model_output BOOLEAN DEFAULT false;
        ALTER TABLE sources ADD COLUMN slice_columns JSON;
        ALTER TABLE sources ADD COLUMN options JSON;
        ALTER TABLE sources ADD COLUMN updated_at TIMESTAMP;
        ALTER TABLE pairs ADD COLUMN stratum VARCHAR;
        ALTER TABLE pairs ADD COLUMN inclusion_probability DOUBLE DEFAULT 1.0;
        ALTER TABLE studies ADD COLUMN population JSON;
        ALTER TABLE quarantine ADD COLUMN field VARCHAR;
        CREATE TABLE settings (
            key        VARCHAR PRIMARY KEY,
            value      JSON NOT NULL,
            updated_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        """
    )


@migration("0004_prompt_sources")
def _prompt_sources(cur: duckdb.DuckDBPyConnection) -> None:
    # A prompt is stored once but can occur in several sources (logs of different days, a
    # fixed version of a file): one row per (prompt, source) with the log rows it stands for
    # there. Studies and filters select prompts of sources through this table.
    cur.execute(
        """
        CREATE TABLE prompt_sources (
            prompt_id  VARCHAR NOT NULL,
            source_id  VARCHAR NOT NULL,
            weight     BIGINT NOT NULL DEFAULT 1
        );
        INSERT INTO prompt_sources SELECT prompt_id, source_id, coalesce(weight, 1) FROM prompts;
        """
    )


@migration("0005_generation_engine")
def _generation_engine(cur: duckdb.DuckDBPyConnection) -> None:
    # variants: system prompt override/template and per-variant limits.
    # responses: the exact body sent (no secrets) and the run that produced the answer.
    # generation_runs: one row per run, updated while it goes (progress, tokens, spend), so any
    # session or process sees it and can ask it to stop. provider_batches/provider_batch_items:
    # jobs submitted to a provider's Batch API, so a resumed run polls them instead of paying
    # again.
    cur.execute(
        """
        ALTER TABLE variants ADD COLUMN system_prompt VARCHAR;
        ALTER TABLE variants ADD COLUMN max_concurrency INTEGER;
        ALTER TABLE variants ADD COLUMN requests_per_minute INTEGER;
        ALTER TABLE variants ADD COLUMN tokens_per_minute INTEGER;
        ALTER TABLE responses ADD COLUMN request_body JSON;
        ALTER TABLE responses ADD COLUMN run_id VARCHAR;
        CREATE TABLE generation_runs (
            run_id            VARCHAR PRIMARY KEY,
            study_id          VARCHAR,
            variant           VARCHAR NOT NULL,
            origin            VARCHAR NOT NULL,
            status            VARCHAR NOT NULL,
            total             INTEGER NOT NULL DEFAULT 0,
            succeeded         INTEGER NOT NULL DEFAULT 0,
            failed            INTEGER NOT NULL DEFAULT 0,
            input_tokens      BIGINT NOT NULL DEFAULT 0,
            output_tokens     BIGINT NOT NULL DEFAULT 0,
            cost              DOUBLE NOT NULL DEFAULT 0,
            estimated_cost    DOUBLE,
            budget            DOUBLE,
            cancel_requested  BOOLEAN NOT NULL DEFAULT false,
            pid               INTEGER,
            host              VARCHAR,
            message           VARCHAR,
            started_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
            updated_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
            finished_at       TIMESTAMP
        );
        CREATE TABLE provider_batches (
            batch_id       VARCHAR PRIMARY KEY,
            variant        VARCHAR NOT NULL,
            provider       VARCHAR NOT NULL,
            run_id         VARCHAR,
            request_count  INTEGER NOT NULL,
            status         VARCHAR NOT NULL,
            detail         JSON,
            submitted_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
            updated_at     TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE TABLE provider_batch_items (
            batch_id      VARCHAR NOT NULL,
            custom_id     VARCHAR NOT NULL,
            prompt_id     VARCHAR NOT NULL,
            request_hash  VARCHAR NOT NULL,
            PRIMARY KEY (batch_id, custom_id)
        );
        """
    )


@migration("0006_review_workflow")
def _review_workflow(cur: duckdb.DuckDBPyConnection) -> None:
    # studies: the review settings (rubric criteria, reason tags, what to do with answers that
    # name their own model, the per-slice minimum the queue fills first).
    # judgments: per-criterion choices (unblinded), reason tags, and ``undone_at`` for a
    # reviewer's undo (rows are never deleted; statistics read only rows without it).
    # skips: a reviewer's skipped pairs with the reason (never offered to them again).
    # gold_items: pairs an admin marked with the expected (unblinded) verdict.
    cur.execute(
        """
        ALTER TABLE studies ADD COLUMN rubric JSON;
        ALTER TABLE studies ADD COLUMN reason_tags JSON;
        ALTER TABLE studies ADD COLUMN identity_policy VARCHAR DEFAULT 'mask';
        ALTER TABLE studies ADD COLUMN slice_minimum INTEGER DEFAULT 30;
        ALTER TABLE judgments ADD COLUMN criteria JSON;
        ALTER TABLE judgments ADD COLUMN reason_tags JSON;
        ALTER TABLE judgments ADD COLUMN undone_at TIMESTAMP;
        CREATE TABLE skips (
            study_id    VARCHAR NOT NULL,
            pair_id     VARCHAR NOT NULL,
            reviewer    VARCHAR NOT NULL,
            reason      VARCHAR NOT NULL,
            created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (study_id, pair_id, reviewer)
        );
        CREATE TABLE gold_items (
            study_id    VARCHAR NOT NULL,
            pair_id     VARCHAR NOT NULL,
            expected    VARCHAR NOT NULL
                        CHECK (expected IN ('baseline', 'candidate', 'tie', 'both_bad')),
            note        VARCHAR,
            marked_by   VARCHAR NOT NULL,
            created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (study_id, pair_id)
        );
        """
    )


@migration("0007_judges_and_evaluators")
def _judges_and_evaluators(cur: duckdb.DuckDBPyConnection) -> None:
    # judgments.reviewer_type: 'human' or 'judge' (an LLM judge). Judge verdicts never hold a
    # human review slot and never enter the human statistics unless an admin allows it.
    # judge_calls: each call of an LLM judge on a pair in one presentation order, with the
    # unblinded verdict it gave (NULL when the call or its parsing failed) and its rationale.
    # evaluation_scores: evaluator values per answer (``against`` = '') or per pair of answers
    # (``variant`` the candidate, ``against`` the baseline); ``config_hash`` identifies the
    # options the evaluator was built with ('' = defaults). Replaces ``evaluations``.
    cur.execute(
        """
        ALTER TABLE judgments ADD COLUMN reviewer_type VARCHAR DEFAULT 'human';
        UPDATE judgments SET reviewer_type = CASE
            WHEN starts_with(reviewer, 'judge:') THEN 'judge' ELSE 'human' END;
        DELETE FROM reservations WHERE starts_with(reviewer, 'judge:');
        CREATE TABLE judge_calls (
            study_id       VARCHAR NOT NULL,
            pair_id        VARCHAR NOT NULL,
            judge_variant  VARCHAR NOT NULL,
            rubric_hash    VARCHAR NOT NULL,
            left_role      VARCHAR NOT NULL CHECK (left_role IN ('baseline', 'candidate')),
            verdict        VARCHAR
                           CHECK (verdict IN ('baseline', 'candidate', 'tie', 'both_bad')),
            rationale      VARCHAR,
            raw_text       VARCHAR,
            error          VARCHAR,
            request_hash   VARCHAR,
            input_tokens   BIGINT,
            output_tokens  BIGINT,
            cost_usd       DOUBLE,
            latency_ms     DOUBLE,
            created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (study_id, pair_id, judge_variant, rubric_hash, left_role)
        );
        CREATE TABLE evaluation_scores (
            prompt_id    VARCHAR NOT NULL,
            variant      VARCHAR NOT NULL,
            against      VARCHAR NOT NULL DEFAULT '',
            evaluator    VARCHAR NOT NULL,
            config_hash  VARCHAR NOT NULL DEFAULT '',
            version      INTEGER NOT NULL,
            value        DOUBLE,
            label        VARCHAR,
            created_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (prompt_id, variant, against, evaluator, config_hash)
        );
        INSERT INTO evaluation_scores
            (prompt_id, variant, against, evaluator, config_hash, version, value, label,
             created_at)
        SELECT prompt_id, variant, '', evaluator, '', version, value, label, created_at
        FROM evaluations;
        DROP TABLE evaluations;
        """
    )
