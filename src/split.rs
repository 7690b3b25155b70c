//! Fixed blocks for the SIMD backends' calls: the same bits on one thread, on any number of
//! threads (feature `parallel`), and from [`Partial`]s a caller joins.
//!
//! A call's items (sigmoid elements, softmax rows, channels-first images) are cut into
//! consecutive blocks whose size depends only on the shape (about [`BLOCK`] logits each,
//! [`SOFTMAX_BLOCK`] for the softmax: see [`rows_per_block`], [`positions_per_block`]). Each
//! block runs the kernel's entry point as a call of its own and gives a [`Total`]; the
//! blocks' totals are added exactly ([`Exact`]), so neither their order nor their grouping
//! changes the result. A call of one block returns the kernel's total as it is. The scalar
//! backend does not block its calls (see `backend::blocked`).
//!
//! [`Partial`]: crate::Partial

use crate::exact::Exact;
use crate::total::Total;

/// Logits per block. Large enough that a block's fixed cost (an entry point, two exact
/// additions) is below 1 % of its work even at the fastest backend's speed (about 1 ns per
/// element, 16 µs per block); small enough that 1 Mi logits make 64 blocks to share between
/// threads.
pub(crate) const BLOCK: usize = 1 << 14;

/// Logits per block of a softmax call: twice [`BLOCK`]. Each row prefetches the row 16 on
/// (`kernel::softmax`), its gradient row only within its block (past it, with several
/// threads, the rows are another thread's to write), so the first rows of a block start
/// cold and a block of 16 rows (1000 classes) had no gradient prefetch at all; and on
/// several threads consecutive blocks went to different threads, so each block started a
/// new stream (since f1c9648 long calls hand out runs of blocks, see `team::exact`; these
/// figures are from before). Measured with `docs/tools/ab` (Intel Xeon VM, 2026-12-07, against `BLOCK`), on two
/// threads (`AB_THREADS=2`): at 16 Mi logits 0.84 of the time at 1000 classes on AVX-512
/// (0.89 on AVX2), 0.94 (0.95) at 80, 0.95-0.99 at 4 and 10; in cache (256 Ki logits) 0.94-0.97
/// at 80 and 1000 (0.91-0.95), 0.86-0.98 at 4 and 10 (0.92-0.98). On one thread: 0.96 at 16 Mi
/// of 1000 classes, 0.97 at 80, even in cache. Channels-first (blocks of whole images or of
/// parts of one): 0.85-0.88 at 16 Mi on two threads (AVX2 0.90-0.92), 0.92-0.95 in cache;
/// one thread 0.93 at 16 Mi of 80 classes, even elsewhere. Four times `BLOCK` gained little
/// more (0.76 at 16 Mi of 1000 classes, 0.92 at 80, on two threads) and leaves a call of
/// 160 Ki logits three blocks to share.
pub(crate) const SOFTMAX_BLOCK: usize = 2 * BLOCK;

/// Rows of `c` logits per block: `SOFTMAX_BLOCK / c`, rounded down to a multiple of 16 (the
/// widest lockstep group of rows) when that is at least 16, and at least one row.
pub(crate) const fn rows_per_block(c: usize) -> usize {
    let r = SOFTMAX_BLOCK / if c == 0 { 1 } else { c };
    if r >= 16 {
        r & !15
    } else if r == 0 {
        1
    } else {
        r
    }
}

/// Positions per block of a channels-first call of `c` classes and `spatial` positions per
/// image: whole images, as many as fit in a block, at least one. (An image larger than a
/// block is cut into blocks of its positions, see `Job::image_split`; a chunk of whole images
/// still starts on a block boundary.)
pub(crate) const fn positions_per_block(c: usize, spatial: usize) -> usize {
    let image = c.saturating_mul(spatial);
    let images = SOFTMAX_BLOCK / if image == 0 { 1 } else { image };
    let sp = if spatial == 0 { 1 } else { spatial };
    (if images == 0 { 1 } else { images }).saturating_mul(sp)
}

/// Whether the blocks of a softmax call are whole images (see [`positions_per_block`]) rather
/// than rows ([`rows_per_block`]): channels-first calls, except with label smoothing, whose
/// kernel runs `spatial = 1` as row-major.
pub(crate) const fn image_blocks(channels_first: bool, smoothed: bool, spatial: usize) -> bool {
    if smoothed {
        spatial > 1
    } else {
        channels_first
    }
}

