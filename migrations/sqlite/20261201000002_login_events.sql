-- Sign-in events, appended by the write-behind queue. Times are milliseconds since the epoch.
CREATE TABLE login_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    provider    TEXT    NOT NULL,
    ip          TEXT,
    at          INTEGER NOT NULL
);
CREATE INDEX login_events_account ON login_events (account_id, at);
