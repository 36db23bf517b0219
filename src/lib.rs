//! Lares: the account and session service of a game backend.

pub mod actors;
pub mod app;
pub mod config;
pub mod domain;
pub mod grpc;
pub mod http;
pub mod platform;
pub mod proto;
pub mod service;
pub mod store;
pub mod telemetry;
