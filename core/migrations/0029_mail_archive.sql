-- The lists' web archives: full-text search of the mail bridge's copies of room messages
-- (SQLite FTS5 over mail_message, kept in step by triggers; PostgreSQL: its own file).
CREATE VIRTUAL TABLE mail_message_search USING fts5(
    body,
    content = 'mail_message',
    content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO mail_message_search (rowid, body) SELECT seq, body FROM mail_message;
CREATE TRIGGER mail_message_search_insert AFTER INSERT ON mail_message BEGIN
    INSERT INTO mail_message_search (rowid, body) VALUES (new.seq, new.body);
END;
CREATE TRIGGER mail_message_search_delete AFTER DELETE ON mail_message BEGIN
    INSERT INTO mail_message_search (mail_message_search, rowid, body) VALUES ('delete', old.seq, old.body);
END;
CREATE TRIGGER mail_message_search_update AFTER UPDATE OF body ON mail_message BEGIN
    INSERT INTO mail_message_search (mail_message_search, rowid, body) VALUES ('delete', old.seq, old.body);
    INSERT INTO mail_message_search (rowid, body) VALUES (new.seq, new.body);
END;
