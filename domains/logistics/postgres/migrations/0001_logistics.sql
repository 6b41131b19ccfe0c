CREATE TABLE vehicles (
    id             text PRIMARY KEY,
    type           text NOT NULL,
    capacity_kg    double precision NOT NULL,
    depot_lat      double precision NOT NULL,
    depot_lng      double precision NOT NULL,
    driver_user_id text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL
);

-- Learned traversal times: one row per directed H3 edge and time-of-day bucket.
CREATE TABLE edge_travel_times (
    from_cell bigint  NOT NULL,
    to_cell   bigint  NOT NULL,
    bucket    integer NOT NULL,
    seconds   double precision NOT NULL,
    samples   bigint  NOT NULL,
    updated   timestamptz NOT NULL,
    PRIMARY KEY (from_cell, to_cell, bucket)
);
