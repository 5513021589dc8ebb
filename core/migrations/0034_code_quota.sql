-- Confirmation codes sent to a referent (migration 0033) are limited per account by one row
-- and one statement, atomic on both databases: concurrent requests on several nodes can no
-- longer each count under the limit. `due_at` is the theoretical arrival time of the generic
-- cell rate algorithm: a burst of five, then one code every twelve minutes.
DROP TABLE web_code_sent;
CREATE TABLE web_code_quota (
    user_id TEXT PRIMARY KEY,
    due_at BIGINT NOT NULL
);

-- A session's confirmation code lives minutes, not as long as the session.
ALTER TABLE web_session ADD COLUMN confirm_until BIGINT NOT NULL DEFAULT 0;

-- When the bot last made a direct room for a member (ballots, broadcasts by office, codes):
-- at most one every ten minutes, whatever fails after the room is made (an invitation a
-- federated server refuses leaves a room behind). Rows older than that are dropped.
CREATE TABLE bot_dm_made (
    user_id TEXT PRIMARY KEY,
    made_at BIGINT NOT NULL
);

-- A ballot that could not be sent waits before its next try: one unreachable voter neither
-- holds up the others nor has the bot try again every few seconds.
ALTER TABLE secret_voter ADD COLUMN notify_after BIGINT NOT NULL DEFAULT 0;
