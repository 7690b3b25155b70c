//! The streaming floors of `floor.rs` as a C library for `benches/side_by_side.py`, so that
//! the floor runs in the same rounds as the crate and its peers, on as many threads.
//!
//! Built by that script with `rustc -C opt-level=3 --edition 2021 --crate-type cdylib` (no
//! Cargo, no dependencies). With `threads > 1` the work is cut into the chunks of
//! `floor::CHUNK` (whole rows for the softmax), taken one at a time by the calling thread
//! and a pool of `threads - 1` workers started once. Between calls the workers spin for
//! 200 µs, then park, so they take no core from the contender timed next.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

#[path = "floor.rs"]
mod floor;

use floor::CHUNK;

/// One call's work: chunk `k`'s sum, given `k`.
type Job = dyn Fn(usize) -> f32 + Sync;

/// How long a worker spins for the next call before it parks: calls in a timing loop follow
/// each other within microseconds, and waking a parked thread takes tens of them.
const SPIN: Duration = Duration::from_micros(200);

struct Pool {
    threads: usize,
    workers: OnceLock<Vec<Thread>>,
    /// Bumped by each call once its job is in place.
    generation: AtomicUsize,
    /// The current job, a `*const Job` as its two words.
    job: Mutex<(usize, usize)>,
    chunks: AtomicUsize,
    next: AtomicUsize,
    busy: AtomicUsize,
    sum: Mutex<f32>,
}

fn pool(threads: usize) -> &'static Pool {
    static POOL: OnceLock<&'static Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let p: &'static Pool = Box::leak(Box::new(Pool {
            threads,
            workers: OnceLock::new(),
            generation: AtomicUsize::new(0),
            job: Mutex::new((0, 0)),
            chunks: AtomicUsize::new(0),
            next: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            sum: Mutex::new(0.0),
        }));
        let workers = (1..threads)
            .map(|_| std::thread::spawn(move || worker(p)).thread().clone())
            .collect();
        p.workers.set(workers).expect("set once");
        p
    })
}

/// Takes chunks until none are left; adds their sum to the call's.
fn take(p: &Pool, job: &Job) {
    let mut s = 0.0;
    let n = p.chunks.load(Ordering::Acquire);
    loop {
        let k = p.next.fetch_add(1, Ordering::Relaxed);
        if k >= n {
            break;
        }
        s += job(k);
    }
    *p.sum.lock().unwrap() += s;
}

fn worker(p: &'static Pool) {
    let mut seen = 0;
    loop {
        let since = Instant::now();
        let mut g = p.generation.load(Ordering::Acquire);
        while g == seen {
            if since.elapsed() < SPIN {
                std::hint::spin_loop();
            } else {
                std::thread::park_timeout(Duration::from_millis(10));
            }
            g = p.generation.load(Ordering::Acquire);
        }
        seen = g;
        let pair = *p.job.lock().unwrap();
        // SAFETY: `pair` is the `*const Job` that `run` split into two words, and `run`
        // keeps that job alive until `busy` is 0, which this worker's decrement below
        // precedes.
        let job = unsafe { &*core::mem::transmute::<(usize, usize), *const Job>(pair) };
        take(p, job);
        p.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs `job` on chunks `0..chunks` with `threads` threads (this one and the pool's
/// workers) and sums the chunks' results.
fn run(threads: usize, chunks: usize, job: &Job) -> f32 {
    if threads <= 1 {
        return (0..chunks).map(job).sum();
    }
    let p = pool(threads);
    assert_eq!(p.threads, threads, "one thread count per process");
    let workers = p.workers.get().expect("started");
    // SAFETY: a fat pointer is two words, put back together by `worker`; this call returns
    // only once every worker is done with it (`busy` is 0).
    *p.job.lock().unwrap() = unsafe { core::mem::transmute::<*const Job, (usize, usize)>(job) };
    *p.sum.lock().unwrap() = 0.0;
    p.chunks.store(chunks, Ordering::Release);
    p.next.store(0, Ordering::Release);
    p.busy.store(workers.len(), Ordering::Release);
    p.generation.fetch_add(1, Ordering::AcqRel);
    for w in workers {
        w.unpark();
    }
    take(p, job);
    while p.busy.load(Ordering::Acquire) != 0 {
        std::hint::spin_loop();
    }
    let s = *p.sum.lock().unwrap();
    s
}

/// `grad = x - t` over `n` elements and the sum of `t`, on `threads` threads.
///
/// # Safety
/// `x`, `t` and `grad` point to `n` floats each; `grad` overlaps neither input. One thread
/// count per process.
#[no_mangle]
pub unsafe extern "C" fn floor_sigmoid(
    x: *const f32,
    t: *const f32,
    grad: *mut f32,
    n: usize,
    threads: usize,
) -> f32 {
    let (x, t, grad) = (x as usize, t as usize, grad as usize);
    run(threads, n.div_ceil(CHUNK), &move |k| {
        let r = k * CHUNK..n.min((k + 1) * CHUNK);
        // SAFETY: the caller passes three arrays of `n` floats; the parts are disjoint.
        let (x, t, g) = unsafe {
            (
                std::slice::from_raw_parts((x as *const f32).add(r.start), r.len()),
                std::slice::from_raw_parts((t as *const f32).add(r.start), r.len()),
                std::slice::from_raw_parts_mut((grad as *mut f32).add(r.start), r.len()),
            )
        };
        floor::sigmoid(x, t, g)
    })
}

/// The logits of `rows` rows of `c` copied to `grad`, and the sum of the labelled logits
/// (`labels` as `i64`, in `0..c`), on `threads` threads.
///
/// # Safety
/// `z` and `grad` point to `rows * c` floats, `labels` to `rows` labels in `0..c`; `grad`
/// overlaps nothing else. One thread count per process.
#[no_mangle]
pub unsafe extern "C" fn floor_softmax(
    z: *const f32,
    labels: *const i64,
    grad: *mut f32,
    rows: usize,
    c: usize,
    threads: usize,
) -> f32 {
    let (z, labels, grad) = (z as usize, labels as usize, grad as usize);
    let per = floor::rows_per_chunk(c);
    run(threads, rows.div_ceil(per), &move |k| {
        let r = k * per..rows.min((k + 1) * per);
        // SAFETY: the caller passes `rows * c` logits and gradient entries and `rows` labels;
        // the parts are disjoint.
        let (z, l, g) = unsafe {
            (
                std::slice::from_raw_parts((z as *const f32).add(r.start * c), r.len() * c),
                std::slice::from_raw_parts((labels as *const i64).add(r.start), r.len()),
                std::slice::from_raw_parts_mut((grad as *mut f32).add(r.start * c), r.len() * c),
            )
        };
        floor::softmax(z, c, l, g)
    })
}
