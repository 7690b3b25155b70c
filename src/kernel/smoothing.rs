//! Label smoothing for the softmax focal loss, both layouts (Keras
//! `CategoricalFocalCrossentropy(label_smoothing = ε)`): the target of a row with class `k`
//! is `y_j = (1-ε)·[j = k] + ε/C`, and every class is a focal term,
//!
//! ```text
//! L      = Σ_j α_j·y_j·q_j^γ·(-ℓ_j)                 ℓ_j = ln p_j, q_j = 1 - p_j
//!        = (1-ε)·L_k + (ε/C)·U,                      U = Σ_j α_j·q_j^γ·(-ℓ_j)
//! dL/dz_j = (1-ε)·dL_k/dz_j + (ε/C)·(p_j·Σ_c u_c - u_j),
//!          u_c = α_c·q_c^γ·(1 + γ·p_c·h_c),         h_c = -ℓ_c / q_c
//! ```
//!
//! where `L_k` is the unsmoothed row loss of [`finish`] (computed with the class weight
//! `(1-ε)·α_k`), and `u_c` is `dU/dℓ_c`-shaped: `q^γ·(1 + γ·p·h)` has no `q^(γ-1)`, so it
//! stays finite at `q = 0`, and `p·h → 0` as `p → 0` (a `-inf` logit: `u = α`).
//!
//! Every term needs `q_j`: `1 - p_j` for a class below the row maximum (`p_j <= 1/2`), and
//! for one equal to it `S_rest/(1 + S_rest)` with `h = ln(1 + S_rest)/q` (1 when
//! `S_rest = 0`), both per row: nothing cancels. The gradient pass recomputes each term from
//! the logit instead of keeping it, so that the in-place method works (the logit is read
//! before its gradient overwrites it). Rows go one per lane, `S::N` rows at a time: a block
//! of neighbouring positions of one image in the channels-first layout (one vector per
//! class), a block of rows in the row-major one (a strided load per class). The scalar
//! backend (what microcontrollers run) has a loop of its own, [`run_scalar`], one row at a
//! time with the unsmoothed scalar loop's maximum and `S_rest`; on rows of normal span it
//! treats only one maximum as the maximum (a tie is a class below it, as in that row's
//! `S_rest`), so those rows' bits differ from the lanes' in the last places.
//!
//! `ε = 0` never comes here: those calls take the unsmoothed kernels and their bits.

use crate::math::{exp, exp_nonpos, exp_normal_nonpos_reg, ln, log1p};
use crate::simd::{Lanes, MAX_WIDE, Scalar, Total, mul_or_zero};

use core::ptr::null_mut;

use super::Mode;
use super::sigmoid::{Gamma, Runtime};
use super::softmax::{
    ClassLanes, Gathered, Job, Span, TIE_FLUSH, exp_below, far_below, finish, gather_rows,
    ignored_row, lane_grad, scalar_row_stats,
};

/// The row quantities one smoothing term needs, per lane.
#[derive(Clone, Copy)]
struct RowTerms<S: Lanes> {
    max: S,
    /// `ln(1 + S_rest)`.
    lsr: S,
    /// `1 / (1 + S_rest)`.
    inv: S,
    /// `q` of a class equal to the maximum: `S_rest / (1 + S_rest)`.
    q_top: S,
    /// `ln q_top` (for `exp(γ·ln q)`).
    ln_q_top: S,
    /// `h = -ℓ/q` of a class equal to the maximum (1 when `q_top = 0`).
    h_top: S,
}

impl<S: Lanes> RowTerms<S> {
    #[inline(always)]
    fn new(max: S, s_rest: S) -> Self {
        let (zero, one) = (S::splat(0.0), S::splat(1.0));
        let lsr = log1p(s_rest);
        let inv = one.div(one.add(s_rest));
        let q_top = s_rest.mul(inv);
        let h_top = S::select(s_rest.eq(zero), one, lsr.div(q_top));
        RowTerms {
            max,
            lsr,
            inv,
            q_top,
            ln_q_top: ln(s_rest).sub(lsr),
            h_top,
        }
    }

