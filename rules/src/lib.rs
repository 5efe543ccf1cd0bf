//! kanjo-rules: see ARCHITECTURE.md.
