//! Throw-away PostgreSQL databases for tests, public so every integration test can use them.
//!
//! `TestDatabase::create()` connects to `KANJO_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), creates `kanjo_test_<pid>_<n>`, applies the
//! migrations and drops the database (disconnecting its sessions) when dropped. An unreachable
//! server is an error naming the URL and the variable: tests fail, they never skip silently.

use std::sync::atomic::{AtomicU64, Ordering};

use super::error::redact_url;
use super::postgres::{block_on, connect};
use super::{StoreError, StoreTarget};

/// Environment variable naming the server (and an admin database) tests may use.
pub const TEST_PG_URL_ENV: &str = "KANJO_TEST_PG_URL";
pub const TEST_PG_URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/postgres";

const HINT: &str = "connecting to the PostgreSQL test server (start it, e.g. ops/scripts/test does, or set KANJO_TEST_PG_URL)";

#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// A fresh, migrated database.
    pub fn create() -> Result<TestDatabase, StoreError> {
        let db = TestDatabase::create_unmigrated()?;
        super::migrate(&StoreTarget::Postgres {
            url: db.url.clone(),
        })?;
        Ok(db)
    }

    /// A fresh, empty database (for testing `migrate` itself).
    pub fn create_unmigrated() -> Result<TestDatabase, StoreError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let admin_url =
            std::env::var(TEST_PG_URL_ENV).unwrap_or_else(|_| TEST_PG_URL_DEFAULT.to_owned());
        let name = format!(
            "kanjo_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let url = with_dbname(&admin_url, &name);
        let redacted = redact_url(&admin_url);
        block_on(async {
            let admin = connect(&admin_url).await.map_err(|error| match error {
                StoreError::Postgres { source, .. } => StoreError::Postgres {
                    url: redacted.clone(),
                    context: HINT,
                    source,
                },
                other => other,
            })?;
            // A leftover from a killed run with a recycled pid would make CREATE fail.
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
                .map_err(|source| StoreError::Postgres {
                    url: redacted.clone(),
                    context: "dropping a stale test database",
                    source,
                })?;
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .map_err(|source| StoreError::Postgres {
                    url: redacted.clone(),
                    context: "creating the test database",
                    source,
                })
        })?;
        Ok(TestDatabase {
            admin_url,
            name,
            url,
        })
    }

    /// Connection URL of the test database.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `sql` (one or more statements) in the test database; for tests that need to reach
    /// behind the store (install a failing trigger, damage a row).
    pub fn execute(&self, sql: &str) -> Result<(), StoreError> {
        let redacted = redact_url(&self.url);
        block_on(async {
            let client = connect(&self.url).await?;
            client
                .batch_execute(sql)
                .await
                .map_err(|source| StoreError::Postgres {
                    url: redacted.clone(),
                    context: "executing test SQL",
                    source,
                })
        })
    }

    /// Runs `sql` in the admin database (`KANJO_TEST_PG_URL`): for tests that act on the test
    /// database from outside, e.g. `ALTER DATABASE … ALLOW_CONNECTIONS false` or terminating its
    /// sessions as a PostgreSQL restart would.
    pub fn execute_admin(&self, sql: &str) -> Result<(), StoreError> {
        let redacted = redact_url(&self.admin_url);
        block_on(async {
            let client = connect(&self.admin_url).await?;
            client
                .batch_execute(sql)
                .await
                .map_err(|source| StoreError::Postgres {
                    url: redacted.clone(),
                    context: "executing test SQL in the admin database",
                    source,
                })
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropped = block_on(async {
            let admin = connect(&self.admin_url).await?;
            admin
                .batch_execute(&sql)
                .await
                .map_err(|source| StoreError::Postgres {
                    url: redact_url(&self.admin_url),
                    context: "dropping the test database",
                    source,
                })
        });
        if let Err(error) = dropped {
            eprintln!("warning: test database {} not dropped: {error}", self.name);
        }
    }
}

/// `url` pointing at database `name`: replaces the path of a URL, or adds `dbname=` to the
/// key=value form (the last `dbname` wins).
fn with_dbname(url: &str, name: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return format!("{url} dbname={name}");
    };
    let rest_start = scheme_end + 3;
    let rest = &url[rest_start..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let after_authority = &rest[authority_end..];
    let query = after_authority
        .find('?')
        .map_or("", |at| &after_authority[at..]);
    format!("{}/{name}{query}", &url[..rest_start + authority_end])
}

#[cfg(test)]
mod tests {
    use super::with_dbname;

    #[test]
    fn the_test_url_points_at_the_new_database() {
        assert_eq!(
            with_dbname("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(with_dbname("postgres://u:p@h", "t1"), "postgres://u:p@h/t1");
        assert_eq!(
            with_dbname("postgresql://h:1/db?sslmode=disable", "t1"),
            "postgresql://h:1/t1?sslmode=disable"
        );
        assert_eq!(
            with_dbname("postgres://h?user=x", "t1"),
            "postgres://h/t1?user=x"
        );
        assert_eq!(
            with_dbname("host=h user=u", "t1"),
            "host=h user=u dbname=t1"
        );
    }
}
