//! How long browsers keep the built site's files (`/pkg/`: the WASM, its
//! JavaScript glue and the stylesheet). Their brotli and gzip copies are
//! chosen by leptos_axum's file server from `Accept-Encoding`.
//!
//! When the build names each file after its content (cargo-leptos's
//! `hash-files`), a name never comes back with other bytes: browsers may
//! keep it for a year without asking again. Without hashed names a file
//! changes under the same name at the next release, so browsers must check
//! first (a cheap 304 when it has not changed).

use crate::server::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use leptos::config::LeptosOptions;
use std::path::PathBuf;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

pub async fn cache_built_assets(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let built = request
        .uri()
        .path()
        .strip_prefix('/')
        .and_then(|path| path.strip_prefix(&*state.leptos_options.site_pkg_dir))
        .is_some_and(|rest| rest.starts_with('/'));
    let mut response = next.run(request).await;
    if built && (response.status().is_success() || response.status().as_u16() == 304) {
        let policy = if state.leptos_options.hash_files {
            IMMUTABLE
        } else {
            REVALIDATE
        };
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
        // The same name is served as brotli, gzip or plain bytes: caches on
        // the way must keep them apart.
        headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// Whether this build's files have hashed names: cargo-leptos writes the
/// hashes beside the server binary, where Leptos reads them on each page.
/// A binary built by plain `cargo build` (the tests) may have none: then
/// the plain names are served, and revalidated.
pub fn use_hashed_names(options: &mut LeptosOptions) {
    let hashes = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&*options.hash_file)))
        .unwrap_or_else(|| PathBuf::from(&*options.hash_file));
    options.hash_files = hashes.is_file();
}
