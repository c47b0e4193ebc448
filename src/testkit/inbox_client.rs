//! A live inbox's WebSocket (`/ws`), driven from the outside as a browser
//! would: a real TCP connection, a real WebSocket handshake with the
//! session cookie, and the JSON messages of `model::inbox_protocol`.

use super::Server;
use crate::model::InboxEvent;
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, http, Message};
use tokio_tungstenite::WebSocketStream;

/// How long a test waits for one message before it fails.
/// Generous: a heavily loaded 2-core machine (the whole suite at once) can
/// take many seconds to push thousands of events; a real hang still fails.
const PATIENCE: Duration = Duration::from_secs(30);

pub struct InboxSocket {
    stream: WebSocketStream<TcpStream>,
}

/// How to open the socket.
#[derive(Debug, Clone, Default)]
pub struct Connect<'a> {
    /// The `Cookie` header (a signed-in session), if any.
    pub cookie: Option<&'a str>,
    /// The `Origin` header a browser page would send, if any.
    pub origin: Option<&'a str>,
    /// A small kernel receive buffer makes a client that stops reading
    /// fall behind quickly (tests of lagging clients).
    pub receive_buffer: Option<u32>,
    /// An admin's inbox of every pending approval (`/ws?everything=1`).
    pub everything: bool,
}

impl InboxSocket {
    /// Opens `/ws` on `server`; a refused handshake comes back as the
    /// server's HTTP answer (`tungstenite::Error::Http`).
    pub async fn open(server: &Server, how: Connect<'_>) -> Result<Self, tungstenite::Error> {
        let path = if how.everything {
            "/ws?everything=1"
        } else {
            "/ws"
        };
        let url = server.url(path).replacen("http://", "ws://", 1);
        let mut request = url.as_str().into_client_request()?;
        let headers = request.headers_mut();
        for (name, value) in [
            (http::header::COOKIE, how.cookie),
            (http::header::ORIGIN, how.origin),
        ] {
            if let Some(value) = value {
                headers.insert(name, value.parse().expect("header value"));
            }
        }
        let address = server
            .base_url
            .trim_start_matches("http://")
            .parse()
            .expect("server address");
        let socket = TcpSocket::new_v4()?;
        if let Some(size) = how.receive_buffer {
            socket.set_recv_buffer_size(size)?;
        }
        let tcp = socket.connect(address).await?;
        // No size limit of its own: tests and the bench measure what the
        // server sends, however large.
        let unlimited = tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(None)
            .max_frame_size(None);
        let (stream, _) =
            tokio_tungstenite::client_async_with_config(request, tcp, Some(unlimited)).await?;
        Ok(Self { stream })
    }

    /// Gives a connection opened with a small `receive_buffer` a large one.
    /// A client that reads through megabytes with a 4 KiB buffer gets them
    /// a couple of kilobytes per delayed acknowledgement (some 200 ms), so
    /// catching up would take minutes.
    pub fn widen_receive_buffer(&self, bytes: usize) -> std::io::Result<()> {
        socket2::SockRef::from(self.stream.get_ref()).set_recv_buffer_size(bytes)
    }

    /// Opens `/ws` with a session cookie, as a signed-in browser would.
    pub async fn signed_in(server: &Server, cookie: &str) -> Self {
        let how = Connect {
            cookie: Some(cookie),
            ..Connect::default()
        };
        Self::open(server, how).await.expect("open the live inbox")
    }

    /// The next inbox event, heartbeats included; panics after 30 s, or if
    /// the server closed the connection.
    pub async fn next_event(&mut self) -> InboxEvent {
        tokio::time::timeout(PATIENCE, self.next_event_unbounded())
            .await
            .expect("no inbox event within 30 s")
    }

    /// The next event that is not a heartbeat.
    pub async fn next_news(&mut self) -> InboxEvent {
        loop {
            match self.next_event().await {
                InboxEvent::Heartbeat { .. } => continue,
                event => return event,
            }
        }
    }

    /// Reads past any events until the server closes the connection;
    /// returns the close code. Panics when no close comes within `within`.
    pub async fn close_code(&mut self, within: Duration) -> u16 {
        use futures_util::StreamExt;
        let closed = async {
            loop {
                match self.stream.next().await {
                    Some(Ok(Message::Close(frame))) => {
                        return frame.map_or(1005, |f| u16::from(f.code))
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(error)) => panic!("live inbox error: {error}"),
                    None => panic!("the connection ended without a close frame"),
                }
            }
        };
        tokio::time::timeout(within, closed)
            .await
            .unwrap_or_else(|_| panic!("the server did not close the inbox within {within:?}"))
    }

    /// The next message as the server sent it (its JSON text); panics
    /// after 15 s, or if the server closed the connection.
    pub async fn next_text(&mut self) -> String {
        use futures_util::StreamExt;
        let text = async {
            loop {
                match self.stream.next().await {
                    Some(Ok(Message::Text(text))) => return text.to_string(),
                    Some(Ok(Message::Close(frame))) => {
                        panic!("the server closed the inbox: {frame:?}")
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(error)) => panic!("live inbox error: {error}"),
                    None => panic!("the live inbox connection ended"),
                }
            }
        };
        tokio::time::timeout(PATIENCE, text)
            .await
            .expect("no message within 30 s")
    }

    /// The next event, waiting as long as it takes (the benchmark's clock
    /// runs outside).
    pub async fn next_event_unbounded(&mut self) -> InboxEvent {
        use futures_util::StreamExt;
        loop {
            match self.stream.next().await {
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("not an inbox event ({e}): {text}"))
                }
                Some(Ok(Message::Close(frame))) => panic!("the server closed the inbox: {frame:?}"),
                Some(Ok(_)) => continue,
                Some(Err(error)) => panic!("live inbox error: {error}"),
                None => panic!("the live inbox connection ended"),
            }
        }
    }
}
