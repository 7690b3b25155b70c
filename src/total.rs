//! [`Total`]: a sum kept in two `f32`, so that no backend needs `f64` arithmetic.
//!
//! A microcontroller with a single-precision FPU (Cortex-M4F) would run every `f64` operation
//! through soft-float library calls; the scalar backend, which is what such a target runs,
//! therefore accumulates in "float-float" (an unevaluated sum `hi + lo` of two `f32`), with
//! error-free transformations that need neither FMA nor `f64`: Knuth's TwoSum for additions
//! and Dekker's product for the rare rescaling. The scalar backend does this on every target,
//! so the host's `Scalar` results predict a firmware's bit for bit. The SIMD backends
//! accumulate per lane in `f64` (which x86_64 and aarch64 have in hardware) and hand their
//! result over as a `Total` too.
//!
//! Accuracy: `hi + lo` carries about 48 significant bits; each addition of a term `v` adds an
//! error of at most about `2^-46·(|hi| + |v|)`, far below the `f32` rounding of the result.

/// `hi + lo`, with `|lo| <= ulp(hi)/2` after every operation (renormalised). Non-finite sums
/// live in `hi` alone: an infinite or NaN `hi` is the value, whatever `lo` holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Total {
    hi: f32,
    lo: f32,
}

/// `(s, e)` with `s = fl(a + b)` and `s + e = a + b` exactly (Knuth's TwoSum: no condition on
/// the magnitudes, no FMA).
#[inline(always)]
fn two_sum(a: f32, b: f32) -> (f32, f32) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}

impl Total {
    /// The sum of nothing.
    pub(crate) const ZERO: Total = Total { hi: 0.0, lo: 0.0 };

    /// `v` exactly.
    #[inline(always)]
    pub(crate) const fn from_f32(v: f32) -> Total {
        Total { hi: v, lo: 0.0 }
    }

    /// [`ZERO`](Self::ZERO)`.add(v)`, the same bits for less work (no TwoSum): `0 + v`
    /// is `v` exactly (`+0` for `-0`, which `v + 0.0` gives too) with no error, and a
    /// non-finite `v` is kept alone. For the first block of a loop, where a call with few
    /// elements spends about 20 of its instructions on a Cortex-M4F in `add`.
    #[inline(always)]
    pub(crate) fn of(v: f32) -> Total {
        Total {
            hi: v + 0.0,
            lo: 0.0,
        }
    }

    /// `hi + lo` as given: `hi` must be `hi + lo` rounded to `f32` (the pair is normalised).
    #[inline(always)]
    pub(crate) const fn from_parts(hi: f32, lo: f32) -> Total {
        Total { hi, lo }
    }

    /// `(hi, lo)`.
    #[inline(always)]
    pub(crate) const fn parts(self) -> (f32, f32) {
        (self.hi, self.lo)
    }

    /// `v` to about 48 bits (the `f64` sum of a SIMD backend).
    #[inline(always)]
    pub(crate) fn from_f64(v: f64) -> Total {
        let hi = v as f32;
        let lo = if hi.is_finite() {
            (v - hi as f64) as f32
        } else {
            0.0
        };
        Total { hi, lo }
    }

    /// `self + v`.
    #[inline(always)]
    pub(crate) fn add(self, v: f32) -> Total {
        let (s, e) = two_sum(self.hi, v);
        Total::renormalise(s, e + self.lo)
    }

    /// `self + o`.
    #[inline(always)]
    pub(crate) fn join(self, o: Total) -> Total {
        let (s, e) = two_sum(self.hi, o.hi);
        Total::renormalise(s, e + (self.lo + o.lo))
    }

    /// `s + e` as a normalised pair (Fast2Sum; `|e|` is at most about an ulp of `s`). A
    /// non-finite `s` is kept alone (its `e` is NaN from `inf - inf`).
    #[inline(always)]
    fn renormalise(s: f32, e: f32) -> Total {
        if !s.is_finite() {
            return Total::non_finite(s);
        }
        let hi = s + e;
        Total {
            hi,
            lo: e - (hi - s),
        }
    }

    /// A non-finite sum `s`, out of line: a branch to it, rather than the two conditional
    /// moves of a choice between it and the pair, on the path every addition takes.
    #[cold]
    #[inline(never)]
    fn non_finite(s: f32) -> Total {
        Total { hi: s, lo: 0.0 }
    }

    /// The sum rounded to `f32` (the non-finite `hi` itself, if it is one).
    #[inline(always)]
    pub(crate) fn value(self) -> f32 {
        if self.hi.is_finite() {
            self.hi + self.lo
        } else {
            self.hi
        }
    }

    /// Whether the sum is NaN.
    #[inline(always)]
    pub(crate) fn is_nan(self) -> bool {
        self.hi.is_nan()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stream of values spread over many binades.
    fn values(n: usize) -> impl Iterator<Item = f32> {
        let mut s = 0x2545_f491_u32;
        (0..n).map(move |_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            let m = (s >> 9) as f32 / (1u32 << 23) as f32;
            m * f32::from_bits(((s & 31) + 110) << 23)
        })
    }

    #[test]
    fn of_is_zero_plus() {
        let specials = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            f32::from_bits(1),
            -f32::from_bits(1),
            f32::MIN_POSITIVE,
            f32::MAX,
            -f32::MAX,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0x7fc0_1234),
        ];
        for v in specials.into_iter().chain(values(10_000)) {
            let (a, b) = (Total::ZERO.add(v), Total::of(v));
            assert_eq!(
                (a.hi.to_bits(), a.lo.to_bits()),
                (b.hi.to_bits(), b.lo.to_bits()),
                "{v:e}"
            );
        }
    }

    #[test]
    fn sums_to_f64_accuracy() {
        let (mut t, mut exact) = (Total::ZERO, 0.0f64);
        for v in values(200_000) {
            t = t.add(v);
            exact += v as f64;
        }
        let got = t.hi as f64 + t.lo as f64;
        assert!(((got - exact) / exact).abs() < 1e-12, "{got} vs {exact}");
        assert_eq!(t.value(), exact as f32);
        // The split of an f64 and a join give the same.
        let half = values(1000).fold(Total::ZERO, Total::add);
        let joined = half.join(Total::from_f64(1.0e3 + 1.0e-9));
        let want = values(1000).map(f64::from).sum::<f64>() + 1.0e3 + 1.0e-9;
        assert!((joined.hi as f64 + joined.lo as f64 - want).abs() < want * 1e-13);
    }

    #[test]
    fn non_finite_sums() {
        let t = Total::ZERO.add(1.0).add(f32::INFINITY).add(2.0);
        assert_eq!(t.value(), f32::INFINITY);
        assert!(Total::ZERO.add(1.0).add(f32::NAN).add(2.0).is_nan());
        assert_eq!(Total::from_f64(f64::INFINITY).value(), f32::INFINITY);
        assert!(Total::from_f64(f64::NAN).value().is_nan());
        assert_eq!(Total::ZERO.value().to_bits(), 0.0f32.to_bits());
    }
}
