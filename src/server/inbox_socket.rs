//! `GET /ws`: a live inbox's WebSocket. The session and the page's origin
//! are checked before the upgrade; then the connection gets a snapshot, the
//! changes its person may see, a heartbeat, and a fresh snapshot whenever it
//! falls behind. See `model::inbox_protocol` for the messages.

use crate::model::{InboxEvent, HEARTBEAT_SECS};
use crate::server::domain::User;
use crate::server::http::problem::Problem;
use crate::server::http::session;
use crate::server::inbox_feed::{FeedItem, InboxFeed};
use crate::server::inbox_seats::Seat;
use crate::server::service::Service;
use crate::server::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::{
    rejection::WebSocketUpgradeRejection, CloseFrame, Message, WebSocket, WebSocketUpgrade,
};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// Close codes the client acts on: sign in again, or reconnect.
pub const CLOSE_SIGNED_OUT: u16 = 4401;
const CLOSE_RESTARTING: u16 = 1012;

/// A browser sends nothing we act on; anything big is not from our page.
const MAX_INCOMING_MESSAGE: usize = 16 * 1024;

/// `?everything=1`: an admin's inbox of every pending approval.
#[derive(serde::Deserialize)]
pub struct Scope {
    #[serde(default)]
    everything: Option<String>,
}

pub async fn inbox_socket(
    State(state): State<AppState>,
    scope: Result<Query<Scope>, QueryRejection>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let service = state.service;
    if !session::from_our_origin(&headers, &service.config().public_url) {
        return Problem::new(
            StatusCode::FORBIDDEN,
            "cross_site_request",
            "this WebSocket may only be opened by Holdpoint's own pages",
        )
        .into_response();
    }
    let user = match session::current_user(&service, &headers).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            return Problem::new(
                StatusCode::UNAUTHORIZED,
                "not_signed_in",
                "sign in to the inbox first: the live inbox needs a session cookie",
            )
            .into_response()
        }
        Err(error) => return Problem::from(error).into_response(),
    };
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            return Problem::bad_request(
                "websocket_expected",
                format!("this address takes a WebSocket: {rejection}"),
            )
            .into_response()
        }
    };
    let Some(seat) = state.inbox_seats.take(&user.id) else {
        return Problem::rate_limited(
            format!(
                "you already have {} live inboxes open: close a tab and try again",
                state.inbox_seats.max_per_person()
            ),
            5,
        )
        .into_response();
    };
    // Only the session cookie is kept, to re-check the session later.
    let mut session = HeaderMap::new();
    for cookie in headers.get_all(header::COOKIE) {
        session.append(header::COOKIE, cookie.clone());
    }
    let connection = Connection {
        // A query that does not parse asks for nothing in particular.
        everything: scope.is_ok_and(|Query(scope)| scope.everything.as_deref() == Some("1")),
        service,
        feed: state.inbox_feed,
        user,
        session,
        _seat: seat,
    };
    upgrade
        // Small buffers: a thousand idle inboxes should cost little memory.
        .read_buffer_size(4 * 1024)
        .write_buffer_size(16 * 1024)
        .max_message_size(MAX_INCOMING_MESSAGE)
        .max_frame_size(MAX_INCOMING_MESSAGE)
        .on_upgrade(move |socket| connection.serve(socket))
}

struct Connection {
    service: Arc<Service>,
    /// An admin who asked for every pending approval.
    everything: bool,
    feed: InboxFeed,
    user: User,
    /// The request's cookies, to see whether the session still holds.
    session: HeaderMap,
    /// Held for as long as the connection is open.
    _seat: Seat,
}

/// Why a connection ended early; the socket is simply dropped.
struct Gone;

