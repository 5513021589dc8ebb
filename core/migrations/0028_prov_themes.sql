-- Thematic rooms a federation's moderators made (`!salon créer`): the planner makes each one a
-- room of its federation. `revision` grows with every change; the room is made, or its
-- moderators set, until `realized` reaches it; a pass that failed waits until `next_attempt`.
CREATE TABLE prov_theme (
    room_key     TEXT PRIMARY KEY,
    federation   TEXT NOT NULL,
    name         TEXT NOT NULL,
    -- 'members', 'public' or 'knock'.
    access       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    revision     BIGINT NOT NULL,
    realized     BIGINT NOT NULL,
    next_attempt BIGINT NOT NULL
);
CREATE INDEX prov_theme_federation ON prov_theme (federation);

-- How many thematic rooms each federation has: the row a new one's count is taken on, so that
-- two made at once cannot pass the limit together.
CREATE TABLE prov_theme_count (
    federation TEXT PRIMARY KEY,
    n          BIGINT NOT NULL
);

-- The moderators the referent chose for a thematic room (the federation's office holders
-- moderate it anyway).
CREATE TABLE prov_theme_moderator (
    room_key TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    PRIMARY KEY (room_key, user_id)
);
