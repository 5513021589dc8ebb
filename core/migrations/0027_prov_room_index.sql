-- Provisioned rooms are looked up by their Matrix id on every message (flood protection, the
-- charter's reminder, moderation scopes): an index rather than a scan.
CREATE INDEX prov_room_room_id ON prov_room (room_id);
