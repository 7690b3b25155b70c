//! Softmax (log-softmax) focal loss over row-major `[rows × C]` logits.
//!
//! Every row needs its maximum, the number of elements equal to it and
//! `S_rest = Σ_{j ≠ one argmax} exp(z_j - max)`, which is never formed as `S - 1`. Two row
//! strategies, chosen by `C`:
//!
//! * `C <= 16`: one lane per row (the group's block of rows turned into one vector per
//!   class, and the gradient columns back into rows, by permutes or transposes in registers
//!   on AVX-512 and AVX2, by strided loads and stores elsewhere), the exponentials kept for
//!   the gradient;
//! * longer rows: a max pass, then one pass of `exp(z - max)` (the row is now in L1, or in
//!   L2 for thousands of classes); when a gradient is written, that pass stores the
//!   exponentials in it and the gradient pass is one multiply per element, so every logit
//!   goes through one `exp`. Rows shorter than 4096 classes go through each pass as a
//!   group, so that independent rows overlap and the row results are computed once per
//!   group; a group holds at most [`GROUP_LOGITS`] logits, so that its rows and their
//!   gradients stay in L1 from one pass to the next. Longer rows go one at a time, so that a
//!   row is still cached (in L2) for its second and third passes.
//!
//! Sums are held in `f64` on the SIMD backends and in a float-float [`Total`] on the scalar
//! one (after short `f32` partial sums of non-negative terms). The row's
//! scalar quantities are then computed for a group of rows at once, in lanes:
//!
//! * `ℓ = ln p_k = (z_k - max) - log1p(S_rest)`, and `p_k = exp(z_k - max) / (1 + S_rest)`,
//! * `q = 1 - p_k`: `S_rest / (1 + S_rest)` when `k` is an argmax, else `1 - p_k` (`p_k <= 1/2`),
//! * `L = -α_k·q^γ·ℓ`, `w = α_k·q^γ·(q - γ·p_k·ℓ)`,
//! * `S_{-k}`: `S_rest` when `k` is an argmax, else `1 + S_rest - exp(z_k - max)`.
//!
//! The second pass writes `w·exp(z_j - max)/S_{-k}` for `j != k` and `-w` at `k`.
//! Logits equal to the row maximum use `z - max = 0` even when both are infinite, which gives
//! the limits for `±inf` logits; a NaN anywhere in a row makes that row's loss and gradient NaN.

use crate::Alpha;
use crate::label::{ClassIndex, Labels, Visit};
use crate::math::{
    ExpK, Reduced, exp, exp_nonpos_from, exp_nonpos_reduced, exp_normal_nonpos_from,
    exp_normal_nonpos_reduced, exp_normal_nonpos_reg, ln, log1p, log1p_unit,
};
use crate::simd::{
    LINE, Lanes, MAX_COLUMNS, MAX_LANES, MAX_WIDE, Outline, Scalar, Total, first_lanes, load_tail,
    mul_or_zero, prefetch, prefetch_write, store_tail,
};

use super::Mode;
use super::sigmoid::{Fixed, Gamma, Runtime};

/// Rows at least this long are finished one at a time, while they are still in L2: a group
/// of them and their gradient rows would not fit. (Measured on AVX-512 with a 1 MiB L2,
/// groups against one at a time, everything else equal: 1.02-1.05 of the time at 8000
/// classes, 0.95-0.97 on AVX2, so even; at 1000 classes the change to groups took 0.79 of
/// the time of the call before, 0.91 at 2000, 0.97 at 4000.)
const LONG_ROW: usize = 4096;

/// The most logits in a group of rows shorter than [`LONG_ROW`]: 16 KB, and as much again
/// of kept exponentials, so that the passes after the first read the group from L1 (48 KB
/// on the machines measured). Measured on AVX-512 against full groups of 16 rows: 1.06-1.07x
/// the fused call at 640 and 1000 classes (4 and 6 rows), even at 320 and fewer; AVX2's
/// groups of 8 measured even (0.97-1.01).
const GROUP_LOGITS: usize = 4096;

/// The class weights `α_k` of a job are the caller's [`Alpha`] as it is (validated: a
/// per-class vector has length `C`).
impl Alpha<'_> {
    /// The weight of class `k` (0 past a per-class vector, which validation rules out).
    #[inline(always)]
    pub(crate) fn of(self, k: usize) -> f32 {
        match self {
            Alpha::None => 1.0,
            Alpha::Scalar(a) => a,
            Alpha::PerClass(v) => v.get(k).copied().unwrap_or(0.0),
        }
    }
}

/// [`Job::ignore`] of a call without an ignore index: a value that no label of a validated
/// call without one holds (they are classes in `0..C`), and that only `i64` labels can hold.
pub(crate) const NO_IGNORE: i64 = i64::MIN;

/// One call, with validated arguments.
#[derive(Clone, Copy)]
pub(crate) struct Job<'a> {
    pub z: *const f32,
    pub c: usize,
    pub labels: Labels<'a>,
    /// The ignore index, [`NO_IGNORE`] without one (the job then has no label equal to it:
    /// validated labels are the ignore index or a class in `0..C`). Not an `Option<i64>`:
    /// that took 16 bytes and made the job 8-byte aligned, and on a Cortex-M4F every softmax
    /// method keeps its job on the stack for the whole call (24-32 bytes deeper).
    pub ignore: i64,
    pub alpha: Alpha<'a>,
    pub gamma: f32,
    /// [`gamma_code`](super::sigmoid::gamma_code) of `gamma`.
    pub code: u32,
    pub mode: Mode,
    /// Positions per image of the channels-first layout `[N, C, S]` (row `r` is position
    /// `r % S` of image `r / S`; its class `j` is at `(r / S)·C·S + j·S + r % S`); 1 for
    /// row-major `[rows × C]`. Only the channels-first kernel
    /// ([`channels_first`](super::channels_first)) reads it.
    pub spatial: usize,
    /// The distance between a position's classes in the channels-first layout: `S` of the
    /// whole tensor, which is `spatial` except in a part of one image (`part_of_image`),
    /// whose `spatial` positions are then a range of that image's. 1 for row-major. Only on
    /// targets with SIMD backends, the only ones that cut images (a microcontroller's
    /// frames stay a word smaller): read it through [`Job::stride`].
    #[cfg(any(focal_portable, target_arch = "x86_64"))]
    pub stride: usize,
}

impl Job<'_> {
    /// The number of rows: one per label (not a field of its own: on a Cortex-M4F the word
    /// it took made a softmax call's stack 8 bytes deeper).
    #[inline(always)]
    pub(crate) fn rows(&self) -> usize {
        self.labels.len()
    }

    /// The class stride of the channels-first layout (see the field `stride`).
    #[inline(always)]
    pub(crate) fn stride(&self) -> usize {
        #[cfg(any(focal_portable, target_arch = "x86_64"))]
        return self.stride;
        #[cfg(not(any(focal_portable, target_arch = "x86_64")))]
        self.spatial
    }
}

/// The maxima of a row shorter than [`LONG_ROW`] by lane (the first of its two passes; the
/// row's maximum is the largest lane, which [`Lanes::max_each`] finds for a group of rows at
/// once), and on lanes without a `scalef` instruction the maxima of `-z` by lane, from
/// which the caller finds whether every `z - max` of the row lies in `[-87, 0]`
/// ([`Span::Normal`]), as [`scalar_row_max`] does. There the normal span's `exp` drops a
/// clamp and a test of every vector's exponents for a `min` per vector here (measured on
/// AVX2: 1.08-1.10x the fused call at 1000 classes and more), while on AVX-512 it would
/// drop only the clamp, the same one operation per vector as the `min` (measured even), so
/// there the second vector is `-inf`.
///
/// # Safety
/// `row` must be valid for reading `c >= 1` values.
#[inline(always)]
unsafe fn short_row_max<S: Lanes>(row: *const f32, c: usize) -> (S, S) {
    let n = c - c % S::N;
    let n4 = c - c % (4 * S::N);
    // Four chains: one `max` after the other would wait out its latency on every vector
    // (about four cycles per 16 logits, 12 % of the fused call at 1024 × 1000 on AVX-512).
    let mut mv = [S::splat(f32::NEG_INFINITY); 4];
    let mut lv = [S::splat(f32::INFINITY); 4];
    let mut j = 0;
    while j < n4 {
        for (i, (m, l)) in mv.iter_mut().zip(&mut lv).enumerate() {
            // SAFETY: j + 4·N <= n4 <= c.
            let v = unsafe { S::load(row.add(j + i * S::N)) };
            *m = m.max(v);
            if !S::SCALEF {
                *l = l.min(v);
            }
        }
        j += 4 * S::N;
    }
    while j < n {
        // SAFETY: j + N <= n <= c.
        let v = unsafe { S::load(row.add(j)) };
        mv[0] = mv[0].max(v);
        if !S::SCALEF {
            lv[0] = lv[0].min(v);
        }
        j += S::N;
    }
    if n < c {
        // SAFETY: the c - n values from n are within the row.
        let tail = unsafe { core::slice::from_raw_parts(row.add(n), c - n) };
        mv[1] = mv[1].max(load_tail::<S>(tail, f32::NEG_INFINITY));
        if !S::SCALEF {
            lv[1] = lv[1].min(load_tail::<S>(tail, f32::INFINITY));
        }
    }
    // The maximum of a set, whatever the order (but for the sign of a zero maximum, which no
    // result depends on: `z - max` and `z == max` are the same for either zero). A NaN in
    // the row may hide a lane's maximum here; the NaN then reaches the sum anyway.
    let max = mv[0].max(mv[1]).max(mv[2].max(mv[3]));
    if S::SCALEF {
        return (max, S::splat(f32::NEG_INFINITY));
    }
    (max, lv[0].min(lv[1]).min(lv[2].min(lv[3])).neg())
}

/// A row to come, prefetched by [`short_row_sums`] along its pass: its logits (`z`), so
/// that that row's first pass, which only compares, does not wait for memory, and where its
/// own pass will write (`out`), for writing (`prefetch_write`), so that those stores find
/// their lines owned instead of waiting for each to arrive (Intel Xeon VM, criterion, one
/// thread: the fused call at 209715 × 80, out of cache, 0.909 → 1.42-1.53 G/s; at
/// 16384 × 80 1.98 → 2.25-2.29), on the CPUs where that helps
/// ([`grad_rows_ahead`](crate::backend::grad_rows_ahead)). Null pointers are not prefetched.
#[derive(Clone, Copy)]
struct Ahead {
    z: *const f32,
    out: *mut f32,
}

impl Ahead {
    const NONE: Ahead = Ahead {
        z: core::ptr::null(),
        out: core::ptr::null_mut(),
    };

    /// Prefetches the line of value `j` of each non-null pointer.
    #[inline(always)]
    fn fetch(self, j: usize) {
        if !self.z.is_null() {
            prefetch(self.z.wrapping_add(j));
        }
        if !self.out.is_null() {
            prefetch_write(self.out.wrapping_add(j));
        }
    }
}

