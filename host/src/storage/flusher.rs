//! Group commit for sled.
//!
//! Every caller that needs durability sends a request to one flusher thread.
//! The thread takes all requests that are waiting, calls `flush()` once and
//! then replies to all of them, so many concurrent acknowledgements cost about
//! one flush. sled's own `flush_async` stalls when many tasks await it at
//! once (seen with sled 0.34.7 and 64 tokio tasks on 2 worker threads), which
//! is why this runs on a plain thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;

use tokio::sync::oneshot;

type Reply = oneshot::Sender<Result<(), String>>;

/// Handle to the flusher thread; the thread stops when the last handle drops.
#[derive(Clone)]
pub struct Flusher {
    requests: mpsc::Sender<Reply>,
    stats: Arc<FlushStats>,
}

/// How many flushes ran and how many requests they served.
#[derive(Debug, Default)]
pub struct FlushStats {
    pub flushes: AtomicU64,
    pub requests: AtomicU64,
}

impl Flusher {
    pub fn start(db: sled::Db) -> Self {
        let (requests, incoming) = mpsc::channel::<Reply>();
        let stats = Arc::new(FlushStats::default());
        let counted = stats.clone();
        thread::Builder::new()
            .name("crewhost-flusher".into())
            .spawn(move || flush_loop(&db, &incoming, &counted))
            .expect("starting the flusher thread failed");
        Self { requests, stats }
    }

    /// Returns (flushes, requests served) since start.
    pub fn stats(&self) -> (u64, u64) {
        (self.stats.flushes.load(Ordering::Relaxed), self.stats.requests.load(Ordering::Relaxed))
    }

    /// Waits until every write made before this call is on disk.
    pub async fn flush(&self) -> Result<(), String> {
        let (reply, done) = oneshot::channel();
        self.requests
            .send(reply)
            .map_err(|_| "the flusher thread has stopped".to_string())?;
        done.await.map_err(|_| "the flusher thread has stopped".to_string())?
    }
}

fn flush_loop(db: &sled::Db, incoming: &mpsc::Receiver<Reply>, stats: &FlushStats) {
    while let Ok(first) = incoming.recv() {
        let mut batch = vec![first];
        batch.extend(incoming.try_iter());
        stats.flushes.fetch_add(1, Ordering::Relaxed);
        stats.requests.fetch_add(batch.len() as u64, Ordering::Relaxed);

        let result = db.flush().map(|_| ()).map_err(|error| error.to_string());
        if let Err(error) = &result {
            tracing::error!(%error, waiting = batch.len(), "flushing the store failed");
        }
        for reply in batch {
            let _ = reply.send(result.clone());
        }
    }
}