    /// For logits `v` of one class: `(q^γ, ℓ, q^γ·(1 + γ·p·h), p, exp(z - max))`, without
    /// the class weight (the last is what the target's term scales in the gradient pass).
    ///
    /// One lane (the scalar backend's rows whose span is not normal, rare) inlines it on
    /// microcontrollers: out of line, or with its `exp(γ·ln q)` out of line, each call
    /// in the loops took 40-48 bytes more of a Cortex-M4F's frame for 1.3-1.6 KB less
    /// flash. Where SIMD backends serve the speed (x86_64, `focal_portable`), the scalar
    /// backend takes one copy out of line, for size: the same operations, so the same bits.
    #[inline(always)]
    fn term<G: Gamma>(&self, v: S, gamma: f32, g: G) -> (S, S, S, S, S) {
        #[cfg(any(focal_portable, target_arch = "x86_64"))]
        if S::N == 1 {
            return self.term_outlined(v, gamma, g);
        }
        self.term_with::<G, false>(v, v.eq(self.max), gamma, g)
    }

    /// [`term`](Self::term) out of line (one lane only: a SIMD backend's copy would lose
    /// its target features).
    #[cfg(any(focal_portable, target_arch = "x86_64"))]
    #[inline(never)]
    fn term_outlined<G: Gamma>(&self, v: S, gamma: f32, g: G) -> (S, S, S, S, S) {
        self.term_with::<G, false>(v, v.eq(self.max), gamma, g)
    }

    /// [`term`](Self::term) for the lanes `top` equal to the row maximum (the others below
    /// it). `NORMAL`: a row of normal span (one lane,
    /// [`RowStats::normal`](super::softmax::RowStats::normal)), which takes the unguarded
    /// `exp` and a plain product: the same bits (the exponential's are `exp`'s on that
    /// span, and no factor is infinite there, so [`mul_or_zero`] is the product).
    #[inline(always)]
    fn term_with<G: Gamma, const NORMAL: bool>(
        &self,
        v: S,
        top: S::Mask,
        gamma: f32,
        g: G,
    ) -> (S, S, S, S, S) {
        let one = S::splat(1.0);
        // z - max, 0 where z is the maximum (also for infinite ones), as in the row passes.
        let d = S::select(top, S::splat(0.0), v.sub(self.max));
        let ell = d.sub(self.lsr);
        let e = if NORMAL {
            exp_normal_nonpos_reg(d)
        } else {
            exp_nonpos(d)
        };
        let p = e.mul(self.inv);
        let q = S::select(top, self.q_top, one.sub(p));
        let qg = match g.pow(q, gamma) {
            Some(qg) => qg,
            None => exp(S::splat(gamma).mul(S::select(top, self.ln_q_top, log1p(p.neg())))),
        };
        // Below the maximum q >= 1/2; p·h -> 0 as p -> 0 (h = +inf at a -inf logit).
        let h = S::select(top, self.h_top, ell.neg().div(q));
        let ph = if NORMAL { p.mul(h) } else { mul_or_zero(p, h) };
        let u = qg.mul(S::splat(gamma).mul_add(ph, one));
        (qg, ell, u, p, e)
    }
}

/// The smoothing part of the gradient at a class equal to the row maximum, `p·Σ_c a_c·u_c -
/// a·u` (see the module's formula; `a` the class weight times `ε/C`), written as
/// `p·Σ_{c≠j} a_c·u_c - q·a·u` (`p + q = 1`): where `p` is near 1 the first form cancels
/// to 0 or a few ulps of `a·u` (per-class weights of 0 elsewhere: a class of positive loss
/// got a zero gradient), while the second has no cancellation, since `q` is formed
/// without `1 - p` ([`RowTerms::q_top`]). `Σ_{c≠j}` is the sum below the maximum plus the
/// other classes tied with it (their terms are the same `u`: `top - a·u` is exact 0
/// without ties).
struct Top<S: Lanes> {
    /// `Σ a_c·u_c` over the classes below the maximum.
    rest: S,
    /// `Σ a_c·u_c` over the classes equal to it.
    top: S,
    /// `q` of those classes.
    q: S,
}

impl<S: Lanes> Top<S> {
    /// The term for weighted `au = a·u` and probability `p`, scaled by `cr` (both sides
    /// before the subtraction, as the other classes').
    #[inline(always)]
    fn smooth(&self, p: S, au: S, cr: S) -> S {
        let others = self.rest.add(self.top.sub(au));
        p.mul(others.mul(cr)).sub(self.q.mul(au.mul(cr)))
    }
}

