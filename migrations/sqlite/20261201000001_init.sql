-- Accounts, their ways in, and session families. Times are milliseconds since the epoch.

CREATE TABLE accounts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    zone           INTEGER NOT NULL,
    username       TEXT,
    username_key   TEXT UNIQUE,
    password_hash  TEXT,
    default_color  TEXT,
    status         TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'banned')),
    ban_reason     TEXT,
    banned_until   INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    register_ip    TEXT,
    last_login_ip  TEXT,
    last_login_at  INTEGER
);

CREATE TABLE identities (
    provider    TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX identities_account ON identities (account_id);

CREATE TABLE sessions (
    id                   TEXT    PRIMARY KEY,
    account_id           INTEGER NOT NULL REFERENCES accounts (id),
    secret_hash          BLOB    NOT NULL,
    retired              BLOB    NOT NULL,
    generation           INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    expires_at           INTEGER NOT NULL,
    absolute_expires_at  INTEGER NOT NULL,
    revoked_at           INTEGER,
    revoke_reason        TEXT
);
CREATE INDEX sessions_account ON sessions (account_id);
