-- Gateway integration: single-session epochs and handshake-token nonces.
ALTER TABLE sessions ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;

CREATE TABLE token_nonces (
    nonce       TEXT    PRIMARY KEY,
    account_id  INTEGER NOT NULL,
    session_id  TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX token_nonces_expiry ON token_nonces (expires_at);