/// Where class `j` of lane `i` of a block is: `base + i·step + j·stride`.
#[derive(Clone, Copy)]
struct Block {
    base: usize,
    /// From one lane (row) to the next: 1 for neighbouring channels-first positions, `C`
    /// for row-major rows.
    step: usize,
    /// From one class to the next: `S` channels-first, 1 row-major.
    stride: usize,
    n: usize,
}

impl Block {
    /// Class `j` of the block's rows (0 in the lanes past `n`).
    ///
    /// # Safety
    /// Every `base + i·step + j·stride` with `i < n` is readable at `z`; `step·S::N < 2^29`
    /// when `step > 1` and `n > 1`.
    #[inline(always)]
    unsafe fn load<S: Lanes>(&self, z: *const f32, j: usize) -> S {
        // SAFETY: forwarded.
        unsafe {
            let p = z.add(self.base + j * self.stride);
            if self.step == 1 || self.n == 1 {
                if self.n == S::N {
                    S::load(p)
                } else {
                    S::load_first(p, self.n, 0.0)
                }
            } else {
                S::load_strided(p, self.step, self.n)
            }
        }
    }

    /// Stores the first `n` lanes of `v` as class `j` of the block's rows.
    ///
    /// # Safety
    /// As [`load`](Self::load), for writing.
    #[inline(always)]
    unsafe fn store<S: Lanes>(&self, out: *mut f32, j: usize, v: S) {
        // SAFETY: forwarded.
        unsafe {
            let p = out.add(self.base + j * self.stride);
            if self.step == 1 || self.n == 1 {
                if self.n == S::N {
                    v.store(p)
                } else {
                    v.store_first(p, self.n)
                }
            } else {
                v.store_strided(p, self.step, self.n)
            }
        }
    }
}

/// Runs `job` with label smoothing `eps` (`0 < ε <= 1`, either layout: `job.spatial` positions per image,
/// 1 for row-major) with lanes `S` and `γ` as `g`; returns the sum of the row losses (0
/// unless the mode sums).
///
/// # Safety
/// As the unsmoothed kernels: `job.z` valid for reading `rows·C` values, `rows` a multiple
/// of `job.spatial`; the mode's output valid for writing `rows·C` (gradients) or `rows`
/// (losses) values and the upstream for reading `rows` values; labels validated,
/// `labels.len() == rows`, `C >= 1`. A gradient output may be `job.z` itself.
#[inline(always)]
pub(crate) unsafe fn run<S: Lanes, G: Gamma>(job: &Job<'_>, g: G, eps: f32) -> Total {
    const { assert!(S::N <= MAX_WIDE) };
    let mut acc = S::acc_zero();
    let mut rows = Gathered::new();
    // The SIMD backends' kernel (the scalar backend runs `run_scalar`): a copy for the
    // row-major layout with its block's shape known (one copy for both ran 1.2x slower).
    // SAFETY: forwarded.
    unsafe {
        if job.spatial.max(1) == 1 {
            each_block::<S, G, true>(job, &mut rows, g, eps, &mut acc)
        } else {
            each_block::<S, G, false>(job, &mut rows, g, eps, &mut acc)
        }
    }
    S::acc_sum(acc)
}

/// [`block_rows`] for every block of [`Blocks`] (`ROW_MAJOR`: the job is row-major).
///
/// # Safety
/// As [`run`].
#[inline(always)]
unsafe fn each_block<S: Lanes, G: Gamma, const ROW_MAJOR: bool>(
    job: &Job<'_>,
    rows: &mut Gathered,
    g: G,
    eps: f32,
    acc: &mut S::Acc,
) {
    for (r0, block) in Blocks::new(job, S::N, ROW_MAJOR) {
        // SAFETY: `Blocks` gives rows that exist, addressed within the logits (its doc).
        unsafe { block_rows::<S, G>(job, rows, r0, block, g, eps, acc) };
    }
}

/// The blocks of [`run`], with their first row: row-major, blocks of `lanes` rows, each
/// class a strided load (one row per block for rows so long that the stride would not fit
/// a gather's 32-bit offsets); channels-first, blocks of up to `lanes` neighbouring
/// positions of one image, one vector per class. Every block's rows exist, and class `j`
/// of its lane `i` lies within the job's `rows·C` values (row-major: rows `r0..r0 + n`,
/// whose `C` classes follow each other, with `C < 2^20` when `n > 1`, so `step·S::N <
/// 2^29`; channels-first: positions `s0..s0 + n <= S` of an image, whose class `j` is
/// `j·S` after them within the image's `C·S` values).
struct Blocks {
    c: usize,
    /// Positions per image (1: row-major).
    sp: usize,
    rows: usize,
    lanes: usize,
    /// The next block's first row (channels-first: position).
    r0: usize,
}

