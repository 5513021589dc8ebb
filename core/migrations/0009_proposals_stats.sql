-- Proposals: a federation's message submitted to the national selection room, kept by the
-- national team, then published to every federation with credit.
CREATE TABLE proposal (
    proposal_id     {{serial_key}},
    command_event   TEXT NOT NULL UNIQUE,
    federation      TEXT NOT NULL,
    source_room     TEXT NOT NULL,
    source_event    TEXT NOT NULL,
    proposer        TEXT NOT NULL,
    content         TEXT NOT NULL,
    copy_event      TEXT,
    notice_event    TEXT,
    kept_by         TEXT,
    kept_at         BIGINT,
    published_in    TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX proposal_copy ON proposal (copy_event);
CREATE INDEX proposal_notice ON proposal (notice_event);

-- Links of a broadcast, rewritten through Relais's redirect: counts only.
CREATE TABLE broadcast_link (
    token        TEXT PRIMARY KEY NOT NULL,
    broadcast_id BIGINT NOT NULL,
    url          TEXT NOT NULL,
    clicks       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX broadcast_link_of ON broadcast_link (broadcast_id);

-- Reach and reactions per copy: a keyed hash of the member, never their id, so that each
-- counts once and nobody can be looked up.
CREATE TABLE broadcast_read (
    broadcast_id BIGINT NOT NULL,
    room_id      TEXT NOT NULL,
    reader       TEXT NOT NULL,
    PRIMARY KEY (broadcast_id, room_id, reader)
);
CREATE TABLE broadcast_reaction (
    broadcast_id BIGINT NOT NULL,
    room_id      TEXT NOT NULL,
    reactor      TEXT NOT NULL,
    reaction     TEXT NOT NULL,
    PRIMARY KEY (broadcast_id, room_id, reactor, reaction)
);

-- Local notes federations add to what they received (!compléter).
CREATE TABLE broadcast_note (
    command_event TEXT PRIMARY KEY NOT NULL,
    broadcast_id  BIGINT NOT NULL,
    room_id       TEXT NOT NULL,
    event_id      TEXT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX broadcast_delivery_event ON broadcast_delivery (event_id);
-- Read receipts look up the copies delivered in their room.
CREATE INDEX broadcast_delivery_room ON broadcast_delivery (room_id, delivered_at);
