//! Hears revocations made elsewhere: API keys revoked and sessions ended by
//! `holdpoint admin` (another process) or on another instance. Once a second
//! it asks the database what was revoked since it last looked and tells this
//! process: parked `/wait` calls of a revoked key answer 401 at once, and
//! the open inboxes of a person whose sessions ended re-check and close.
//!
//! Revocation marks are strictly increasing across the table (the store
//! makes them so), so "after the last mark seen" misses nothing, whatever
//! the clocks of the machines that wrote them.

use crate::server::domain::events::Event;
use crate::server::service::{Service, ServiceResult};
use std::sync::Arc;
use std::time::Duration;

const PERIOD: Duration = Duration::from_secs(1);

/// What one kind of revocation is read with, and announced as.
struct Watched {
    since: i64,
    announce: fn(String) -> Event,
}

impl Watched {
    /// Announces what was revoked after the last mark seen; `quiet` at
    /// start, when earlier revocations concern nothing of this process.
    fn take(&mut self, service: &Service, found: ServiceResult<Vec<(String, i64)>>, quiet: bool) {
        match found {
            Ok(revoked) => {
                for (id, mark) in revoked {
                    self.since = self.since.max(mark);
                    if !quiet {
                        service.hub().publish((self.announce)(id));
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "cannot read revocations"),
        }
    }
}

pub async fn run(service: Arc<Service>) {
    let mut keys = Watched {
        since: i64::MIN,
        announce: Event::KeyRevoked,
    };
    let mut sessions = Watched {
        since: i64::MIN,
        announce: Event::AccessChanged,
    };
    let mut ticks = tokio::time::interval(PERIOD);
    let mut first = true;
    loop {
        ticks.tick().await;
        let found = service.keys_revoked_since(keys.since).await;
        keys.take(&service, found, first);
        let found = service.access_changed_since(sessions.since).await;
        sessions.take(&service, found, first);
        first = false;
    }
}