/// The second pass over a row, which the first ([`short_row_max`]) brought into the cache:
/// per lane, the sum of `exp(z - max)` over the elements below `max`, and the count of those
/// equal to it (no rescaling, as an online pass would need whenever a lane's maximum grows,
/// which is often in a row of a thousand classes). With a non-null `out`, each
/// `exp(z_j - max)` (1 where `z_j` is the maximum) is also written to `out`, so that the
/// gradient is one multiply per element instead of a second `exp`. [`short_row_rest`]
/// reduces the result. (Every caller, SIMD or scalar, passes a null `out` when it keeps
/// nothing: one copy of this loop, which tests the pointer.) `span` says
/// which exponential the row allows ([`Span`]). A row to come (`ahead`, on x86_64) is
/// prefetched line by line along the way ([`Ahead`]).
///
/// # Safety
/// `row` must be valid for reading `c >= 1` values; `out` is null or valid for writing `c`
/// values (it may be `row` itself). `ahead`'s pointers may be any address.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn short_row_sums<S: Lanes>(
    row: *const f32,
    c: usize,
    step: usize,
    max: f32,
    span: Span,
    out: *mut f32,
    ahead: Ahead,
    k: &ExpK<S>,
) -> Sums<S> {
    // SAFETY (block): forwarded.
    unsafe {
        // The SIMD loops are compiled per span, so that the choice of `exp` is not made per
        // vector inside them (the compiler left it there: two tests and branches per vector
        // at 32000 classes on AVX-512). `Normal` rows take the `Finite` loop where
        // `ldexp` is one instruction (the same bits where both apply; those backends
        // never ask for `Normal`, see `short_group_stats`). The scalar loop, which
        // microcontrollers run, keeps one copy, for the rows whose span is not normal
        // (`normal_row_rest` takes the others). Each arm inlines `row_sums` with its span
        // a constant.
        if S::N == 1 {
            return row_sums::<S>(row, c, step, max, span, out, ahead, k);
        }
        debug_assert_eq!(step, 1);
        match span {
            Span::Normal if !S::SCALEF => {
                row_sums::<S>(row, c, 1, max, Span::Normal, out, ahead, k)
            }
            Span::Normal | Span::Finite => {
                row_sums::<S>(row, c, 1, max, Span::Finite, out, ahead, k)
            }
            Span::Any => row_sums::<S>(row, c, 1, max, Span::Any, out, ahead, k),
        }
    }
}

/// The loop of [`short_row_sums`].
///
/// # Safety
/// As [`short_row_sums`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn row_sums<S: Lanes>(
    row: *const f32,
    c: usize,
    step: usize,
    max: f32,
    span: Span,
    out: *mut f32,
    ahead: Ahead,
    k: &ExpK<S>,
) -> Sums<S> {
    let n = c - c % S::N;
    let mv = S::splat(max);
    let mut sums = Sums::<S>::new();
    // The prefetch of `ahead`'s lines at `j`, `when` it starts one.
    let fetch = |j: usize, when: bool| {
        if when {
            ahead.fetch(j);
        }
    };
    if c < LONG_ROW {
        // The line of its last value, which the loop misses when the row is not aligned.
        fetch(c - 1, true);
    }
    // SAFETY (block): every vector loaded and stored lies below n <= c; vector j is loaded
    // before the store to the same place.
    unsafe {
        if S::N > 1 && n >= 2 * S::N {
            // Software-pipelined: each vector's load and reduction (the first half of its
            // `exp`) are issued two vectors ahead of the rest of its work. In source order
            // the core's scheduler fills with operations waiting on the ~50-cycle chain of
            // each vector's `exp`, and that, not a port, held the loop (Zen 4: 13.5 cycles a
            // vector on AVX-512 where its ports allow 12, about 12 on AVX2 where they allow
            // 7; `docs/tools/exp_loop.rs`). Against the loop in source order (`docs/tools/ab`,
            // which alternates the two; the same bits): AVX-512 0.95 of the time of the fused
            // call at 1000 classes and 0.77 at 32000, AVX2 0.94 and 0.90, the portable
            // backend 0.85 and 0.84, 0.89-0.99 at 80 classes; calls repeated on warm data
            // gained less (AVX-512 at 32000: 0.94). One vector ahead gained less at every
            // shape. The scalar loop, which microcontrollers run, keeps the source order.
            // Unrolled by two, so that the pending vectors change places by register
            // naming instead of a rotation of moves at every vector (eight `vmovaps` of
            // about sixty instructions a vector on AVX2, on a core that issues about four a
            // cycle: the loop was held by the instructions' count, not by a port), and the
            // tests of the flush and of the prefetch are made once a pair. AVX2 (Zen 3
            // VM, `docs/tools/ab`, the same bits): 0.91-0.92 of the fused call's time at
            // 1000 and 32000 classes, even at 80.
            let mut v0 = S::load(row);
            let mut x0 = exp_below_reduced(v0, mv, span, k);
            let mut v1 = S::load(row.add(S::N));
            let mut x1 = exp_below_reduced(v1, mv, span, k);
            let mut j = 0;
            while j + 3 * S::N < n {
                // A pair starts on a multiple of 2·N: its first vector never ends a block of
                // eight, its second does every fourth pair.
                fetch(j, j % LINE < 2 * S::N);
                sums.step(j, v0, x0, mv, span, k, out, false);
                v0 = S::load(row.add(j + 2 * S::N));
                x0 = exp_below_reduced(v0, mv, span, k);
                fetch(j + S::N, S::N >= LINE);
                sums.step(
                    j + S::N,
                    v1,
                    x1,
                    mv,
                    span,
                    k,
                    out,
                    Sums::<S>::flushes(j + S::N),
                );
                v1 = S::load(row.add(j + 3 * S::N));
                x1 = exp_below_reduced(v1, mv, span, k);
                j += 2 * S::N;
            }
            for (at, v, x) in [(j, v0, x0), (j + S::N, v1, x1)] {
                fetch(at, at % LINE < S::N);
                sums.step(at, v, x, mv, span, k, out, Sums::<S>::flushes(at));
            }
            j += 2 * S::N;
            if j < n {
                let v = S::load(row.add(j));
                let x = exp_below_reduced(v, mv, span, k);
                fetch(j, j % LINE < S::N);
                sums.step(j, v, x, mv, span, k, out, Sums::<S>::flushes(j));
            }
        } else {
            let mut j = 0;
            while j < n {
                // (`step` is 1 for vectors.)
                let v = S::load(row.add(j * step));
                let x = exp_below_reduced(v, mv, span, k);
                fetch(j, j % LINE < S::N);
                sums.step(j * step, v, x, mv, span, k, out, Sums::<S>::flushes(j));
                j += S::N;
            }
        }
    }
    if n < c {
        // SAFETY: the c - n values from n are within the row (and `out`); the slice over the
        // row is dropped before `out` is written.
        unsafe {
            // The lanes past the row hold the maximum: `z - max = 0` there, so they keep the
            // row's span and the `exp` stays off its subnormal path, which -inf padding took
            // on every row (an assist on AMD cores: 19 % of the fused call at 17 classes on
            // AVX2, Zen 4). The mask keeps them out of the sum, the count and the store.
            let v = load_tail::<S>(core::slice::from_raw_parts(row.add(n), c - n), max);
            let x = exp_below_reduced(v, mv, span, k);
            let e = sums.take(v, x, Some(first_lanes::<S>(c - n)), mv, span, k);
            if !out.is_null() {
                store_tail(e, core::slice::from_raw_parts_mut(out.add(n), c - n));
            }
        }
    }
    sums
}

/// The running sums of [`row_sums`]: `exp(z - max)` below the maximum, in `f32` lanes
/// (`part`) moved into `acc` every eight vectors, and the elements equal to the maximum,
/// counted per vector or in lane counters (`S::TALLY`).
struct Sums<S: Lanes> {
    part: S,
    acc: S::Acc,
    tally: S,
    ties: u32,
}

impl<S: Lanes> Sums<S> {
    #[inline(always)]
    fn new() -> Self {
        Self {
            part: S::splat(0.0),
            acc: S::acc_zero(),
            tally: S::splat(0.0),
            ties: 0,
        }
    }

    /// Takes the logits `v` (the `valid` lanes; all for `None`), whose exponentials'
    /// reduction is `x` ([`exp_below_reduced`]); returns their exponentials.
    #[inline(always)]
    fn take(
        &mut self,
        v: S,
        x: Reduced<S>,
        valid: Option<S::Mask>,
        max: S,
        span: Span,
        k: &ExpK<S>,
    ) -> S {
        let (e, top) = exp_below_from(v, x, valid, max, span, k, &mut self.part);
        if S::TALLY {
            self.tally = S::tally(self.tally, top);
        } else {
            self.ties += S::count(top);
        }
        e
    }

    /// [`take`](Self::take) for the whole vector at `j` of a row, with the store of the
    /// exponentials (at `out + at`: `at` is `j` but in a channels-first position on the
    /// scalar backend) and, with `flush` ([`flushes`](Self::flushes)`(j)`), the move of
    /// `part` into the accumulator.
    ///
    /// # Safety
    /// With a non-null `out`, `out + at` valid for writing `N` values.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn step(
        &mut self,
        at: usize,
        v: S,
        x: Reduced<S>,
        max: S,
        span: Span,
        k: &ExpK<S>,
        out: *mut f32,
        flush: bool,
    ) {
        let e = self.take(v, x, None, max, span, k);
        if !out.is_null() {
            // SAFETY: forwarded.
            unsafe { e.store(out.add(at)) };
        }
        if flush {
            self.acc = S::acc_add(self.acc, self.part);
            self.part = S::splat(0.0);
        }
    }

    /// Whether the vector at `j` of a row ends a block of eight, after which `part` moves
    /// into the accumulator (a fixed structure: the sums' bits depend on it).
    #[inline(always)]
    fn flushes(j: usize) -> bool {
        ((j + S::N) / S::N).is_multiple_of(8)
    }

    /// The count of elements equal to the maximum.
    #[inline(always)]
    fn ties(&self) -> u32 {
        if S::TALLY {
            S::tally_sum(self.tally)
        } else {
            self.ties
        }
    }

    /// The sum's accumulator and the count of elements equal to the maximum.
    #[inline(always)]
    fn result(self) -> (S::Acc, u32) {
        (S::acc_add(self.acc, self.part), self.ties())
    }
}

/// What a row's maximum and logits are known to satisfy, from cheapest to most general
/// exponential (all three give the same bits where they apply).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Span {
    /// Every `z - max` lies in `[-87, 0]` (or is NaN): the unguarded `exp`.
    Normal,
    /// The maximum is finite: `z - max` is `+0` exactly where `z == max`, so only the clamp
    /// below is needed.
    Finite,
    /// Anything, infinite maxima included.
    Any,
}

/// Adds `exp(v - max)` of the `valid` lanes (all lanes for `None`) below `max` to `part`;
/// returns `exp(v - max)` and the mask of the `valid` lanes equal to `max` (the
/// caller counts them: per row, or per lane when each lane is a row). `span` says what is
/// known of `v - max` (see [`Span`]).
#[inline(always)]
pub(super) fn exp_below<S: Lanes>(
    v: S,
    valid: Option<S::Mask>,
    max: S,
    span: Span,
    part: &mut S,
) -> (S, S::Mask) {
    let k = ExpK::new();
    let x = exp_below_reduced(v, max, span, &k);
    exp_below_from(v, x, valid, max, span, &k, part)
}

/// The first half of [`exp_below`]: the reduction of its exponential, which a loop may
/// start for the next vector before it finishes this one ([`exp_below_from`]).
#[inline(always)]
pub(super) fn exp_below_reduced<S: Lanes>(v: S, max: S, span: Span, k: &ExpK<S>) -> Reduced<S> {
    match span {
        Span::Normal => exp_normal_nonpos_reduced(v.sub(max), k),
        Span::Finite => exp_nonpos_reduced(v.sub(max), k),
        // `z - max = 0` where `z == max` (also for infinite `z`).
        Span::Any => exp_nonpos_reduced(S::select(v.eq(max), S::splat(0.0), v.sub(max)), k),
    }
}

/// The second half of [`exp_below`], from [`exp_below_reduced`]`(v, max, span)`.
#[inline(always)]
pub(super) fn exp_below_from<S: Lanes>(
    v: S,
    x: Reduced<S>,
    valid: Option<S::Mask>,
    max: S,
    span: Span,
    k: &ExpK<S>,
    part: &mut S,
) -> (S, S::Mask) {
    let top = v.eq(max);
    // Below or NaN (a NaN must reach the sum): the complement of `top`, the same lanes as a
    // `!=` compare. A second compare into a mask register would issue with the exponential's
    // FMAs on Zen 4 (one 512-bit operation of that kind a cycle), `knotw` issues beside them
    // (`docs/tools/fp_ports.rs`). Against the compare (`docs/tools/ab`, the same bits):
    // AVX-512 0.98-0.99 of the fused call's time at 1000 and 32000 classes, 0.91-0.98
    // channels-first; AVX2 0.97-0.99 at 1000 and 32000, even at 80 and fewer. Where masks
    // are vectors the complement is an `xor` with all ones, and lockstep groups of them
    // (rows of at most 16 classes and channels-first on AVX2 and the portable backend) keep
    // the compare: AVX2 channels-first (its sixteen registers hold four vectors' chains)
    // took 0.88-0.94 of the `xor`'s time on images out of cache, as much in cache.
    let complement = S::MASK_REGS || !S::GROUP;
    let (below, top) = match valid {
        None if complement => (S::not(top), top),
        None => (v.ne(max), top),
        Some(valid) => (S::and(S::not(top), valid), S::and(top, valid)),
    };
    let e = match span {
        Span::Normal => exp_normal_nonpos_from(x, k),
        Span::Finite | Span::Any => exp_nonpos_from(x, k),
    };
    *part = part.add_where(below, e);
    (e, top)
}

