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
    // SAFETY: the loads stay within the BLOCK·N values of the contract.
    let v: [S; BLOCK] = core::array::from_fn(|k| unsafe { S::load(p.add(k * S::N)) });
    if S::UMAX_BITS {
        let one = S::splat(1.0);
        let top = v.iter().fold(one, |m, &x| m.umax_bits(x));
        S::any(S::not(top.eq(one)))
    } else {
        let any = v.iter().map(|&x| bad(x)).reduce(S::or);
        any.is_some_and(S::any)
    }
}

/// Index of the first value that is NaN or outside `[0, 1]`.
#[inline(always)]
pub(crate) fn first_outside_unit<S: Lanes>(v: &[f32]) -> Option<usize> {
    let mut base = 0;
    if S::N > 1 {
        let mut blocks = v.chunks_exact(BLOCK * S::N);
        for b in &mut blocks {
            // SAFETY: a block of chunks_exact(BLOCK·N) holds BLOCK·N values.
            if unsafe { block_suspect::<S>(b.as_ptr()) }
                && let Some(i) = first_in::<S>(b)
            {
                return Some(base + i);
            }
            base += BLOCK * S::N;
        }
    }
    first_in::<S>(v.get(base..).unwrap_or(&[])).map(|i| base + i)
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
