//! The inbox's live link: a WebSocket to `/ws` that reconnects after a drop
//! (with jittered exponential backoff), treats a connection that has been
//! silent for two heartbeats as dropped, and follows the browser's
//! online/offline state. Every (re)connection starts with a snapshot, so
//! nothing that happened while it was down is missed.

use crate::model::InboxEvent;
use leptos::prelude::*;

// Only the browser moves past `Connecting`.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Connecting,
    Live,
    Reconnecting,
    Offline,
}

impl LinkState {
    pub fn label(self) -> &'static str {
        match self {
            LinkState::Connecting => "Connecting…",
            LinkState::Live => "Live",
            LinkState::Reconnecting => "Reconnecting…",
            LinkState::Offline => "Offline",
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            LinkState::Live => "link-state live",
            LinkState::Offline => "link-state offline",
            _ => "link-state waiting",
        }
    }
}

/// Opens the link once the page runs in the browser (on the server it stays
/// `Connecting`) and calls `on_event` with each message; it closes with the
/// calling component. With `everything`, an admin hears of every approval
/// (others hear of what they may see either way).
pub fn use_live_link(
    everything: bool,
    on_event: impl Fn(InboxEvent) + 'static,
) -> ReadSignal<LinkState> {
    let (state, set_state) = signal(LinkState::Connecting);
    #[cfg(feature = "hydrate")]
    {
        let on_event = std::rc::Rc::new(on_event);
        Effect::new(move |started: Option<()>| {
            if started.is_none() {
                browser::start(everything, on_event.clone(), set_state);
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (everything, on_event, set_state);
    state
}

/// Live, reconnecting or offline: small, never in the way.
#[component]
pub fn LinkIndicator(
    state: ReadSignal<LinkState>,
    /// What the link keeps up to date, for the tooltip.
    title: &'static str,
) -> impl IntoView {
    view! {
        <span
            class=move || state.get().class()
            data-state=move || format!("{:?}", state.get()).to_lowercase()
            aria-live="polite"
            title=title
        >
            <span class="dot" aria-hidden="true"></span>
            {move || state.get().label()}
        </span>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::LinkState;
    use crate::model::{InboxEvent, HEARTBEAT_SECS};
    use leptos::prelude::*;
    use send_wrapper::SendWrapper;
    use std::cell::RefCell;
    use std::rc::{Rc, Weak};
    use std::time::Duration;
    use wasm_bindgen::prelude::*;
    use web_sys::{CloseEvent, MessageEvent, WebSocket};

    /// The server's close code for "the session has ended".
    const CLOSE_SIGNED_OUT: u16 = 4401;
    /// Two heartbeats missed, and some slack: the connection is dead.
    const SILENCE_LIMIT: Duration = Duration::from_secs(HEARTBEAT_SECS * 2 + 5);
    const FIRST_RETRY_MS: f64 = 500.0;
    const LONGEST_RETRY_MS: f64 = 30_000.0;

    type OnEvent = Rc<dyn Fn(InboxEvent)>;

    struct Link {
        set_state: WriteSignal<LinkState>,
        everything: bool,
        socket: Option<Socket>,
        /// Attempts since the last message; sets the backoff.
        failures: u32,
        retry: Option<TimeoutHandle>,
        watchdog: Option<TimeoutHandle>,
        stopped: bool,
    }

    /// A WebSocket and the callbacks that must live as long as it does.
    struct Socket {
        ws: WebSocket,
        _on_message: Closure<dyn FnMut(MessageEvent)>,
        _on_close: Closure<dyn FnMut(CloseEvent)>,
    }

    impl Drop for Socket {
        fn drop(&mut self) {
            self.ws.set_onmessage(None);
            self.ws.set_onclose(None);
            let _ = self.ws.close();
        }
    }

    type Shared = Rc<RefCell<Link>>;

    pub fn start(
        everything: bool,
        on_event: Rc<impl Fn(InboxEvent) + 'static>,
        set_state: WriteSignal<LinkState>,
    ) {
        let on_event: OnEvent = on_event;
        let link: Shared = Rc::new(RefCell::new(Link {
            set_state,
            everything,
            socket: None,
            failures: 0,
            retry: None,
            watchdog: None,
            stopped: false,
        }));
        if window().navigator().on_line() {
            connect(&link, &on_event);
        } else {
            set_state.set(LinkState::Offline);
        }
        let online = {
            let (link, on_event) = (link.clone(), on_event.clone());
            window_event_listener(leptos::ev::online, move |_| {
                // Back online: try at once, not after the backoff.
                drop_socket(&link);
                link.borrow_mut().failures = 0;
                connect(&link, &on_event);
            })
        };
        let offline = {
            let link = link.clone();
            window_event_listener(leptos::ev::offline, move |_| {
                drop_socket(&link);
                link.borrow().set_state.set(LinkState::Offline);
            })
        };
        let link = SendWrapper::new(link);
        on_cleanup(move || {
            online.remove();
            offline.remove();
            link.borrow_mut().stopped = true;
            drop_socket(&link);
        });
    }

    fn socket_url(everything: bool) -> String {
        let location = window().location();
        let scheme = match location.protocol().as_deref() {
            Ok("https:") => "wss",
            _ => "ws",
        };
        let scope = if everything { "?everything=1" } else { "" };
        format!(
            "{scheme}://{}/ws{scope}",
            location.host().unwrap_or_default()
        )
    }

    fn connect(link: &Shared, on_event: &OnEvent) {
        if link.borrow().stopped {
            return;
        }
        let first = link.borrow().failures == 0;
        link.borrow().set_state.set(if first {
            LinkState::Connecting
        } else {
            LinkState::Reconnecting
        });
        let ws = match WebSocket::new(&socket_url(link.borrow().everything)) {
            Ok(ws) => ws,
            Err(_) => return retry_later(link, on_event),
        };
        let weak = Rc::downgrade(link);
        let on_message = {
            let (weak, on_event) = (weak.clone(), on_event.clone());
            Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
                let Some(link) = weak.upgrade() else { return };
                let Some(text) = message.data().as_string() else {
                    return;
                };
                let Ok(event) = serde_json::from_str::<InboxEvent>(&text) else {
                    leptos::logging::warn!("ignoring an inbox message this page does not know");
                    return;
                };
                if matches!(event, InboxEvent::Snapshot(_)) {
                    link.borrow_mut().failures = 0;
                    link.borrow().set_state.set(LinkState::Live);
                }
                watch_for_silence(&link, &on_event);
                on_event(event);
            })
        };
        let on_close = {
            let on_event = on_event.clone();
            Closure::<dyn FnMut(CloseEvent)>::new(move |closed: CloseEvent| {
                if closed.code() == CLOSE_SIGNED_OUT {
                    let _ = window().location().set_href("/login");
                    return;
                }
                // Not from inside the socket's own callback: it is dropped.
                let (weak, on_event) = (weak.clone(), on_event.clone());
                queue_microtask(move || {
                    if let Some(link) = weak.upgrade() {
                        drop_socket(&link);
                        retry_later(&link, &on_event);
                    }
                });
            })
        };
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        link.borrow_mut().socket = Some(Socket {
            ws,
            _on_message: on_message,
            _on_close: on_close,
        });
        watch_for_silence(link, on_event);
    }

    /// Closes the current socket, if any, and cancels pending timers.
    fn drop_socket(link: &Shared) {
        let mut link = link.borrow_mut();
        link.socket = None;
        if let Some(timer) = link.retry.take() {
            timer.clear();
        }
        if let Some(timer) = link.watchdog.take() {
            timer.clear();
        }
    }

    fn retry_later(link: &Shared, on_event: &OnEvent) {
        let delay = {
            let mut state = link.borrow_mut();
            if state.stopped || !window().navigator().on_line() {
                return;
            }
            state.set_state.set(LinkState::Reconnecting);
            let delay = backoff(state.failures);
            state.failures += 1;
            delay
        };
        let weak: Weak<RefCell<Link>> = Rc::downgrade(link);
        let on_event = on_event.clone();
        let timer = set_timeout_with_handle(
            move || {
                if let Some(link) = weak.upgrade() {
                    link.borrow_mut().retry = None;
                    connect(&link, &on_event);
                }
            },
            delay,
        );
        link.borrow_mut().retry = timer.ok();
    }

    /// (Re)starts the timer that declares a silent connection dead.
    fn watch_for_silence(link: &Shared, on_event: &OnEvent) {
        if let Some(timer) = link.borrow_mut().watchdog.take() {
            timer.clear();
        }
        let weak = Rc::downgrade(link);
        let on_event = on_event.clone();
        let timer = set_timeout_with_handle(
            move || {
                if let Some(link) = weak.upgrade() {
                    drop_socket(&link);
                    retry_later(&link, &on_event);
                }
            },
            SILENCE_LIMIT,
        );
        link.borrow_mut().watchdog = timer.ok();
    }

    /// 0.5 s, 1 s, 2 s, ... up to 30 s, each ±30 %, so that a server that
    /// comes back is not hit by every browser in the same instant.
    fn backoff(failures: u32) -> Duration {
        let base = (FIRST_RETRY_MS * 2f64.powi(failures.min(16) as i32)).min(LONGEST_RETRY_MS);
        let jitter = 0.7 + 0.6 * js_sys::Math::random();
        Duration::from_millis((base * jitter) as u64)
    }
}
