-- The membership file's columns Relais read in each applied import (JSON array of names): a
-- column the previous import had and the next one lacks is refused before any plan.
ALTER TABLE prov_run ADD COLUMN columns TEXT;
