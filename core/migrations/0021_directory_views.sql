-- What provisioning publishes for the other features' SQL (the mail bridge's fan-out and
-- digests join its subscribers in one statement): read-only views over its tables. The tables
-- stay provisioning's own and may change; the views keep these columns.
CREATE VIEW directory_member AS
    SELECT member_id, email, active, matrix_id FROM prov_member;

CREATE VIEW directory_subscription AS
    SELECT room_key, member_id FROM prov_subscription;