impl Blocks {
    /// `row_major`: the job is row-major (`job.spatial` is 0 or 1), which the caller
    /// knows, so that the compiler does too.
    #[inline(always)]
    fn new(job: &Job<'_>, lanes: usize, row_major: bool) -> Self {
        let c = job.c;
        let sp = if row_major { 1 } else { job.spatial.max(1) };
        let lanes = if sp == 1 && c >= 1 << 20 { 1 } else { lanes };
        Blocks {
            c,
            sp,
            rows: job.rows(),
            lanes,
            r0: 0,
        }
    }
}

impl Iterator for Blocks {
    type Item = (usize, Block);

    #[inline(always)]
    fn next(&mut self) -> Option<(usize, Block)> {
        let (c, sp, r0) = (self.c, self.sp, self.r0);
        // (`rows` is a multiple of `sp`.)
        if r0 >= self.rows {
            return None;
        }
        let block = if sp == 1 {
            Block {
                base: r0 * c,
                step: c,
                stride: 1,
                n: (self.rows - r0).min(self.lanes),
            }
        } else {
            let (image, s0) = (r0 / sp, r0 % sp);
            Block {
                base: image * c * sp + s0,
                step: 1,
                stride: sp,
                n: (sp - s0).min(self.lanes),
            }
        };
        self.r0 = r0 + block.n;
        Some((r0, block))
    }
}

/// The rows `r0..r0 + block.n` (see [`run`]).
///
/// # Safety
/// Those rows exist, and the block addresses their `C` classes within the logits and the
/// gradient output.
#[inline(always)]
unsafe fn block_rows<S: Lanes, G: Gamma>(
    job: &Job<'_>,
    rows: &mut Gathered,
    r0: usize,
    b: Block,
    g: G,
    eps: f32,
    acc: &mut S::Acc,
) {
    let c = job.c;
    let (out, _, _) = job.mode.parts();
    let (zero, one) = (S::splat(0.0), S::splat(1.0));
    let gamma = job.gamma;
    // SAFETY (block): the block's values lie within the logits and the gradient (contract);
    // the gathered arrays hold MAX_WIDE >= S::N values (`run`); the loss output holds `rows`
    // values. Every logit is read (passes 1, 2 and the gradient pass) before the gradient
    // pass overwrites it, at the same place.
    unsafe {
        gather_rows::<S>(job, r0, b.n, S::N, false, rows);
        let kv = S::load(rows.kf.as_ptr());
        let ok = S::not(kv.lt(zero));
        // Pass 1: maxima and z_k.
        let (mut max, mut zk) = (S::splat(f32::NEG_INFINITY), zero);
        let mut class = ClassLanes::new(rows, kv);
        for j in 0..c {
            let v = b.load::<S>(job.z, j);
            max = max.max(v);
            zk = S::select(class.is(j), v, zk);
        }
        // Pass 2: S_rest per lane.
        // The ties in spans of [`TIE_FLUSH`] classes, each span's count added to the sums.
        let (mut cnt, mut part, mut sums) = (zero, zero, S::acc_zero());
        for span in (0..c).step_by(TIE_FLUSH) {
            if span > 0 {
                sums = S::acc_add(sums, cnt);
                cnt = zero;
            }
            for j in span..c.min(span + TIE_FLUSH) {
                let (_, top) = exp_below(b.load::<S>(job.z, j), None, max, Span::Any, &mut part);
                cnt = cnt.add(S::select(top, one, zero));
                if (j + 1) % 8 == 0 {
                    sums = S::acc_add(sums, part);
                    part = zero;
                }
            }
        }
        let s_rest = S::acc_lanes(S::acc_add(S::acc_add(sums, part), cnt.sub(one)));
        // The target's term with weight (1-ε)·α_k.
        let alpha_k = S::load(rows.alpha.as_ptr()).mul(S::splat(1.0 - eps));
        let (loss_k, w, factor) = finish(max, s_rest, zk, alpha_k, gamma, g, None);
        // Pass 3.
        let t = RowTerms::new(max, s_rest);
        let (u_loss, u_sum, top) = term_sums::<S, G, false>(job, &b, &t, eps, g, 0);
        let loss = S::select(ok, loss_k.add(u_loss), zero);
        if job.mode.sums() {
            *acc = S::acc_add(*acc, loss);
        }
        if let Mode::Loss(o) = job.mode {
            loss.store_first(o.add(r0), b.n);
        }
        if !job.mode.grads() {
            return;
        }
        // Pass 4.
        let cr = S::load(rows.cr.as_ptr());
        let mut class = ClassLanes::new(rows, kv);
        let row = (w, factor, cr, ok);
        grad_pass::<S, G, false>(job, out, &b, &t, &top, u_sum, eps, row, &mut class, g, 0);
    }
}

