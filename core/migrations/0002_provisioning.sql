-- Provisioning: what Relais applied from the membership file, its journal and the audit log.
CREATE TABLE prov_room (
    room_key   TEXT PRIMARY KEY NOT NULL,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    parent_key TEXT,
    room_id    TEXT NOT NULL,
    moderators TEXT NOT NULL DEFAULT '[]'
);

-- The last applied row of each member: only the columns Relais reads, never the others.
CREATE TABLE prov_member (
    member_id  TEXT PRIMARY KEY NOT NULL,
    record     TEXT NOT NULL,
    active     BIGINT NOT NULL,
    matrix_id  TEXT,
    email      TEXT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX prov_member_matrix ON prov_member (matrix_id);

CREATE TABLE prov_access (
    room_key  TEXT NOT NULL,
    member_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    PRIMARY KEY (room_key, member_id)
);
CREATE INDEX prov_access_member ON prov_access (member_id);

CREATE TABLE prov_subscription (
    room_key  TEXT NOT NULL,
    member_id TEXT NOT NULL,
    PRIMARY KEY (room_key, member_id)
);
CREATE INDEX prov_subscription_member ON prov_subscription (member_id);

CREATE TABLE prov_run (
    run_id      {{serial_key}},
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    actor       TEXT NOT NULL,
    source      TEXT NOT NULL,
    state       TEXT NOT NULL,
    summary     TEXT NOT NULL,
    errors      TEXT NOT NULL
);

CREATE TABLE prov_action (
    run_id   BIGINT NOT NULL,
    seq      BIGINT NOT NULL,
    room_key TEXT,
    payload  TEXT NOT NULL,
    state    TEXT NOT NULL DEFAULT 'pending',
    error    TEXT,
    done_at  BIGINT,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX prov_action_state ON prov_action (state, run_id, seq);

CREATE TABLE audit_log (
    id     {{serial_key}},
    at     BIGINT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
