-- A referent signed in with an OpenID token (which any widget they approved could replay)
-- confirms before changing anything: with their password when their account is on the party's
-- homeserver, or with a code the bot sends them in a direct message when it is on a
-- federation's own (Relais cannot check a password held by another server).
-- An import's code is bound to its upload; the session's, to the session.
ALTER TABLE web_upload ADD COLUMN confirm_hash TEXT;
ALTER TABLE web_upload ADD COLUMN confirm_tries BIGINT NOT NULL DEFAULT 0;
ALTER TABLE web_session ADD COLUMN confirmed_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE web_session ADD COLUMN confirm_hash TEXT;
ALTER TABLE web_session ADD COLUMN confirm_tries BIGINT NOT NULL DEFAULT 0;

-- The codes sent in the last hour, per account: a replayed token cannot flood the referent's
-- messages, whichever node it reaches.
CREATE TABLE web_code_sent (
    user_id TEXT NOT NULL,
    sent_at BIGINT NOT NULL
);
CREATE INDEX web_code_sent_user ON web_code_sent (user_id, sent_at);