/// Which lanes of a block have class `j`, asked for `j` going up from 0: a trait rather
/// than a closure, which the compiler left out of line (a call per class and vector on
/// the SIMD backends).
trait IsClass<S: Lanes> {
    /// The lanes whose class is `j`.
    fn is(&mut self, j: usize) -> S::Mask;
}

impl<S: Lanes> IsClass<S> for ClassLanes<'_, S> {
    #[inline(always)]
    fn is(&mut self, j: usize) -> S::Mask {
        ClassLanes::is(self, j)
    }
}

/// One row of class `k` (the scalar loop's).
struct OneClass(usize);

impl IsClass<Scalar> for OneClass {
    #[inline(always)]
    fn is(&mut self, j: usize) -> bool {
        j == self.0
    }
}

/// Pass 3 of a block of rows (row-major or channels-first, see [`Block`]), whose row
/// quantities are `t`: `(ε/C)·U = Σ_j (ε/C)·α_j·q_j^γ·(-ℓ_j)` per lane, `Σ_j (ε/C)·α_j·u_j`,
/// and the same sum split by whether the class equals the row maximum ([`Top`], for pass
/// 4's terms of those classes). Each term carries its weight before it is summed: a row
/// of finite logits up to f32::MAX apart has terms near f32::MAX, whose plain sum would
/// overflow where the weighted one does not (fuzz finding).
///
/// `NORMAL` (one lane, a row of normal span, [`RowStats`](super::softmax::RowStats)):
/// class `m` is the maximum whose term is [`Top`]'s, and every other class, a tie too, is
/// a class below it (as in that row's `S_rest`). Its term is the row's, computed once
/// after the loop; the loop keeps two sums instead of four, with no selects, and adds no
/// term that could be infinite ([`far_below`], [`mul_or_zero`]).
///
/// # Safety
/// The block's `C` classes lie within the logits; `m < C` where `NORMAL`.
// Out of line in unoptimised builds only (`debug_assertions`), where each inlined copy
// keeps slots of its own: inlined four times, the passes gave the scalar loop a 31 KB frame
// on a Cortex-M4F.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline(never))]
unsafe fn term_sums<S: Lanes, G: Gamma, const NORMAL: bool>(
    job: &Job<'_>,
    b: &Block,
    t: &RowTerms<S>,
    eps: f32,
    g: G,
    m: usize,
) -> (S, S, Top<S>) {
    let (c, gamma, zero) = (job.c, job.gamma, S::splat(0.0));
    let share = eps / c as f32;
    let (mut u_loss, mut u_grad) = (S::acc_zero(), S::acc_zero());
    let (mut pl, mut pg) = (zero, zero);
    let (mut u_rest, mut u_top) = (S::acc_zero(), S::acc_zero());
    let (mut pr, mut pt) = (zero, zero);
    for j in 0..c {
        if !NORMAL || j != m {
            let a = S::splat(job.alpha.of(j) * share);
            // SAFETY: j < C (contract).
            let v = unsafe { b.load::<S>(job.z, j) };
            if NORMAL {
                let (qg, ell, u, _, _) = t.term_with::<G, true>(v, zero.lt(zero), gamma, g);
                pl = pl.add(a.mul(qg.mul(ell.neg())));
                pr = a.mul_add(u, pr);
            } else {
                let (qg, ell, u, _, _) = t.term(v, gamma, g);
                // A class of weight 0 adds 0, even where its term is +inf (probability
                // 0); one more than f32::MAX below the maximum, a finite term (audit
                // finding).
                let l = mul_or_zero(a, mul_or_zero(qg, ell.neg()));
                pl = pl.add(far_below(l, ell, a.mul(qg), v, t.max, t.lsr));
                pg = a.mul_add(u, pg);
                let top = v.eq(t.max);
                pr = S::select(top, pr, a.mul_add(u, pr));
                pt = S::select(top, a.mul_add(u, pt), pt);
            }
        }
        if (j + 1) % 8 == 0 {
            (u_loss, u_rest) = (S::acc_add(u_loss, pl), S::acc_add(u_rest, pr));
            (pl, pr) = (zero, zero);
            if !NORMAL {
                (u_grad, u_top) = (S::acc_add(u_grad, pg), S::acc_add(u_top, pt));
                (pg, pt) = (zero, zero);
            }
        }
    }
    if NORMAL {
        let a = S::splat(job.alpha.of(m) * share);
        let (qg, ell, u, _, _) = t.term_with::<G, true>(t.max, zero.eq(zero), gamma, g);
        let au = a.mul(u);
        let rest = S::acc_add(u_rest, pr);
        let top = Top {
            rest: S::acc_lanes(rest),
            top: au,
            q: t.q_top,
        };
        let u_loss = S::acc_add(S::acc_add(u_loss, pl), a.mul(qg.mul(ell.neg())));
        return (
            S::acc_lanes(u_loss),
            S::acc_lanes(S::acc_add(rest, au)),
            top,
        );
    }
    let top = Top {
        rest: S::acc_lanes(S::acc_add(u_rest, pr)),
        top: S::acc_lanes(S::acc_add(u_top, pt)),
        q: t.q_top,
    };
    (
        S::acc_lanes(S::acc_add(u_loss, pl)),
        S::acc_lanes(S::acc_add(u_grad, pg)),
        top,
    )
}

