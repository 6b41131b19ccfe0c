-- Access requests and the grants they become (package access). One row per request; its
-- state changes in place, and every change is an event on governance.access-changes.v1.
CREATE TABLE access_requests (
	id           text        PRIMARY KEY,
	product      text        NOT NULL,
	namespace    text        NOT NULL,
	requested_by text        NOT NULL,
	purpose      text        NOT NULL,
	pii          boolean     NOT NULL,
	expires_at   timestamptz NOT NULL,
	state        text        NOT NULL,
	decided_by   text        NOT NULL DEFAULT '',
	reason       text        NOT NULL DEFAULT '',
	created_at   timestamptz NOT NULL,
	decided_at   timestamptz
);
CREATE INDEX access_requests_namespace ON access_requests (namespace, state);
CREATE INDEX access_requests_product ON access_requests (product, created_at DESC);
CREATE INDEX access_requests_due ON access_requests (expires_at) WHERE state = 'approved';
-- Seeded grants (the launcher's built-in consumption edges) are made once: a seed revoked
-- later is not made again.
CREATE TABLE access_seeds (
	namespace text NOT NULL,
	product   text NOT NULL,
	PRIMARY KEY (namespace, product)
);
