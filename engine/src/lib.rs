//! kanjo-engine: see ARCHITECTURE.md.
