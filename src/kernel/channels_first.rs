//! Softmax focal loss over channels-first logits `[N, C, S]` (`S` positions per image, class
//! `j` of position `s` of image `n` at `n·C·S + j·S + s`; labels `[N, S]`), without a
//! transpose: `S::N` neighbouring positions of one image are one vector per class, so the
//! row computation of the row-major kernel runs across positions, one lane per position.
//!
//! Per block of positions, three passes over the classes: the maxima and `z_k` (selected by
//! comparing each class with the lanes' labels, no gather); `exp(z - max)`, summed per lane
//! (in `f32` for 8 classes at a time, then into the lane's `f64`, or [`Total`] on the scalar
//! backend), and kept in the gradient output when there is one; then the gradient, one
//! multiply per logit. The row formulas are [`finish`](super::softmax::finish)'s, as in the
//! row-major kernel.
//!
//! The scalar backend does not run this: its channels-first kernel is the row-major scalar
//! loop with each position's classes `S` apart
//! ([`run_scalar_cf`](super::softmax::run_scalar_cf)), so its results are those of the
//! row-major kernel on the transposed logits, bit for bit, in that loop's stack frame (this
//! kernel's gathered rows and lane state took a Cortex-M4F 136 bytes more).

use crate::simd::{LINE, Lanes, MAX_WIDE, Outline, Total, prefetch, prefetch_write};

use super::sigmoid::Gamma;
use super::softmax::{
    ClassLanes, Gathered, Job, Span, TIE_FLUSH, exp_below, gather_rows, lane_grad, lane_rows,
    lane_span,
};

/// Runs `job` (channels-first, `job.spatial >= 1` positions per image) with lanes `S` and
/// `γ` as `g`; returns the sum of the position losses (0 unless the mode sums).
///
/// # Safety
/// `job.z` valid for reading `rows·C` values, `rows` a multiple of `job.spatial` (whole
/// images, `job.stride == job.spatial`), or, for a part of one image (`rows == spatial <
/// stride`), valid for reading `spatial` values from each `z + j·stride`, `j < C`; the mode's
/// gradient output valid for writing the same places (as offsets from it), its loss output
/// for writing `rows` values and the upstream for reading `rows` values; labels validated
/// (each a class in `0..C` or the ignore index), `labels.len() == rows`, `C >= 1`. A
/// gradient output may be `job.z` itself; no other overlap.
#[inline(always)]
pub(crate) unsafe fn run<S: Lanes, G: Gamma>(job: &Job<'_>, g: G) -> Total {
    const { assert!(S::N <= MAX_WIDE) };
    // `sp` positions per image in this job, classes `stride` apart (`stride == sp` for whole
    // images; a part of one image has `sp < stride`).
    let (c, sp, stride) = (job.c, job.spatial.max(1), job.stride().max(1));
    debug_assert!(sp <= stride && (sp == stride || job.rows() == sp));
    let out = job.mode.parts().0;
    let grads = job.mode.grads();
    let zero = S::splat(0.0);
    let mut acc = S::acc_zero();
    let mut rows = Gathered::new();
    for image in 0..job.rows() / sp {
        let mut s0 = 0;
        while s0 < sp {
            let n = (sp - s0).min(S::N);
            let r0 = image * sp + s0;
            // Class j of this block: n values at z + base + j·stride.
            let base = image * c * stride + s0;
            // SAFETY (block): positions r0..r0 + n are rows of the job (r0 + n <= rows), and
            // for every class j < C the block's values are readable (contract): whole images
            // (stride == sp) span C·sp values from image·C·sp, within rows·C; a part of one
            // image (one `image`, 0) has sp values at each z + j·stride; and s0 + n <= sp.
            // The gathered arrays
            // hold MAX_WIDE >= S::N values. Each logit is read (passes 1 and 2) before the
            // gradient may overwrite it at the same place (pass 2), and pass 3 reads only
            // the gradient output.
            unsafe {
                gather_rows::<S>(job, r0, n, S::N, false, &mut rows);
                let kv = S::load(rows.kf.as_ptr());
                // Pass 1: maxima and z_k (0 without a class).
                let (mut max, mut min) = (S::splat(f32::NEG_INFINITY), S::splat(f32::INFINITY));
                let mut zk = zero;
                let mut class = ClassLanes::new(&rows, kv);
                for j in 0..c {
                    let p = job.z.add(base + j * stride);
                    // The next block's lines of this class: C streams `S` apart are more
                    // than the hardware prefetchers follow.
                    let mut l = S::N;
                    while l < 2 * S::N {
                        prefetch(p.wrapping_add(l));
                        if grads && s0 + l < sp {
                            // And the lines its gradient will be written to, owned, where
                            // they are this job's (a line another thread writes is not
                            // taken from it).
                            prefetch_write(out.wrapping_add(base + j * stride + l));
                        }
                        l += LINE;
                    }
                    let v = load::<S>(p, n);
                    max = max.max(v);
                    min = min.min(v);
                    zk = S::select(class.is(j), v, zk);
                }
                // Pass 2: S_rest per lane, the exponentials kept in the gradient.
                let at = Block {
                    z: job.z,
                    out,
                    base,
                    stride,
                    c,
                    n,
                    grads,
                };
                let s_rest = if !S::LANE_SPAN {
                    rests(&at, max, Span::Any)
                } else if lane_span(max, min) == Span::Normal {
                    rests(&at, max, Span::Normal)
                } else {
                    S::outline(AnyRests { b: &at, max })
                };
                let (ok, fv, gk) = lane_rows(job, &rows, max, s_rest, zk, kv, g, r0, n, &mut acc);
                if grads {
                    // Pass 3: w·e_j/S_{-k}·scale, and -w·scale at the class.
                    let mut class = ClassLanes::new(&rows, kv);
                    for j in 0..c {
                        let p = out.add(base + j * stride);
                        store(lane_grad(class.is(j), load::<S>(p, n), fv, gk, ok), p, n);
                    }
                }
            }
            s0 += n;
        }
    }
    S::acc_sum(acc)
}

