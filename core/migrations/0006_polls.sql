-- Polls: the question and options, the voter list frozen at opening, responses as received.
CREATE TABLE poll (
    poll_id      TEXT PRIMARY KEY NOT NULL,
    room_id      TEXT NOT NULL,
    author       TEXT NOT NULL,
    spec         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    deadline     BIGINT,
    reminded_at  BIGINT,
    closed_at    BIGINT,
    end_event_id TEXT,
    result       TEXT
);
CREATE INDEX poll_room ON poll (room_id, created_at);
CREATE INDEX poll_deadline ON poll (closed_at, deadline);

CREATE TABLE poll_voter (
    poll_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (poll_id, user_id)
);

CREATE TABLE poll_response (
    seq      {{serial_key}},
    event_id TEXT NOT NULL UNIQUE,
    poll_id  TEXT NOT NULL,
    voter    TEXT NOT NULL,
    answers  TEXT NOT NULL,
    ts       BIGINT NOT NULL
);
CREATE INDEX poll_response_poll ON poll_response (poll_id, seq);
