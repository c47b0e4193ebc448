//! What a person is told when a server function fails.

use leptos::prelude::*;

/// The message to show a person for a failed server function.
pub fn error_message(error: &ServerFnError) -> String {
    match error {
        ServerFnError::ServerError(message) => message.clone(),
        other => format!("The server could not be reached ({other}). Try again."),
    }
}

/// The message of an action's last failure, for showing next to its form
/// (None while it has not failed).
pub fn last_error<S>(action: ServerAction<S>) -> Option<String>
where
    S: leptos::server_fn::ServerFn<Error = ServerFnError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    action
        .value()
        .get()
        .and_then(Result::err)
        .map(|e| error_message(&e))
}
