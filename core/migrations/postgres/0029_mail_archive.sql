-- The lists' web archives: full-text search of the mail bridge's copies of room messages, in
-- French (stemming), kept by PostgreSQL itself.
ALTER TABLE mail_message
    ADD COLUMN body_search tsvector GENERATED ALWAYS AS (to_tsvector('french', body)) STORED;
CREATE INDEX mail_message_search ON mail_message USING GIN (body_search);
