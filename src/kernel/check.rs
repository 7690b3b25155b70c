//! Vectorised input checks, run before anything is written.

use crate::simd::{Lanes, load_tail};

/// Lanes that are NaN or outside `[0, 1]`.
#[inline(always)]
fn bad<S: Lanes>(x: S) -> S::Mask {
    S::not(S::and(S::splat(0.0).le(x), x.le(S::splat(1.0))))
}

/// Vectors tested before each branch.
const BLOCK: usize = 4;

/// Whether a block of `BLOCK·S::N` values may hold one that is NaN or outside `[0, 1]`.
///
/// Where the lanes have a one-instruction unsigned maximum, the block's bit patterns are
/// reduced with it: every value of `[+0, 1]` has a pattern at most that of `1.0`, and every
/// NaN, value above 1 and value with the sign bit set has a larger one. That is one
/// instruction per vector instead of two comparisons and two mask operations. `-0.0` (a valid
/// target) is the only false alarm; the caller's exact test clears it.
///
/// # Safety
/// `p` must be valid for reading `BLOCK·S::N` values.
#[inline(always)]
unsafe fn block_suspect<S: Lanes>(p: *const f32) -> bool {
    // SAFETY: the loads stay within the BLOCK·N values of the contract. (Written out, not an
    // array of the vectors or a loop: on the scalar backend at opt-level "s" the array went
    // through `memcpy` and the loop was not unrolled.)
    const { assert!(BLOCK == 4) };
    let v = |k: usize| unsafe { S::load(p.add(k * S::N)) };
    let (a, b, c, d) = (v(0), v(1), v(2), v(3));
    if S::UMAX_BITS {
        S::any(a.umax_bits(b).umax_bits(c.umax_bits(d)).bits_above_one())
    } else {
        S::any(S::or(S::or(bad(a), bad(b)), S::or(bad(c), bad(d))))
    }
}

/// Values the scalar backend tests before each branch.
const ONE_LANE_BLOCK: usize = 8;

/// [`block_suspect`] for one lane, over [`ONE_LANE_BLOCK`] values: each bit pattern compared
/// with that of `1.0` as an integer ([`Lanes::bits_above_one`]), which the compiler chains
/// under conditional execution. On a Cortex-M4F the check then costs about 3.6 instructions
/// per value, where the unsigned maximum over blocks of 4 and a float comparison took 5.5
/// and the integer comparisons over blocks of 4 took 4.
///
/// # Safety
/// `p` must be valid for reading [`ONE_LANE_BLOCK`] values.
#[inline(always)]
unsafe fn one_lane_block_suspect<S: Lanes>(p: *const f32) -> bool {
    const { assert!(ONE_LANE_BLOCK == 8) };
    // SAFETY: the loads stay within the ONE_LANE_BLOCK values of the contract.
    let v = |k: usize| unsafe { S::load(p.add(k)) }.bits_above_one();
    S::any(S::or(
        S::or(S::or(v(0), v(1)), S::or(v(2), v(3))),
        S::or(S::or(v(4), v(5)), S::or(v(6), v(7))),
    ))
}

/// Regions of the slice that [`any_suspect`] reads side by side.
///
/// Out of cache, one sequential stream of reads is served far below the memory's speed: the
/// hardware prefetchers follow each stream with a bounded number of requests. Reading 8 streams
/// in lockstep keeps more lines in flight; at N = 16 Mi this took the whole fused sigmoid call
/// on AVX-512 from about 0.80 to 0.85 G elements/s on an Intel Xeon VM (AVX2: 0.56 to 0.58;
/// medians of 8 alternating runs) and from 0.905 to 0.938 on an AMD EPYC VM (4 regions the
/// same, 16 0.920), and changes nothing in cache.
const STREAMS: usize = 8;

/// Whether `v` may hold a value that is NaN or outside `[0, 1]`: never false when it does,
/// and true when it does not only for `-0.0` (see [`block_suspect`]).
///
/// The whole blocks are split into [`STREAMS`] equal regions, read in lockstep; what is left
/// over (fewer than `STREAMS` blocks) is tested exactly.
#[inline(always)]
fn any_suspect<S: Lanes>(v: &[f32]) -> bool {
    let block = BLOCK * S::N;
    let per = v.len() / block / STREAMS;
    let p = v.as_ptr();
    for j in 0..per {
        let mut suspect = false;
        for r in 0..STREAMS {
            // SAFETY: block j of region r starts at (r·per + j)·block and ends by
            // STREAMS·per·block <= v.len().
            suspect |= unsafe { block_suspect::<S>(p.add((r * per + j) * block)) };
        }
        if suspect {
            return true;
        }
    }
    first_in::<S>(v.get(STREAMS * per * block..).unwrap_or(&[])).is_some()
}