/// `S_rest` of one row from [`short_row_sums`] on the scalar backend, rounded to `f32`. A row
/// of fewer than eight classes never moved `part` into the accumulator, whose two `Total`
/// additions ([`Sums::result`], [`short_row_rest`]) then round `part + (ties - 1)` once:
/// one `f32` addition gives the same bits for about 40 fewer instructions a row on a
/// Cortex-M4F (`part` is `+0` or more, or NaN; `ties - 1` is exact).
#[inline(always)]
fn scalar_rest(sums: Sums<Scalar>, c: usize) -> f32 {
    if c < 8 {
        sums.part.0 + (sums.ties() as f32 - 1.0)
    } else {
        let (acc, ties) = sums.result();
        short_row_rest::<Scalar>(acc, ties).value()
    }
}

/// `S_rest` from the sums and the tie count of [`short_row_sums`].
#[inline(always)]
fn short_row_rest<S: Lanes>(acc: S::Acc, ties: u32) -> Total {
    // ties >= 1 is an integer below 2^24: (ties - 1) is exact and nothing cancels against
    // the sum.
    S::acc_sum(acc).add(ties as f32 - 1.0)
}

/// [`short_row_rest`]`(..).value()` for the rows of a group at once, one per lane: `hi`,
/// `lo` the parts of the `Total` of each row's sums ([`Lanes::acc_sum`]), `v` its
/// `ties - 1`. The operations of `Total::add` and `Total::value`, lane by lane (their
/// branches on finite values as selects), so the same bits, without one chain of about
/// twenty dependent scalar operations per row (14 % of the fused call at 16384 × 80 on
/// AVX-512).
#[inline(always)]
fn rest_lanes<R: Lanes>(hi: R, lo: R, v: R) -> R {
    let inf = R::splat(f32::INFINITY);
    // TwoSum(hi, v).
    let s = hi.add(v);
    let bb = s.sub(hi);
    let e = hi.sub(s.sub(bb)).add(v.sub(bb));
    // Renormalised with `lo`, then rounded; a non-finite `s` is the value itself.
    let e = e.add(lo);
    let h = s.add(e);
    let l = e.sub(h.sub(s));
    let value = R::select(h.abs().lt(inf), h.add(l), h);
    R::select(s.abs().lt(inf), value, s)
}

/// Each row's `S_rest` before its last additions (see [`rest_lanes`]), by row of a group.
struct RestParts {
    hi: [f32; MAX_LANES],
    lo: [f32; MAX_LANES],
    v: [f32; MAX_LANES],
}

impl RestParts {
    const fn new() -> Self {
        RestParts {
            hi: [0.0; MAX_LANES],
            lo: [0.0; MAX_LANES],
            v: [0.0; MAX_LANES],
        }
    }

    /// `S_rest` of the rows, one per lane (0 for rows without parts).
    #[inline(always)]
    fn lanes<R: Lanes>(&self) -> R {
        // SAFETY: the arrays hold MAX_LANES >= R::N values.
        unsafe {
            rest_lanes(
                R::load(self.hi.as_ptr()),
                R::load(self.lo.as_ptr()),
                R::load(self.v.as_ptr()),
            )
        }
    }
}

/// The statistics of the rows of one group in three sweeps over the group (maxima, sums,
/// reductions), so that the long dependency chains of different rows overlap instead of
/// running one row after the other. With a non-null `keep` the exponentials go to its rows,
/// the gradient's (see [`short_row_sums`]). `accs` is the caller's, for each row's sums:
/// every entry is written (0 for rows without a class). With `grads_ahead` (and a non-null
/// `keep`) each row's pass also prefetches the gradient row it prefetches the logits of
/// ([`grad_rows_ahead`](crate::backend::grad_rows_ahead)).
///
/// One copy for both: without a gradient the loops test the null pointer once a vector,
/// a branch always predicted (the loss alone at 80 classes on AVX2: even), where a second
/// copy of the exponential pass per span cost 25.7 KB of the library's `.text` on x86_64.
///
/// # Safety
/// For every `i < g` with `class[i]` set, row `r0 + i` (and with a non-null `keep` its
/// gradient row) lies within `rows·C` values; `g <= MAX_LANES`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn short_group_stats<S: Lanes>(
    job: &Job<'_>,
    keep: *mut f32,
    grads_ahead: bool,
    r0: usize,
    class: &[Option<usize>; MAX_LANES],
    max: &mut [f32; MAX_LANES],
    rest: &mut RestParts,
    accs: &mut [S::Acc; MAX_LANES],
    exp_k: &ExpK<S>,
) {
    const { assert!(S::N <= MAX_LANES) };
    let c = job.c;
    // A row without a class keeps maximum 0 and sum 0: finite row results, which its zero
    // weight then makes 0 (an infinite maximum would make them NaN).
    let (mut maxes, mut negmins) = ([S::splat(0.0); MAX_LANES], [S::splat(0.0); MAX_LANES]);
    for (i, k) in class.iter().enumerate() {
        if k.is_some() {
            // SAFETY: the row lies within rows·C values (contract).
            (maxes[i], negmins[i]) = unsafe { short_row_max::<S>(job.z.add((r0 + i) * c), c) };
        }
    }
    // The rows' maxima, and whether each row's span is normal, at once (a NaN row's maximum
    // may be anything: its sum is NaN).
    let mv = S::max_each(&maxes);
    // SAFETY: `max` holds MAX_LANES >= N values.
    unsafe { mv.store(max.as_mut_ptr()) };
    let mut normal = [0.0f32; MAX_LANES];
    if !S::SCALEF {
        let ok = normal_lanes(mv, S::max_each(&negmins));
        // SAFETY: `normal` holds MAX_LANES >= N values.
        unsafe { S::select(ok, S::splat(1.0), S::splat(0.0)).store(normal.as_mut_ptr()) };
    }
    let mut ties = [0u32; MAX_LANES];
    // Each row's exponential pass prefetches a row to come, spread over its vectors rather
    // than in a burst of lines before the group (measured: 0.93 of the time of the burst at
    // 16384 × 80 on AVX-512 and AVX2): a short row the row GROUP_LOGITS / C rows on (16 KB
    // ahead), at most MAX_LANES: up to 256 classes the row MAX_LANES rows on (in the next
    // group on AVX-512, the one after on AVX2), from 512 classes on the next group's; a
    // long row, alone in its group, the next one. (Until 2026-12-08 every short row took the
    // row MAX_LANES rows on, 64 KB ahead at 1000 classes, twice Zen 4's L1D: on that Zen 4
    // VM, `docs/tools/ab`, AVX-512, 16 Mi logits, 16 KB ahead took 0.91-0.96 of the time at
    // 300-2000 classes on one thread and 0.89-0.94 on two, 0.95-1.00 in cache; AVX2
    // 0.98-1.02 and 0.99-1.015.) (An ignored row has no passes, so the row it would prefetch
    // is read cold.) Only rows of this job: its gradient lines are prefetched for writing
    // (on CPUs that are not AMD's, `grads_ahead`), and on several threads the rows past the
    // job's are another thread's to write (criterion, Intel Xeon VM, 2 threads at 1 Mi
    // logits: 1.70-1.76x one thread with the rows past it, 1.81-1.85x without).
    let ahead = if c >= LONG_ROW {
        1
    } else {
        // (`c >= 1`; `max` spares a division-by-zero panic path.)
        (GROUP_LOGITS / c.max(1)).clamp(1, MAX_LANES)
    };
    for (i, k) in class.iter().enumerate() {
        if k.is_some() {
            let r = r0 + i;
            // A finite maximum needs no care for `inf - inf`.
            let span = if normal[i] != 0.0 {
                Span::Normal
            } else if max[i].is_finite() {
                Span::Finite
            } else {
                Span::Any
            };
            let out = if keep.is_null() {
                keep
            } else {
                keep.wrapping_add(r * c)
            };
            // SAFETY: the row (and with `keep` its gradient row) lie within rows·C values.
            (accs[i], ties[i]) = unsafe {
                short_row_sums::<S>(
                    job.z.add(r * c),
                    c,
                    1,
                    max[i],
                    span,
                    out,
                    Ahead {
                        z: job.z.wrapping_add((r + ahead) * c),
                        out: if grads_ahead && !keep.is_null() && r + ahead < job.rows() {
                            keep.wrapping_add((r + ahead) * c)
                        } else {
                            core::ptr::null_mut()
                        },
                    },
                    exp_k,
                )
                .result()
            };
        } else {
            accs[i] = S::acc_zero();
        }
    }
    // Every row's `Total` at once (rows without a class give 0).
    let (hi, lo) = S::acc_sum_each(accs);
    // SAFETY: the arrays hold MAX_LANES >= N values.
    unsafe {
        hi.store(rest.hi.as_mut_ptr());
        lo.store(rest.lo.as_mut_ptr());
    }
    for (i, k) in class.iter().enumerate() {
        if k.is_some() {
            // As in `short_row_rest`: exact.
            rest.v[i] = ties[i] as f32 - 1.0;
        }
    }
}

/// Per-row results for the lanes of a group of rows: `(L, w, w / S_{-k})`. `ek` is
/// `exp(z_k - max)` where the row's exponential pass kept it (the scalar loop), which
/// saves the row's one `exp` here with the same bits: that pass's exponentials are `exp`'s
/// bits on `z - max <= 0` (and where they are not, on a row holding a NaN, the results are
/// NaN either way).
#[inline(always)]
pub(super) fn finish<S: Lanes, G: Gamma>(
    max: S,
    s_rest: S,
    zk: S,
    alpha: S,
    gamma: f32,
    g: G,
    ek: Option<S>,
) -> (S, S, S) {
    let zero = S::splat(0.0);
    let one = S::splat(1.0);
    let is_arg = zk.eq(max);
    // ln(1 + S_rest). On the scalar backend (what microcontrollers run) a row whose other
    // classes sum to at most 1 (every row of 2 classes, a confident one of more) takes the
    // one-polynomial `log1p_unit`, about a third of `log1p`'s instructions there; the
    // SIMD backends keep one `log1p` for all lanes rather than a branch per group of rows
    // (with one lane, `any` is `all`).
    let lsr = if S::N == 1 && S::any(s_rest.le(one)) {
        log1p_unit(s_rest)
    } else {
        log1p(s_rest)
    };
    // p = exp(z_k - max) / (1 + S_rest): the exponential that `S_{-k}` needs anyway,
    // where `exp(ℓ)` took a second one. As accurate or more: both carry the
    // rounding of `z_k - max`, the division avoids that of `ℓ`.
    let sum = one.add(s_rest);
    // `(z_k - max, exp(z_k - max), p, q)`: `(0, 1, 1/(1 + S_rest), S_rest/(1 + S_rest))`
    // where `k` is an arg-max (also an infinite one, whose kept exponential is NaN). One
    // lane (the scalar backend, what microcontrollers run) branches once to the arms that
    // the lanes select between: 10-18 instructions a row fewer on a Cortex-M4F, the same
    // bits. (Branching for `S_{-k}` too saved 5 more, but took 120 bytes more stack in the
    // Cortex-M3's soft-float code.)
    let (dk, ek, p, q) = if S::N == 1 && S::any(is_arg) {
        let p = one.div(sum);
        (zero, one, p, s_rest.div(sum))
    } else if S::N == 1 {
        let dk = zk.sub(max);
        let ek = ek.unwrap_or_else(|| exp(dk));
        let p = ek.div(sum);
        (dk, ek, p, one.sub(p))
    } else {
        let dk = S::select(is_arg, zero, zk.sub(max));
        let ek = match ek {
            Some(ek) => S::select(is_arg, one, ek),
            None => exp(dk),
        };
        let p = ek.div(sum);
        (dk, ek, p, S::select(is_arg, s_rest.div(sum), one.sub(p)))
    };
    let ell = dk.sub(lsr);
    let qg = match g.pow(q, gamma) {
        Some(qg) => qg,
        None => {
            let ln_q = S::select(is_arg, ln(s_rest).sub(lsr), log1p(p.neg()));
            exp(S::splat(gamma).mul(ln_q))
        }
    };
    let aq = alpha.mul(qg);
    let loss = far_below(mul_or_zero(aq, ell.neg()), ell, aq, zk, max, lsr);
    let w = if g.zero(gamma) {
        alpha.mul(q)
    } else {
        aq.mul(S::splat(gamma).neg_mul_add(mul_or_zero(p, ell), q))
    };
    let s_mk = S::select(is_arg, s_rest, sum.sub(ek));
    let factor = S::select(s_mk.eq(zero), zero, w.div(s_mk));
    (loss, w, factor)
}

