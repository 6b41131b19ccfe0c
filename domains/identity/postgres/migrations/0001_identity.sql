-- Accounts: people (email) and service accounts (name), never both.
CREATE TABLE users (
	id                   uuid        PRIMARY KEY,
	email                text        UNIQUE,
	name                 text        UNIQUE,
	display_name         text        NOT NULL,
	roles                text[]      NOT NULL,
	active               boolean     NOT NULL,
	service_account      boolean     NOT NULL,
	totp_enrolled        boolean     NOT NULL DEFAULT false,
	must_change_password boolean     NOT NULL DEFAULT false,
	created_at           timestamptz NOT NULL,
	updated_at           timestamptz NOT NULL,
	sort_key             text        GENERATED ALWAYS AS (COALESCE(email, name)) STORED,
	CHECK ((email IS NULL) <> (name IS NULL)),
	CHECK (service_account = (name IS NOT NULL))
);
CREATE INDEX users_sort ON users (sort_key, id);
CREATE INDEX users_roles ON users USING gin (roles);

-- argon2id PHC strings.
CREATE TABLE password_credentials (
	user_id    uuid        PRIMARY KEY REFERENCES users (id),
	hash       text        NOT NULL,
	updated_at timestamptz NOT NULL
);

-- TOTP secrets, sealed with the KEK (context "totp:<user id>"): the confirmed one and one
-- waiting for confirmation.
CREATE TABLE totp_secrets (
	user_id        uuid        PRIMARY KEY REFERENCES users (id),
	sealed_secret  bytea,
	confirmed_at   timestamptz,
	sealed_pending bytea,
	pending_at     timestamptz
);

-- SHA-256 of one-time recovery codes.
CREATE TABLE recovery_codes (
	user_id    uuid        NOT NULL REFERENCES users (id),
	code_hash  bytea       NOT NULL,
	created_at timestamptz NOT NULL,
	used_at    timestamptz,
	PRIMARY KEY (user_id, code_hash)
);

-- Ed25519 private keys, sealed with the KEK (context "signing-key:<kid>"). At most one is
-- current (retired_at IS NULL).
CREATE TABLE signing_keys (
	kid            text        PRIMARY KEY,
	sealed_private bytea       NOT NULL,
	created_at     timestamptz NOT NULL,
	retired_at     timestamptz,
	publish_until  timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys ((true)) WHERE retired_at IS NULL;

-- SHA-256 of refresh tokens; tokens of one sign-in share a family.
CREATE TABLE refresh_tokens (
	token_hash bytea       PRIMARY KEY,
	family_id  uuid        NOT NULL,
	user_id    uuid        NOT NULL REFERENCES users (id),
	issued_at  timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	used_at    timestamptz,
	revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id) WHERE revoked_at IS NULL;

-- Client credentials: SHA-256 of a 256-bit random secret.
CREATE TABLE service_accounts (
	user_id     uuid        PRIMARY KEY REFERENCES users (id),
	client_id   text        NOT NULL UNIQUE,
	secret_hash bytea       NOT NULL,
	rotated_at  timestamptz NOT NULL
);

-- Scope grants (licences).
CREATE TABLE grants (
	id          uuid        PRIMARY KEY,
	subject_id  uuid        NOT NULL REFERENCES users (id),
	application text        NOT NULL,
	scopes      text[]      NOT NULL,
	expires_at  timestamptz NOT NULL,
	revoked_at  timestamptz,
	granted_by  text        NOT NULL,
	created_at  timestamptz NOT NULL
);
CREATE INDEX grants_subject ON grants (subject_id, created_at DESC, id DESC);
CREATE INDEX grants_created ON grants (created_at DESC, id DESC);

-- Security events; never secrets.
CREATE TABLE audit_log (
	id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at         timestamptz NOT NULL,
	action     text        NOT NULL,
	actor_id   text        NOT NULL DEFAULT '',
	subject_id text        NOT NULL DEFAULT '',
	source     text        NOT NULL DEFAULT '',
	details    jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_subject ON audit_log (subject_id, at);

-- Responses of idempotent creations, sealed with the KEK (they hold one-time secrets), kept
-- for a day.
CREATE TABLE idempotency_keys (
	actor_id        text        NOT NULL,
	operation       text        NOT NULL,
	key             text        NOT NULL,
	request_hash    bytea       NOT NULL,
	sealed_response bytea,
	created_at      timestamptz NOT NULL,
	PRIMARY KEY (actor_id, operation, key)
);
