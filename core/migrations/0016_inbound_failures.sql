-- Attempts at an inbound mail that did not end (a panic, an error, a worker that died with it),
-- counted when each attempt starts: after too many the mail is held and its content erased.
ALTER TABLE mail_inbound ADD COLUMN failures BIGINT NOT NULL DEFAULT 0;
