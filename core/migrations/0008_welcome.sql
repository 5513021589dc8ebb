-- Members the bot has welcomed (in their first room), so it does it once.
CREATE TABLE bot_welcome (
    member_id TEXT PRIMARY KEY NOT NULL,
    room_id   TEXT NOT NULL,
    at        BIGINT NOT NULL
);
