//! Any sink on a thread of its own, behind a bounded queue: the caller hands over batches of
//! records and goes on; the thread writes them, and keeps the sink's clock (`tick` every
//! 200 ms even when nothing comes, so a quiet run still closes its blocks and rotates).
//!
//! Backpressure: the queue holds [`QUEUE`] batches of at most [`BATCH`] records or
//! [`BATCH_BYTES`] of messages; when it is full, [`Sink::write`] waits (offline input can wait;
//! live, the frame queue before it fills and the capture counts drops).

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use super::{EndError, Sink, Written};
use crate::exchange::{Counters, Record};
use crate::runtime::now_ns;

/// A batch is handed over once it holds this many records …
pub const BATCH: usize = 512;
/// … or this many bytes of messages (fewer, larger batches: fewer wakeups of the thread).
pub const BATCH_BYTES: usize = 512 << 10;
/// Batches in the queue to the thread.
pub const QUEUE: usize = 16;
/// How long the thread waits for a batch before keeping the sink's clock.
const TICK: Duration = Duration::from_millis(200);

/// What the thread is asked to do.
enum ToThread {
    Records(Vec<Record>),
    Note(String),
    Progress(Vec<(String, u64)>),
    Sync(mpsc::Sender<Result<(), EndError>>),
    Finish(Counters),
    Abort,
}

/// A sink running another on its own thread.
pub struct ThreadedSink {
    name: String,
    batch: Vec<Record>,
    batch_bytes: usize,
    tx: Option<SyncSender<ToThread>>,
    thread: Option<JoinHandle<Result<Written, EndError>>>,
}

