-- Named leases: work that must never run twice at once (provisioning) is done by one holder at
-- a time, across every process sharing this database. A holder renews its lease while it works;
-- one that was killed stops renewing, and once expires_at (ms) has passed the next caller takes over.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
