-- What the pruning job (Store.Prune) looks rows up by, so each bounded batch reads an index
-- instead of the whole table.
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);
CREATE INDEX refresh_tokens_revoked ON refresh_tokens (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- A rotated-in key is published at once but signs only from active_from (token.SigningKey).
-- NULL, as in rows written before this column, means from created_at.
ALTER TABLE signing_keys ADD COLUMN active_from timestamptz;
