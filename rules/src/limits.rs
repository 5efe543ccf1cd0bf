//! Named limits. Every list the rater keeps per programme, per ride or per input line is bounded
//! here, so a hostile or mistaken input fails with a clear error instead of growing without end.

/// Rules in one programme. A ride's applied rules are a `u64` bit set, so this cannot exceed 64.
pub const MAX_RULES: usize = 64;
/// Fare tables (operators) in one programme. Rules select operators through a `u64` bit set.
pub const MAX_OPERATORS: usize = 64;
/// Budgets in one programme (one per id and fiscal year).
pub const MAX_BUDGETS: usize = 4096;
/// Granting rules (`ride_reward`, `points_per_ride`) in one programme: the inline grant list of
/// a `Rating` has this capacity, so no ride can produce more grants than fit.
pub const MAX_GRANT_RULES: usize = 16;
/// Decimal places accepted in a `percent_off` percentage (12.5 has 1).
pub const MAX_PERCENT_SCALE: u32 = 6;
/// Size of one GTFS file the loader accepts (the Muroran fare_rules.txt is 1.8 MB).
pub const MAX_GTFS_FILE_BYTES: u64 = 256 * 1024 * 1024;
/// Size of the programme TOML file.
pub const MAX_PROGRAMME_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// One NDJSON line (rider or event). Longer lines are rejected as unreadable / `bad_event`.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Length of a pseudonymous rider id.
pub const MAX_RIDER_ID_BYTES: usize = 128;
/// Custom attributes on one rider record (`attributes`), and declared in one programme.
pub const MAX_RIDER_ATTRIBUTES: usize = 32;
/// Length of a custom attribute's name.
pub const MAX_ATTRIBUTE_NAME_BYTES: usize = 64;
/// The widest `since` window: about a century of days.
pub const MAX_SINCE_WITHIN_DAYS: u32 = 36_600;
/// Pass products (`[[passes]]`) in one programme.
pub const MAX_PASS_PRODUCTS: usize = 64;
/// The longest `valid_days` of a pass: ten years.
pub const MAX_PASS_VALID_DAYS: u32 = 3_660;
/// The longest `valid_months` of a pass: ten years.
pub const MAX_PASS_VALID_MONTHS: u32 = 120;