/// `loss`, the term `w·(-ℓ)` of logits `z` (`w` the weight times `q^γ`, `ℓ = z - max -
/// lsr`), except where finite logits lie more than f32::MAX below a finite maximum: there
/// `z - max` overflows to -inf, while `w·(max - z + lsr)` may still be finite (fuzz and
/// audit findings). Halved, nothing overflows, and doubling is exact (or +inf where the term
/// itself is above f32::MAX). One comparison on the common path: a vector without a -inf
/// `ℓ` skips the rest.
#[inline(always)]
pub(super) fn far_below<S: Lanes>(loss: S, ell: S, w: S, z: S, max: S, lsr: S) -> S {
    let minus_inf = ell.eq(S::splat(f32::NEG_INFINITY));
    if !S::any(minus_inf) {
        return loss;
    }
    let inf = S::splat(f32::INFINITY);
    let wide = S::and(minus_inf, S::and(z.abs().lt(inf), max.abs().lt(inf)));
    let half = S::splat(0.5);
    let half_ell = max.mul(half).sub(z.mul(half)).add(lsr.mul(half));
    S::select(wide, w.mul(half_ell).mul(S::splat(2.0)), loss)
}

/// Multiplies a row of kept `exp(z_j - max)` by `f`, then writes `gk` at the target class.
/// The row's values are `step` apart (1 but in a channels-first position on the scalar
/// backend).
///
/// # Safety
/// `out + j·step` valid for reading and writing for every `j < c`; `k < c`; `step == 1`
/// for vectors.
#[inline(always)]
unsafe fn scale_row<S: Lanes>(out: *mut f32, c: usize, step: usize, f: f32, k: usize, gk: f32) {
    let fv = S::splat(f);
    // SAFETY (block): every access is below c (contract). (A pointer loop: with an index the
    // scalar loop reloaded `c` from the stack on every element on a Cortex-M4.)
    unsafe {
        if step != 1 {
            debug_assert!(S::N == 1);
            for j in 0..c {
                *out.add(j * step) *= f;
            }
            *out.add(k * step) = gk;
            return;
        }
        let (mut p, whole) = (out, out.add(c - c % S::N));
        while p < whole {
            S::load(p).mul(fv).store(p);
            p = p.add(S::N);
        }
        while p < out.add(c) {
            *p *= f;
            p = p.add(1);
        }
        *out.add(k) = gk;
    }
}

/// Runs `job`, whose rows are short ([`short`]), with lanes `S` and `γ` of code `G` (see
/// [`gamma_code`](super::sigmoid::gamma_code)): one lane per row ([`small_rows`]), where the row results (`finish`) are
/// a large share of the work per logit, so `γ` is compiled in. Returns the sum of the row
/// losses (0 unless the mode sums).
///
/// # Safety
/// `job.z` valid for reading `rows·C` values; the mode's output valid for writing `rows·C`
/// (gradients) or `rows` (losses) values and the upstream for reading `rows` values; labels
/// validated (each a class in `0..C` or the ignore index), `labels.len() == rows`, `C >= 1`.
/// A gradient output may be `job.z` itself; no other overlap. [`short`]`::<S>(job)`.
#[inline(always)]
pub(crate) unsafe fn run_short<S: Lanes, const G: u32>(job: &Job<'_>) -> Total {
    debug_assert!(short::<S>(job));
    // SAFETY: forwarded.
    unsafe { small_rows::<S, S::Wide, G>(job) }
}

/// Runs `job` (any row length) with lanes `S`, a group of rows at a time ([`groups`]), `γ`
/// read at run time: its row results take one vector per group of rows of more than
/// [`SMALL_C`] classes, a small share of the work, and one loop serves every `γ` (the same
/// operations as a compiled-in `γ`, so the same bits). Returns the sum of the row losses (0
/// unless the mode sums).
///
/// # Safety
/// As for [`run_short`], without its condition on the row length.
#[inline(always)]
pub(crate) unsafe fn run_rows<S: Lanes>(job: &Job<'_>) -> Total {
    // SAFETY: forwarded.
    unsafe { groups::<S, S, _>(job, Runtime(job.code)) }
}

/// Whether `job`'s rows are short enough for lanes `S` to take one lane per row
/// ([`run_short`]): at most [`SMALL_C`] classes, on a SIMD backend.
#[inline(always)]
pub(crate) fn short<S: Lanes>(job: &Job<'_>) -> bool {
    job.c <= SMALL_C && S::N > 1
}

/// The class of a row without one.
const NO_CLASS: usize = usize::MAX;

/// What the rows of a group need from their labels, gathered by scalar code once per group,
/// for up to [`MAX_WIDE`] rows (at least the lanes that read it). Entries past the group's
/// rows are those of a row without a class. Only the SIMD backends gather: the scalar
/// backend's channels-first and label-smoothing kernels once ran the lane kernels with one
/// lane and these arrays cost a Cortex-M 1.3 KB of stack; they have loops of their own now.
/// (The width was once a parameter: each width was one more copy of the gather per backend
/// and label type, 110 KB of x86_64 `.text` for a width of 16.)
pub(super) struct Gathered {
    /// The row's class, or [`NO_CLASS`] (ignored).
    pub(super) class: [usize; MAX_WIDE],
    /// `z_k` (0 without a class).
    pub(super) zk: [f32; MAX_WIDE],
    /// The class weight (0 without a class).
    pub(super) alpha: [f32; MAX_WIDE],
    /// The class as `f32`, −1 without one.
    pub(super) kf: [f32; MAX_WIDE],
    /// The gradient scale: the row's upstream value or the reduction's (0 without a class).
    pub(super) cr: [f32; MAX_WIDE],
}

/// Fills a [`Gathered`] for rows `r0..r0 + g`, entries `0..n`.
struct Gather<'g, 'j> {
    job: &'g Job<'j>,
    r0: usize,
    g: usize,
    n: usize,
    /// Whether to load `z_k` (the small-row path takes it from its columns instead).
    zk: bool,
    out: &'g mut Gathered,
}

/// The label-type part of [`Gather`]: fills `class` and `kf` of the group's `g` rows and
/// returns `g` and whether every one of them has a class. (Only this part is compiled per
/// label type; the rest reads `class`, which is `usize` for every type.)
struct Classes<'g, 'j> {
    job: &'g Job<'j>,
    r0: usize,
    g: usize,
    out: &'g mut Gathered,
}

impl Visit for Classes<'_, '_> {
    type Out = (usize, bool);

    #[inline(always)]
    fn run<L: ClassIndex>(self, labels: &[L]) -> (usize, bool) {
        let (job, o) = (self.job, self.out);
        let ls = labels.get(self.r0..self.r0 + self.g).unwrap_or(&[]);
        // The labels are validated: each is the ignore index or a class in 0..C. An ignore
        // index that is not a value of `L` matches no label.
        let ignore = L::narrow(job.ignore);
        // Where no label of the group is the ignore index (always, without one that a label
        // of this type can hold), every row has a class: the loops then need no test per
        // row (at 16384 × 10 on AVX-512 this function took a tenth of the fused call, most
        // of it in those tests). One comparison per label finds out, in a loop without an
        // early exit, which the compiler vectorises.
        let every = ignore.is_none_or(|i| !ls.iter().fold(false, |a, &l| a | (l == i)));
        // A 64-bit label of a call of at most 2^31 classes converts through `i32`, to the
        // same value: AVX2 has no vector conversion of 64-bit integers (a scalar
        // `vcvtsi2ssq` per `i64` label, most of this function's time at 65536 × 4), while
        // the compiler vectorises this one. (64-bit targets only: on 32-bit ones `to_f32`
        // converts `usize` already.)
        let narrow =
            cfg!(target_pointer_width = "64") && core::mem::size_of::<L>() == 8 && job.c <= 1 << 31;
        if every && narrow {
            for ((k, kf), &l) in o.class.iter_mut().zip(&mut o.kf).zip(ls) {
                debug_assert!(l.index() < job.c);
                (*k, *kf) = (l.index(), l.index() as i32 as f32);
            }
        } else if every {
            for ((k, kf), &l) in o.class.iter_mut().zip(&mut o.kf).zip(ls) {
                debug_assert!(l.index() < job.c);
                (*k, *kf) = (l.index(), l.to_f32());
            }
        } else {
            for ((k, kf), &l) in o.class.iter_mut().zip(&mut o.kf).zip(ls) {
                let class = ignore != Some(l);
                debug_assert!(!class || l.index() < job.c);
                *k = if class { l.index() } else { NO_CLASS };
                *kf = if class { l.to_f32() } else { -1.0 };
            }
        }
        (ls.len(), every)
    }
}

impl Gather<'_, '_> {
    /// A few simple loops over the group, each a candidate for the compiler's vectoriser,
    /// rather than one loop that does everything per row: this runs once per group of 16 to
    /// 64 rows, and at C = 4 one scalar loop took a quarter of the fused call's time.
    #[inline(always)]
    fn fill_all(self) {
        let (job, o) = (self.job, self.out);
        let (_, scale, up) = job.mode.parts();
        let n = self.n.min(MAX_WIDE);
        let (g, every) = job.labels.visit(Classes {
            job,
            r0: self.r0,
            g: self.g.min(n),
            out: &mut *o,
        });
        // (`g <= n` already; the `min` shows the compiler that the slices below are in
        // bounds, which at `opt-level = "z"` it did not see, linking a panic path.)
        let g = g.min(n);
        let class = &o.class[..g];
        // One loop for both constant weights (and the reduction's scale below).
        match job.alpha {
            Alpha::None => fill_with(&mut o.alpha[..g], class, every, 1.0),
            Alpha::Scalar(a) => fill_with(&mut o.alpha[..g], class, every, a),
            Alpha::PerClass(v) => fill(&mut o.alpha[..g], class, every, |_, k| {
                v.get(k).copied().unwrap_or(0.0)
            }),
        }
        if up.is_null() {
            fill_with(&mut o.cr[..g], class, every, scale);
        } else {
            let up = up.wrapping_add(self.r0);
            // SAFETY: the upstream holds one value per row, and rows r0..r0 + g exist: `fill`
            // passes `i < g`. (A raw read: the index of a slice of `g` values kept a bounds
            // check, and its panic path, at `opt-level = "z"`.)
            fill(&mut o.cr[..g], class, every, |i, _| unsafe { *up.add(i) });
        }
        if self.zk {
            let (z, c, r0) = (job.z, job.c, self.r0);
            // SAFETY: row r0 + i < rows and its class k < C, so the value lies within rows·C.
            fill(&mut o.zk[..g], class, every, |i, k| unsafe {
                *z.add((r0 + i) * c + k)
            });
        }
        for i in g..n {
            (o.class[i], o.zk[i], o.alpha[i], o.kf[i], o.cr[i]) = (NO_CLASS, 0.0, 0.0, -1.0, 0.0);
        }
    }
}

