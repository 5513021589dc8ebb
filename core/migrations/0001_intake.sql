-- Appservice intake: transactions seen and the durable event queue.
CREATE TABLE appservice_txn (
    txn_id      TEXT PRIMARY KEY NOT NULL,
    received_at BIGINT NOT NULL,
    event_count BIGINT NOT NULL
);

CREATE TABLE event_queue (
    seq         {{serial_key}},
    event_id    TEXT NOT NULL UNIQUE,
    room_id     TEXT NOT NULL,
    sender      TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    body        TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending',
    attempts    BIGINT NOT NULL DEFAULT 0,
    not_before  BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0,
    last_error  TEXT,
    finished_at BIGINT
);
CREATE INDEX event_queue_ready ON event_queue (state, seq);
CREATE INDEX event_queue_finished ON event_queue (finished_at);

-- Which handler already applied its effects for which event, so a retry redoes only the rest.
CREATE TABLE event_handled (
    event_id   TEXT NOT NULL,
    handler    TEXT NOT NULL,
    handled_at BIGINT NOT NULL,
    PRIMARY KEY (event_id, handler)
);
