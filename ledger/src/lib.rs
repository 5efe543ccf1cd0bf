//! kanjo-ledger: see ARCHITECTURE.md.
