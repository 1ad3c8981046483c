//! Port implementations. Only this module names AWS or SQLite.

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "local")]
pub mod local;
