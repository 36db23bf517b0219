-- Accounts, their ways in, and session families.

-- Milliseconds since the epoch to and from timestamps: the service keeps time as integers.
CREATE OR REPLACE FUNCTION lares_ts(ms BIGINT) RETURNS TIMESTAMPTZ
    LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT to_timestamp(ms::float8 / 1000) $$;
CREATE OR REPLACE FUNCTION lares_ms(ts TIMESTAMPTZ) RETURNS BIGINT
    LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT (extract(epoch FROM ts) * 1000)::int8 $$;

CREATE TABLE accounts (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    zone           INTEGER     NOT NULL,
    username       TEXT,
    -- Lower-cased username: the unique, case-insensitive key.
    username_key   TEXT UNIQUE,
    password_hash  TEXT,
    default_color  TEXT,
    status         TEXT        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'banned')),
    ban_reason     TEXT,
    banned_until   TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    register_ip    TEXT,
    last_login_ip  TEXT,
    last_login_at  TIMESTAMPTZ
);

-- Platform identities and device ids, keyed by (provider, subject).
CREATE TABLE identities (
    provider    TEXT        NOT NULL,
    subject     TEXT        NOT NULL,
    account_id  BIGINT      NOT NULL REFERENCES accounts (id),
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX identities_account ON identities (account_id);

-- One row per session family; the id is stable across rotations of its credential.
CREATE TABLE sessions (
    id                   TEXT        PRIMARY KEY,
    account_id           BIGINT      NOT NULL REFERENCES accounts (id),
    -- Keyed hash of the current secret; the secret itself is never stored.
    secret_hash          BYTEA       NOT NULL,
    -- Recently retired secret hashes with their retirement times, for reuse detection.
    retired              BYTEA       NOT NULL,
    generation           BIGINT      NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL,
    expires_at           TIMESTAMPTZ NOT NULL,
    absolute_expires_at  TIMESTAMPTZ NOT NULL,
    revoked_at           TIMESTAMPTZ,
    revoke_reason        TEXT
);
CREATE INDEX sessions_account ON sessions (account_id);
