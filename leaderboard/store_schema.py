"""The leaderboard database's schema and its migrations, apart from the queries
(``store.py``). The schema version lives in ``PRAGMA user_version``;
``MIGRATIONS[i]`` brings a database from version ``i`` to ``i + 1``. A
migration keeps the schema it migrated to as it was written (so v2's and v3's
table definitions repeat columns on purpose)."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from psalm_bench.errors import InputError

# MIGRATIONS[i]: SQL that takes schema version i to i + 1.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE results (
        model            TEXT NOT NULL,
        task             TEXT NOT NULL,
        benchmark        TEXT NOT NULL,
        split            TEXT NOT NULL,
        metrics          TEXT NOT NULL,   -- JSON object, metric -> percent or null
        n_samples        INTEGER,
        records_sha256   TEXT,            -- sha256 of the canonical records JSON, NULL if none
        result_path      TEXT,            -- the result file it was added from, NULL if a dict
        toolkit_version  TEXT NOT NULL,
        gt_sha256        TEXT NOT NULL,
        pred_sha256      TEXT NOT NULL,
        params           TEXT NOT NULL,   -- JSON object
        source           TEXT NOT NULL,
        added_at         TEXT NOT NULL,   -- ISO 8601, UTC
        PRIMARY KEY (model, task, benchmark, split)
    );
    CREATE INDEX results_board ON results (task, benchmark, split);
    CREATE TABLE model_meta (
        model  TEXT NOT NULL,
        key    TEXT NOT NULL,
        value  TEXT NOT NULL,
        PRIMARY KEY (model, key)
    );
    """,
    # 1 -> 2: `published` rows (no GT hash, a citation) get their own key beside
    # measured ones; the `benchmarks` registry of each board's ground truth.
    """
    CREATE TABLE results_v2 (
        model            TEXT NOT NULL,
        task             TEXT NOT NULL,
        benchmark        TEXT NOT NULL,
        split            TEXT NOT NULL,
        source           TEXT NOT NULL,
        metrics          TEXT NOT NULL,
        n_samples        INTEGER,
        records_sha256   TEXT,
        result_path      TEXT,
        toolkit_version  TEXT NOT NULL,
        gt_sha256        TEXT,            -- NULL exactly for published rows
        pred_sha256      TEXT NOT NULL,
        params           TEXT NOT NULL,
        citation         TEXT,            -- JSON: where a published number is printed
        added_at         TEXT NOT NULL,
        PRIMARY KEY (model, task, benchmark, split, source),
        CHECK ((source = 'published') = (gt_sha256 IS NULL))
    );
    INSERT INTO results_v2 (model, task, benchmark, split, source, metrics, n_samples, records_sha256, result_path,
                            toolkit_version, gt_sha256, pred_sha256, params, citation, added_at)
        SELECT model, task, benchmark, split, source, metrics, n_samples, records_sha256, result_path,
               toolkit_version, gt_sha256, pred_sha256, params, NULL, added_at FROM results;
    DROP TABLE results;
    ALTER TABLE results_v2 RENAME TO results;
    CREATE INDEX results_board ON results (task, benchmark, split);
    CREATE TABLE benchmarks (
        task           TEXT NOT NULL,
        benchmark      TEXT NOT NULL,
        split          TEXT NOT NULL,
        gt_path        TEXT NOT NULL,   -- absolute
        gt_sha256      TEXT NOT NULL,
        options        TEXT NOT NULL,   -- JSON object: the evaluation options the board is scored with
        registered_at  TEXT NOT NULL,
        PRIMARY KEY (task, benchmark, split)
    );
    """,
]
# 2 -> 3: boards are keyed by (task, benchmark, version, split): world results and real-data results never
# share one. Rows of older databases recorded no version: published rows are on the official data, the
# others are "unrecorded" (they may be world results) and are kept apart until re-added.
MIGRATIONS.append(
    """
    CREATE TABLE results_v3 (
        model            TEXT NOT NULL,
        task             TEXT NOT NULL,
        benchmark        TEXT NOT NULL,
        version          TEXT NOT NULL,   -- official, world-v1.0.0-small-seed0, unrecorded (before schema 3)
        split            TEXT NOT NULL,
        source           TEXT NOT NULL,
        metrics          TEXT NOT NULL,
        n_samples        INTEGER,
        records_sha256   TEXT,
        result_path      TEXT,
        toolkit_version  TEXT NOT NULL,
        gt_sha256        TEXT,
        pred_sha256      TEXT NOT NULL,
        params           TEXT NOT NULL,
        citation         TEXT,
        added_at         TEXT NOT NULL,
        PRIMARY KEY (model, task, benchmark, version, split, source),
        CHECK ((source = 'published') = (gt_sha256 IS NULL))
    );
    INSERT INTO results_v3 (model, task, benchmark, version, split, source, metrics, n_samples, records_sha256, result_path,
                            toolkit_version, gt_sha256, pred_sha256, params, citation, added_at)
        SELECT model, task, benchmark, CASE WHEN source = 'published' THEN 'official' ELSE 'unrecorded' END, split, source,
               metrics, n_samples, records_sha256, result_path, toolkit_version, gt_sha256, pred_sha256, params, citation, added_at
        FROM results;
    DROP TABLE results;
    ALTER TABLE results_v3 RENAME TO results;
    CREATE INDEX results_board ON results (task, benchmark, version, split);
    CREATE TABLE benchmarks_v3 (
        task           TEXT NOT NULL,
        benchmark      TEXT NOT NULL,
        version        TEXT NOT NULL,
        split          TEXT NOT NULL,
        gt_path        TEXT NOT NULL,
        gt_sha256      TEXT NOT NULL,
        options        TEXT NOT NULL,
        registered_at  TEXT NOT NULL,
        PRIMARY KEY (task, benchmark, version, split)
    );
    INSERT INTO benchmarks_v3 (task, benchmark, version, split, gt_path, gt_sha256, options, registered_at)
        SELECT task, benchmark, 'unrecorded', split, gt_path, gt_sha256, options, registered_at FROM benchmarks;
    DROP TABLE benchmarks;
    ALTER TABLE benchmarks_v3 RENAME TO benchmarks;
    """
)
SCHEMA_VERSION = len(MIGRATIONS)
UNRECORDED = "unrecorded"  # rows added before schema version 3


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (no ';' inside our SQL literals)."""
    out = []
    for chunk in script.split(";"):
        lines = [line.split("--", 1)[0] for line in chunk.splitlines()]
        text = "\n".join(lines).strip()
        if text:
            out.append(text)
    return out


@contextmanager
def db_errors(path: Path) -> Iterator[None]:
    """SQLite failures (full disk, damaged pages, locks) as one line naming the database."""
    try:
        yield
    except sqlite3.Error as exc:
        raise InputError(f"database error: {exc}", file=path) from None


@contextmanager
def transaction(conn: sqlite3.Connection, path: Path) -> Iterator[None]:
    """One write transaction (BEGIN IMMEDIATE): committed whole or rolled back."""
    with db_errors(path):
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            # SQLite rolls back by itself on a full disk; a second ROLLBACK
            # would raise "no transaction is active" and hide the cause.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the database to SCHEMA_VERSION; refuse a newer schema or a foreign database."""
    conn.execute("PRAGMA foreign_keys = ON")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise InputError(
            f"database schema version {version} is newer than this psalm-bench reads (version {SCHEMA_VERSION}); upgrade psalm-bench",
            file=path,
        )
    if version == SCHEMA_VERSION:
        return
    with transaction(conn, path):
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have migrated
        if version == 0:
            tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
            if tables:
                raise InputError(
                    f"not a leaderboard database (it holds other tables: {', '.join(t[0] for t in tables[:5])})",
                    file=path,
                )
        for step in range(version, SCHEMA_VERSION):
            for statement in _statements(MIGRATIONS[step]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {step + 1}")