/// [`fill`] with one value, out of line: the same loop for the class weight and the scale.
#[inline(never)]
fn fill_with(out: &mut [f32], class: &[usize], every: bool, v: f32) {
    fill(out, class, every, |_, _| v)
}

/// `out[i] = value(i, class[i])` for the rows with a class, 0 for the others; `every`: every
/// row has one.
#[inline(always)]
fn fill(out: &mut [f32], class: &[usize], every: bool, value: impl Fn(usize, usize) -> f32) {
    if every {
        for (i, (o, &k)) in out.iter_mut().zip(class).enumerate() {
            *o = value(i, k);
        }
        return;
    }
    for (i, (o, &k)) in out.iter_mut().zip(class).enumerate() {
        *o = if k == NO_CLASS { 0.0 } else { value(i, k) };
    }
}

/// Gathers what rows `r0..r0 + g` need from their labels into entries `0..n` of `out`
/// (`n <= MAX_WIDE`), `z_k` only if `zk`. Out of line ([`Lanes::outline`]): one copy per
/// backend with its features (the same for every `γ`), so that its per-label-type loops
/// stay out of the vector kernels but still vectorise with the backend's vectors (on
/// AVX-512 the fused call at 65536 × 4 spent a tenth of its time here and in the label
/// check, with the baseline's SSE2).
///
/// # Safety
/// `r0 + g <= rows`; the job's contract holds; the backend of `S` is present.
#[inline(always)]
pub(super) unsafe fn gather_rows<S: Lanes>(
    job: &Job<'_>,
    r0: usize,
    g: usize,
    n: usize,
    zk: bool,
    out: &mut Gathered,
) {
    let gather = Gather {
        job,
        r0,
        g,
        n,
        zk,
        out,
    };
    // SAFETY: forwarded (the backend's features).
    unsafe { S::outline(gather) }
}

impl Outline for Gather<'_, '_> {
    type Out = ();

    #[inline(always)]
    fn run(self) {
        self.fill_all()
    }

    #[inline(never)]
    fn run_baseline(self) {
        self.fill_all()
    }
}

impl Gathered {
    pub(super) const fn new() -> Self {
        Gathered {
            class: [NO_CLASS; MAX_WIDE],
            zk: [0.0; MAX_WIDE],
            alpha: [0.0; MAX_WIDE],
            kf: [-1.0; MAX_WIDE],
            cr: [0.0; MAX_WIDE],
        }
    }
}

/// The results of `n` rows from `r0` held one per lane (`kv`: their classes as `f32`, -1
/// without one; the gathered `rows`): adds their losses to `acc` if the mode sums, writes
/// them for [`Mode::Loss`], and returns the lanes with a class and, for the gradient, the
/// scale `f` of `exp(z_j - max)` and the value `gk` at the class (see [`lane_grad`]). Shared
/// by the row-major small rows and the channels-first kernel.
///
/// # Safety
/// Rows `r0..r0 + n` exist (`n <= S::N`), and the loss output holds `rows` values.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) unsafe fn lane_rows<S: Lanes, G: Gamma>(
    job: &Job<'_>,
    rows: &Gathered,
    max: S,
    s_rest: S,
    zk: S,
    kv: S,
    g: G,
    r0: usize,
    n: usize,
    acc: &mut S::Acc,
) -> (S::Mask, S, S) {
    const { assert!(S::N <= MAX_WIDE) };
    let zero = S::splat(0.0);
    // SAFETY: the gathered arrays hold MAX_WIDE >= S::N values; the loss output holds
    // rows values and r0 + n <= rows (contract).
    unsafe {
        let (loss, w, factor) = finish(
            max,
            s_rest,
            zk,
            S::load(rows.alpha.as_ptr()),
            job.gamma,
            g,
            None,
        );
        // Lanes without a class (ignored, or past the block) give 0.
        let ok = S::not(kv.lt(zero));
        let loss = S::select(ok, loss, zero);
        if job.mode.sums() {
            *acc = S::acc_add(*acc, loss);
        }
        if let Mode::Loss(o) = job.mode {
            // `+ 0` turns the `-0` of a certain row at `γ = 0` (`α·(-ℓ)`, `ℓ = +0`) into `+0`
            // and changes nothing else (an audit finding); here, not in `finish`, where it
            // cost the fused call an instruction a row on a Cortex-M4F.
            loss.add(zero).store_first(o.add(r0), n);
        }
        let cr = S::load(rows.cr.as_ptr());
        (ok, factor.mul(cr), w.mul(cr).neg())
    }
}

/// The gradient of one class for rows held one per lane: `gk` in the lanes whose class it
/// is (`is_k`), `e · f` elsewhere, 0 in lanes without a class.
#[inline(always)]
pub(super) fn lane_grad<S: Lanes>(is_k: S::Mask, e: S, f: S, gk: S, ok: S::Mask) -> S {
    let gj = S::select(is_k, gk, e.mul(f));
    S::select(ok, gj, S::splat(0.0))
}

/// Rows held one per lane count the logits equal to their maximum in `f32` lanes, exact up
/// to 2^24: every this many classes the counts go into the row's sums (exact there too) and
/// start again, so that a row of more than 2^24 tied maxima (all its logits equal, at
/// 2^25 classes) still gets `S_rest = S - 1`. Rows of fewer classes never reach it: the
/// same bits as one count at the end.
pub(super) const TIE_FLUSH: usize = 1 << 23;

/// Classes are compared in lanes as `f32`, which is exact below 2^24: [`ClassLanes`] goes
/// through longer rows in spans of this many classes, each relative to its first.
const CLASS_SPAN: usize = 1 << 24;

/// Which lanes of a block of rows held one per lane (the gathered `rows`) have class `j`,
/// for `j` going up from 0: `kv.eq(j)` on the classes as `f32` ([`Gathered::kf`]) while
/// `j < 2^24`, then on the classes relative to the span of [`CLASS_SPAN`] that `j` is in.
/// Without the spans, classes from 2^24 on rounded to their neighbours in `f32` and took
/// each other's logits (channels-first and label smoothing at 2^24 + 2 classes).
pub(super) struct ClassLanes<'r, S: Lanes> {
    rows: &'r Gathered,
    base: usize,
    kv: S,
}

impl<'r, S: Lanes> ClassLanes<'r, S> {
    /// From class 0 on; `kv` is `rows.kf` as lanes.
    #[inline(always)]
    pub(super) fn new(rows: &'r Gathered, kv: S) -> Self {
        const { assert!(S::N <= MAX_WIDE) };
        ClassLanes { rows, base: 0, kv }
    }

    /// The lanes whose class is `j` (at least every `j` before, since [`new`](Self::new)).
    #[inline(always)]
    pub(super) fn is(&mut self, j: usize) -> S::Mask {
        if j - self.base >= CLASS_SPAN {
            self.base = j - j % CLASS_SPAN;
            // A class below the span, or none, is -1; one above it is at least 2^24 as
            // `f32`: neither equals a class of the span.
            let mut rel = [-1.0f32; MAX_WIDE];
            for (r, &k) in rel.iter_mut().zip(&self.rows.class).take(S::N) {
                if k != NO_CLASS && k >= self.base {
                    *r = (k - self.base) as f32;
                }
            }
            // SAFETY: `rel` holds MAX_WIDE >= S::N values (`new`).
            self.kv = unsafe { S::load(rel.as_ptr()) };
        }
        // `j - base < 2^24` and the lanes' classes in the span are exact in `f32`; the
        // classes as `f32` from 2^24 on round to at least 2^24 (never below the span).
        self.kv.eq(S::splat((j - self.base) as f32))
    }
}

/// Rows at most this long are computed across rows: one lane per row.
const SMALL_C: usize = MAX_COLUMNS;

/// Rows of at most [`SMALL_C`] classes, `S::N` rows at a time with one lane per row (`S` is
/// the lockstep group `V::Wide`): the group's block of rows is read as one vector per class
/// ([`columns`], [`Lanes::load_columns`]: permutes or a transpose on AVX-512, transposes on
/// AVX2), every step of the row computation is a vector operation across rows, the
/// exponentials of the statistics pass are kept for the gradient, and the gradient columns
/// are written back as rows ([`Lanes::store_columns`]). (Within a row such short rows would
/// leave most lanes idle and pay the per-row reductions every time.)
///
/// # Safety
/// As [`run_short`], and `C <= SMALL_C`.
#[inline(always)]
unsafe fn small_rows<V: Lanes, S: Lanes, const G: u32>(job: &Job<'_>) -> Total {
    const { assert!(S::N <= MAX_WIDE) };
    let c = job.c.min(SMALL_C);
    let out = job.mode.parts().0;
    let grads = job.mode.grads();
    let grads_ahead = grads && crate::backend::grad_rows_ahead();
    let zero = S::splat(0.0);
    let mut acc = S::acc_zero();
    let mut rows = Gathered::new();
    // Set once: each group overwrites the first C.
    let mut cols = [zero; SMALL_C];
    let (mut r0, n) = (0, job.rows());
    while r0 < n {
        let g = (n - r0).min(S::N);
        // SAFETY: r0 + g <= rows.
        unsafe { gather_rows::<S>(job, r0, g, S::N, false, &mut rows) };
        // Column j: class j of rows r0..r0+g. Lanes from g on are 0 and ignored rows hold
        // their logits: both are masked out of the results below.
        // SAFETY: rows r0..r0+g are g·C values within rows·C; `cols` holds SMALL_C >= C
        // vectors and C <= SMALL_C = MAX_COLUMNS, g <= S::N.
        unsafe { columns::<V, S>(Columns::Load(job.z.add(r0 * c)), c, g, &mut cols) };
        // The next group's logits, and (with `grads_ahead`) its gradient rows for writing
        // (`prefetch_write`), in a burst. Out of cache (`docs/tools/ab`, 16 Mi logits, the
        // same bits): 0.77-0.78 of the fused call's time at 4 and 10 classes on AVX-512,
        // 0.75-0.82 on AVX2, 0.86-0.94 on the portable backend; in cache even. Two groups
        // ahead: the same. Only the job's rows (see `short_group_stats`).
        let next = (r0 + S::N) * c;
        let ahead = Ahead {
            z: job.z.wrapping_add(next),
            out: if grads_ahead {
                out.wrapping_add(next)
            } else {
                core::ptr::null_mut()
            },
        };
        let mut l = 0;
        while l < S::N * c && next + l < n * c {
            ahead.fetch(l);
            l += LINE;
        }
        // SAFETY: `kf` holds MAX_WIDE >= S::N values.
        let kv = unsafe { S::load(rows.kf.as_ptr()) };
        let (mut max, mut min) = (S::splat(f32::NEG_INFINITY), S::splat(f32::INFINITY));
        // z_k: the column of the row's class (0 without one).
        let mut zk = zero;
        for (j, col) in cols[..c].iter().enumerate() {
            max = max.max(*col);
            min = min.min(*col);
            zk = S::select(kv.eq(S::splat(j as f32)), *col, zk);
        }
        // The columns now hold their exponentials, kept for the gradient.
        let (cnt, part) = match lane_span(max, min) {
            Span::Normal => lane_exps(&mut cols[..c], max, Span::Normal),
            _ => lane_exps(&mut cols[..c], max, Span::Any),
        };
        let s_rest = part.add(cnt.sub(S::splat(1.0)));
        // SAFETY (block): every array holds MAX_WIDE >= S::N values; the loss output holds rows
        // values; the gradient rows lie within rows·C values like the logits', whose reads
        // are all done, so the output may be the logits.
        unsafe {
            let (ok, fv, gk) =
                lane_rows(job, &rows, max, s_rest, zk, kv, Fixed::<G>, r0, g, &mut acc);
            if grads {
                for (j, col) in cols.iter_mut().enumerate().take(c) {
                    *col = lane_grad(kv.eq(S::splat(j as f32)), *col, fv, gk, ok);
                }
                columns::<V, S>(Columns::Store(out.add(r0 * c)), c, g, &mut cols);
            }
        }
        r0 += g;
    }
    S::acc_sum(acc)
}

