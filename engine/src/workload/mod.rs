//! Deterministic workload generators shared by `kanjo demo` and `kanjo-load`.