impl ThreadedSink {
    /// Starts `thread_name` writing into `sink`.
    pub fn spawn<S: Sink + Send + 'static>(
        mut sink: S,
        thread_name: &str,
    ) -> Result<ThreadedSink, EndError> {
        let name = sink.name().to_owned();
        let (tx, rx) = mpsc::sync_channel::<ToThread>(QUEUE);
        let thread = std::thread::Builder::new()
            .name(thread_name.into())
            .spawn(move || run(&mut sink, &rx))
            .map_err(|e| EndError::Thread {
                name: name.clone(),
                problem: format!("cannot start the writer thread: {e}"),
            })?;
        Ok(ThreadedSink {
            name,
            batch: Vec::with_capacity(BATCH),
            batch_bytes: 0,
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    fn send(&mut self, message: ToThread) -> Result<(), EndError> {
        match &self.tx {
            Some(tx) if tx.send(message).is_ok() => Ok(()),
            _ => {
                // The thread is gone (its error is returned by `finish`).
                self.tx = None;
                Err(EndError::Closed(self.name.clone()))
            }
        }
    }

    fn hand_over(&mut self) -> Result<(), EndError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.batch_bytes = 0;
        self.send(ToThread::Records(batch))
    }

    /// True while the thread takes records.
    pub fn alive(&self) -> bool {
        self.tx.is_some() && !self.thread.as_ref().is_some_and(JoinHandle::is_finished)
    }

    fn join(&mut self) -> Result<Written, EndError> {
        self.tx = None;
        match self.thread.take() {
            Some(t) => t.join().unwrap_or_else(|_| {
                Err(EndError::Thread {
                    name: self.name.clone(),
                    problem: "the writer thread panicked".into(),
                })
            }),
            None => Err(EndError::Closed(self.name.clone())),
        }
    }
}

/// The thread: writes what comes, keeps the clock, finishes or aborts when told. When the
/// caller goes away without a word (a panic upstream), it finishes with the last progress
/// counters, keeping what was written.
fn run<S: Sink>(sink: &mut S, rx: &Receiver<ToThread>) -> Result<Written, EndError> {
    let mut progress: Vec<(String, u64)> = Vec::new();
    loop {
        match rx.recv_timeout(TICK) {
            Ok(ToThread::Records(records)) => {
                for record in records {
                    sink.write(record)?;
                }
            }
            Ok(ToThread::Note(note)) => sink.note(&note)?,
            Ok(ToThread::Progress(values)) => {
                sink.progress(&values);
                progress = values;
            }
            Ok(ToThread::Sync(reply)) => {
                let _ = reply.send(sink.sync());
            }
            Ok(ToThread::Finish(counters)) => return sink.finish(counters),
            Ok(ToThread::Abort) => {
                sink.abort();
                return Ok(Written::default());
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return sink.finish(Counters {
                    end_ns: now_ns(),
                    values: progress,
                });
            }
        }
        sink.tick(SystemTime::now())?;
    }
}

impl Sink for ThreadedSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn write(&mut self, record: Record) -> Result<(), EndError> {
        self.batch_bytes += match &record {
            Record::Request(m) => m.bytes.len(),
            Record::Response(r) | Record::Interim(r) | Record::Orphan(r) => r.message.bytes.len(),
            _ => 64,
        };
        self.batch.push(record);
        if self.batch.len() >= BATCH || self.batch_bytes >= BATCH_BYTES {
            self.hand_over()?;
        }
        Ok(())
    }

    fn note(&mut self, note: &str) -> Result<(), EndError> {
        self.hand_over()?;
        self.send(ToThread::Note(note.to_owned()))
    }

    fn progress(&mut self, counters: &[(String, u64)]) {
        let _ = self.send(ToThread::Progress(counters.to_vec()));
    }

    /// Hands over the partial batch (the thread keeps the sink's clock itself); fails once the
    /// thread has stopped (on an error `finish` returns), so a quiet run notices it too.
    fn tick(&mut self, _now: SystemTime) -> Result<(), EndError> {
        if self.thread.as_ref().is_some_and(JoinHandle::is_finished) {
            self.tx = None;
            return Err(EndError::Closed(self.name.clone()));
        }
        self.hand_over()
    }

    fn sync(&mut self) -> Result<(), EndError> {
        self.hand_over()?;
        let (reply, answer) = mpsc::channel();
        self.send(ToThread::Sync(reply))?;
        answer
            .recv()
            .unwrap_or_else(|_| Err(EndError::Closed(self.name.clone())))
    }

    /// Hands over the rest, asks the thread to finish, waits for it: the thread's own error (a
    /// full disk), if it stopped on one, is the one returned.
    fn finish(&mut self, counters: Counters) -> Result<Written, EndError> {
        let sent = self
            .hand_over()
            .and_then(|()| self.send(ToThread::Finish(counters)));
        let joined = self.join();
        match (sent, joined) {
            (_, Err(e)) => Err(e),
            (Err(e), Ok(_)) => Err(e),
            (Ok(()), Ok(w)) => Ok(w),
        }
    }

    fn abort(&mut self) {
        self.batch.clear();
        let _ = self.send(ToThread::Abort);
        let _ = self.join();
    }
}

impl Drop for ThreadedSink {
    fn drop(&mut self) {
        // Dropped without finish: the thread finishes with what it has (see `run`).
        let _ = self.hand_over();
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A sink whose every write fails (a full disk).
    struct Failing;

    impl Sink for Failing {
        fn name(&self) -> &str {
            "failing"
        }
        fn write(&mut self, _record: Record) -> Result<(), EndError> {
            Err(EndError::io("failing", std::io::Error::other("disk full")))
        }
        fn finish(&mut self, _counters: Counters) -> Result<Written, EndError> {
            Ok(Written::default())
        }
    }

    #[test]
    fn a_stopped_thread_is_noticed_by_tick_and_its_error_returned_by_finish() {
        let mut sink = ThreadedSink::spawn(Failing, "reel-test-writer").unwrap();
        assert!(
            sink.tick(SystemTime::now()).is_ok(),
            "nothing has failed yet"
        );
        sink.write(Record::Meta(crate::exchange::Meta::default()))
            .unwrap();
        // The partial batch goes over with this tick; the thread then stops on the error.
        sink.tick(SystemTime::now()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let failed = loop {
            match sink.tick(SystemTime::now()) {
                Err(e) => break e,
                Ok(()) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                Ok(()) => panic!("tick never noticed the stopped thread"),
            }
        };
        assert!(matches!(failed, EndError::Closed(_)), "{failed}");
        let err = sink.finish(Counters::default()).unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
    }
}
