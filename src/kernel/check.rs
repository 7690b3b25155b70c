//! Vectorised input checks, run before anything is written.

use crate::simd::{Lanes, load_tail};

/// Lanes that are NaN or outside `[0, 1]`.
#[inline(always)]
fn bad<S: Lanes>(x: S) -> S::Mask {
    S::not(S::and(S::splat(0.0).le(x), x.le(S::splat(1.0))))
}

/// Vectors tested before each branch.
const BLOCK: usize = 4;

/// Index of the first value that is NaN or outside `[0, 1]`.
#[inline(always)]
pub(crate) fn first_outside_unit<S: Lanes>(v: &[f32]) -> Option<usize> {
    let mut base = 0;
    if S::N > 1 {
        let mut blocks = v.chunks_exact(BLOCK * S::N);
        for b in &mut blocks {
            let p = b.as_ptr();
            // SAFETY: a block of chunks_exact(BLOCK·N) holds BLOCK·N values.
            let any_bad = unsafe {
                S::any(S::or(
                    S::or(bad::<S>(S::load(p)), bad::<S>(S::load(p.add(S::N)))),
                    S::or(
                        bad::<S>(S::load(p.add(2 * S::N))),
                        bad::<S>(S::load(p.add(3 * S::N))),
                    ),
                ))
            };
            if any_bad {
                return first_in::<S>(b).map(|i| base + i);
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
