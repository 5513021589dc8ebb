-- Secret ballots. Who may vote and whether they did (secret_voter), and what was voted
-- (secret_ballot): two tables sharing nothing but the poll — no voter in a ballot, no time, no
-- sequence number, ballots stored in the order of their random receipts.
CREATE TABLE secret_voter (
    poll_id    TEXT NOT NULL,
    voter      TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    voted      BIGINT NOT NULL DEFAULT 0,
    notified   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (poll_id, voter)
);

CREATE TABLE secret_ballot (
    poll_id TEXT NOT NULL,
    receipt TEXT NOT NULL,
    answers TEXT NOT NULL,
    PRIMARY KEY (poll_id, receipt)
){{without_rowid}};

-- The bot's direct-message room with a member (ballots are sent there).
CREATE TABLE bot_dm (
    user_id TEXT PRIMARY KEY NOT NULL,
    room_id TEXT NOT NULL
);
