//! Group commit: requests that arrive while a write is committing are
//! gathered and written together, in one transaction, by one task. A
//! commit's fixed cost (SQLite's fsync with `synchronous = FULL`, a round
//! trip and a WAL flush on PostgreSQL) is then paid once per batch instead
//! of once per request, while each request still gets its own answer.
//!
//! Nothing waits on purpose: the first request is written at once, and the
//! batch grows only with what queued behind a commit in progress, so a
//! lone request pays no extra latency. The writer runs in its own task: a
//! caller that goes away (a client hanging up) cannot cut short a batch
//! that carries other callers' requests.

use std::future::Future;
use tokio::sync::{mpsc, oneshot};

/// The most requests one batch carries.
pub const MAX_BATCH: usize = 256;

/// Requests that may wait for the writer at once; more wait to be queued,
/// so callers cannot make the server hold an unbounded queue.
const QUEUE: usize = 4 * MAX_BATCH;

/// One request and where its answer goes.
type Request<T, R> = (T, oneshot::Sender<R>);

/// The handle that queues requests for a writer task.
pub struct GroupCommit<T, R> {
    queue: mpsc::Sender<Request<T, R>>,
}

/// Why a request got no answer.
#[derive(Debug, PartialEq, Eq)]
pub struct WriterGone;

impl<T: Send + 'static, R: Send + 'static> GroupCommit<T, R> {
    /// Starts the writer task. `write` gets each batch (in order of
    /// arrival) and returns one answer per request, in the same order. The
    /// task ends when this handle is dropped.
    ///
    /// Each batch is written in a task of its own: should one panic, its
    /// requests get [`WriterGone`] (its transaction, dropped, rolls back)
    /// and the writer goes on with the next batch.
    pub fn start<W, F>(write: W) -> Self
    where
        W: Fn(Vec<T>) -> F + Send + 'static,
        F: Future<Output = Vec<R>> + Send + 'static,
    {
        let (queue, mut incoming) = mpsc::channel::<Request<T, R>>(QUEUE);
        tokio::spawn(async move {
            while let Some(first) = incoming.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match incoming.try_recv() {
                        Ok(request) => batch.push(request),
                        Err(_) => break,
                    }
                }
                let (requests, replies): (Vec<T>, Vec<_>) = batch.into_iter().unzip();
                let Ok(answers) = tokio::spawn(write(requests)).await else {
                    tracing::error!(requests = replies.len(), "a batch of writes panicked");
                    continue;
                };
                debug_assert_eq!(answers.len(), replies.len());
                for (reply, answer) in replies.into_iter().zip(answers) {
                    // The caller may have gone; its request was written.
                    let _ = reply.send(answer);
                }
            }
        });
        Self { queue }
    }

    /// Queues a request and waits for its answer.
    pub async fn submit(&self, request: T) -> Result<R, WriterGone> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((request, reply))
            .await
            .map_err(|_| WriterGone)?;
        answer.await.map_err(|_| WriterGone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn each_request_gets_its_own_answer_and_queued_ones_share_a_batch() {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let seen = batches.clone();
        let doubler = GroupCommit::start(move |numbers: Vec<u32>| {
            seen.lock().unwrap().push(numbers.len());
            async move {
                // A slow commit, so that the others queue behind the first.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                numbers.into_iter().map(|n| n * 2).collect::<Vec<_>>()
            }
        });
        let doubler = Arc::new(doubler);
        let answers: Vec<u32> = futures_util::future::join_all((0..100).map(|n| {
            let doubler = doubler.clone();
            async move { doubler.submit(n).await.unwrap() }
        }))
        .await;
        assert_eq!(answers, (0..100).map(|n| n * 2).collect::<Vec<_>>());
        let batches = batches.lock().unwrap();
        assert_eq!(batches.iter().sum::<usize>(), 100);
        assert!(batches.len() < 100, "batched: {batches:?}");
    }

    #[tokio::test]
    async fn a_caller_that_goes_away_leaves_the_batch_to_finish() {
        let written = Arc::new(Mutex::new(Vec::new()));
        let log = written.clone();
        let writer = Arc::new(GroupCommit::start(move |numbers: Vec<u32>| {
            let log = log.clone();
            async move {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                log.lock().unwrap().extend(numbers.iter().copied());
                numbers
            }
        }));
        let impatient = {
            let writer = writer.clone();
            tokio::spawn(async move { writer.submit(1).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        impatient.abort();
        assert_eq!(writer.submit(2).await, Ok(2));
        assert_eq!(*written.lock().unwrap(), vec![1, 2]);
    }

    #[tokio::test]
    async fn a_batch_that_panics_fails_its_own_requests_and_the_writer_goes_on() {
        let writer = GroupCommit::start(move |numbers: Vec<u32>| async move {
            assert!(!numbers.contains(&13), "unlucky batch");
            numbers
        });
        assert_eq!(writer.submit(13).await, Err(WriterGone));
        assert_eq!(writer.submit(2).await, Ok(2));
    }
}
