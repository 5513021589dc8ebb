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
