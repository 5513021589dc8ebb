-- Automatic answers to senders (refusal explanations, unsubscribe confirmations) counted per
-- address and clock hour, shared by every node so the hourly limit holds across them. Rows of
-- past hours are deleted as answers are counted.
CREATE TABLE mail_answer (
    email TEXT NOT NULL,
    hour  BIGINT NOT NULL,
    sent  BIGINT NOT NULL,
    PRIMARY KEY (email, hour)
);
