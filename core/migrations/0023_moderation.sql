-- Moderation across a federation (or everywhere): a moderator's ban, unban, kick of one user or
-- purge of their recent messages, with its reason, carried out in every room of its scope. Each room's outcome is recorded once
-- done, so an action interrupted by a crash is finished, never repeated; provisioning reads the
-- bans so that an import never invites a banned user back, and the bans are published as a
-- policy list other homeservers may follow.
CREATE TABLE moderation_action (
    action_id     {{serial_key}},
    command_event TEXT NOT NULL UNIQUE,
    kind          TEXT NOT NULL CHECK (kind IN ('ban', 'unban', 'kick', 'purge')),
    target        TEXT NOT NULL,
    -- A federation's key, or '*' for every room Relais provisions.
    scope         TEXT NOT NULL,
    reason        TEXT NOT NULL,
    -- A purge: how many of the user's latest messages to redact in each room.
    amount        BIGINT NOT NULL DEFAULT 0,
    moderator     TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    -- When the party's policy list (`m.policy.rule.user`) reflected this ban or unban.
    published_at  BIGINT
);
CREATE INDEX moderation_action_target ON moderation_action (target);

CREATE TABLE moderation_room (
    action_id BIGINT NOT NULL,
    room_id   TEXT NOT NULL,
    done_at   BIGINT,
    -- 'done', or why the homeserver refused (the user was not there, …).
    outcome   TEXT,
    PRIMARY KEY (action_id, room_id)
);
CREATE INDEX moderation_room_pending ON moderation_room (done_at);

-- Each federation's moderation room (and the national one, scope '*'): where members' reports
-- reach its moderators, and where they may act on them. Created by the bot on the first report.
CREATE TABLE moderation_desk (
    scope   TEXT PRIMARY KEY,
    room_id TEXT NOT NULL UNIQUE
);

-- A member's report (`!signaler` as a reply), posted once in the moderation room.
CREATE TABLE moderation_report (
    command_event  TEXT PRIMARY KEY,
    scope          TEXT NOT NULL,
    room_id        TEXT NOT NULL,
    reported_event TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    posted_event   TEXT
);

-- Flood protection: each member's messages in a room within the current window, and the mutes
-- it decided (lifted by the bots' clock). Windows older than a day are deleted.
CREATE TABLE flood_window (
    room_id      TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    messages     BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);

CREATE TABLE flood_mute (
    room_id   TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    muted_at  BIGINT NOT NULL,
    until_at  BIGINT NOT NULL,
    lifted_at BIGINT,
    PRIMARY KEY (room_id, user_id, muted_at)
);
CREATE INDEX flood_mute_due ON flood_mute (lifted_at, until_at);
