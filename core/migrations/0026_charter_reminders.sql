-- Whom the bot reminded, in a public room, of a charter version they had not accepted (once each).
CREATE TABLE charter_reminder (
    user_id TEXT NOT NULL,
    version TEXT NOT NULL,
    at      BIGINT NOT NULL,
    PRIMARY KEY (user_id, version)
);
