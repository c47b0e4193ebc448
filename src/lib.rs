//! Holdpoint: a human-approval gate for AI agents.
//!
//! One crate, built twice by cargo-leptos: the server (feature `ssr`) and the
//! WASM inbox (feature `hydrate`). `model`, `api` and `app` are shared;
//! `server` exists only in the server build.

// The router's nested route types can still go past rustc's default
// recursion limit of 128.
#![recursion_limit = "256"]

// Every build erases its view types (`--cfg erase_components`, from
// .cargo/config.toml and cargo-leptos's `always-erase-components`): the
// erased and the spelled-out forms render different markup, so a server
// and a WASM built one way each never hydrate each other's pages. A build
// without it (a RUSTFLAGS or a [target] rustflags that replaces the
// setting) stops here rather than in every visitor's browser.
#[cfg(not(erase_components))]
compile_error!(
    "build with `--cfg erase_components` (.cargo/config.toml sets it; a RUSTFLAGS \
     variable or a [target] rustflags setting replaces it: add it there too)"
);

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
    // Lazily loaded pages hydrate once their chunk has arrived (as
    // `leptos::mount::hydrate_lazy` does); only then is the page the
    // client's, and only then does `data-hydrated` on <body> say so (the
    // browser tests wait for it before they click).
    wasm_bindgen_futures::spawn_local(async {
        let document = leptos::prelude::document();
        let Some(body) = document.body() else {
            return;
        };
        leptos::mount::hydrate_from_async(body.clone(), app::App)
            .await
            .forget();
        let _ = body.set_attribute("data-hydrated", "true");
    });
}
