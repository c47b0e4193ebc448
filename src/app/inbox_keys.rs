//! The inbox from the keyboard: j/k move, a approves, d opens the denial
//! reason (Enter sends it, from the card), x selects for a batch, A and D
//! decide the selection, ? shows the keys. Keys are ignored while the person
//! types in a field, or holds Ctrl, Alt or Cmd (the browser's shortcuts).

use super::dom;
use super::inbox_state::Inbox;
use leptos::prelude::*;

/// Every shortcut, for the help panel.
const KEYS: &[(&str, &str)] = &[
    ("j", "Next approval"),
    ("k", "Previous approval"),
    ("a", "Approve the shown approval"),
    (
        "d",
        "Deny it: opens the reason (Enter sends, Shift+Enter for a new line, Esc closes)",
    ),
    ("x", "Select it for a batch decision"),
    ("A", "Approve every selected approval"),
    ("D", "Deny every selected approval, with one reason"),
    ("?", "Show or hide these keys"),
];

/// Listens for the inbox's keys while the inbox is on the page.
pub fn use_inbox_keys(inbox: Inbox) {
    Effect::new(move |listening: Option<()>| {
        if listening.is_none() {
            let handle = window_event_listener(leptos::ev::keydown, move |ev| on_key(inbox, &ev));
            on_cleanup(move || handle.remove());
        }
    });
}

fn on_key(inbox: Inbox, ev: &leptos::ev::KeyboardEvent) {
    if ev.default_prevented() || ev.ctrl_key() || ev.meta_key() || ev.alt_key() || ev.is_composing()
    {
        return;
    }
    if dom::typing_in_a_field(ev) {
        return;
    }
    let on_card = |id: &str, part: &str| format!("article.card[data-id=\"{id}\"] {part}");
    let current = inbox.current.get_untracked();
    let handled = match ev.key().as_str() {
        "j" => {
            inbox.step(1);
            true
        }
        "k" => {
            inbox.step(-1);
            true
        }
        "a" => current
            .map(|id| dom::click(&on_card(&id, ".approve-form button[type=submit]")))
            .is_some(),
        "d" => current
            .map(|id| dom::open_details(&on_card(&id, "details.deny")))
            .is_some(),
        "x" if inbox.may_decide.get_untracked() => {
            current.map(|id| inbox.toggle_checked(&id)).is_some()
        }
        "A" => {
            dom::click(".batch .batch-approve");
            true
        }
        "D" => {
            dom::click(".batch .batch-deny");
            true
        }
        "?" => {
            inbox.help_open.update(|open| *open = !*open);
            true
        }
        "Escape" if inbox.help_open.get_untracked() => {
            inbox.help_open.set(false);
            true
        }
        _ => false,
    };
    if handled {
        ev.prevent_default();
    }
}

/// The list of keys, beside the inbox (not a modal: the inbox stays usable).
#[component]
pub fn KeyHelp() -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    view! {
        <Show when=move || inbox.help_open.get()>
            <aside class="key-help" role="dialog" aria-labelledby="key-help-title">
                <h2 id="key-help-title">"Keyboard shortcuts"</h2>
                <dl>
                    {KEYS.iter().map(|(key, what)| view! {
                        <div class="key-row"><dt><kbd>{*key}</kbd></dt><dd>{*what}</dd></div>
                    }).collect_view()}
                </dl>
                <button type="button" class="button" on:click=move |_| inbox.help_open.set(false)>"Close"</button>
            </aside>
        </Show>
    }
}
