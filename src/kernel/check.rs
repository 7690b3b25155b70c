//! Vectorised input checks, run before anything is written.

use crate::simd::{Lanes, load_tail};

/// Lanes that are NaN or outside `[0, 1]`.
#[inline(always)]
fn bad<S: Lanes>(x: S) -> S::Mask {
    S::not(S::and(S::splat(0.0).le(x), x.le(S::splat(1.0))))
}

/// Index of the first value that is NaN or outside `[0, 1]`.
#[inline(always)]
pub(crate) fn first_outside_unit<S: Lanes>(v: &[f32]) -> Option<usize> {
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
