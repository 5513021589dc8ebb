-- Web sessions of federations' referents, and files they uploaded for a dry run.
CREATE TABLE web_session (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL,
    federation TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE web_upload (
    upload_id  TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL,
    federation TEXT NOT NULL,
    file_name  TEXT NOT NULL,
    content    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- Set when the referent pressed "apply"; the row goes once the import has run.
    applying_since BIGINT
);

-- Which federation a provisioning run covered (NULL: the national file).
ALTER TABLE prov_run ADD COLUMN scope TEXT;
