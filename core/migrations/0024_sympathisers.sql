-- Sympathisers: people who signed up on the public page. Apart from the membership file's
-- members: never in members-only rooms, lists or polls. Only what the referent's follow-up
-- needs is kept: names, address, federation (the postcode is read, never stored), wishes.
CREATE TABLE sympathiser (
    sympathiser_id {{serial_key}},
    email          TEXT NOT NULL,
    -- The address in lowercase: one record per address.
    email_key      TEXT NOT NULL UNIQUE,
    first_name     TEXT NOT NULL,
    last_name      TEXT NOT NULL,
    -- A federation's key, or '' when the postcode named none with a public space.
    federation     TEXT NOT NULL,
    wants_help     INTEGER NOT NULL,
    wants_join     INTEGER NOT NULL,
    -- The charter version accepted at sign-up ('' without a charter).
    charter        TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    -- The confirmation link's SHA-256, and until when it works; an unconfirmed record is
    -- deleted once it expired.
    token_hash     TEXT UNIQUE,
    expires_at     BIGINT NOT NULL,
    mailed_at      BIGINT,
    claimed_until  BIGINT,
    confirmed_at   BIGINT,
    -- The account made at confirmation.
    user_id        TEXT UNIQUE,
    -- The member they became once the membership file named them (same account).
    member_id      TEXT,
    followed_up_at BIGINT
);
CREATE INDEX sympathiser_federation ON sympathiser (federation);

-- Who accepted which version of the charter, and when (a Matrix account).
CREATE TABLE charter_acceptance (
    user_id     TEXT NOT NULL,
    version     TEXT NOT NULL,
    accepted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, version)
);
