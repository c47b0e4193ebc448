//! Answers streamed a page at a time: an export of any length is sent in
//! flat memory, one page of rows read, written and let go before the next.

use axum::body::{Body, Bytes};
use futures_util::stream::{self, StreamExt};
use std::fmt::Display;
use std::future::Future;

/// A body that starts with `first` (read before answering, so that a
/// refused request still gets its problem and status) and goes on, while
/// there is a cursor, with `next(cursor)`: the bytes of the page at
/// `cursor` and the cursor of the page after it (None after the last). An
/// error after the answer has started can only cut the body short; it is
/// logged.
pub fn paged_body<C, F, Fut, E>(first: Bytes, cursor: Option<C>, next: F) -> Body
where
    C: Send + 'static,
    F: FnMut(C) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(Bytes, Option<C>), E>> + Send,
    E: Display,
{
    let rest = stream::unfold((cursor, next), |(cursor, mut next)| async move {
        let cursor = cursor?;
        match next(cursor).await {
            Ok((bytes, after)) => Some((Ok(bytes), (after, next))),
            Err(error) => {
                tracing::error!(%error, "an export ended early");
                Some((Err(std::io::Error::other(error.to_string())), (None, next)))
            }
        }
    });
    Body::from_stream(stream::once(async move { Ok(first) }).chain(rest))
}
