-- Notices for game clients. A client list is served from memory; the store is read when a node
-- reloads the notices that have not ended (notices_end), and by the admin pages (by id, or by
-- locale and id). Times are unix milliseconds.
CREATE TABLE notices (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    title       TEXT    NOT NULL,
    content     TEXT    NOT NULL,
    -- Higher is shown first.
    sort        INTEGER NOT NULL DEFAULT 0,
    -- Shown from start_at (inclusive) until end_at (exclusive).
    start_at    INTEGER NOT NULL,
    end_at      INTEGER NOT NULL,
    -- BCP 47 tag in canonical case; empty for every locale.
    locale      TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CHECK (start_at < end_at)
);
CREATE INDEX notices_end ON notices (end_at);
CREATE INDEX notices_locale ON notices (locale, id);
