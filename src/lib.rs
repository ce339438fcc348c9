//! `provision`: builds a locked-down SageMaker Studio in a private VPC by
//! direct AWS API calls, and removes it again.
//!
//! The layers, top-down (an arrow only points down; `tests/layers.rs`
//! checks it): `commands` → `lifecycle`, `preflight` → `graph` → `kinds` → the
//! foundations (`aws`, `state`, `engine`, `config`, `policy`, `cost`, `error`,
//! `wait`, `retry`, `progress`, `step_id`, `operations`).

#![forbid(unsafe_code)]

pub mod aws;
pub mod commands;
pub mod config;
pub mod context;
pub mod cost;
pub mod engine;
pub mod error;
pub mod graph;
pub mod kinds;
pub mod latency;
pub mod lifecycle;
pub mod operations;
pub mod pace;
pub mod policy;
pub mod preflight;
pub mod progress;
pub mod retry;
pub mod state;
pub mod step_id;
pub mod wait;
