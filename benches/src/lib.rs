//! Workload generators shared by the criterion benchmarks.
