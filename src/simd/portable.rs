//! 4 lanes through `wide::f32x4`: SSE2 on x86_64, NEON on aarch64, simd128 on wasm32.
//!
//! `wide` chooses its instructions when it is compiled (`cfg(target_feature)`), so this is a
//! compile-time backend: no run-time detection, no `#[target_feature]`, no `unsafe` beyond
//! the pointer accesses of `load`/`store`. Only `wide`'s arithmetic, comparisons, blends and
//! integer bit operations are used, never its `exp`/`ln`/`ln_1p`/`recip`/`pow`.
//!
//! * `min`/`max` are a comparison and a blend, so they follow this crate's NaN convention
//!   (second operand) on every target; `wide`'s own differ between targets.
//! * `round` is the 1.5·2^23 magic-number trick, exactly as in `Scalar`.
//! * `mul_add`/`neg_mul_add` are fused where `wide` fuses them (NEON, or x86_64 compiled
//!   with `+fma`), and round twice elsewhere (plain SSE2, simd128).
//! * Bit manipulations (`neg`, `abs`, `mul_pow2`, `frexp`) go through `i32x4` with
//!   `bytemuck` casts.

use bytemuck::cast;
use wide::{f32x4, i32x4, u32x4};

use super::{Lanes, Total};

/// Four `f32` lanes. Masks are `f32x4` lanes of all ones or all zeros.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Portable(f32x4);

impl Portable {
    #[inline(always)]
    fn bits(self) -> i32x4 {
        cast(self.0)
    }
    #[inline(always)]
    fn from_bits(b: i32x4) -> Self {
        Portable(cast(b))
    }
}

impl Lanes for Portable {
    const N: usize = 4;
    type Mask = f32x4;
    type Acc = [f64; 4];
    /// Eight vectors where this is the fastest backend (NEON, simd128; with SSE2 eight ran
    /// at 1.45x the throughput of one at a time, four at 0.83-0.93 of eight), four on x86_64,
    /// where it only runs on CPUs without AVX2: eight made it half of the library's build
    /// time (docs/performance.md, "Build cost").
    #[cfg(not(target_arch = "x86_64"))]
    type Wide = super::Pair<super::Pair<super::Pair<Self>>>;
    /// See above.
    #[cfg(target_arch = "x86_64")]
    type Wide = super::Pair<super::Pair<Self>>;
    const UMAX_BITS: bool = cfg!(any(
        target_feature = "sse4.1",
        target_arch = "aarch64",
        target_feature = "simd128"
    ));
    /// See [`Lanes::HARD_PATH`].
    const HARD_PATH: bool = cfg!(not(target_arch = "x86_64"));
    const TALLY: bool = true;

