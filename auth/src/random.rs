//! The one place this crate reads randomness: the operating system's RNG, through `getrandom`
//! (the crate `rand::rngs::OsRng` itself uses). Only [`crate::generate_token`] calls it; every
//! other function is deterministic.

use thiserror::Error;

/// The OS could not supply random bytes (no entropy source). Nothing was generated.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RandomError(String);

impl RandomError {
    pub fn code(&self) -> &'static str {
        "no_randomness"
    }
}

/// `N` bytes from the operating system's cryptographically secure RNG.
pub fn os_random<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|error| RandomError(error.to_string()))?;
    Ok(bytes)
}