/// Where [`rests`] reads a block: class `j` of its `n <= S::N` positions at
/// `z + base + j·stride`, and with `grads` the gradient output at the same offsets. Built
/// only by [`run`], where its contract holds: for every class `j < c`, `n` values readable
/// at `z + base + j·stride` and, with `grads`, writable at the same offset from `out`.
struct Block {
    z: *const f32,
    out: *mut f32,
    base: usize,
    stride: usize,
    c: usize,
    n: usize,
    grads: bool,
}

/// Pass 2 of [`run`] over block `b`: each lane's `S_rest` for its maximum, the exponentials
/// ([`exp_below`] with `span`) kept in the gradient output when there is one. A function,
/// not a closure (see [`load`]); called with each [`Span`] it may be given.
///
/// # Safety
/// For every class `j < b.c`, `b.n` values readable at `b.z + b.base + j·b.stride` and, with
/// `b.grads`, writable at the same offset from `b.out`.
#[inline(always)]
unsafe fn rests<S: Lanes>(b: &Block, max: S, span: Span) -> S {
    let (zero, one) = (S::splat(0.0), S::splat(1.0));
    let (mut cnt, mut part, mut sums) = (zero, zero, S::acc_zero());
    for start in (0..b.c).step_by(TIE_FLUSH) {
        if start > 0 {
            sums = S::acc_add(sums, cnt);
            cnt = zero;
        }
        for j in start..b.c.min(start + TIE_FLUSH) {
            let at = b.base + j * b.stride;
            // SAFETY: class j's values of the block are readable (and writable with
            // `grads`) at `at` (contract).
            unsafe {
                let (e, top) = exp_below(load::<S>(b.z.add(at), b.n), None, max, span, &mut part);
                cnt = cnt.add(S::select(top, one, zero));
                if b.grads {
                    store(e, b.out.add(at), b.n);
                }
            }
            if (j + 1) % 8 == 0 {
                sums = S::acc_add(sums, part);
                part = zero;
            }
        }
    }
    // The count of the maximum (what [`TIE_FLUSH`] left of it) is an integer below 2^24;
    // removing the one that is not a term adds nothing inexact.
    S::acc_lanes(S::acc_add(S::acc_add(sums, part), cnt.sub(one)))
}

/// [`rests`] with [`Span::Any`], out of line ([`Lanes::outline`]): on backends with
/// [`Lanes::LANE_SPAN`], one copy per backend, shared by every `γ`, for the blocks that are
/// not normal (an infinite logit, or logits more than 87 apart). Inlined into each `γ`'s
/// kernel beside the normal copy, it put the library's x86_64 `.text` over its budget. (The
/// other backends keep their one copy inline: on AVX2, both spans out of line ran 0.95-1.00
/// of the time before `LANE_SPAN`, against 0.90-0.91 with the normal copy inline.)
struct AnyRests<'b, S> {
    b: &'b Block,
    max: S,
}

impl<S: Lanes> Outline for AnyRests<'_, S> {
    type Out = S;

    #[inline(always)]
    fn run(self) -> S {
        // SAFETY: a `Block` holds `rests`' contract (built only by `run`).
        unsafe { rests(self.b, self.max, Span::Any) }
    }

    #[inline(never)]
    fn run_baseline(self) -> S {
        self.run()
    }
}

/// The first `n` lanes from `p` (0 in the others). A function, not a closure: LLVM left a
/// closure out of line in the AVX entry points (`.ci/check-codegen.py` caught it).
///
/// # Safety
/// `p` valid for reading `n <= S::N` values.
#[inline(always)]
unsafe fn load<S: Lanes>(p: *const f32, n: usize) -> S {
    // SAFETY: forwarded.
    unsafe {
        if n == S::N {
            S::load(p)
        } else {
            S::load_first(p, n, 0.0)
        }
    }
}

/// Stores the first `n` lanes of `v` at `p`.
///
/// # Safety
/// `p` valid for writing `n <= S::N` values.
#[inline(always)]
unsafe fn store<S: Lanes>(v: S, p: *mut f32, n: usize) {
    // SAFETY: forwarded.
    unsafe {
        if n == S::N {
            v.store(p)
        } else {
            v.store_first(p, n)
        }
    }
}
