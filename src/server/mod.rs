//! Everything that runs only on the server: configuration, storage, the domain
//! service, the REST API, sessions and background work.

pub mod auth;
pub mod cli;
pub mod config;
pub mod expiry;
pub mod http;
pub mod ids;
pub mod inbox_feed;
pub mod inbox_socket;
pub mod live;
pub mod password;
pub mod rate_limit;
pub mod rest;
pub mod revocation_watch;
pub mod sanitize;
pub mod service;
pub mod signin_throttle;
pub mod state;
pub mod store;
pub mod wait_room;
pub mod webhook;
