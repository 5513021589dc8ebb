-- The Matrix user who sent each mirrored message: an edit is applied to the mail copy only when
-- it comes from the same user in the same room (rows from before this column accept no edit).
ALTER TABLE mail_message ADD COLUMN sender TEXT;