/// Which way [`columns`] moves a group's rows: from the logits at the pointer into the
/// columns, or from the columns to the gradient at the pointer.
#[derive(Clone, Copy)]
enum Columns {
    /// [`Lanes::load_columns`] from rows at this pointer.
    Load(*const f32),
    /// [`Lanes::store_columns`] to rows at this pointer.
    Store(*mut f32),
}

/// [`Lanes::load_columns`] or [`Lanes::store_columns`] (as `way` says) of `n` rows of `c`
/// classes for a lockstep group `S` (`V::Wide`), in a loop over its blocks of `V::N` rows:
/// one copy of `V`'s transposes, where `S`'s own method inlines one per vector of the group
/// (AVX2: four of each kind in each of [`small_rows`]' copies).
///
/// # Safety
/// As for those methods with `step = 1` at `way`'s pointer; `S` is `V::Wide`: `S::N / V::N`
/// consecutive `V` values.
#[inline(always)]
unsafe fn columns<V: Lanes, S: Lanes>(way: Columns, c: usize, n: usize, cols: &mut [S; SMALL_C]) {
    const {
        assert!(S::N.is_multiple_of(V::N));
        assert!(size_of::<S>() == S::N / V::N * size_of::<V>());
    };
    if !V::COLUMN_LOOP {
        // SAFETY: forwarded.
        unsafe {
            match way {
                Columns::Load(p) => S::load_columns(p, c, n, cols.as_mut_ptr(), 1),
                Columns::Store(p) => S::store_columns(p, c, n, cols.as_ptr(), 1),
            }
        }
        return;
    }
    let parts = S::N / V::N;
    let cols = cols.as_mut_ptr().cast::<V>();
    // A trip count known only at run time: the loop is not unrolled into one copy per
    // block.
    let blocks = n.div_ceil(V::N);
    // SAFETY (block): block k holds rows k·V::N.. of the n, within the n·c values; column
    // j of block k is the `V` at j·parts + k of the columns (contract).
    unsafe {
        for k in 0..blocks {
            let (at, m) = (k * V::N * c, (n - k * V::N).min(V::N));
            match way {
                Columns::Load(p) => V::load_columns(p.add(at), c, m, cols.add(k), parts),
                Columns::Store(p) => V::store_columns(p.add(at), c, m, cols.add(k), parts),
            }
        }
        if let Columns::Load(_) = way {
            for k in blocks..parts {
                for j in 0..c {
                    cols.add(j * parts + k).write(V::splat(0.0));
                }
            }
        }
    }
}

/// The [`Span`] of rows held one per lane, from their maxima and minima:
/// [`Span::Normal`] when no lane's `max - min` exceeds 87 ([`normal_lanes`], as
/// [`short_group_stats`] tests each row: it excludes infinities; a NaN that the maxima or
/// minima kept fails it, and one they dropped is in the normal span's domain) on backends
/// with [`Lanes::LANE_SPAN`], else [`Span::Any`]. With finite logits nearly every group is normal,
/// whose `exp` drops the select of `z == max`, the clamp and the test for a subnormal
/// result: the same bits.
#[inline(always)]
pub(super) fn lane_span<S: Lanes>(max: S, min: S) -> Span {
    if S::LANE_SPAN && !S::any(S::not(normal_lanes(max, min.neg()))) {
        Span::Normal
    } else {
        Span::Any
    }
}

/// The lanes whose row lies in the normal span, from its maximum and the maximum of its
/// negated logits: `max + neg_min = max - min <= 87` (the same value either way; false for
/// an infinite bound and for NaN). Every `z - max` of such a row lies in `[-87, 0]`, the
/// domain of [`Span::Normal`]; [`short_group_stats`] and [`lane_span`] test it.
#[inline(always)]
fn normal_lanes<S: Lanes>(max: S, neg_min: S) -> S::Mask {
    max.add(neg_min).le(S::splat(87.0))
}

/// Replaces each column of rows held one per lane by `exp(z - max)` ([`exp_below`] with
/// `span`); returns the lanes' counts of logits equal to their maximum and their sums of the
/// exponentials below it.
#[inline(always)]
fn lane_exps<S: Lanes>(cols: &mut [S], max: S, span: Span) -> (S, S) {
    let zero = S::splat(0.0);
    let (mut cnt, mut part) = (zero, zero);
    for col in cols {
        let (e, top) = exp_below(*col, None, max, span, &mut part);
        cnt = cnt.add(S::select(top, S::splat(1.0), zero));
        *col = e;
    }
    (cnt, part)
}

/// Rows in groups of `R::N`, fewer for rows of more than [`GROUP_LOGITS`]` / R::N` classes
/// (one row at a time from [`LONG_ROW`] classes on): statistics of
/// each row with lanes `S`, the group's row results with lanes `R`, then each row's gradient
/// with lanes `S`. When a gradient is written, every row keeps its exponentials in it
/// between the two passes (see [`short_row_sums`]), so each logit goes through one `exp`.
#[inline(always)]
unsafe fn groups<S: Lanes, R: Lanes, G: Gamma>(job: &Job<'_>, gamma: G) -> Total {
    let c = job.c;
    let out = job.mode.parts().0;
    let (sum, grads) = (job.mode.sums(), job.mode.grads());
    // A long row is finished alone, while it is still in L2: a group of them would push the
    // first rows out before their second pass. Its row results take one lane of `R`, which
    // costs little beside the row's own passes.
    let per_group = if c >= LONG_ROW {
        1
    } else {
        // (`c >= 1`; `max` spares a division-by-zero panic path.)
        R::N.min(MAX_LANES).min((GROUP_LOGITS / c.max(1)).max(1))
    };
    const { assert!(R::N <= MAX_LANES) };
    let mut acc = R::acc_zero();
    // Entries 0..MAX_LANES are gathered; `R::N <= MAX_LANES` read. (MAX_WIDE, as the
    // other SIMD callers: one gather per backend and label type, not one per width.)
    let mut rows = Gathered::new();
    // Each group's row sums. Set here, once: as a local of each group their zeros (2 KB on
    // AVX-512) were a `memset` call per group, with a `vzeroupper`: without it the fused
    // call on AVX-512 took 0.97-0.98 of the time at 80 classes (`docs/tools/ab`), 0.95 at
    // 32 (a throwaway program).
    let mut accs = [S::acc_zero(); MAX_LANES];
    let grads_ahead = grads && crate::backend::grad_rows_ahead();
    // The `exp`'s constants of the exponential passes, held once a call (`HOLD_EXP`).
    let k = if S::HOLD_EXP {
        ExpK::held()
    } else {
        ExpK::new()
    };
    let (mut r0, n) = (0, job.rows());
    while r0 < n {
        let g = (n - r0).min(per_group);
        let mut max = [0.0f32; MAX_LANES];
        let mut rest = RestParts::new();
        // SAFETY: r0 + g <= rows. z_k is read before the kept exponentials may overwrite it.
        unsafe { gather_rows::<R>(job, r0, g, MAX_LANES, true, &mut rows) };
        let class: [Option<usize>; MAX_LANES] =
            core::array::from_fn(|i| Some(rows.class[i]).filter(|&k| k != NO_CLASS));
        // SAFETY: rows r0..r0 + g (and their gradient rows) lie within rows·C values; the
        // entries of `class` from g on are None.
        unsafe {
            let keep = if grads { out } else { core::ptr::null_mut() };
            let (m, r) = (&mut max, &mut rest);
            short_group_stats::<S>(job, keep, grads_ahead, r0, &class, m, r, &mut accs, &k);
        }
        // SAFETY: the arrays hold MAX_LANES >= R::N values.
        let (loss, w, factor) = unsafe {
            finish(
                R::load(max.as_ptr()),
                rest.lanes::<R>(),
                R::load(rows.zk.as_ptr()),
                R::load(rows.alpha.as_ptr()),
                job.gamma,
                gamma,
                None,
            )
        };
        if sum {
            acc = R::acc_add(acc, R::select(first_lanes::<R>(g), loss, R::splat(0.0)));
        }
        let mut lv = [0.0f32; MAX_LANES];
        let mut wv = [0.0f32; MAX_LANES];
        let mut fv = [0.0f32; MAX_LANES];
        // SAFETY: the arrays hold MAX_LANES >= R::N values.
        unsafe {
            loss.store(lv.as_mut_ptr());
            w.store(wv.as_mut_ptr());
            factor.store(fv.as_mut_ptr());
        }
        // `g <= per_group <= MAX_LANES`; the `min` says so to the compiler, which otherwise
        // kept a bounds check (a panic path) in the AVX-512 entries.
        for i in 0..g.min(MAX_LANES) {
            let r = r0 + i;
            if let Mode::Loss(o) = job.mode {
                // SAFETY: r < rows and the loss output holds rows values.
                // (`+ 0`: as in `lane_rows`.)
                unsafe { *o.add(r) = if class[i].is_some() { lv[i] + 0.0 } else { 0.0 } };
            }
            if !grads {
                continue;
            }
            let cr = rows.cr[i];
            // SAFETY: r < rows and the gradient holds rows·C values.
            let orow = unsafe { out.add(r * c) };
            match class[i] {
                // SAFETY: the output row lies within rows·C values and holds the row's kept
                // exponentials; k < C.
                Some(k) => unsafe { scale_row::<S>(orow, c, 1, fv[i] * cr, k, -(wv[i] * cr)) },
                // SAFETY: the output row holds C values.
                None => unsafe { core::ptr::write_bytes(orow, 0, c) },
            }
        }
        r0 += g;
    }
    R::acc_sum(acc)
}

/// The scalar backend's loop over row-major rows: one row at a time, `γ` and the mode read
/// at run time, nothing gathered into per-group arrays. A microcontroller runs this: one
/// copy of the code for every `γ`, mode and label type, and a stack frame of a few
/// registers' worth. Each row, whatever its length, takes its maximum and `S_rest` from
/// [`pair_row`] (2 classes), [`scalar_row_max`] and [`normal_row_rest`] (a normal span:
/// nearly every row) or [`short_row_sums`] (any other row), then the row functions the
/// other backends use for rows shorter than [`LONG_ROW`] ([`finish`], [`scale_row`]).
///
/// # Safety
/// As for [`run_rows`].
#[inline(never)]
pub(crate) unsafe fn run_scalar(job: &Job<'_>) -> Total {
    // SAFETY: forwarded.
    unsafe { scalar_rows::<false>(job) }
}

/// [`run_scalar`] over channels-first positions (the scalar backend's channels-first kernel):
/// each position is a row whose classes are `S` apart (`job.stride()`), so its results are
/// those of the row-major loop on the transposed logits, bit for bit. A copy of its own
/// (linked only by the channels-first methods), where the row-major loop keeps its
/// contiguous rows.
///
/// # Safety
/// As for [`channels_first::run`](super::channels_first::run).
#[inline(never)]
pub(crate) unsafe fn run_scalar_cf(job: &Job<'_>) -> Total {
    // SAFETY: forwarded.
    unsafe { scalar_rows::<true>(job) }
}

