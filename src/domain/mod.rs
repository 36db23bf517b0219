//! The domain: accounts, credentials, tokens, notices and their rules. No I/O and no transport
//! types; everything above builds on it.

pub mod access;
pub mod admin;
pub mod clock;
pub mod color;
pub mod credentials;
pub mod error;
pub mod gray;
pub mod ids;
pub mod notice;
pub mod password;
pub mod random;
pub mod session;
pub mod token;

pub use error::{Error, Reason, Result};
