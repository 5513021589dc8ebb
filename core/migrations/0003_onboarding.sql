-- Onboarding: single-use, expiring invitations for members without a Matrix account.
-- Only a hash of the token is kept; the token itself exists only in the member's email.
CREATE TABLE onboarding (
    member_id  TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT,
    expires_at BIGINT NOT NULL,
    sent_at    BIGINT,
    used_at    BIGINT,
    user_id    TEXT
);
CREATE UNIQUE INDEX onboarding_token ON onboarding (token_hash);
