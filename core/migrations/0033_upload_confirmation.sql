-- A referent signed in from another homeserver confirms an import with a code the bot sends
-- them in a direct message (Relais cannot check a password held by another server): the code's
-- hash, and how many tries were made at it.
ALTER TABLE web_upload ADD COLUMN confirm_hash TEXT;
ALTER TABLE web_upload ADD COLUMN confirm_tries BIGINT NOT NULL DEFAULT 0;
