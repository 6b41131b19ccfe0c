-- Where a machine stands (WGS84 degrees); both NULL when unknown. Machines registered before
-- this migration keep NULLs.
ALTER TABLE quality_machines ADD COLUMN IF NOT EXISTS lat double precision;
ALTER TABLE quality_machines ADD COLUMN IF NOT EXISTS lng double precision;
DO $$ BEGIN
	ALTER TABLE quality_machines ADD CONSTRAINT quality_machines_location CHECK (
		(lat IS NULL AND lng IS NULL) OR
		(lat BETWEEN -90 AND 90 AND lng BETWEEN -180 AND 180));
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
