//! kanjo-engine: the I/O shell around the pure core. The pipeline (queue, machine thread, group
//! commit, replay), the HTTP API, a client for it, and the demo; the `kanjo` binary is `main.rs`.
//! See ARCHITECTURE.md for the code map.

pub mod api;
pub mod auth_layer;
pub mod client;
pub mod demo;
pub mod finance_login;
pub mod finance_page;
pub mod month_demo;
pub mod pipeline;
pub mod programme_cli;
pub mod reconcile_cli;
pub mod recovery;
pub mod statement_file;
pub mod tls;
pub mod tokens;
pub mod verify;

// The lower crates' modules under the paths they had when they lived here, so the shell's
// modules and code written against those paths keep building; new code names the owning crate.
pub use kanjo_core::{answer, body, chart, event, limits, machine, report, riders, taps};
pub use kanjo_store as store;
pub use kanjo_workload as workload;
