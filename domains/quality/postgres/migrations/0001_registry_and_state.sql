-- The registry (machines, sensors) and the filter state per machine.
CREATE TABLE IF NOT EXISTS quality_machines (
	machine_id  text PRIMARY KEY,
	site        text NOT NULL,
	model       text NOT NULL,
	criticality int NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS quality_sensors (
	sensor_id   text PRIMARY KEY,
	machine_id  text NOT NULL REFERENCES quality_machines ON DELETE CASCADE,
	kind        text NOT NULL,
	unit        text NOT NULL,
	min_value   double precision NOT NULL,
	max_value   double precision NOT NULL,
	interval_ms bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS quality_sensors_machine ON quality_sensors (machine_id);
CREATE TABLE IF NOT EXISTS quality_filter_state (
	machine_id  text PRIMARY KEY,
	state       jsonb NOT NULL,
	applied     bigint NOT NULL DEFAULT 0,
	updated_at  timestamptz NOT NULL DEFAULT now()
);
