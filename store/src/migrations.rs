//! PostgreSQL schema migrations, embedded so the binary works from any directory.
//!
//! `ops/sql/NNNN_name.sql` files are applied in order by `migrate` and recorded, with a checksum
//! of their SQL, in `kanjo_schema_migrations`; `open` refuses a database missing any of them.

/// One numbered SQL file of `ops/sql`.
#[derive(Clone, Copy, Debug)]
pub struct PgMigration {
    /// The file name without `.sql`; also the key in `kanjo_schema_migrations`.
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in the order they apply. Append only; never edit an applied one.
pub const PG_MIGRATIONS: &[PgMigration] = &[
    PgMigration {
        name: "0001_log",
        sql: include_str!("../../ops/sql/0001_log.sql"),
    },
    PgMigration {
        name: "0002_clerk_views",
        sql: include_str!("../../ops/sql/0002_clerk_views.sql"),
    },
    PgMigration {
        name: "0003_shop_entries",
        sql: include_str!("../../ops/sql/0003_shop_entries.sql"),
    },
    PgMigration {
        name: "0004_device_key_entries",
        sql: include_str!("../../ops/sql/0004_device_key_entries.sql"),
    },
    PgMigration {
        name: "0005_hash_chain",
        sql: include_str!("../../ops/sql/0005_hash_chain.sql"),
    },
    PgMigration {
        name: "0006_programme_sources",
        sql: include_str!("../../ops/sql/0006_programme_sources.sql"),
    },
    PgMigration {
        name: "0007_entry_kind_names",
        sql: include_str!("../../ops/sql/0007_entry_kind_names.sql"),
    },
];

/// The migration whose records need the Rust backfill of the chain (`postgres::backfill_chain`).
pub(crate) const HASH_CHAIN_MIGRATION: &str = "0005_hash_chain";

/// Created before any migration runs; tracks what has been applied.
pub(crate) const MIGRATIONS_TABLE_SQL: &str = "
    CREATE TABLE IF NOT EXISTS kanjo_schema_migrations (
        name       text        PRIMARY KEY,
        checksum   bigint      NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
    )";

/// Serialises concurrent `migrate` runs (an arbitrary constant: "kanjo" in ASCII).
pub(crate) const MIGRATION_LOCK_KEY: i64 = 0x006B_616E_6A6F;

impl PgMigration {
    /// Detects an applied migration whose file was edited afterwards.
    pub fn checksum(&self) -> i64 {
        xxhash_rust::xxh3::xxh3_64(self.sql.as_bytes()) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::PG_MIGRATIONS;

    #[test]
    fn migrations_are_numbered_in_order_without_gaps() {
        for (index, migration) in PG_MIGRATIONS.iter().enumerate() {
            let number: usize = migration.name[..4].parse().expect("NNNN_ prefix");
            assert_eq!(number, index + 1, "{}", migration.name);
            assert_eq!(&migration.name[4..5], "_");
            assert!(!migration.sql.trim().is_empty());
        }
    }
}
