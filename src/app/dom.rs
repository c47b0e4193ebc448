//! The few things the inbox asks of the browser directly: focus, clicks
//! the keyboard stands in for, the address bar, notifications. Each does
//! nothing while the server renders, so callers need no `cfg`.

/// Moves focus to the inbox list's entry for `id` and scrolls it into view.
pub fn focus_inbox_item(id: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(item) = element(&format!("a.inbox-item[data-id=\"{id}\"]")) {
        use wasm_bindgen::JsCast;
        let options = web_sys::ScrollIntoViewOptions::new();
        options.set_block(web_sys::ScrollLogicalPosition::Nearest);
        item.scroll_into_view_with_scroll_into_view_options(&options);
        if let Ok(item) = item.dyn_into::<web_sys::HtmlElement>() {
            let _ = item.focus();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
}

/// Whether focus is on, or inside, the element matching `selector`.
pub fn focus_within(selector: &str) -> bool {
    #[cfg(feature = "hydrate")]
    return element(selector)
        .zip(leptos::prelude::document().active_element())
        .is_some_and(|(element, active)| element.contains(Some(active.as_ref())));
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = selector;
        false
    }
}

/// Submits the form around a field (as its submit button would, so the
/// form's own submit handling runs).
pub fn submit_form_of(field: &leptos::ev::KeyboardEvent) {
    #[cfg(feature = "hydrate")]
    if let Some(form) = closest(field, "form") {
        use wasm_bindgen::JsCast;
        if let Ok(form) = form.dyn_into::<web_sys::HtmlFormElement>() {
            let _ = form.request_submit();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = field;
}

/// Closes the `<details>` around a field.
pub fn close_details_of(field: &leptos::ev::KeyboardEvent) {
    #[cfg(feature = "hydrate")]
    if let Some(details) = closest(field, "details") {
        use wasm_bindgen::JsCast;
        if let Ok(details) = details.dyn_into::<web_sys::HtmlDetailsElement>() {
            details.set_open(false);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = field;
}

/// For a `<details>`'s toggle event: whether it is now open.
pub fn details_opened(toggle: &leptos::ev::Event) -> bool {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        toggle
            .target()
            .and_then(|target| target.dyn_into::<web_sys::HtmlDetailsElement>().ok())
            .is_some_and(|details| details.open())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = toggle;
        false
    }
}

/// Whether a key press went to a place where keys type text.
pub fn typing_in_a_field(event: &leptos::ev::KeyboardEvent) -> bool {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(target) = event.target() else {
            return false;
        };
        if let Some(input) = target.dyn_ref::<web_sys::HtmlInputElement>() {
            return !matches!(
                input.type_().as_str(),
                "checkbox" | "radio" | "button" | "submit" | "reset"
            );
        }
        if target.dyn_ref::<web_sys::HtmlTextAreaElement>().is_some()
            || target.dyn_ref::<web_sys::HtmlSelectElement>().is_some()
        {
            return true;
        }
        target
            .dyn_ref::<web_sys::HtmlElement>()
            .is_some_and(|element| element.is_content_editable())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = event;
        false
    }
}

/// Clicks the first element matching `selector`, as the person would.
pub fn click(selector: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(element) = element(selector) {
        use wasm_bindgen::JsCast;
        if let Ok(element) = element.dyn_into::<web_sys::HtmlElement>() {
            element.click();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = selector;
}

/// Opens the `<details>` matching `selector` (its toggle handler does the rest).
pub fn open_details(selector: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(element) = element(selector) {
        use wasm_bindgen::JsCast;
        if let Ok(details) = element.dyn_into::<web_sys::HtmlDetailsElement>() {
            details.set_open(true);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = selector;
}

/// Puts `url` (path and query) in the address bar without a navigation, so
/// a reload or a shared link shows the same view.
pub fn replace_url(url: &str) {
    #[cfg(feature = "hydrate")]
    if let Ok(history) = leptos::prelude::window().history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(url));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = url;
}

/// Whether the page is in a background tab or a minimised window.
pub fn page_hidden() -> bool {
    #[cfg(feature = "hydrate")]
    return leptos::prelude::document().hidden();
    #[cfg(not(feature = "hydrate"))]
    false
}

/// The browser's answer about notifications: "granted", "denied",
/// "default" (not asked yet), or None where there are none.
pub fn notification_permission() -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        let supported = js_sys::Reflect::has(&leptos::prelude::window(), &"Notification".into())
            .unwrap_or(false);
        if !supported {
            return None;
        }
        let permission = match web_sys::Notification::permission() {
            web_sys::NotificationPermission::Granted => "granted",
            web_sys::NotificationPermission::Denied => "denied",
            _ => "default",
        };
        Some(permission.to_owned())
    }
    #[cfg(not(feature = "hydrate"))]
    None
}

/// Asks for permission to notify; `answered` gets the new state.
pub fn request_notification_permission(answered: impl Fn(Option<String>) + 'static) {
    #[cfg(feature = "hydrate")]
    if let Ok(promise) = web_sys::Notification::request_permission() {
        leptos::task::spawn_local(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
            answered(notification_permission());
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = answered;
}

/// Shows a system notification (if allowed); clicking it brings the tab
/// forward and runs `on_click`.
pub fn notify(title: &str, body: &str, tag: &str, on_click: impl FnOnce() + 'static) {
    #[cfg(feature = "hydrate")]
    {
        if notification_permission().as_deref() != Some("granted") {
            return;
        }
        let options = web_sys::NotificationOptions::new();
        options.set_body(body);
        options.set_tag(tag);
        if let Ok(notification) = web_sys::Notification::new_with_options(title, &options) {
            let shown = notification.clone();
            let clicked = wasm_bindgen::closure::Closure::once_into_js(move || {
                let _ = leptos::prelude::window().focus();
                shown.close();
                on_click();
            });
            notification.set_onclick(Some(wasm_bindgen::JsCast::unchecked_ref(&clicked)));
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (title, body, tag, on_click);
}

#[cfg(feature = "hydrate")]
fn closest(event: &leptos::ev::KeyboardEvent, selector: &str) -> Option<web_sys::Element> {
    use wasm_bindgen::JsCast;
    let target = event.target()?.dyn_into::<web_sys::Element>().ok()?;
    target.closest(selector).ok().flatten()
}

#[cfg(feature = "hydrate")]
fn element(selector: &str) -> Option<web_sys::Element> {
    leptos::prelude::document()
        .query_selector(selector)
        .ok()
        .flatten()
}

/// Puts `text` on the clipboard (the browser may refuse; the text is
/// selectable on the page either way).
pub fn copy_text(text: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _promise = leptos::prelude::window()
            .navigator()
            .clipboard()
            .write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}