/// With `parallel`, calls of at least this many blocks run on rayon's pool (when it has more
/// than one thread). Below it, the pool's fixed cost (waking a thread, a few µs) is more
/// than the time saved; chosen with the `parallel` bench group.
#[cfg(feature = "parallel")]
const PARALLEL_MIN_BLOCKS: usize = 4;

/// The first index of `0..items` that `find(first, count)` reports (as an index within
/// `first..first + count`). With `parallel`, calls of at least `PARALLEL_MIN_BLOCKS` blocks
/// search their blocks of [`BLOCK`] items on rayon's pool, and the result is still the first
/// index; otherwise one call searches everything. (Unchecked targets are checked before a
/// call writes anything: that pass on one thread before the kernel's threads start held the
/// sigmoid at 1 Mi on two cores to 1.6x one thread.)
#[inline(always)]
pub(crate) fn first_index(
    items: usize,
    find: &(dyn Fn(usize, usize) -> Option<usize> + Sync),
) -> Option<usize> {
    #[cfg(feature = "parallel")]
    if items >= PARALLEL_MIN_BLOCKS * BLOCK && rayon::current_num_threads() > 1 {
        let blocks = items.div_ceil(BLOCK);
        let block = |k: usize| {
            let first = k * BLOCK;
            find(first, BLOCK.min(items - first)).map(|i| first + i)
        };
        return team::first(blocks, &block);
    }
    find(0, items)
}

/// Runs `block(first, count)` over the blocks of `per_block` items covering `0..items` (a
/// last block may be shorter) and returns the exact sum of their totals, rounded (the
/// kernel's own total when there is one block). No items: no block runs, and the sum is 0
/// (`block` is only ever asked for at least one item: a block of a large channels-first
/// image, whose `count` is always 1, is a part of an image that must exist).
#[inline(never)]
pub(crate) fn sum(
    items: usize,
    per_block: usize,
    block: &(dyn Fn(usize, usize) -> Total + Sync),
) -> Total {
    if items == 0 {
        // (Until 2026-12-04 this ran `block(0, 0)`, which for channels-first images of more
        // than a block's logits made a part of image 0 of an empty tensor: out-of-bounds
        // reads and writes.)
        return Total::ZERO;
    }
    if items <= per_block {
        return block(0, items);
    }
    exact(items, per_block, block).total()
}

/// The exact sum of the blocks' totals, as [`sum`] computes it for more than one block. The
/// chunk API returns it as a [`Partial`].
///
/// [`Partial`]: crate::Partial
#[inline(never)]
pub(crate) fn exact(
    items: usize,
    per_block: usize,
    block: &(dyn Fn(usize, usize) -> Total + Sync),
) -> Exact {
    let per_block = per_block.max(1);
    let blocks = items.div_ceil(per_block);
    let one = |k: usize| {
        let first = k * per_block;
        let mut e = Exact::ZERO;
        e.add_total(block(first, per_block.min(items - first)));
        e
    };
    #[cfg(feature = "parallel")]
    if blocks >= PARALLEL_MIN_BLOCKS && rayon::current_num_threads() > 1 {
        return team::exact(blocks, &one);
    }
    (0..blocks).map(one).fold(Exact::ZERO, |a, b| a.join(&b))
}

/// How a call shares its blocks with rayon's pool: the caller works from the start, asks
/// `P - 1` of the current pool's `P` threads to help, and takes blocks itself; every
/// participant takes the next run of blocks not yet taken (one atomic counter), so whoever
/// starts late takes fewer. The totals are joined exactly, in any order: the same bits as on
/// one thread.
///
/// From a thread outside the pool (a program's main thread, a framework's own threads, a C
/// caller) a parallel iterator hands the whole call to the pool and the caller only waits,
/// so each call paid for waking the pool's threads before any work started (on a 2-core VM,
/// the fused sigmoid at 64 Ki ran at 0.7-1.3x one thread instead of 1.8x from inside the
/// pool). From one of the pool's threads the parallel iterators' halving split did worse
/// than this counter (Zen 3 VM, 2 cores, 1 Mi sigmoid fused: 1.45-1.67x one thread against
/// 1.93-2.0x; softmax 16384 × 80: 1.67x against 1.94x; `benches/parallel.rs`,
/// 2026-12-07), so every call takes this path.
#[cfg(feature = "parallel")]
mod team {
    use super::Exact;
    use std::sync::Mutex;
    use std::sync::atomic::{
        AtomicUsize,
        Ordering::{Acquire, Relaxed, Release},
    };
    use std::time::{Duration, Instant};