/// Index of the first value that is NaN or outside `[0, 1]`.
///
/// Valid targets, the case that matters for speed, are confirmed by [`any_suspect`]; only when
/// it raises a suspicion is the slice scanned again in order, for the first offending index.
#[inline(always)]
pub(crate) fn first_outside_unit<S: Lanes>(v: &[f32]) -> Option<usize> {
    if S::N > 1 && !any_suspect::<S>(v) {
        return None;
    }
    let mut base = 0;
    // The scalar backend, which has no `any_suspect` pass, tests blocks here too (see
    // `one_lane_block_suspect`).
    let len = if S::N == 1 {
        ONE_LANE_BLOCK
    } else {
        BLOCK * S::N
    };
    let mut blocks = v.chunks_exact(len);
    for b in &mut blocks {
        // SAFETY: a block of chunks_exact(len) holds `len` values, what each test reads.
        let suspect = unsafe {
            if S::N == 1 {
                one_lane_block_suspect::<S>(b.as_ptr())
            } else {
                block_suspect::<S>(b.as_ptr())
            }
        };
        if suspect && let Some(i) = first_in::<S>(b) {
            return Some(base + i);
        }
        base += len;
    }
    let rest = blocks.remainder();
    if S::N == 1 {
        // The last values one at a time, as integers: a bit pattern above that of `1.0` is
        // NaN, above 1 or has the sign bit set, and of those only `-0.0` is valid. (A call of
        // one element on a Cortex-M4F spent about 20 instructions here on float comparisons.)
        let one = 1.0f32.to_bits();
        let neg_zero = (-0.0f32).to_bits();
        return rest
            .iter()
            .position(|t| t.to_bits() > one && t.to_bits() != neg_zero)
            .map(|i| base + i);
    }
    first_in::<S>(rest).map(|i| base + i)
}

/// [`first_outside_unit`] one vector at a time.
#[inline(always)]
fn first_in<S: Lanes>(v: &[f32]) -> Option<usize> {
    let mut chunks = v.chunks_exact(S::N);
    let mut base = 0;
    for c in &mut chunks {
        // SAFETY: a chunk of chunks_exact(N) holds exactly N values.
        let m = bad::<S>(unsafe { S::load(c.as_ptr()) });
        if S::any(m) {
            return S::first_set(m).map(|i| base + i);
        }
        base += S::N;
    }
    let rest = chunks.remainder();
    if rest.is_empty() {
        return None;
    }
    // Padding with 0.5 never reports a lane past the end.
    let m = bad::<S>(load_tail::<S>(rest, 0.5));
    S::first_set(m).map(|i| base + i)
}

/// Folds a vector of targets into `top`, a running summary for a loop that reads the targets
/// but writes nothing (the summed loss), so that they need no pass of their own: `top`
/// starts as `S::splat(1.0)` and keeps that value in every lane exactly while every target
/// folded in is in `[0, 1]` ([`outside_unit_seen`] tells). It is the unsigned maximum of the
/// bit patterns of `t + 0`: the addition turns `-0.0` (valid) into `+0.0` and leaves every
/// other value, NaN included, as it is, so unlike [`block_suspect`] there is no false alarm.
/// Only for lanes with [`Lanes::UMAX_BITS`] (elsewhere it would cost more than a pass).
#[inline(always)]
pub(crate) fn fold_unit<S: Lanes>(top: S, t: S) -> S {
    debug_assert!(S::UMAX_BITS);
    top.umax_bits(t.add(S::splat(0.0)))
}

/// Whether a target outside `[0, 1]` (or NaN) went into `top` (see [`fold_unit`]).
#[inline(always)]
pub(crate) fn outside_unit_seen<S: Lanes>(top: S) -> bool {
    S::any(S::not(top.eq(S::splat(1.0))))
}
