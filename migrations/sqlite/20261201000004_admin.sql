-- The audit trail of admin calls, and indexes for searching accounts.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    target  TEXT    NOT NULL,
    -- What was asked, as JSON (never a password or key).
    detail  TEXT    NOT NULL
);
CREATE INDEX audit_log_target ON audit_log (target, id);
CREATE INDEX audit_log_actor ON audit_log (actor, id);

CREATE INDEX accounts_default_color ON accounts (default_color, id);
CREATE INDEX accounts_created ON accounts (created_at);
