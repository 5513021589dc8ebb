-- Broadcasts: a message of the national communication room copied to federations'
-- announcements rooms, each delivery recorded once.
CREATE TABLE broadcast (
    broadcast_id  {{serial_key}},
    command_event TEXT NOT NULL UNIQUE,
    source_room   TEXT NOT NULL,
    source_event  TEXT NOT NULL,
    sender        TEXT NOT NULL,
    content       TEXT NOT NULL,
    send_at       BIGINT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE broadcast_delivery (
    broadcast_id BIGINT NOT NULL,
    room_id      TEXT NOT NULL,
    federation   TEXT NOT NULL,
    event_id     TEXT,
    delivered_at BIGINT,
    PRIMARY KEY (broadcast_id, room_id)
);
CREATE INDEX broadcast_delivery_due ON broadcast_delivery (delivered_at);
