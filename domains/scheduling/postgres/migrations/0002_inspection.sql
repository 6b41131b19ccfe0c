-- Databases created before inspections had jobs_one_incident over maintenance jobs only;
-- 0001 now creates jobs_one_incident_job over maintenance and inspection jobs.
DROP INDEX IF EXISTS jobs_one_incident;

-- When what a decision reacted to happened (a fault's start, a health assessment), in quality's
-- sample time; NULL for decisions taken by hand. GetCalloutSavings matches a declared fault
-- with its machine's health decisions in this time (failures declared faults).
ALTER TABLE decisions ADD COLUMN IF NOT EXISTS observed_at timestamptz;
CREATE INDEX IF NOT EXISTS decisions_machine ON decisions (machine_id, cause);
