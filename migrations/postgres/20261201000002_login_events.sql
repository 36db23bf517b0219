-- Sign-in events, appended by the write-behind queue.
CREATE TABLE login_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  BIGINT      NOT NULL REFERENCES accounts (id),
    provider    TEXT        NOT NULL,
    ip          TEXT,
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_events_account ON login_events (account_id, at);
