//! Port implementations. Only this module names AWS, SQLite or an inference library.

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "local")]
pub mod local;
#[cfg(feature = "models")]
pub mod models;
