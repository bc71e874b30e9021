import GatehouseSQLite

/// The document store's tables, as migrations.
///
/// - `documents`: one row per document. It keeps a rowid (`doc_key`) because the FTS5 index is an
///   external-content table keyed by rowid; `(collection, id)` is unique.
/// - `documents_fts`: FTS5 index over `documents.body` (external content). The writer keeps it in
///   step inside the same transaction, after the batch's per-write savepoints: SQLite 3.40's FTS5
///   flushes its pending index to a new segment at every SAVEPOINT, so indexing inside the
///   savepoints (for example with triggers) would write one segment per document and make every
///   write about twice as slow.
/// - `data_version`: a single row holding the global data version, bumped once per change.
/// - `outbox`: one row per change, keyed by its data version, until a publisher deletes it.
enum DocumentSchema {
    static let migrator = SQLiteMigrator([
        SQLiteMigration(
            version: 1,
            sql: """
                CREATE TABLE documents (
                    doc_key INTEGER PRIMARY KEY,
                    collection TEXT NOT NULL,
                    id TEXT NOT NULL,
                    body TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    owner TEXT,
                    UNIQUE (collection, id)
                );
                CREATE INDEX documents_by_owner ON documents (collection, owner, id);

                CREATE VIRTUAL TABLE documents_fts USING fts5(
                    body, content = 'documents', content_rowid = 'doc_key',
                    tokenize = 'unicode61 remove_diacritics 2'
                );

                CREATE TABLE data_version (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    version INTEGER NOT NULL
                );
                INSERT INTO data_version (id, version) VALUES (1, 0);

                CREATE TABLE outbox (
                    version INTEGER PRIMARY KEY,
                    collection TEXT NOT NULL,
                    id TEXT NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('put', 'delete')),
                    committed_at INTEGER NOT NULL
                );
                """
        )
    ])
}