    /// One copy out of line (see [`Lanes::pow_rescue`]).
    #[inline(always)]
    fn pow_rescue(v: Self, l: Self, ce: Self, gamma: Self) -> Self {
        let mut io = [v, l, ce, gamma];
        pow_rescue_portable(&mut io);
        io[0]
    }

    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 4 readable f32 at `p`, i.e. one `[f32; 4]`;
        // `read_unaligned` needs no alignment.
        Portable(f32x4::new(unsafe { p.cast::<[f32; 4]>().read_unaligned() }))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees 4 writable f32 at `p`, i.e. one `[f32; 4]`;
        // `write_unaligned` needs no alignment.
        unsafe { p.cast::<[f32; 4]>().write_unaligned(self.0.to_array()) }
    }
    #[inline(always)]
    fn splat(v: f32) -> Self {
        Portable(f32x4::splat(v))
    }
    #[inline(always)]
    fn iota() -> Self {
        Portable(f32x4::new([0.0, 1.0, 2.0, 3.0]))
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        Portable(self.0 + b.0)
    }
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        Portable(self.0 - b.0)
    }
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        Portable(self.0 * b.0)
    }
    #[inline(always)]
    fn div(self, b: Self) -> Self {
        // divps / fdiv / f32x4.div: correctly rounded on every target (never `recip`).
        Portable(self.0 / b.0)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        // sqrtps / fsqrt / f32x4.sqrt are correctly rounded. Elsewhere `wide` falls back to
        // a software square root of its own, so each lane goes through `Scalar`'s.
        #[cfg(any(
            target_feature = "sse",
            target_feature = "simd128",
            all(target_feature = "neon", target_arch = "aarch64")
        ))]
        {
            Portable(self.0.sqrt())
        }
        #[cfg(not(any(
            target_feature = "sse",
            target_feature = "simd128",
            all(target_feature = "neon", target_arch = "aarch64")
        )))]
        {
            Portable(f32x4::new(
                self.0.to_array().map(|v| super::Scalar(v).sqrt().0),
            ))
        }
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        Portable(self.0.mul_add(b.0, c.0))
    }
    #[inline(always)]
    fn neg_mul_add(self, b: Self, c: Self) -> Self {
        // wide's `mul_neg_add(m, a)` is `a - self·m` (vfnmadd / vfmsq_f32 where fused).
        Portable(self.0.mul_neg_add(b.0, c.0))
    }
    #[inline(always)]
    fn neg(self) -> Self {
        Self::from_bits(self.bits() ^ i32x4::splat(i32::MIN))
    }
    #[inline(always)]
    fn abs(self) -> Self {
        Self::from_bits(self.bits() & i32x4::splat(i32::MAX))
    }
    #[inline(always)]
    fn min(self, b: Self) -> Self {
        // `self < b` is false on NaN, so NaN in either operand gives `b`.
        Self::select(self.lt(b), self, b)
    }
    #[inline(always)]
    fn max(self, b: Self) -> Self {
        // `b < self` is false on NaN, so NaN in either operand gives `b`.
        Self::select(b.lt(self), self, b)
    }
    #[inline(always)]
    fn umax_bits(self, b: Self) -> Self {
        // One instruction with SSE4.1, NEON and simd128; `wide` falls back to scalar code on
        // plain SSE2 (where UMAX_BITS is false and the checks do not use it).
        let m: u32x4 = cast::<_, u32x4>(self.0).max(cast(b.0));
        Portable(cast(m))
    }
    #[inline(always)]
    fn round(self) -> Self {
        // Adding and removing 1.5·2^23 rounds to nearest-even for |x| < 2^22 (as `Scalar`
        // does, bit for bit); IEEE arithmetic is never reassociated by rustc.
        let magic = f32x4::splat(12_582_912.0);
        Portable((self.0 + magic) - magic)
    }
    #[inline(always)]
    fn mul_pow2(self, n: Self) -> Self {
        // n is integral in [-127, 128], so any float-to-int conversion is exact (cvtps2dq on
        // SSE2, fcvtns on NEON); the biased exponent n + 127 lies in [0, 255] and
        // (n + 127) << 23 are the bits of 2^n (0 for n = -127, +inf for n = 128).
        let e = n.0.fast_round_int() + i32x4::splat(127);
        Portable(self.0 * cast::<i32x4, f32x4>(e << 23u32))
    }
    #[inline(always)]
    fn frexp(self) -> (Self, Self) {
        // The biased exponent field minus 127 (the arithmetic shift's sign copies are masked
        // off), and the mantissa with the exponent of 1.0.
        let bits = self.bits();
        let e = ((bits >> 23u32) & i32x4::splat(0xff)) - i32x4::splat(127);
        let m = (bits & i32x4::splat(0x007f_ffff)) | i32x4::splat(0x3f80_0000);
        (Self::from_bits(m), Portable(e.round_float()))
    }
    #[inline(always)]
    fn lt(self, b: Self) -> f32x4 {
        self.0.simd_lt(b.0)
    }
    #[inline(always)]
    fn le(self, b: Self) -> f32x4 {
        self.0.simd_le(b.0)
    }
    #[inline(always)]
    fn eq(self, b: Self) -> f32x4 {
        self.0.simd_eq(b.0)
    }
    #[inline(always)]
    fn is_nan(self) -> f32x4 {
        self.0.is_nan()
    }
    #[inline(always)]
    fn select(m: f32x4, a: Self, b: Self) -> Self {
        // blendvps / and-andnot-or / vbslq_f32 / v128.bitselect: masks are whole lanes.
        Portable(m.select(a.0, b.0))
    }
    #[inline(always)]
    fn and(a: f32x4, b: f32x4) -> f32x4 {
        a & b
    }
    #[inline(always)]
    fn or(a: f32x4, b: f32x4) -> f32x4 {
        a | b
    }
    #[inline(always)]
    fn xor(a: f32x4, b: f32x4) -> f32x4 {
        a ^ b
    }
    #[inline(always)]
    fn not(a: f32x4) -> f32x4 {
        cast::<i32x4, f32x4>(cast::<f32x4, i32x4>(a) ^ i32x4::splat(-1))
    }
    #[inline(always)]
    fn any(m: f32x4) -> bool {
        m.any()
    }
    #[inline(always)]
    fn first_set(m: f32x4) -> Option<usize> {
        let bits = m.to_bitmask();
        if bits == 0 {
            None
        } else {
            Some(bits.trailing_zeros() as usize)
        }
    }
    #[inline(always)]
    fn count(m: f32x4) -> u32 {
        m.to_bitmask().count_ones()
    }
    #[inline(always)]
    fn tally(t: Self, m: f32x4) -> Self {
        // A set lane is -1 as an integer.
        Portable(cast::<i32x4, f32x4>(
            cast::<f32x4, i32x4>(t.0) - cast::<f32x4, i32x4>(m),
        ))
    }
    #[inline(always)]
    fn tally_sum(t: Self) -> u32 {
        cast::<f32x4, [u32; 4]>(t.0)
            .iter()
            .fold(0u32, |a, &b| a.wrapping_add(b))
    }
    #[inline(always)]
    fn reduce_max(self) -> f32 {
        // A NaN accumulator is replaced by the next lane, a NaN lane never wins: the result
        // is NaN only when every lane is.
        let a = self.0.to_array();
        let mut m = a[0];
        for &v in &a[1..] {
            if v > m || m.is_nan() {
                m = v;
            }
        }
        m
    }
    #[inline(always)]
    fn acc_zero() -> [f64; 4] {
        [0.0; 4]
    }
    #[inline(always)]
    fn acc_add(acc: [f64; 4], v: Self) -> [f64; 4] {
        let v = v.0.to_array();
        [
            acc[0] + v[0] as f64,
            acc[1] + v[1] as f64,
            acc[2] + v[2] as f64,
            acc[3] + v[3] as f64,
        ]
    }
    #[inline(always)]
    fn acc_join(a: [f64; 4], b: [f64; 4]) -> [f64; 4] {
        [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]]
    }
    #[inline(always)]
    fn acc_lanes(acc: [f64; 4]) -> Self {
        Portable(f32x4::new(acc.map(|v| v as f32)))
    }
    #[inline(always)]
    fn acc_sum(acc: [f64; 4]) -> Total {
        // Halving order, fixed (the same as the AVX lanes): lane i += lane i + n/2.
        Total::from_f64((acc[0] + acc[2]) + (acc[1] + acc[3]))
    }
}

/// The one copy of [`Lanes::pow_rescue`] for this backend (a compile-time backend: no
/// target features to match). The vectors go through memory, as on the x86 backends.
#[inline(never)]
fn pow_rescue_portable(io: &mut [Portable; 4]) {
    super::rescue(io);
}

#[cfg(test)]
mod tests {
    use super::Portable;
    use crate::simd::Lanes;
    use crate::simd::testing::{self, Fused};

    #[test]
    #[cfg_attr(miri, ignore)] // miri lacks some NEON horizontal operations
    fn lanes_match_scalar() {
        for seed in 1..=4 {
            testing::run::<Portable>(Fused::Either, seed, 20_000);
            testing::run::<<Portable as Lanes>::Wide>(Fused::Either, seed, 5_000);
        }
    }
}
