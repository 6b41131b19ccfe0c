-- Databases created before inspections had jobs_one_incident over maintenance jobs only;
-- 0001 now creates jobs_one_incident_job over maintenance and inspection jobs.
DROP INDEX IF EXISTS jobs_one_incident;