/// The loop of [`run_scalar`] (`CF` false) and [`run_scalar_cf`].
///
/// # Safety
/// As for those.
#[inline(always)]
unsafe fn scalar_rows<const CF: bool>(job: &Job<'_>) -> Total {
    let c = job.c;
    let g = Runtime(job.code);
    let (out, scale, up) = job.mode.parts();
    let grads = job.mode.grads();
    // Channels-first: `sp` positions per image in this job, classes `step` apart (`step ==
    // sp` for whole images; a part of one image has `sp < step`, see `Job::stride`).
    let (sp, step) = if CF {
        (job.spatial.max(1), job.stride().max(1))
    } else {
        (1, 1)
    };
    // Every row, however long, takes the short rows' two passes and keeps its exponentials
    // in the gradient output: [`LONG_ROW`] is about the SIMD backends' L2 cache, and a
    // microcontroller has no cache to miss, while the online pass would cost it a second
    // copy of the exponential and its rescaling in flash.
    let keep = grads;
    let mut acc = Total::ZERO;
    for r in 0..job.rows() {
        // Where row r's class 0 lies: position r % sp of image r / sp (channels-first).
        let first = if CF {
            (r / sp) * c * step + r % sp
        } else {
            r * c
        };
        // SAFETY (block): r < rows, so the row and its gradient row lie within the logits
        // (row-major: rows·C values; channels-first: class j of the position at first +
        // j·step, contract), the loss and upstream within rows values, and a class is below
        // C (contract).
        unsafe {
            let row = job.z.add(first);
            let orow = out.wrapping_add(first);
            let Some(k) = job.labels.class_at(r, job.ignore) else {
                ignored_row(job, r, orow, step, grads);
                continue;
            };
            // Read before the kept exponentials may overwrite it.
            let zk = *row.add(k * step);
            // A null `out` (no gradient) is tested per element: one register compare, where
            // a `keep` flag was reloaded from the stack.
            let kept = if keep { orow } else { core::ptr::null_mut() };
            let RowStats {
                max,
                s_rest,
                paired,
                ..
            } = scalar_row_stats(row, c, step, kept);
            // A pair's `S_rest` is exp(z_k - max) where k is not the arg-max (`finish`
            // reads `ek` only there), in every mode; otherwise the pass above kept
            // exp(z_k - max) in the gradient row: no second `exp`.
            let ek = if paired {
                Some(Scalar(s_rest))
            } else {
                (!kept.is_null()).then(|| Scalar(*kept.add(k * step)))
            };
            let alpha = job.alpha.of(k);
            let (loss, w, factor) = finish(
                Scalar(max),
                Scalar(s_rest),
                Scalar(zk),
                Scalar(alpha),
                job.gamma,
                g,
                ek,
            );
            acc = acc.add(loss.0);
            if let Mode::Loss(o) = job.mode {
                // (`+ 0`: as in `lane_rows`.)
                *o.add(r) = loss.0 + 0.0;
            }
            if grads {
                let cr = if up.is_null() { scale } else { *up.add(r) };
                scale_row::<Scalar>(orow, c, step, factor.0 * cr, k, -(w.0 * cr));
            }
        }
    }
    acc
}

/// The results of an ignored row `r` on the scalar backend: a loss of 0 where per-row
/// losses are written, and a gradient row of zeros at `orow` (classes `step` apart) where
/// a gradient is.
///
/// # Safety
/// Row `r` exists; where the mode writes, `orow + j·step` for `j < C` (gradient) or the
/// loss output at `r` are valid for writing.
#[inline(always)]
pub(super) unsafe fn ignored_row(
    job: &Job<'_>,
    r: usize,
    orow: *mut f32,
    step: usize,
    grads: bool,
) {
    // SAFETY (block): the contract.
    unsafe {
        if let Mode::Loss(o) = job.mode {
            *o.add(r) = 0.0;
        }
        if grads {
            // A loop, not `write_bytes` for `step == 1`: the `memset` call it became took 8
            // bytes of a Cortex-M4F's stack beneath the loops' frames (the deepest point of
            // every softmax method), for rows that are rare.
            for j in 0..job.c {
                *orow.add(j * step) = 0.0;
            }
        }
    }
}

/// What [`scalar_row_stats`] knows of a row.
#[derive(Clone, Copy)]
pub(super) struct RowStats {
    /// The row's maximum.
    pub max: f32,
    /// `S_rest`.
    pub s_rest: f32,
    /// The row took [`pair_row`]: `s_rest` is then the exponential of the smaller logit,
    /// which [`finish`] may take as `ek`.
    pub paired: bool,
    /// The row took a shortcut ([`pair_row`] or [`normal_row_rest`]): its span is normal
    /// (every `z - max` in `[-87, 0]`, or NaN past the first logit, see
    /// [`scalar_row_max`]), and `m` is the index of a maximum, whose `S_rest` leaves out
    /// that class alone (another class equal to the maximum is a term `exp(0) = 1`).
    pub normal: bool,
    /// The first maximum's index (where `normal`).
    pub m: usize,
}

/// The maximum and `S_rest` of one row on the scalar backend (classes `step` apart):
/// [`pair_row`] for 2 classes, else [`scalar_row_max`] then [`normal_row_rest`] (a normal
/// span: nearly every row) or [`short_row_sums`]. A non-null `kept` receives the row's
/// exponentials (1 at a maximum).
///
/// # Safety
/// `row + j·step` valid for reading for every `j < c`, `c >= 1`; a non-null `kept` valid
/// for writing at the same offsets (it may be `row` itself).
// Out of line in unoptimised builds only (`debug_assertions`), as label smoothing's passes.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline(never))]
pub(super) unsafe fn scalar_row_stats(
    row: *const f32,
    c: usize,
    step: usize,
    kept: *mut f32,
) -> RowStats {
    // SAFETY (block): forwarded.
    unsafe {
        let pair = if c == 2 {
            pair_row(row, step, kept)
        } else {
            None
        };
        match pair {
            Some((max, e, m)) => RowStats {
                max,
                s_rest: e,
                paired: true,
                normal: true,
                m,
            },
            None => {
                let (max, span_normal, m) = scalar_row_max(row, c, step);
                let normal = span_normal && shortcuts();
                let s_rest = if normal {
                    normal_row_rest(row, c, step, max, m, kept)
                } else {
                    // (`Any` but in this module's tests.)
                    let span = if span_normal { Span::Normal } else { Span::Any };
                    let sums = short_row_sums::<Scalar>(
                        row,
                        c,
                        step,
                        max,
                        span,
                        kept,
                        Ahead::NONE,
                        &ExpK::new(),
                    );
                    scalar_rest(sums, c)
                };
                RowStats {
                    max,
                    s_rest,
                    paired: false,
                    normal,
                    m,
                }
            }
        }
    }
}

/// Whether the scalar loop takes its shortcuts for rows of 2 classes ([`pair_row`]) and
/// rows of normal span ([`normal_row_rest`]): always, but where this module's tests ask
/// for the general loop, to compare the two.
#[inline(always)]
fn shortcuts() -> bool {
    #[cfg(test)]
    return !tests::GENERAL_ONLY.with(|g| g.get());
    #[cfg(not(test))]
    true
}

/// The maximum, `S_rest` and the index of the (first) maximum of a row of two classes `a`,
/// `b` (at `row` and `row + step`) whose logits are finite and at most 87 apart, which is
/// then `exp(-|a - b|)`: what [`scalar_row_max`], [`short_row_sums`] and [`scalar_rest`]
/// give such a row, bit for bit, without their loops, tie count and span test (on a
/// Cortex-M4F 51 instructions a row where they took 126). With a non-null `kept`, the
/// row's exponentials are written there as that pass writes them: 1 at the maximum (both,
/// on a tie) and `exp(-|a - b|)` at the other class. `None` for any other row (NaN,
/// infinite or farther apart), which takes the general loop.
///
/// The bits: `b - a = -(a - b)` exactly, so `-|a - b|` is the `z - max` of the smaller
/// logit; on a tie it is `±0`, whose `exp` is 1, as the loop's tie count gives (`S_rest =
/// 0 + (2 - 1)`); `tests::pair_rows_are_the_general_loops_bits` compares the two. A row
/// of 2 classes (a binary classifier's) is where the loop's per-row machinery weighs most
/// against its work: on a Cortex-M4F this took the fused call from 146.7 to 115.7
/// instructions per logit, below a careful hand loop's 131.5, for 0.2 KB of flash.
///
/// # Safety
/// `row` and `row + step` valid for reading; with a non-null `kept`, `kept` and `kept +
/// step` valid for writing (either may be the row itself).
#[inline(always)]
unsafe fn pair_row(row: *const f32, step: usize, kept: *mut f32) -> Option<(f32, f32, usize)> {
    if !shortcuts() {
        return None;
    }
    // SAFETY: the contract.
    let (a, b) = unsafe { (*row, *row.add(step)) };
    let d = Scalar(a).sub(Scalar(b));
    // False for a NaN or an infinite logit (`a - b` is then NaN or infinite).
    let near = d.abs().0 <= 87.0;
    if !near {
        return None;
    }
    let max = Scalar(a).max(Scalar(b)).0;
    let e = exp_normal_nonpos_reg(d.abs().neg()).0;
    if !kept.is_null() {
        // SAFETY: the contract.
        unsafe {
            *kept = if a < b { e } else { 1.0 };
            *kept.add(step) = if b < a { e } else { 1.0 };
        }
    }
    // (The first maximum's index, as `scalar_row_max` gives it.)
    Some((max, e, usize::from(b > a)))
}

/// The maximum of a row on one lane, the index of its first occurrence, and whether every
/// `z - max` of the row lies in `[-87, 0]` (the normal span): then [`normal_row_rest`]
/// takes the unguarded `exp` (the same bits, and neither the clamp nor the subnormal test,
/// nor the select for infinite maxima), which is nearly always on real logits.
///
/// The comparisons skip a NaN (but a first one, which stays and makes the span not normal),
/// where [`Lanes::max`] would take it: a row holding a NaN may still be "normal", and its
/// NaN then reaches the sum through its exponential, which makes the row's loss and
/// gradient NaN, as specified. (A compare and a conditional move each: with `max` and `min`
/// as selects the fused call took 2.2-2.8 instructions more per logit on a Cortex-M4F at
/// 4 and 10 classes.)
///
/// # Safety
/// `row + j·step` must be valid for reading for every `j < c`, `c >= 1`.
#[inline(always)]
unsafe fn scalar_row_max(row: *const f32, c: usize, step: usize) -> (f32, bool, usize) {
    // From the first logit, not from ∓inf: one comparison pair a row fewer.
    // SAFETY: c >= 1 (contract).
    let first = unsafe { Scalar::load(row) };
    let (mut max, mut min, mut m) = (first, first, 0);
    for j in 1..c {
        // SAFETY: j < c (contract).
        let v = unsafe { Scalar::load(row.add(j * step)) };
        if v.0 > max.0 {
            (max, m) = (v, j);
        }
        if v.0 < min.0 {
            min = v;
        }
    }
    // False for an infinite maximum or minimum, and for a first NaN.
    (max.0, max.0 - min.0 <= 87.0, m)
}

/// `S_rest` of a row whose span is normal ([`scalar_row_max`]), `m` the index it gave
/// (a logit equal to the maximum): the sum of `exp(z_j - max)` over every `j != m`, in
/// `f32` blocks of eight moved into a [`Total`] as [`short_row_sums`] does, each
/// exponential written to a non-null `kept` (1 at `m`). Another logit equal to the
/// maximum adds its `exp(0) = 1` as a term, where the general loop counts it; so the bits
/// are that loop's on every row without ties (`tests::normal_rows_are_the_general_loops_bits`).
/// Per logit an exponential, a sum and a store: no span test, no tie test and branch (on
/// a Cortex-M4F the fused call at 10 classes took 91.1 instructions per logit through the
/// general loop, 81.1 with this one and the maximum's index). The blocks of eight are
/// counted down: as a nested loop it took 2 instructions a logit fewer but 16 bytes more
/// of the kernel's frame, over the 512-byte goal.
///
/// # Safety
/// `row + j·step` valid for reading for every `j < c`, `m < c`; a non-null `kept` valid
/// for writing at the same offsets (it may be `row` itself).
#[inline(always)]
unsafe fn normal_row_rest(
    row: *const f32,
    c: usize,
    step: usize,
    max: f32,
    m: usize,
    kept: *mut f32,
) -> f32 {
    let mv = Scalar(max);
    let (mut part, mut acc) = (0.0f32, Total::ZERO);
    let mut left = 8u32;
    for j in 0..c {
        if j != m {
            // SAFETY (block): j < c (contract); the logit is read before its place is
            // written.
            unsafe {
                let v = Scalar::load(row.add(j * step));
                let e = exp_normal_nonpos_reg(v.sub(mv)).0;
                part += e;
                if !kept.is_null() {
                    *kept.add(j * step) = e;
                }
            }
        }
        left -= 1;
        if left == 0 {
            acc = Scalar::acc_add(acc, Scalar(part));
            part = 0.0;
            left = 8;
        }
    }
    if !kept.is_null() {
        // SAFETY: m < c (contract).
        unsafe { *kept.add(m * step) = 1.0 };
    }
    // `scalar_rest` with one tie, written out: through it, the short rows' `part + (1 - 1)`
    // is an addition of +0 that the compiler must keep (0.5 instructions a logit at 4
    // classes on a Cortex-M4F).
    if c < 8 {
        part
    } else {
        short_row_rest::<Scalar>(Scalar::acc_add(acc, Scalar(part)), 1).value()
    }
}

