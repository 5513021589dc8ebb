-- Congress mode: delegates' mandates and proxies from the mandates file, and the weight each
-- voter carries in a poll (1 outside congress mode).
CREATE TABLE congress_mandate (
    member_id TEXT PRIMARY KEY NOT NULL,
    weight    BIGINT NOT NULL
);
CREATE TABLE congress_proxy (
    absent_id TEXT PRIMARY KEY NOT NULL,
    holder_id TEXT NOT NULL
);
ALTER TABLE poll_voter ADD COLUMN weight BIGINT NOT NULL DEFAULT 1;
ALTER TABLE secret_voter ADD COLUMN weight BIGINT NOT NULL DEFAULT 1;
ALTER TABLE secret_ballot ADD COLUMN weight BIGINT NOT NULL DEFAULT 1;
