-- When someone stopped receiving a list by mail: the room and the hour (rounded up) only, never
-- who, so that broadcast statistics can count the unsubscribes that followed a message.
CREATE TABLE mail_unsubscribe (
    unsubscribe_id {{serial_key}},
    room_id        TEXT NOT NULL,
    at             BIGINT NOT NULL
);
CREATE INDEX mail_unsubscribe_room ON mail_unsubscribe (room_id, at);
