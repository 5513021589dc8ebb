-- Answers a referent recorded for a member without an account who asked them to (an ordinary
-- proxy, apart from congress mandates): whose answer, and who carried it. The answer itself is
-- a response like the others (poll_response); the results name the proxies.
CREATE TABLE poll_proxy (
    poll_id TEXT NOT NULL,
    voter   TEXT NOT NULL,
    holder  TEXT NOT NULL,
    at      BIGINT NOT NULL,
    PRIMARY KEY (poll_id, voter)
);
