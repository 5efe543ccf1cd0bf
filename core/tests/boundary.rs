//! kanjo-core stays pure: nothing it depends on, directly or through another crate, does I/O,
//! runs an async runtime, talks to a database or parses a command line. Adding one fails here,
//! so the machine can't quietly grow a socket or a file handle.

use std::process::Command;

/// Crates that mean I/O, a runtime, a database, a server or a CLI.
const FORBIDDEN: [&str; 17] = [
    "tokio",
    "mio",
    "socket2",
    "axum",
    "hyper",
    "hyper-util",
    "reqwest",
    "tower",
    "rusqlite",
    "libsqlite3-sys",
    "tokio-postgres",
    "postgres",
    "deadpool-postgres",
    "clap",
    "indicatif",
    "tracing-subscriber",
    "metrics-exporter-prometheus",
];

/// `cargo tree -p kanjo-core -e normal`: every crate kanjo-core needs to build, tests excluded.
fn normal_dependencies() -> Vec<String> {
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "--package",
            "kanjo-core",
            "--edges",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("cargo tree prints UTF-8")
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn kanjo_core_depends_on_no_io_runtime_database_or_cli_crate() {
    let dependencies = normal_dependencies();
    assert!(
        dependencies.iter().any(|name| name == "kanjo-ledger"),
        "cargo tree lists kanjo-core's dependencies: {dependencies:?}"
    );
    let forbidden: Vec<&String> = dependencies
        .iter()
        .filter(|name| FORBIDDEN.contains(&name.as_str()))
        .collect();
    assert!(
        forbidden.is_empty(),
        "kanjo-core must stay pure, but depends on {forbidden:?}; \
         move the code that needs them to kanjo-store or kanjo-engine"
    );
}
