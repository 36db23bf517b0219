-- Gateway integration: single-session epochs and handshake-token nonces.

-- The sign-in epoch of a family under the single-session policy (0 when off).
ALTER TABLE sessions ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
-- The latest sign-in epoch of an account, used while Redis is away.
ALTER TABLE accounts ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;

-- Nonces of handshake tokens issued while Redis was away; each is consumed once.
CREATE TABLE token_nonces (
    nonce       TEXT        PRIMARY KEY,
    account_id  BIGINT      NOT NULL,
    session_id  TEXT        NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX token_nonces_expiry ON token_nonces (expires_at);
