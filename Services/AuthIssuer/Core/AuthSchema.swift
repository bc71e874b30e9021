import GatehouseSQLite

/// The auth issuer's tables, as migrations.
///
/// - `users`: name, bcrypt hash, space-separated roles, disabled flag.
/// - `clients`: id, SHA-256 of the secret (hex), allowed scopes and roles.
/// - `signing_keys`: every key in the JWKS. `activated_at` is NULL for the next key (published, not yet
///   signing); the active key has `activated_at` and no `retired_at`; a retired key stays until
///   `unpublish_at`, when every token it signed has expired.
/// - `refresh_tokens`: one row per refresh token ever issued, keyed by the SHA-256 of the token; `used_at`
///   marks a rotated token (presenting it again is reuse), `revoked_at` a dead family. `access_jti` and
///   `access_expires_at` name the access token issued with it, so a family's revocation also revokes them.
/// - `revocations`: one row per revoked `jti` and per revoked subject (migration 2), keyed by the version
///   of its newest event; `published` once Redis took it.
/// - `counters`: the revocation version and the key generation, each increased by one per change.
enum AuthSchema {
    static let migrator = SQLiteMigrator([
        SQLiteMigration(
            version: 1,
            sql: """
                CREATE TABLE users (
                    name TEXT PRIMARY KEY,
                    password_hash TEXT NOT NULL,
                    roles TEXT NOT NULL,
                    disabled INTEGER NOT NULL DEFAULT 0,
                    created_at INTEGER NOT NULL
                );
                CREATE TABLE clients (
                    id TEXT PRIMARY KEY,
                    secret_hash TEXT NOT NULL,
                    scopes TEXT NOT NULL,
                    roles TEXT NOT NULL,
                    created_at INTEGER NOT NULL
                );
                CREATE TABLE signing_keys (
                    kid TEXT PRIMARY KEY,
                    algorithm TEXT NOT NULL,
                    private_key TEXT NOT NULL,
                    public_jwk TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    activated_at INTEGER,
                    retired_at INTEGER,
                    unpublish_at INTEGER
                );
                CREATE TABLE refresh_tokens (
                    hash TEXT PRIMARY KEY,
                    family TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    client_id TEXT,
                    scope TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    family_created_at INTEGER NOT NULL,
                    used_at INTEGER,
                    revoked_at INTEGER,
                    access_jti TEXT NOT NULL,
                    access_expires_at INTEGER NOT NULL
                );
                CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family);
                CREATE INDEX refresh_tokens_by_subject ON refresh_tokens (subject);
                CREATE TABLE revocations (
                    version INTEGER PRIMARY KEY,
                    jti TEXT,
                    expires_at INTEGER,
                    subject TEXT,
                    issued_before INTEGER,
                    published INTEGER NOT NULL DEFAULT 0,
                    CHECK ((jti IS NULL) != (subject IS NULL))
                );
                CREATE INDEX revocations_unpublished ON revocations (version) WHERE published = 0;
                CREATE TABLE counters (
                    name TEXT PRIMARY KEY,
                    value INTEGER NOT NULL
                );
                INSERT INTO counters (name, value) VALUES ('revocation_version', 0), ('key_generation', 0);
                """
        ),
        // Revocations become idempotent: one row per `jti` and per subject, the one reaching furthest
        // (latest expiry or cut-off; the newest version among equals) kept.
        SQLiteMigration(
            version: 2,
            sql: """
                DELETE FROM revocations WHERE jti IS NOT NULL AND EXISTS (
                    SELECT 1 FROM revocations AS other WHERE other.jti = revocations.jti
                    AND (other.expires_at > revocations.expires_at
                         OR (other.expires_at = revocations.expires_at AND other.version > revocations.version)));
                DELETE FROM revocations WHERE subject IS NOT NULL AND EXISTS (
                    SELECT 1 FROM revocations AS other WHERE other.subject = revocations.subject
                    AND (other.issued_before > revocations.issued_before
                         OR (other.issued_before = revocations.issued_before AND other.version > revocations.version)));
                CREATE UNIQUE INDEX revocations_by_jti ON revocations (jti) WHERE jti IS NOT NULL;
                CREATE UNIQUE INDEX revocations_by_subject ON revocations (subject) WHERE subject IS NOT NULL;
                """
        ),
    ])
}
