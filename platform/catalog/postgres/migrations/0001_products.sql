-- The registry: one row per product with its current descriptor, the columns lists filter
-- on, and a full-text document for search (built by the store: to_tsvector('simple', ...)
-- over pre-split words, weighted A name, B labels, C description, D field names).
CREATE TABLE catalog_products (
	name               text        PRIMARY KEY,
	domain             text        NOT NULL,
	owner              text        NOT NULL,
	description        text        NOT NULL,
	classification     integer     NOT NULL,
	has_pii            boolean     NOT NULL,
	tags               text[]      NOT NULL,
	message_name       text        NOT NULL,
	stream             text        NOT NULL,
	freshness_us       bigint      NOT NULL,
	upstreams          text[]      NOT NULL,
	revision           bigint      NOT NULL,
	fingerprint        text        NOT NULL,
	descriptor         bytea       NOT NULL,
	search             tsvector    NOT NULL,
	registered_at      timestamptz NOT NULL,
	updated_at         timestamptz NOT NULL
);
CREATE INDEX catalog_products_domain ON catalog_products (domain, name);
CREATE INDEX catalog_products_owner ON catalog_products (owner, name);
CREATE INDEX catalog_products_search ON catalog_products USING gin (search);

-- Every revision's descriptor, kept for history and audits.
CREATE TABLE catalog_product_revisions (
	name        text        NOT NULL REFERENCES catalog_products (name),
	revision    bigint      NOT NULL,
	fingerprint text        NOT NULL,
	descriptor  bytea       NOT NULL,
	created_at  timestamptz NOT NULL,
	PRIMARY KEY (name, revision)
);
