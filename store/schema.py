"""The store's schema and its migrations, portable between SQLite and PostgreSQL.

Times are stored as epoch seconds (floating point) so both backends compare them the
same way. ``meta.schema_version`` is checked at open: an older store is migrated, a newer
one is refused with a clear error.
"""

from __future__ import annotations

SCHEMA_VERSION = 2

# Each migration is a list of statements; MIGRATIONS[n] takes version n to n + 1.
# ``{pk}`` is the auto-increment primary key type of the backend, ``{blob}`` its bytes type.
MIGRATIONS: list[list[str]] = [
    [
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE customers (
            id {pk}, platform TEXT NOT NULL, handle TEXT NOT NULL, name TEXT,
            followers BIGINT NOT NULL DEFAULT 0, first_seen DOUBLE PRECISION NOT NULL,
            UNIQUE (platform, handle))""",
        """CREATE TABLE cases (
            id {pk}, platform TEXT NOT NULL, customer_id BIGINT NOT NULL,
            customer TEXT NOT NULL, status TEXT NOT NULL,
            opened_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,
            last_activity DOUBLE PRECISION NOT NULL,
            escalation_tier INTEGER NOT NULL DEFAULT 0, phone_callback INTEGER NOT NULL DEFAULT 0,
            assignee TEXT, waiting_since DOUBLE PRECISION, first_response_at DOUBLE PRECISION,
            last_response_at DOUBLE PRECISION, resolved_at DOUBLE PRECISION,
            closed_at DOUBLE PRECISION, snoozed_until DOUBLE PRECISION,
            promised_by DOUBLE PRECISION, promise_kept INTEGER,
            tags TEXT NOT NULL DEFAULT '[]', heat_parts TEXT NOT NULL DEFAULT '{{}}',
            heat_static DOUBLE PRECISION NOT NULL DEFAULT 0, priority TEXT NOT NULL DEFAULT 'normal',
            sentiment DOUBLE PRECISION NOT NULL DEFAULT 0, followers BIGINT NOT NULL DEFAULT 0,
            mention_count INTEGER NOT NULL DEFAULT 0, last_text TEXT NOT NULL DEFAULT '',
            last_mention_at DOUBLE PRECISION, prior_cases INTEGER NOT NULL DEFAULT 0,
            linked_case_id BIGINT, suggestion TEXT, ever_acknowledged INTEGER NOT NULL DEFAULT 0,
            version INTEGER NOT NULL DEFAULT 0)""",
        "CREATE INDEX cases_status ON cases (status)",
        "CREATE INDEX cases_customer ON cases (customer_id, last_activity)",
        """CREATE TABLE mentions (
            id {pk}, platform TEXT NOT NULL, external_id TEXT NOT NULL, case_id BIGINT,
            customer_id BIGINT, author TEXT NOT NULL, author_name TEXT,
            followers BIGINT NOT NULL DEFAULT 0, text TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL, url TEXT, in_reply_to TEXT, lang TEXT,
            raw TEXT, sentiment DOUBLE PRECISION, deleted INTEGER NOT NULL DEFAULT 0,
            edited INTEGER NOT NULL DEFAULT 0, source TEXT, from_brand INTEGER NOT NULL DEFAULT 0,
            ingested_at DOUBLE PRECISION NOT NULL,
            UNIQUE (platform, external_id))""",
        "CREATE INDEX mentions_case ON mentions (case_id, id)",
        """CREATE TABLE events (
            id {pk}, case_id BIGINT NOT NULL, at DOUBLE PRECISION NOT NULL, kind TEXT NOT NULL,
            agent TEXT, body TEXT NOT NULL DEFAULT '', data TEXT NOT NULL DEFAULT '{{}}',
            mention_id BIGINT)""",
        "CREATE INDEX events_case ON events (case_id, id)",
        """CREATE TABLE outbox (
            id {pk}, case_id BIGINT NOT NULL, event_id BIGINT NOT NULL, kind TEXT NOT NULL,
            platform TEXT NOT NULL, text TEXT NOT NULL, idempotency_key TEXT NOT NULL UNIQUE,
            not_before DOUBLE PRECISION NOT NULL, next_attempt_at DOUBLE PRECISION NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
            lease_until DOUBLE PRECISION, agent TEXT, in_reply_to TEXT, recipient TEXT,
            remote_id TEXT, remote_url TEXT, error TEXT, data TEXT NOT NULL DEFAULT '{{}}',
            updated_at DOUBLE PRECISION NOT NULL)""",
        "CREATE INDEX outbox_due ON outbox (state, next_attempt_at)",
        "CREATE INDEX outbox_remote ON outbox (platform, remote_id)",
        """CREATE TABLE changes (
            seq {pk}, case_id BIGINT, kind TEXT NOT NULL, at DOUBLE PRECISION NOT NULL)""",
        """CREATE TABLE cursors (
            feed TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at DOUBLE PRECISION NOT NULL)""",
        """CREATE TABLE feed_health (
            feed TEXT PRIMARY KEY, data TEXT NOT NULL, updated_at DOUBLE PRECISION NOT NULL)""",
        """CREATE TABLE presence (
            case_id BIGINT NOT NULL, agent TEXT NOT NULL, state TEXT NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (case_id, agent))""",
        """CREATE TABLE leases (
            name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at DOUBLE PRECISION NOT NULL)""",
        """CREATE TABLE qa (
            id {pk}, case_id BIGINT NOT NULL, agent TEXT NOT NULL, score INTEGER NOT NULL,
            note TEXT, at DOUBLE PRECISION NOT NULL)""",
    ],
    [
        # v2: the open cases, hottest stored heat first, for a desk's first screen
        # (Store.cases(open_only=True, order="heat", limit=N) reads N entries of this, not
        # every case ever stored). Partial, so resolved and closed cases cost nothing here;
        # the condition is word for word the one Store.cases writes for open_only.
        """CREATE INDEX cases_open_heat ON cases (heat_static DESC, id)
            WHERE status NOT IN ('resolved', 'closed')""",
    ],
]
assert len(MIGRATIONS) == SCHEMA_VERSION
