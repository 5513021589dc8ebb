-- Who the membership file lets into each provisioned room, for the other features' SQL (a mail
-- opt-in holds only while its member may be in the room): a room's own access list; for a
-- members-only thematic room, which keeps none, its federation space's; a public room lets
-- every member in (`open` = 1: no list to check).
CREATE VIEW directory_access AS
    SELECT a.room_key AS room_key, a.member_id AS member_id FROM prov_access a
    UNION ALL SELECT r.room_key AS room_key, a.member_id AS member_id FROM prov_room r
        JOIN prov_access a ON a.room_key = r.parent_key WHERE r.kind = 'theme';

CREATE VIEW directory_room AS
    SELECT room_key, room_id,
        CASE WHEN kind IN ('public_space', 'public', 'public_theme') THEN 1 ELSE 0 END AS open
    FROM prov_room;
