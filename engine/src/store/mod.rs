//! Durable command log: one trait, SQLite and PostgreSQL implementations.