#[cfg(test)]
mod tests {
    use super::rest_lanes;
    use crate::simd::{Lanes, Portable, Scalar};
    use crate::total::Total;
    use crate::{Alpha, Backend, Reduction, SoftmaxFocal};
    use std::vec::Vec;

    std::thread_local! {
        /// Set, the scalar loop takes no shortcut ([`shortcuts`](super::shortcuts)): rows
        /// of 2 classes and of normal span go through the general loop, whose results the
        /// tests compare the shortcuts' with.
        pub(super) static GENERAL_ONLY: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
    }

    /// A xorshift generator: the tests' inputs, the same on every run.
    fn xorshift(mut s: u32) -> impl FnMut() -> u32 {
        move || {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s
        }
    }

    /// Every output of one scalar-backend call per method over `z` (rows of `c` classes):
    /// the loss summed and per row, the gradient alone (one upstream and per row), the fused
    /// call's, the in-place call's, and a channels-first call's with `spatial` positions
    /// per image (which must divide the rows).
    fn outputs(
        z: &[f32],
        c: usize,
        labels: &[u8],
        f: &SoftmaxFocal<'_>,
        spatial: usize,
    ) -> Vec<f32> {
        let mut out = Vec::new();
        let mut g = std::vec![0.0f32; z.len()];
        let mut per_row = std::vec![0.0f32; labels.len()];
        out.push(f.loss(z, c, labels, Reduction::Sum).unwrap());
        f.loss_per_row(z, c, labels, &mut per_row).unwrap();
        out.extend(&per_row);
        f.grad(z, c, labels, Reduction::Mean, 0.5, &mut g).unwrap();
        out.extend(&g);
        let up: Vec<f32> = (0..labels.len()).map(|r| 1.0 + r as f32 / 8.0).collect();
        f.grad_per_row(z, c, labels, &up, &mut g).unwrap();
        out.extend(&g);
        let l = f
            .loss_and_grad(z, c, labels, Reduction::Mean, &mut g)
            .unwrap();
        out.push(l);
        out.extend(&g);
        let mut inplace = z.to_vec();
        let l = f
            .loss_and_grad_in_place(&mut inplace, c, labels, Reduction::Sum)
            .unwrap();
        out.push(l);
        out.extend(&inplace);
        let l = f
            .channels_first(spatial)
            .loss_and_grad(z, c, labels, Reduction::Sum, &mut g)
            .unwrap();
        out.push(l);
        out.extend(&g);
        out
    }

    /// How many of the words of [`outputs`] differ between the scalar loop with its
    /// shortcuts and the general loop: in bits (NaN for NaN), or with `tied`, by more than
    /// 4e-7 of their size plus `floor`.
    fn differ(
        z: &[f32],
        c: usize,
        labels: &[u8],
        f: &SoftmaxFocal<'_>,
        spatial: usize,
        tied: bool,
        floor: f32,
    ) -> usize {
        let fast = outputs(z, c, labels, f, spatial);
        GENERAL_ONLY.with(|g| g.set(true));
        let general = outputs(z, c, labels, f, spatial);
        GENERAL_ONLY.with(|g| g.set(false));
        assert_eq!(fast.len(), general.len());
        fast.iter()
            .zip(&general)
            .filter(|(a, b)| {
                let same = a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
                let close = (*a - *b).abs() <= 4e-7 * a.abs().max(b.abs()) + floor;
                !(same || (tied && close))
            })
            .count()
    }

    /// Rows of normal span take their own exponential pass on the scalar backend
    /// (`normal_row_rest`): the general loop's bits on rows without ties, and on rows with
    /// ties (whose other maxima it sums as terms where the loop counts them) within an ulp
    /// or two. Every method, lengths across the blocks of eight, several `γ` and `α`,
    /// and rows that are not normal (spans past 87, infinities, NaN) beside them.
    #[test]
    fn normal_rows_are_the_general_loops_bits() {
        let mut next = xorshift(0x1234_5679);
        let mut unit = move || next() as f32 / u32::MAX as f32;
        for c in [1usize, 3, 4, 5, 7, 8, 9, 10, 15, 16, 17, 24, 33, 100] {
            let rows = 40;
            let mut z: Vec<f32> = (0..rows * c).map(|_| (unit() - 0.5) * 30.0).collect();
            // Rows 0-3 not normal; the rest tie-free (random values).
            z[0] = f32::NEG_INFINITY;
            z[c] = f32::NAN;
            z[2 * c + c - 1] = 95.0;
            z[3 * c] = f32::INFINITY;
            let labels: Vec<u8> = (0..rows).map(|r| ((r * 7 + 3) % c) as u8).collect();
            let per_class: Vec<f32> = (0..c).map(|j| 0.1 + (j % 9) as f32 * 0.1).collect();
            // Ties from row 4 on: two, and (where there is room) three maxima.
            let mut tied = z.clone();
            for r in 4..rows {
                let row = &mut tied[r * c..(r + 1) * c];
                let top = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                row[r % c] = top;
                row[(r * 3 + 1) % c] = top;
            }
            for (gamma, alpha) in [
                (2.0, Alpha::None),
                (0.0, Alpha::Scalar(0.25)),
                (1.5, Alpha::PerClass(&per_class)),
            ] {
                let f = SoftmaxFocal::new()
                    .backend(Backend::Scalar)
                    .gamma(gamma)
                    .alpha(alpha);
                let n = differ(&z, c, &labels, &f, 4, false, 0.0);
                assert_eq!(n, 0, "C = {c}, γ = {gamma}: {n} words differ");
                let n = differ(&tied, c, &labels, &f, 4, true, 1e-37);
                assert_eq!(n, 0, "C = {c}, γ = {gamma}, with ties: {n} words differ");
            }
        }
    }

    /// Label smoothing on the scalar backend takes its own loops for rows of normal span
    /// (`smoothing::run_scalar`: the maximum's term once a row, two sums instead of four),
    /// which sum in another order than the general loops: every method within a few ulps
    /// of them (4e-7 of the larger size, plus an ulp of the gradient's scale for words that
    /// cancel towards 0), with and without ties, rows of 2 classes and of many, normal
    /// rows beside others.
    #[test]
    fn smoothed_normal_rows_agree_with_the_general_loops() {
        let mut next = xorshift(0x5eed_0b1e);
        let mut unit = move || next() as f32 / u32::MAX as f32;
        for c in [1usize, 2, 3, 7, 8, 9, 10, 17, 33, 100] {
            let rows = 24;
            let mut z: Vec<f32> = (0..rows * c).map(|_| (unit() - 0.5) * 30.0).collect();
            if c > 1 {
                // Rows 0-2 not normal; from row 12 on, two maxima.
                z[0] = f32::NEG_INFINITY;
                z[c] = f32::NAN;
                z[2 * c + c - 1] = 95.0;
                for r in 12..rows {
                    let row = &mut z[r * c..(r + 1) * c];
                    let top = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                    row[r % c] = top;
                    row[(r * 3 + 1) % c] = top;
                }
            }
            let labels: Vec<u8> = (0..rows).map(|r| ((r * 7 + 3) % c) as u8).collect();
            let per_class: Vec<f32> = (0..c).map(|j| 0.1 + (j % 9) as f32 * 0.1).collect();
            for (gamma, alpha, eps) in [
                (2.0, Alpha::None, 0.1),
                (0.0, Alpha::Scalar(0.25), 1.0),
                (1.5, Alpha::PerClass(&per_class), 0.3),
                (3.7, Alpha::None, 0.05),
            ] {
                let f = SoftmaxFocal::new()
                    .backend(Backend::Scalar)
                    .gamma(gamma)
                    .alpha(alpha)
                    .label_smoothing(eps);
                // The gradient's terms are at most 4 (the per-row upstream) times 1: 1 ulp of
                // that for the words that cancel towards 0.
                let n = differ(&z, c, &labels, &f, 4, true, 4.0 * f32::EPSILON);
                assert_eq!(n, 0, "C = {c}, γ = {gamma}, ε = {eps}: {n} words differ");
            }
        }
    }

    /// Rows of two classes take their own path on the scalar backend (`pair_row`), which
    /// must give the general loop's bits: every method, both labels, several `γ` and `α`,
    /// on ties (`±0` included), differences at and around the 87 limit, tiny and subnormal
    /// differences, huge and infinite logits, NaN, and random logits.
    #[test]
    fn pair_rows_are_the_general_loops_bits() {
        let mut next = xorshift(0x2545_f491);
        let mut pairs: Vec<(f32, f32)> = Vec::new();
        let specials = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            87.0,
            -87.0,
            87.000_01,
            86.999_99,
            1e-30,
            1e-45,
            -1e-45,
            3.0e38,
            -3.0e38,
            f32::MAX,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
        ];
        for &a in &specials {
            for &b in &specials {
                pairs.push((a, b));
                pairs.push((a + 5.0, b + 5.0));
                pairs.push((a - 0.25, b));
            }
        }
        for _ in 0..3000 {
            let a = (next() as f32 / u32::MAX as f32 - 0.5) * 60.0;
            let d = match next() % 4 {
                0 => 0.0,
                1 => f32::from_bits(next() % 0x0100_0000),
                2 => (next() as f32 / u32::MAX as f32) * 100.0,
                _ => 87.0 + (next() % 64) as f32 * f32::EPSILON * 64.0 - 2e-3,
            };
            pairs.push((a, a + d));
            pairs.push((a + d, a));
        }
        let z: Vec<f32> = pairs.iter().flat_map(|&(a, b)| [a, b]).collect();
        // 3 divides the rows, for the channels-first call.
        let rows = z.len() / 2 - (z.len() / 2) % 3;
        let z = &z[..2 * rows];
        let labels: Vec<u8> = (0..rows).map(|r| ((r * 7) % 5 % 2) as u8).collect();
        let per_class = [0.25f32, 0.75];
        for (gamma, alpha) in [
            (2.0, Alpha::None),
            (0.0, Alpha::Scalar(0.25)),
            (2.5, Alpha::PerClass(&per_class)),
            (1.0, Alpha::None),
        ] {
            let f = SoftmaxFocal::new()
                .backend(Backend::Scalar)
                .gamma(gamma)
                .alpha(alpha);
            let n = differ(z, 2, &labels, &f, 3, false, 0.0);
            assert_eq!(n, 0, "γ = {gamma}: {n} words differ");
        }
    }

    /// [`rest_lanes`] gives the bits of `Total::add` then `Total::value`, one lane or four,
    /// for sums of every size against tie counts, and for infinite and NaN sums.
    #[test]
    fn rest_lanes_is_total_add_then_value() {
        let mut next = xorshift(0x9e37_79b9);
        let specials = [f64::INFINITY, f64::NAN, 1e300, 0.0, 3.0e38, 1.0 / 3.0];
        for i in 0..20_000 {
            let r = next();
            let d = if i % 97 == 0 {
                specials[(r % 6) as usize]
            } else {
                // 0 to 2^40 over many binades, with low bits below f32's.
                (r as f64 / 7.0) * 2f64.powi((r % 40) as i32 - 20)
            };
            let v = (next() % 5000) as f32 - 1.0;
            let t = Total::from_f64(d);
            let want = t.add(v).value();
            let (hi, lo) = t.parts();
            let one = rest_lanes(Scalar(hi), Scalar(lo), Scalar(v)).0;
            let four = rest_lanes(Portable::splat(hi), Portable::splat(lo), Portable::splat(v));
            let mut out = [0.0f32; 4];
            // SAFETY: `out` holds 4 values.
            unsafe { four.store(out.as_mut_ptr()) };
            for got in [one, out[0], out[3]] {
                assert!(
                    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                    "{d:e} + {v}: {got:e}, want {want:e}"
                );
            }
        }
    }
}
