//! The approval's data as readable JSON: pretty-printed, keys dimmed, nested
//! values collapsible, long arrays folded with a count.

use crate::model::reveal_hidden;
use leptos::prelude::*;
use serde_json::Value;

/// Arrays longer than this start folded.
const FOLD_ITEMS: usize = 10;

#[component]
pub fn JsonView(value: Value) -> impl IntoView {
    view! { <div class="json" role="group" aria-label="Data">{render(&value, 0)}</div> }
}

fn render(value: &Value, depth: usize) -> AnyView {
    match value {
        Value::Null => view! { <span class="json-null">"null"</span> }.into_any(),
        Value::Bool(b) => view! { <span class="json-bool">{b.to_string()}</span> }.into_any(),
        Value::Number(n) => view! { <span class="json-number">{n.to_string()}</span> }.into_any(),
        Value::String(s) => {
            view! { <span class="json-string">{format!("{s:?}")}</span> }.into_any()
        }
        Value::Array(items) if items.is_empty() => {
            view! { <span class="json-punct">"[]"</span> }.into_any()
        }
        Value::Object(map) if map.is_empty() => {
            view! { <span class="json-punct">"{}"</span> }.into_any()
        }
        Value::Array(items) => {
            let label = format!(
                "[ {} item{} ]",
                items.len(),
                if items.len() == 1 { "" } else { "s" }
            );
            let open = depth < 3 && items.len() <= FOLD_ITEMS;
            let children = items
                .iter()
                .map(|item| view! { <li>{render(item, depth + 1)}</li> })
                .collect_view();
            view! {
                <details class="json-fold" open=open>
                    <summary class="json-punct">{label}</summary>
                    <ol class="json-array" start="0">{children}</ol>
                </details>
            }
            .into_any()
        }
        Value::Object(map) => {
            let label = format!(
                "{{ {} key{} }}",
                map.len(),
                if map.len() == 1 { "" } else { "s" }
            );
            let children = map
                .iter()
                .map(|(key, value)| {
                    view! {
                        <div class="json-entry">
                            <dt class="json-key">{reveal_hidden(key).into_owned()}</dt>
                            <dd>{render(value, depth + 1)}</dd>
                        </div>
                    }
                })
                .collect_view();
            view! {
                <details class="json-fold" open=depth < 3>
                    <summary class="json-punct">{label}</summary>
                    <dl class="json-object">{children}</dl>
                </details>
            }
            .into_any()
        }
    }
}
