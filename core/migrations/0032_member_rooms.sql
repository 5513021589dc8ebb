-- The rooms the membership file puts each member in, recorded with the member's row so that a
-- member without a Matrix account is entitled to them too (the mail preferences page offers
-- them, and an opt-in to one holds): the keys of the member's federation space, section and
-- cell; the discussion and announcements rooms are the federation's key and a suffix, as
-- provisioning names them (a test checks that this view agrees with the planner). NULL until
-- the member's row is saved again by this version: the next import does so. A member with an
-- account is entitled through the rooms' access lists only (`prov_access`), which leave out
-- the rooms a moderator banned them from.
ALTER TABLE prov_member ADD COLUMN federation_key TEXT;
ALTER TABLE prov_member ADD COLUMN section_key TEXT;
ALTER TABLE prov_member ADD COLUMN cell_key TEXT;

DROP VIEW directory_access;
CREATE VIEW directory_access AS
    SELECT a.room_key AS room_key, a.member_id AS member_id FROM prov_access a
    UNION ALL SELECT r.room_key AS room_key, a.member_id AS member_id FROM prov_room r
        JOIN prov_access a ON a.room_key = r.parent_key WHERE r.kind = 'theme'
    UNION ALL SELECT m.federation_key AS room_key, m.member_id AS member_id FROM prov_member m
        WHERE m.active = 1 AND m.matrix_id IS NULL AND m.federation_key IS NOT NULL
    UNION ALL SELECT m.federation_key || '.discussion' AS room_key, m.member_id AS member_id FROM prov_member m
        WHERE m.active = 1 AND m.matrix_id IS NULL AND m.federation_key IS NOT NULL
    UNION ALL SELECT m.federation_key || '.annonces' AS room_key, m.member_id AS member_id FROM prov_member m
        WHERE m.active = 1 AND m.matrix_id IS NULL AND m.federation_key IS NOT NULL
    UNION ALL SELECT m.section_key AS room_key, m.member_id AS member_id FROM prov_member m
        WHERE m.active = 1 AND m.matrix_id IS NULL AND m.section_key IS NOT NULL
    UNION ALL SELECT m.cell_key AS room_key, m.member_id AS member_id FROM prov_member m
        WHERE m.active = 1 AND m.matrix_id IS NULL AND m.cell_key IS NOT NULL
    UNION ALL SELECT r.room_key AS room_key, m.member_id AS member_id FROM prov_room r
        JOIN prov_member m ON m.federation_key = r.parent_key WHERE r.kind = 'theme' AND m.active = 1 AND m.matrix_id IS NULL;
