-- Broadcasts that can be corrected: an edit of the original gives the broadcast a new revision
-- of its content, which every copy sent before is edited to; a redaction of the original
-- withdraws it, and every copy sent is redacted. Each copy records the revision it carries and
-- when it was withdrawn, so a correction interrupted by a crash is finished, never repeated.
-- Only a copy of a message (`!diffuser`) follows its original; a selection's messages are built
-- by the bot, and an edit of the `!sélection` command changes none of them.
ALTER TABLE broadcast ADD COLUMN origin TEXT NOT NULL DEFAULT 'copy' CHECK (origin IN ('copy', 'selection'));
UPDATE broadcast SET origin = 'selection' WHERE command_event LIKE '%#%';
ALTER TABLE broadcast ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
ALTER TABLE broadcast ADD COLUMN withdrawn_at BIGINT;
ALTER TABLE broadcast_delivery ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
ALTER TABLE broadcast_delivery ADD COLUMN withdrawn_at BIGINT;
CREATE INDEX broadcast_source ON broadcast (source_room, source_event);

-- Each correction as it was made (an edit or a redaction of the original, by its event), once
-- per broadcast it corrected: shown in `!stats`.
CREATE TABLE broadcast_correction (
    event_id     TEXT NOT NULL,
    broadcast_id BIGINT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('edit', 'withdrawal')),
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (event_id, broadcast_id)
);
