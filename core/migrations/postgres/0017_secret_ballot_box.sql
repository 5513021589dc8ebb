-- Secret ballots without a link in the database (docs/secret-ballot.md). Casting no longer
-- writes anything about the voter: it stores, in one transaction, a nonce only the voter's
-- token and Relais's key can compute (secret_nonce: "this token has voted") and the ballot in a
-- box of pending ballots (secret_ballot_box). Ballots leave the box for secret_ballot in
-- batches, in random order, and at the latest when the poll closes; the nonces are erased then.
-- secret_voter.voted is no longer set; it still refuses a second ballot to whoever voted before
-- this migration.
CREATE TABLE secret_nonce (
    poll_id TEXT NOT NULL,
    nonce   TEXT NOT NULL,
    PRIMARY KEY (poll_id, nonce)
);

CREATE TABLE secret_ballot_box (
    poll_id TEXT NOT NULL,
    receipt TEXT NOT NULL,
    answers TEXT NOT NULL,
    weight  BIGINT NOT NULL,
    PRIMARY KEY (poll_id, receipt)
);

-- Ballots cast before this migration share their transaction id with their voter's row, and
-- lie in the order of the casts: rewrite both tables in this one transaction (one transaction id
-- for every row), then store them in key order — voters by name, ballots by random receipt —
-- which also drops the old row versions from the tables (not from the write-ahead log).
UPDATE secret_voter SET voted = voted;
UPDATE secret_ballot SET weight = weight;
CLUSTER secret_voter USING secret_voter_pkey;
CLUSTER secret_ballot USING secret_ballot_pkey;
