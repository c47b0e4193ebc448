//! The state every handler and server function sees.

use crate::server::inbox_feed::InboxFeed;
use crate::server::inbox_seats::InboxSeats;
use crate::server::service::Service;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

/// Cloned for every request (axum's `State`): each field is cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Shared: a clone of the options themselves is a dozen allocations,
    /// which showed in a profile of the create path.
    pub leptos_options: Arc<LeptosOptions>,
    pub service: Arc<Service>,
    /// What live inboxes hear (see `inbox_socket`).
    pub inbox_feed: InboxFeed,
    /// How many live inboxes each person has open here.
    pub inbox_seats: InboxSeats,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        LeptosOptions::clone(&state.leptos_options)
    }
}