    /// How long the caller spins for its helpers at most, after its own last block: about
    /// three blocks of the fastest backend's work, so that a call spends at most that much
    /// of a core waiting when the pool is busy elsewhere.
    const SPIN: Duration = Duration::from_micros(50);

    /// Runs `work` on the calling thread and on up to `P - 1` of the pool's threads (no more
    /// than there are `blocks` to share), and returns when every one has returned.
    fn share(blocks: usize, work: &(dyn Fn() + Sync)) {
        let helpers = (rayon::current_num_threads() - 1).min(blocks - 1);
        let (started, done) = (AtomicUsize::new(0), AtomicUsize::new(0));
        rayon::in_place_scope(|s| {
            for _ in 0..helpers {
                s.spawn(|_| {
                    started.fetch_add(1, Relaxed);
                    work();
                    done.fetch_add(1, Release);
                });
            }
            work();
            // The scope's own wait puts this thread to sleep until the last helper wakes it,
            // which took longer than a small call's work; spinning for at most `SPIN` first
            // sees the helpers finish their last blocks (64 Ki sigmoid: 1.2-1.4x one thread
            // without it, 1.8x with it). On one of the pool's threads, only for helpers
            // that have started: one that no thread has taken yet (every thread of the pool
            // busy with calls of its own) is still in this thread's queue, where it would
            // find no block left, and the scope runs it here at once. (Both threads of a
            // 2-thread pool each making 2000 calls of 64 Ki, as a batch's samples would:
            // 97-99 µs a call, as with the parallel iterators; spinning for every helper,
            // 198-218.) From outside the pool a helper waits in the pool's queue, which
            // this thread cannot run: there the spin waits for every helper.
            let inside = rayon::current_thread_index().is_some();
            let awaited = || {
                if inside {
                    started.load(Relaxed)
                } else {
                    helpers
                }
            };
            let start = Instant::now();
            while done.load(Acquire) < awaited() {
                for _ in 0..64 {
                    core::hint::spin_loop();
                }
                if start.elapsed() > SPIN {
                    break;
                }
            }
        });
    }

    /// Claims per participant and call, about: each claim takes a run of consecutive
    /// blocks (see [`exact`]).
    const CLAIMS: usize = 16;

    /// The exact sum of `one(k)` over `k < blocks`. A participant claims a run of
    /// `blocks / (P·CLAIMS)` consecutive blocks at a time (at least one), so that on a long
    /// call each thread streams through memory in long stretches, where one block a claim
    /// handed consecutive blocks to different threads: each block then started a new stream
    /// for the core's prefetchers, and the rows prefetched past a block's end were the
    /// other thread's. A participant that starts late still finds runs left; the last runs
    /// leave at most one run's imbalance (1/CLAIMS of a participant's share). Calls of fewer
    /// than `P·CLAIMS` blocks still go one block a claim. Measured against one block a claim
    /// (`docs/tools/ab`, `AB_THREADS=2`, Intel Xeon VM, 2026-12-07; the same bits), at 16 Mi
    /// values: softmax 0.90 of the time at 1000 classes on AVX-512 (AVX2 0.88), 0.95 (1.00)
    /// at 80, channels-first 0.74 and 0.90 (1.03 and 0.95), the sigmoid 0.95-0.97 (0.96);
    /// in cache (256 Ki values: runs of one block) even.
    pub(super) fn exact(blocks: usize, one: &(dyn Fn(usize) -> Exact + Sync)) -> Exact {
        let next = AtomicUsize::new(0);
        let total = Mutex::new(Exact::ZERO);
        let run = (blocks / (rayon::current_num_threads() * CLAIMS)).max(1);
        share(blocks, &|| {
            let mut e = Exact::ZERO;
            loop {
                let k0 = next.fetch_add(run, Relaxed);
                if k0 >= blocks {
                    break;
                }
                for k in k0..blocks.min(k0 + run) {
                    e = e.join(&one(k));
                }
            }
            // A poisoned lock (a panic elsewhere, which this crate does not raise) still
            // holds a valid sum.
            let mut t = total.lock().unwrap_or_else(|p| p.into_inner());
            *t = t.join(&e);
        });
        total.into_inner().unwrap_or_else(|p| p.into_inner())
    }

