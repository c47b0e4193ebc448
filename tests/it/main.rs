//! Every integration test, in one binary (one link, one run): each module
//! starts the real `holdpoint` binary on port 0 with a fresh database, and
//! runs each of its tests on SQLite and on PostgreSQL (`on_both_backends!`).

#[macro_use]
mod common;

mod account;
mod admin;
mod api;
mod assets;
mod audit;
mod authorization;
mod bad_input;
mod bench_smoke;
mod condition_budget;
mod exports;
mod gate_integrity;
mod group_commit;
mod hardening;
mod inbox;
mod instances;
mod limits;
mod live;
mod mcp;
mod policies;
mod routing;
mod signin;
mod snippets;
mod stats;
mod store_contract;
mod webhook_durability;
mod webhook_tls;
mod webhooks;
