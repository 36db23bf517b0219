//! Lares: the account and session service of a game backend.

pub mod domain;
pub mod proto;
