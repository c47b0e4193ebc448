//! A secret or a link shown once, with a button that copies it. Before the
//! WASM has loaded there is no button, and the text selects in one click.

use super::dom;
use leptos::prelude::*;

#[component]
pub fn ShownOnce(
    /// What it is, e.g. "Invitation link for ana@example.com".
    label: String,
    value: String,
    /// When it stops working, already worded ("works once, until …").
    #[prop(optional)]
    note: Option<String>,
) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let copied = RwSignal::new(false);
    let to_copy = value.clone();
    view! {
        <div class="callout shown-once" role="status">
            <p><strong>{label}</strong> ". It is shown only now."</p>
            <code class="secret">{value}</code>
            {note.map(|note| view! { <p class="muted">{note}</p> })}
            {move || hydrated.get().then(|| {
                let to_copy = to_copy.clone();
                view! {
                    <button type="button" class="button copy" on:click=move |_| {
                        dom::copy_text(&to_copy);
                        copied.set(true);
                    }>
                        {move || if copied.get() { "Copied" } else { "Copy" }}
                    </button>
                }
            })}
        </div>
    }
}
