-- The audit trail of admin calls, and indexes for searching accounts.
CREATE TABLE audit_log (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      TIMESTAMPTZ NOT NULL,
    actor   TEXT        NOT NULL,
    action  TEXT        NOT NULL,
    target  TEXT        NOT NULL,
    -- What was asked, as JSON (never a password or key).
    detail  TEXT        NOT NULL
);
CREATE INDEX audit_log_target ON audit_log (target, id);
CREATE INDEX audit_log_actor ON audit_log (actor, id);

CREATE INDEX accounts_username_prefix ON accounts (username_key text_pattern_ops);
CREATE INDEX accounts_default_color ON accounts (default_color, id);
CREATE INDEX accounts_created ON accounts (created_at);
CREATE INDEX accounts_banned ON accounts (id) WHERE status = 'banned';
