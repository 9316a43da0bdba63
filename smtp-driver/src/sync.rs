//! The two small synchronisation tools the server needs, without a runtime: a level that only
//! rises (shutdown phases), and a count of live tasks that can be awaited to reach zero.

use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves consistent data (plain stores).
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

type Slot = Arc<Mutex<Option<Waker>>>;

/// A level that only rises, with waiters woken on each rise.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    level: AtomicU8,
    next_id: AtomicU64,
    /// One waker slot per waiter: a poll locks only its own slot.
    waiters: Mutex<HashMap<u64, Slot>>,
}

impl Signal {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Signal::default())
    }

    /// Raises the level to `level` (never lowers it) and wakes every waiter.
    pub(crate) fn raise(&self, level: u8) {
        self.level.fetch_max(level, Ordering::SeqCst);
        let waiters = lock(&self.waiters);
        for slot in waiters.values() {
            if let Some(waker) = lock(slot).take() {
                waker.wake();
            }
        }
    }

    /// The current level.
    pub(crate) fn level(&self) -> u8 {
        self.level.load(Ordering::SeqCst)
    }

    /// A waiter for levels of this signal.
    pub(crate) fn waiter(self: &Arc<Self>) -> Waiter {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Slot::default();
        lock(&self.waiters).insert(id, Arc::clone(&slot));
        Waiter {
            signal: Arc::clone(self),
            id,
            slot,
        }
    }
}

/// Waits for a [`Signal`] to reach a level.
#[derive(Debug)]
pub(crate) struct Waiter {
    signal: Arc<Signal>,
    id: u64,
    slot: Slot,
}

impl Waiter {
    /// Ready once the level is at least `level`.
    pub(crate) fn poll_reached(&mut self, cx: &mut Context<'_>, level: u8) -> Poll<()> {
        if self.signal.level() >= level {
            return Poll::Ready(());
        }
        {
            let mut slot = lock(&self.slot);
            if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *slot = Some(cx.waker().clone());
            }
        }
        // A rise between the check and the registration took no waker of ours: look again.
        if self.signal.level() >= level {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        lock(&self.signal.waiters).remove(&self.id);
    }
}

#[derive(Debug, Default)]
struct Count {
    live: usize,
    /// The one task waiting for zero (the server's accept loop).
    waiter: Option<Waker>,
}

/// Counts live tasks; [`Tasks::all_done`] waits for none to be left.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tasks {
    count: Arc<Mutex<Count>>,
}

impl Tasks {
    /// How many tasks are live.
    pub(crate) fn len(&self) -> usize {
        lock(&self.count).live
    }

    /// Counts one more task until the guard is dropped.
    pub(crate) fn track(&self) -> TaskGuard {
        lock(&self.count).live += 1;
        TaskGuard {
            count: Arc::clone(&self.count),
        }
    }

    /// Waits until no task is live.
    pub(crate) async fn all_done(&self) {
        poll_fn(|cx| {
            let mut count = lock(&self.count);
            if count.live == 0 {
                Poll::Ready(())
            } else {
                count.waiter = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
    }
}

/// Held by a live task; dropping it (the task ended, was cancelled or panicked) counts the
/// task out.
#[derive(Debug)]
pub(crate) struct TaskGuard {
    count: Arc<Mutex<Count>>,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        let mut count = lock(&self.count);
        count.live = count.live.saturating_sub(1);
        if count.live == 0 {
            if let Some(waker) = count.waiter.take() {
                waker.wake();
            }
        }
    }
}

/// How a supervised task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// It ran to completion.
    Completed,
    /// The signal reached the cancel level first: the task was dropped where it stood.
    Cancelled,
    /// It panicked (the panic was caught and the task dropped).
    Panicked,
}

/// Runs `task` until it completes, panics, or `cancel` reaches `level`. The task is polled
/// after the cancel check, so a cancelled task is dropped without running further.
pub(crate) async fn supervise<F: Future<Output = ()>>(
    task: F,
    mut cancel: Waiter,
    level: u8,
) -> Ended {
    let mut task = pin!(task);
    poll_fn(|cx| {
        if cancel.poll_reached(cx, level).is_ready() {
            return Poll::Ready(Ended::Cancelled);
        }
        match catch_unwind(AssertUnwindSafe(|| task.as_mut().poll(cx))) {
            Ok(Poll::Ready(())) => Poll::Ready(Ended::Completed),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Ended::Panicked),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct CountWakes(AtomicUsize);
    impl Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting_waker() -> (Arc<CountWakes>, Waker) {
        let wakes = Arc::new(CountWakes(AtomicUsize::new(0)));
        (Arc::clone(&wakes), Waker::from(wakes))
    }

    #[test]
    fn a_waiter_is_woken_when_its_level_is_reached_and_stays_ready() {
        let signal = Signal::new();
        let mut waiter = signal.waiter();
        let (wakes, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(waiter.poll_reached(&mut cx, 2).is_pending());
        signal.raise(1);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "woken on every rise");
        assert!(waiter.poll_reached(&mut cx, 2).is_pending());
        signal.raise(3);
        assert!(waiter.poll_reached(&mut cx, 2).is_ready());
        signal.raise(0);
        assert_eq!(signal.level(), 3, "never lowered");
        drop(waiter);
        assert!(lock(&signal.waiters).is_empty(), "a dropped waiter leaves");
    }

    #[test]
    fn tasks_count_their_guards_and_wake_the_waiter_at_zero() {
        let tasks = Tasks::default();
        let a = tasks.track();
        let b = tasks.track();
        assert_eq!(tasks.len(), 2);
        let (wakes, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let mut done = pin!(tasks.all_done());
        assert!(done.as_mut().poll(&mut cx).is_pending());
        drop(a);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
        drop(b);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert!(done.as_mut().poll(&mut cx).is_ready());
    }

    #[test]
    fn supervise_cancels_before_polling_and_catches_panics() {
        let (_, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let signal = Signal::new();
        signal.raise(3);
        let polled = std::sync::atomic::AtomicBool::new(false);
        let mut cancelled = pin!(supervise(
            async {
                polled.store(true, Ordering::SeqCst);
            },
            signal.waiter(),
            3
        ));
        assert_eq!(
            cancelled.as_mut().poll(&mut cx),
            Poll::Ready(Ended::Cancelled)
        );
        assert!(!polled.load(Ordering::SeqCst));

        let calm = Signal::new();
        let mut panicking = pin!(supervise(async { panic!("handler bug") }, calm.waiter(), 3));
        assert_eq!(
            panicking.as_mut().poll(&mut cx),
            Poll::Ready(Ended::Panicked)
        );
    }
}
