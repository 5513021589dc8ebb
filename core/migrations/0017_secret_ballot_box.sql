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
){{without_rowid}};

CREATE TABLE secret_ballot_box (
    poll_id TEXT NOT NULL,
    receipt TEXT NOT NULL,
    answers TEXT NOT NULL,
    weight  BIGINT NOT NULL,
    PRIMARY KEY (poll_id, receipt)
){{without_rowid}};
