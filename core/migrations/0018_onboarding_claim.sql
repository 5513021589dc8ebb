-- An invitation being redeemed is claimed first (until this time, ms): parallel posts of one
-- link cannot each create an account.
ALTER TABLE onboarding ADD COLUMN claimed_until BIGINT;
