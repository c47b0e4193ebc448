//! Everything that runs only on the server: configuration, storage, the domain
//! service, the REST API, sessions and background work.

pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod duration;
pub mod exports;
pub mod group_commit;
pub mod http;
pub mod inbox_feed;
pub mod inbox_seats;
pub mod inbox_socket;
pub mod mcp;
pub mod password;
pub mod rate_limit;
pub mod rest;
pub mod sanitize;
pub mod service;
pub mod signin_throttle;
pub mod state;
pub mod store;
pub mod tasks;
pub mod trusted_proxies;
pub mod wait_room;
pub mod webhook;
