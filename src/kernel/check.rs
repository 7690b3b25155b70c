//! Vectorised input checks, run before anything is written.

use crate::simd::{Lanes, load_tail};

/// Index of the first value that is NaN or outside `[0, 1]`.
#[inline(always)]
pub(crate) fn first_outside_unit<S: Lanes>(v: &[f32]) -> Option<usize> {
    let lo = S::splat(0.0);
    let hi = S::splat(1.0);
    let bad = |x: S| S::not(S::and(lo.le(x), x.le(hi)));
    let mut chunks = v.chunks_exact(S::N);
    let mut base = 0;
    for c in &mut chunks {
        // SAFETY: a chunk of chunks_exact(N) holds exactly N values.
        let m = bad(unsafe { S::load(c.as_ptr()) });
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
    let m = bad(load_tail::<S>(rest, 0.5));
    S::first_set(m).map(|i| base + i)
}
