-- Notices for game clients. A client list is served from memory; the store is read when a node
-- reloads the notices that have not ended (notices_end), and by the admin pages (by id, or by
-- locale and id).
CREATE TABLE notices (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title       TEXT        NOT NULL,
    content     TEXT        NOT NULL,
    -- Higher is shown first.
    sort        INTEGER     NOT NULL DEFAULT 0,
    -- Shown from start_at (inclusive) until end_at (exclusive).
    start_at    TIMESTAMPTZ NOT NULL,
    end_at      TIMESTAMPTZ NOT NULL,
    -- BCP 47 tag in canonical case; empty for every locale.
    locale      TEXT        NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT notices_start_before_end CHECK (start_at < end_at)
);
CREATE INDEX notices_end ON notices (end_at);
CREATE INDEX notices_locale ON notices (locale, id);
