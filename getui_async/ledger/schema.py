"""The ledger's tables, for SQLite and PostgreSQL, and how an older SQLite ledger is brought up to date.

One table of *marks*: a row per (day, recipient, lineage), ``delivered`` 0 for a claim (``at``: when
claimed, seconds since the epoch) and 1 for a delivery. The unique key is the index every claim uses:
one chunk's recipients on one day are a handful of B-tree seeks. Claims also have a small partial
index on ``at``, so expiring them and counting them never scans the deliveries. Dead recipients have
their own table, keyed by recipient. ``meta`` holds the schema version and the ledger's zone.

Version 1 (a ``deliveries`` table per campaign, filled at checkpoints) becomes version 2 by copying its
rows as deliveries of a lineage named after the campaign.
"""

from __future__ import annotations

from typing import Final

__all__ = ["PG_CREATE", "PG_SCHEMA", "SCHEMA_VERSION", "SQLITE_CREATE", "SQLITE_FROM_V1"]

SCHEMA_VERSION: Final = 2

SQLITE_CREATE: Final = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # A rowid table with a unique key, not WITHOUT ROWID: rows of one chunk are appended side by side,
    # so settling them (delivered, at) rewrites a few pages, not one random key page per recipient.
    "CREATE TABLE IF NOT EXISTS marks (day INTEGER NOT NULL, kind INTEGER NOT NULL, target TEXT NOT NULL,"
    " lineage TEXT NOT NULL, delivered INTEGER NOT NULL, at INTEGER NOT NULL,"
    " UNIQUE (day, kind, target, lineage))",
    "CREATE INDEX IF NOT EXISTS marks_claims ON marks (at) WHERE delivered = 0",
    "CREATE TABLE IF NOT EXISTS dead (kind INTEGER NOT NULL, target TEXT NOT NULL, since TEXT NOT NULL,"
    " PRIMARY KEY (kind, target)) WITHOUT ROWID",
)

SQLITE_FROM_V1: Final = (
    "INSERT OR IGNORE INTO marks SELECT d.day, d.kind, d.target, c.name, 1, 0"
    " FROM deliveries d JOIN campaigns c ON c.id = d.campaign",
    "INSERT OR IGNORE INTO marks SELECT p.day, p.kind, p.target, c.name, 1, 0"
    " FROM pending p JOIN campaigns c ON c.id = p.campaign",
    "DROP TABLE deliveries",
    "DROP TABLE pending",
    "DROP TABLE campaigns",
)

PG_SCHEMA: Final = "getui_ledger"

#: Tables and the two functions that make a claim or a settlement one round trip. A claim takes the
#: day's transaction-scoped advisory lock (key 1196180551 is "GLDG"), so claims of one day serialise and
#: each sees the ones before it; the statement after the lock counts. A claim is one short statement,
#: so serialising them costs far less than the requests they guard.
PG_CREATE: Final = """
CREATE SCHEMA IF NOT EXISTS getui_ledger;
CREATE TABLE IF NOT EXISTS getui_ledger.meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS getui_ledger.marks (
    day integer NOT NULL, kind smallint NOT NULL, target text NOT NULL, lineage text NOT NULL,
    delivered boolean NOT NULL, at bigint NOT NULL,
    PRIMARY KEY (day, kind, target, lineage)
);
CREATE INDEX IF NOT EXISTS marks_claims ON getui_ledger.marks (at) WHERE NOT delivered;
CREATE TABLE IF NOT EXISTS getui_ledger.dead (
    kind smallint NOT NULL, target text NOT NULL, since text NOT NULL, PRIMARY KEY (kind, target)
);
CREATE OR REPLACE FUNCTION getui_ledger.claim(
    p_day integer, p_kind smallint, p_targets text[], p_lineage text, p_cap integer,
    p_live_after bigint, p_now bigint, p_suppress boolean
) RETURNS TABLE (o_target text, o_since text, o_held integer) LANGUAGE plpgsql
SET enable_seqscan = off  -- a new table's statistics say "tiny": never scan a day's rows per claim
AS $fn$
BEGIN
    IF p_cap IS NOT NULL THEN
        -- One lock per ledger day (never one per recipient: a lock table has a few thousand slots).
        PERFORM pg_advisory_xact_lock(1196180551, p_day);
    END IF;
    RETURN QUERY
    WITH keys AS (SELECT DISTINCT u.t FROM unnest(p_targets) AS u(t)),
    gone AS (
        SELECT k.t, d.since FROM keys AS k JOIN getui_ledger.dead AS d ON d.kind = p_kind AND d.target = k.t
        WHERE p_suppress
    ),
    held AS (  -- a primary-key look-up per recipient, whatever the planner thinks of the table's size
        SELECT k.t, c.n FROM keys AS k CROSS JOIN LATERAL (
            SELECT count(*)::integer AS n FROM getui_ledger.marks AS m
            WHERE m.day = p_day AND m.kind = p_kind AND m.target = k.t
              AND m.lineage <> p_lineage AND (m.delivered OR m.at > p_live_after)
        ) AS c
        WHERE p_cap IS NOT NULL AND c.n > 0
    ),
    verdict AS (
        SELECT k.t, g.since, coalesce(h.n, 0) AS n FROM keys AS k
        LEFT JOIN gone AS g ON g.t = k.t LEFT JOIN held AS h ON h.t = k.t
    ),
    claimed AS (
        INSERT INTO getui_ledger.marks AS m (day, kind, target, lineage, delivered, at)
        SELECT p_day, p_kind, v.t, p_lineage, false, p_now FROM verdict AS v
        WHERE p_cap IS NOT NULL AND v.since IS NULL AND v.n < p_cap
        ON CONFLICT (day, kind, target, lineage) DO UPDATE SET at = excluded.at WHERE NOT m.delivered
    )
    SELECT v.t, v.since, v.n FROM verdict AS v
    WHERE v.since IS NOT NULL OR (p_cap IS NOT NULL AND v.n >= p_cap);
END
$fn$;
CREATE OR REPLACE FUNCTION getui_ledger.settle(
    p_lineage text, p_now bigint,
    d_days integer[], d_kinds smallint[], d_targets text[],
    r_days integer[], r_kinds smallint[], r_targets text[],
    x_kinds smallint[], x_targets text[], x_since text[]
) RETURNS void LANGUAGE plpgsql
SET enable_seqscan = off
AS $fn$
BEGIN
    INSERT INTO getui_ledger.marks AS m (day, kind, target, lineage, delivered, at)
    SELECT DISTINCT u.d, u.k, u.t, p_lineage, true, p_now
    FROM unnest(d_days, d_kinds, d_targets) AS u(d, k, t)
    ON CONFLICT (day, kind, target, lineage) DO UPDATE SET delivered = true, at = excluded.at;
    DELETE FROM getui_ledger.marks AS m USING unnest(r_days, r_kinds, r_targets) AS u(d, k, t)
    WHERE m.day = u.d AND m.kind = u.k AND m.target = u.t AND m.lineage = p_lineage AND NOT m.delivered;
    INSERT INTO getui_ledger.dead (kind, target, since)
    SELECT u.k, u.t, u.s FROM unnest(x_kinds, x_targets, x_since) AS u(k, t, s)
    ON CONFLICT (kind, target) DO NOTHING;
END
$fn$;
"""
