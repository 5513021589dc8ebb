-- What a transaction carried (SHA-256 of its event ids): a transaction id seen again with other
-- events is a homeserver whose appservice state was reset, not a retry, and is journaled.
ALTER TABLE appservice_txn ADD COLUMN digest TEXT;
