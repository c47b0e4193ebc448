//! Holdpoint: a human-approval gate for AI agents.
//!
//! One crate, built twice by cargo-leptos: the server (feature `ssr`) and the
//! WASM inbox (feature `hydrate`). `model`, `api` and `app` are shared;
//! `server` exists only in the server build.

// Release builds (without cargo-leptos's `erase_components`) spell out the
// full static type of every view, which is deeper than rustc's default limit.
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod model;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "testkit")]
pub mod testkit;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Lazily loaded pages hydrate once their chunk has arrived.
    leptos::mount::hydrate_lazy(app::App);
}