    /// The first `Some` of `block(k)` over `k < blocks` in the order of `k` (the first
    /// offending index): a block after one that found something is not searched. Only the
    /// lowest such block is kept; its index is found again at the end (one block's search
    /// more, on the error path only).
    pub(super) fn first(
        blocks: usize,
        block: &(dyn Fn(usize) -> Option<usize> + Sync),
    ) -> Option<usize> {
        let next = AtomicUsize::new(0);
        // The lowest block that found something, `blocks` while none has.
        let lowest = AtomicUsize::new(blocks);
        share(blocks, &|| {
            loop {
                let k = next.fetch_add(1, Relaxed);
                if k >= blocks || k > lowest.load(Relaxed) {
                    break;
                }
                if block(k).is_some() {
                    lowest.fetch_min(k, Relaxed);
                    break;
                }
            }
        });
        let k = lowest.into_inner();
        if k < blocks { block(k) } else { None }
    }
}

impl crate::kernel::sigmoid::Job {
    /// Elements `first..first + n` of the job (which the caller keeps within `0..self.n`).
    #[inline(always)]
    pub(crate) fn part(&self, first: usize, n: usize) -> Self {
        Self {
            x: self.x.wrapping_add(first),
            t: self.t.wrapping_add(first),
            n,
            mode: self.mode.at(first, first),
        }
    }
}

impl crate::kernel::softmax::Job<'_> {
    /// Rows `first..first + n` of the job (within `0..self.rows`; for the channels-first
    /// layout, whole images: `first` and `n` multiples of `spatial`, so that the image
    /// `first / S` starts at logit `first·C` as row `first` does in row-major order).
    #[inline(always)]
    pub(crate) fn part(&self, first: usize, n: usize) -> Self {
        let logit = first.wrapping_mul(self.c);
        Self {
            z: self.z.wrapping_add(logit),
            labels: self.labels.part(first, n),
            mode: self.mode.at(logit, first),
            ..*self
        }
    }

    /// Positions `s0..s0 + m` of image `image` (within the job's images and positions) of a
    /// channels-first job of whole images: a job of `m` positions whose classes stay
    /// `stride` apart.
    #[cfg(any(focal_portable, target_arch = "x86_64"))]
    #[inline(always)]
    pub(crate) fn part_of_image(&self, image: usize, s0: usize, m: usize) -> Self {
        let sp = self.spatial;
        let logit = image.wrapping_mul(self.c).wrapping_mul(sp).wrapping_add(s0);
        let first = image.wrapping_mul(sp).wrapping_add(s0);
        Self {
            z: self.z.wrapping_add(logit),
            labels: self.labels.part(first, m),
            mode: self.mode.at(logit, first),
            spatial: m,
            stride: sp,
            ..*self
        }
    }

    /// How a channels-first job whose images are larger than a block is cut: `(blocks per
    /// image, positions per block)`, the positions a multiple of 64 (the widest lockstep
    /// group of positions) near `SOFTMAX_BLOCK / C`, so that an image of any size (`N = 1`
    /// too) is shared between threads. `None` when an image fits in a block: then blocks are whole
    /// images ([`rows_per_block`](Self::rows_per_block)).
    #[cfg(any(focal_portable, target_arch = "x86_64"))]
    pub(crate) fn image_split(&self) -> Option<(usize, usize)> {
        let sp = self.spatial.max(1);
        if self.c.saturating_mul(sp) <= SOFTMAX_BLOCK {
            return None;
        }
        let per = (SOFTMAX_BLOCK / self.c.max(1)) & !63;
        let per = per.max(64);
        Some((sp.div_ceil(per), per))
    }

    /// Rows per block: [`rows_per_block`] row-major; whole images channels-first (as many
    /// as fit in a block, at least one; see [`image_split`](Self::image_split) for larger
    /// images).
    pub(crate) fn rows_per_block(&self, channels_first: bool) -> usize {
        if channels_first {
            positions_per_block(self.c, self.spatial)
        } else {
            rows_per_block(self.c)
        }
    }
}

// SAFETY: a job describes slices by raw pointers (so that a gradient may overwrite its
// logits). Threads that share one only run it through `sum`, which gives each block to one
// thread: they read the shared inputs and write disjoint parts of the outputs.
unsafe impl Sync for crate::kernel::sigmoid::Job {}
// SAFETY: as for the sigmoid job; the labels and class weights are shared slices.
unsafe impl Sync for crate::kernel::softmax::Job<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_per_block_is_a_function_of_c() {
        assert_eq!(rows_per_block(1), SOFTMAX_BLOCK);
        assert_eq!(rows_per_block(80), 400);
        assert_eq!(rows_per_block(1000), 32);
        assert_eq!(rows_per_block(2100), 15);
        assert_eq!(rows_per_block(32000), 1);
        assert_eq!(rows_per_block(0), SOFTMAX_BLOCK);
    }
}