impl Connection {
    async fn serve(mut self, mut socket: WebSocket) {
        // Subscribe before the snapshot is read, so nothing falls between.
        let mut changes = self.feed.subscribe();
        let Ok(mut shown_up_to) = self.send_snapshot(&mut socket).await else {
            return;
        };
        let period = Duration::from_secs(HEARTBEAT_SECS);
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        let stopping = self.service.stopping();
        loop {
            let step = tokio::select! {
                item = changes.recv() => match item {
                    Ok(FeedItem::Change(change)) => {
                        // Older changes are in the snapshot already.
                        if change.seq <= shown_up_to
                            || !self.user.in_inbox(&change.route, self.everything)
                        {
                            continue;
                        }
                        send(&mut socket, Message::Text(change.json.clone())).await
                    }
                    Ok(FeedItem::Resync) => self.resync(&mut socket, &mut shown_up_to, false).await,
                    Ok(FeedItem::AccessChanged(user_id)) if user_id == self.user.id => {
                        self.recheck_session(&mut socket, &mut shown_up_to).await
                    }
                    Ok(FeedItem::AccessChanged(_)) => continue,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, user = %self.user.email, "live inbox fell behind");
                        self.resync(&mut socket, &mut shown_up_to, true).await
                    }
                    Err(RecvError::Closed) => Err(Gone),
                },
                incoming = socket.recv() => match incoming {
                    // Pings are answered by the WebSocket layer; text is ignored.
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => Err(Gone),
                    Some(Ok(_)) => Ok(()),
                },
                _ = heartbeat.tick() => self.heartbeat(&mut socket, &mut shown_up_to).await,
                _ = stopping.cancelled() => {
                    close(&mut socket, CLOSE_RESTARTING, "the server is restarting").await;
                    Err(Gone)
                }
            };
            if step.is_err() {
                return;
            }
        }
    }

    /// Sends everything pending for this person; returns the seq it covers.
    async fn send_snapshot(&self, socket: &mut WebSocket) -> Result<i64, Gone> {
        let covers = self.feed.last_seq();
        match self.service.inbox_data(&self.user, self.everything).await {
            Ok(data) => {
                send_event(socket, &InboxEvent::Snapshot(data)).await?;
                Ok(covers)
            }
            Err(error) => {
                tracing::error!(%error, "cannot read an inbox snapshot");
                close(socket, 1011, "the server could not read the inbox").await;
                Err(Gone)
            }
        }
    }

    /// After missed changes: a fresh snapshot (preceded, when this
    /// connection lagged, by `resync` so the client knows why).
    async fn resync(
        &self,
        socket: &mut WebSocket,
        shown_up_to: &mut i64,
        lagged: bool,
    ) -> Result<(), Gone> {
        if lagged {
            send_event(socket, &InboxEvent::Resync).await?;
        }
        *shown_up_to = self.send_snapshot(socket).await?;
        Ok(())
    }

    /// Keeps the connection visibly alive, and ends it when the session has
    /// (sign-out, expiry).
    async fn heartbeat(
        &mut self,
        socket: &mut WebSocket,
        shown_up_to: &mut i64,
    ) -> Result<(), Gone> {
        self.recheck_session(socket, shown_up_to).await?;
        let now_ms = self.service.now_ms();
        send_event(socket, &InboxEvent::Heartbeat { now_ms }).await
    }

    /// Ends the connection when its session has ended (sign-out, expiry,
    /// deactivation, "end sessions"); a changed role gets a new snapshot.
    async fn recheck_session(
        &mut self,
        socket: &mut WebSocket,
        shown_up_to: &mut i64,
    ) -> Result<(), Gone> {
        match session::current_user(&self.service, &self.session).await {
            Ok(Some(user)) if user == self.user => {}
            Ok(Some(user)) => {
                self.user = user;
                *shown_up_to = self.send_snapshot(socket).await?;
            }
            Ok(None) => {
                close(socket, CLOSE_SIGNED_OUT, "the session has ended").await;
                return Err(Gone);
            }
            // The database is briefly unavailable: keep the connection.
            Err(error) => tracing::warn!(%error, "cannot re-check a live inbox's session"),
        }
        Ok(())
    }
}

async fn send_event(socket: &mut WebSocket, event: &InboxEvent) -> Result<(), Gone> {
    match serde_json::to_string(event) {
        Ok(json) => send(socket, Message::Text(json.into())).await,
        Err(error) => {
            tracing::error!(%error, "cannot serialize an inbox event");
            Err(Gone)
        }
    }
}

async fn send(socket: &mut WebSocket, message: Message) -> Result<(), Gone> {
    socket.send(message).await.map_err(|_| Gone)
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}