/// Pass 4 of a block of rows: the gradient, each term recomputed from its logit, written
/// to `out`. `row` holds the unsmoothed target term's `(w, factor)` ([`finish`]), the
/// gradient scale `cr` and the lanes `ok` that have a class; `is_k.is(j)` gives the lanes
/// whose class is `j`, for `j` going up from 0 (but class `m` last where `NORMAL`). Both
/// sides of `p_j·Σu - u_j` are scaled before the subtraction: with an infinite scale the
/// difference is NaN on every backend, where scaling the (rounded, near 0) difference
/// gave +inf, -inf or NaN depending on its last bit (fuzz finding).
///
/// `NORMAL`: as for [`term_sums`], class `m` alone takes [`Top`]'s term, after the loop
/// (its logit is not read: in place, the gradient overwrites it last).
///
/// # Safety
/// The block's `C` classes lie within the logits and the gradient output (which may be
/// the logits: each logit is read before its gradient is written, at the same place);
/// `m < C` where `NORMAL`.
#[allow(clippy::too_many_arguments)]
// Out of line in unoptimised builds only (`debug_assertions`), where each inlined copy
// keeps slots of its own: inlined four times, the passes gave the scalar loop a 31 KB frame
// on a Cortex-M4F.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline(never))]
unsafe fn grad_pass<S: Lanes, G: Gamma, const NORMAL: bool>(
    job: &Job<'_>,
    out: *mut f32,
    b: &Block,
    t: &RowTerms<S>,
    top: &Top<S>,
    u_sum: S,
    eps: f32,
    (w, factor, cr, ok): (S, S, S, S::Mask),
    is_k: &mut impl IsClass<S>,
    g: G,
    m: usize,
) {
    let (c, gamma, zero) = (job.c, job.gamma, S::splat(0.0));
    let share = eps / c as f32;
    let (fv, gk) = (factor.mul(cr), w.mul(cr).neg());
    let sum_cr = u_sum.mul(cr);
    for j in 0..c {
        if NORMAL && j == m {
            continue;
        }
        let a = S::splat(job.alpha.of(j) * share);
        // SAFETY: j < C (contract).
        let v = unsafe { b.load::<S>(job.z, j) };
        let gj = if NORMAL {
            let (_, _, u, p, e) = t.term_with::<G, true>(v, zero.lt(zero), gamma, g);
            let smooth = p.mul(sum_cr).sub(a.mul(u).mul(cr));
            lane_grad(is_k.is(j), e, fv, gk, ok).add(smooth)
        } else {
            let (_, _, u, p, e) = t.term(v, gamma, g);
            let smooth = S::select(
                v.eq(t.max),
                top.smooth(p, a.mul(u), cr),
                p.mul(sum_cr).sub(a.mul(u).mul(cr)),
            );
            lane_grad(is_k.is(j), e, fv, gk, ok).add(S::select(ok, smooth, zero))
        };
        // SAFETY: as the load.
        unsafe { b.store(out, j, gj) };
    }
    if NORMAL {
        // (`top.top` is class m's weighted term.)
        let (_, _, _, p, e) = t.term_with::<G, true>(t.max, zero.eq(zero), gamma, g);
        let smooth = top.smooth(p, top.top, cr);
        let gm = lane_grad(is_k.is(m), e, fv, gk, ok).add(smooth);
        // SAFETY: m < C (contract).
        unsafe { b.store(out, m, gm) };
    }
}

