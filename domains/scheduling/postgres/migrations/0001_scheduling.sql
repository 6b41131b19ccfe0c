CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE IF NOT EXISTS engineers (
    id           text PRIMARY KEY,
    display_name text NOT NULL DEFAULT '',
    skills       text[] NOT NULL DEFAULT '{}',
    home_lat     double precision NOT NULL DEFAULT 0,
    home_lng     double precision NOT NULL DEFAULT 0,
    shifts       jsonb NOT NULL DEFAULT '[]',
    active       boolean NOT NULL DEFAULT true,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Machines' locations and criticality: quality's contract names a site without coordinates,
-- so scheduling keeps where each machine stands (fed by config or UpsertMachine).
CREATE TABLE IF NOT EXISTS machines (
    id          text PRIMARY KEY,
    site        text NOT NULL DEFAULT '',
    lat         double precision NOT NULL,
    lng         double precision NOT NULL,
    criticality int NOT NULL DEFAULT 2
);

CREATE TABLE IF NOT EXISTS jobs (
    id               uuid PRIMARY KEY,
    kind             int NOT NULL,
    state            int NOT NULL,
    machine_id       text NOT NULL,
    sensor_id        text NOT NULL DEFAULT '',
    health           int NOT NULL DEFAULT 0,
    priority         int NOT NULL CHECK (priority BETWEEN 1 AND 5),
    skill            text NOT NULL,
    duration_minutes int NOT NULL CHECK (duration_minutes > 0),
    due_at           timestamptz NOT NULL,
    cause            int NOT NULL,
    reason           text NOT NULL DEFAULT '',
    report_file_id   text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
-- One open incident job per machine (maintenance 1 or inspection 4: one per incident, an
-- inspection becomes maintenance when health escalates), one open replacement per sensor.
CREATE UNIQUE INDEX IF NOT EXISTS jobs_one_incident_job ON jobs (machine_id) WHERE kind IN (1, 4) AND state IN (1, 2);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_one_replacement ON jobs (sensor_id) WHERE kind = 2 AND state IN (1, 2);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created_at DESC, id);

-- The database forbids double booking: no two assignments of one engineer overlap in time.
CREATE TABLE IF NOT EXISTS assignments (
    job_id         uuid PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    engineer_id    text NOT NULL,
    starts_at      timestamptz NOT NULL,
    ends_at        timestamptz NOT NULL CHECK (ends_at > starts_at),
    travel_seconds int NOT NULL DEFAULT 0,
    EXCLUDE USING gist (engineer_id WITH =, tstzrange(starts_at, ends_at) WITH &&)
);

-- Every decision with its cause; call-outs avoided and hours saved feed GetCalloutSavings.
CREATE TABLE IF NOT EXISTS decisions (
    id               bigserial PRIMARY KEY,
    job_id           uuid,
    machine_id       text NOT NULL,
    sensor_id        text NOT NULL DEFAULT '',
    cause            int NOT NULL,
    action           text NOT NULL,
    callouts_avoided int NOT NULL DEFAULT 0,
    hours_saved      double precision NOT NULL DEFAULT 0,
    decided_at       timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_at ON decisions (decided_at);
