//! Lares: the account and session service of a game backend.

pub mod domain;
pub mod proto;
pub mod config;
pub mod store;
pub mod telemetry;
pub mod actors;
pub mod service;
pub mod http;
pub mod grpc;
pub mod app;