/// [`run`] on the scalar backend (what microcontrollers run), both layouts in one copy:
/// one row at a time, its maximum and `S_rest` from the unsmoothed scalar loop's
/// ([`scalar_row_stats`]), then passes 3 and 4 on the row, for rows of normal span (nearly
/// all) in their `NORMAL` form. No gathered arrays and no class lanes. On a Cortex-M4F at
/// 512 × 10 the lane kernel with one lane took 466 instructions a logit and 400 bytes of
/// stack beneath its wrapper.
///
/// # Safety
/// As [`run`].
#[inline(never)]
pub(crate) unsafe fn run_scalar(job: &Job<'_>, eps: f32) -> Total {
    let g = Runtime(job.code);
    let (out, scale, up) = job.mode.parts();
    let (c, grads) = (job.c, job.mode.grads());
    // Positions per image: 1 for row-major rows.
    let sp = job.spatial.max(1);
    let mut acc = Total::ZERO;
    for r in 0..job.rows() {
        // Row r's class 0 (channels-first: position r % sp of image r / sp), its classes
        // `sp` apart, as a block of one row (`Blocks` with one lane, whose block length
        // the compiler did not see).
        let b = Block {
            base: (r / sp) * c * sp + r % sp,
            step: 1,
            stride: sp,
            n: 1,
        };
        // SAFETY (block): r < rows, so the row's classes lie within the logits and the
        // gradient (row-major: rows·C values; channels-first: `rows` a multiple of `sp`,
        // contract); the loss and upstream hold `rows` values; a class is below C, and so
        // is the index of a maximum.
        unsafe {
            let (row, orow) = (job.z.add(b.base), out.wrapping_add(b.base));
            let Some(k) = job.labels.class_at(r, job.ignore) else {
                ignored_row(job, r, orow, b.stride, grads);
                continue;
            };
            let zk = Scalar(*row.add(k * b.stride));
            let st = scalar_row_stats(row, c, b.stride, null_mut());
            let (max, s_rest) = (Scalar(st.max), Scalar(st.s_rest));
            // The target's term with weight (1-ε)·α_k.
            let alpha_k = Scalar(job.alpha.of(k) * (1.0 - eps));
            let ek = st.paired.then_some(s_rest);
            let (loss_k, w, factor) = finish(max, s_rest, zk, alpha_k, job.gamma, g, ek);
            let t = RowTerms::new(max, s_rest);
            let (normal, m) = (st.normal, st.m);
            let (u_loss, u_sum, top) = if normal {
                term_sums::<_, _, true>(job, &b, &t, eps, g, m)
            } else {
                term_sums::<_, _, false>(job, &b, &t, eps, g, m)
            };
            let loss = loss_k.add(u_loss);
            acc = acc.add(loss.0);
            if let Mode::Loss(o) = job.mode {
                *o.add(r) = loss.0;
            }
            if grads {
                let cr = Scalar(if up.is_null() { scale } else { *up.add(r) });
                let row = (w, factor, cr, true);
                let is_k = &mut OneClass(k);
                if normal {
                    grad_pass::<_, _, true>(job, out, &b, &t, &top, u_sum, eps, row, is_k, g, m);
                } else {
                    grad_pass::<_, _, false>(job, out, &b, &t, &top, u_sum, eps, row, is_k, g, m);
                }
            }
        }
    }
    acc
}
