//! Branch-free `exp`, `ln` and `log1p`, written once over the lane trait.
//!
//! These are the crate's own: every backend (the one-lane scalar reference included) runs the
//! same operation sequence, so backends differ only where a lane type fuses `mul_add`.
//! Error bounds are stated per function and checked by an exhaustive sweep over every `f32`
//! input (`sweep_every_f32` below, run in release mode by `.ci/run`).
//!
//! The polynomials are the classic Cephes single-precision minimax fits (S. L. Moshier,
//! *Methods and Programs for Mathematical Functions*, 1989): a degree-5 correction for
//! `exp` on `[-ln2/2, ln2/2]` and a degree-8 fit of `(ln(1+f) - f + f²/2) / f³` on
//! `[√½ - 1, √2 - 1]` for `ln` and `log1p`. The unreduced `log1p` on `[0, 1]`, range
//! reduction, subnormal handling and special values are this crate's.

use crate::simd::Lanes;

const LOG2_E: f32 = core::f32::consts::LOG2_E;
/// `ln 2` split so that `n · LN2_HI` is exact for `|n| <= 2^13`.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
const SQRT_HALF: f32 = core::f32::consts::FRAC_1_SQRT_2;

/// `e^x`.
///
/// Reduction `x = n·ln2 + r`, `n = round(x·log2 e)` (of the exact product where `mul_add`
/// fuses), `|r| <= ln2/2` (Cody–Waite, two-part
/// `ln 2`), `e^r = 1 + r + r²·P(r)`, and `2^n` applied in two steps so that results in the
/// subnormal range are rounded once. Inputs are clamped to `[-104, 89]` first (NaN passes
/// through the clamp), which gives exactly `0` below `-103.97` and `+inf` above `88.73`.
///
/// Error: at most 1.02 ulp on every backend, with or without FMA (exhaustive sweep: worst
/// 0.990 ulp scalar and portable, 1.010 ulp AVX2 and AVX-512); `exp(0) = 1` exactly; `exp(±inf) = inf, 0`; `exp(NaN) = NaN`.
#[inline(always)]
pub(crate) fn exp<S: Lanes>(x: S) -> S {
    // max/min return the second operand on NaN, so NaN survives this clamp.
    exp_clamped(S::splat(89.0).min(S::splat(-104.0).max(x)))
}

/// `e^x` for `x <= 0` (or NaN): [`exp`] without the upper clamp.
#[inline(always)]
pub(crate) fn exp_nonpos<S: Lanes>(x: S) -> S {
    let k = ExpK::new();
    exp_nonpos_from(exp_nonpos_reduced(x, &k), &k)
}

/// The first half of [`exp_nonpos`] (the clamp and the reduction), for loops that start
/// the next vector's exponential before they finish this one's ([`exp_nonpos_from`]).
#[inline(always)]
pub(crate) fn exp_nonpos_reduced<S: Lanes>(x: S, k: &ExpK<S>) -> Reduced<S> {
    reduce(S::splat(-104.0).max(x), k)
}

/// The second half of [`exp_nonpos`].
#[inline(always)]
pub(crate) fn exp_nonpos_from<S: Lanes>(x: Reduced<S>, k: &ExpK<S>) -> S {
    exp_clamped_from(x, k)
}

/// `e^x` for `x` in `[-87, 0]` (or NaN), where every result is normal: [`exp`] without the
/// clamp and without the subnormal care, for callers that checked the range anyway.
///
/// The same bits as [`exp`] on that domain (the same reduction and polynomial, and one
/// product by a normal `2^n` rounds once, as `exp`'s two steps do), so the same error bound;
/// the exhaustive sweep checks it on the domain.
///
/// Its polynomial's addends go through [`Lanes::addend`] (see [`polynomial`]): the sigmoid's
/// loop calls it.
#[inline(always)]
pub(crate) fn exp_normal_nonpos<S: Lanes>(x: S) -> S {
    let k = ExpK::new();
    normal_nonpos_from::<S, true>(reduce(x, &k), &k)
}

/// The first half of [`exp_normal_nonpos`] (the reduction; see [`exp_nonpos_reduced`]).
#[inline(always)]
pub(crate) fn exp_normal_nonpos_reduced<S: Lanes>(x: S, k: &ExpK<S>) -> Reduced<S> {
    reduce(x, k)
}

/// The second half of [`exp_normal_nonpos`], with the addends in registers (see
/// [`polynomial`]): the softmax's exponential pass calls it.
#[inline(always)]
pub(crate) fn exp_normal_nonpos_from<S: Lanes>(x: Reduced<S>, k: &ExpK<S>) -> S {
    normal_nonpos_from::<S, false>(x, k)
}

/// [`exp_normal_nonpos`] with the addends in registers: [`exp_normal_nonpos_from`] of
/// its reduction, for the softmax's callers that take both halves at once.
#[inline(always)]
pub(crate) fn exp_normal_nonpos_reg<S: Lanes>(x: S) -> S {
    let k = ExpK::new();
    exp_normal_nonpos_from(exp_normal_nonpos_reduced(x, &k), &k)
}

/// [`exp_normal_nonpos_from`], the addends as [`polynomial`]'s `ADDEND` says.
#[inline(always)]
fn normal_nonpos_from<S: Lanes, const ADDEND: bool>(x: Reduced<S>, k: &ExpK<S>) -> S {
    let (p, n, biased) = polynomial::<S, ADDEND>(x, k);
    // |n| <= 126: 2^n is normal and one product rounds once.
    if S::SCALEF {
        p.ldexp(n)
    } else {
        p.mul_pow2_biased(n, biased)
    }
}

/// `e^x` for `x` in `[-104, 89]` or NaN.
#[inline(always)]
fn exp_clamped<S: Lanes>(x: S) -> S {
    let k = ExpK::new();
    exp_clamped_from(reduce(x, &k), &k)
}

/// [`exp_clamped`] from its reduction.
#[inline(always)]
fn exp_clamped_from<S: Lanes>(x: Reduced<S>, k: &ExpK<S>) -> S {
    let (p, n, biased) = polynomial::<S, true>(x, k);
    // |n| <= 150. When every |n| <= 126 (every |x| < 87.3: nearly always) 2^n is normal
    // and one product rounds once, giving the bits of the two-step `ldexp` for less work.
    if !S::SCALEF && !S::any(S::splat(126.0).lt(n.abs())) {
        p.mul_pow2_biased(n, biased)
    } else {
        p.ldexp(n)
    }
}

/// `x = n·ln2 + r` for `exp`: `n = round(x·log2 e)`, `r` and `r²`, and `n + 1.5·2^23` (the
/// sum whose rounding gave `n`, for [`Lanes::mul_pow2_biased`]); [`polynomial`] finishes.
#[derive(Clone, Copy)]
pub(crate) struct Reduced<S> {
    r: S,
    z: S,
    n: S,
    biased: S,
}

/// The reduction of `exp` (see [`Reduced`]).
#[inline(always)]
fn reduce<S: Lanes>(x: S, k: &ExpK<S>) -> Reduced<S> {
    // Rounded to an integer by adding and removing 1.5·2^23 (exact for |x·log2 e| < 2^22,
    // which the callers' domains keep): the sum's ulp is 1. With a fused `mul_add` the
    // product is not rounded first, so `n` is the integer nearest the exact x·log2 e (the
    // reduction's bound holds either way), in two operations instead of three (a multiply
    // and `vrndscaleps`, two µops on AVX-512, or the add and subtract of `round`).
    let magic = k.0[K_MAGIC];
    let biased = x.mul_add(k.0[K_LOG2_E], magic);
    let n = biased.sub(magic);
    let r = n.neg_mul_add(k.0[K_LN2_HI], x);
    let r = n.neg_mul_add(k.0[K_LN2_LO], r);
    Reduced {
        r,
        z: r.mul(r),
        n,
        biased,
    }
}

/// `(p, n, n + 1.5·2^23)` with `e^x = p · 2^n` and `p = e^r` near 1, from [`reduce`].
///
/// `ADDEND`: the polynomial's addends go through [`Lanes::addend`] (the same values). Where
/// is what measured best on a Cortex-M4F, whose loops hold about as many constants as the
/// FPU has registers: for [`exp_clamped`] (the kernels' rare paths) and the sigmoid's
/// [`exp_normal_nonpos`], not for the softmax's exponential pass
/// ([`exp_normal_nonpos_from`]). On 2026-12-04 with addends everywhere: fused sigmoid 108.2
/// instructions per element, softmax 106.9 per logit; only [`exp_clamped`]'s: 109.2 and
/// 106.7; only the per-element ones: 108.2 and 108.4; neither (only [`log1p_unit`]'s):
/// 111.1 and 106.7. On 2026-12-06 the sigmoid's too (the kernels having changed since):
/// sigmoid 106.8 → 106.0, γ = 2.5 114.8 → 113.0, the softmax unchanged, 0.3 KB less flash.
#[inline(always)]
fn polynomial<S: Lanes, const ADDEND: bool>(x: Reduced<S>, k: &ExpK<S>) -> (S, S, S) {
    let Reduced { r, z, n, biased } = x;
    let c = |i: usize| {
        if ADDEND {
            S::addend(&EXP_P[i])
        } else {
            k.0[K_P + i]
        }
    };
    let p = k.0[K_P0]
        .mul_add(r, c(0))
        .mul_add(r, c(1))
        .mul_add(r, c(2))
        .mul_add(r, c(3))
        .mul_add(r, k.0[K_HALF]);
    (p.mul_add(z, r).add(k.0[K_ONE]), n, biased)
}

/// The coefficients of `exp`'s polynomial after the first, each the addend of one step
/// (read through [`Lanes::addend`]).
static EXP_P: [f32; 4] = EXP_P_VALUES;

/// The values of [`EXP_P`].
const EXP_P_VALUES: [f32; 4] = [1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1];

/// The constants of `exp`'s reduction and polynomial as values, indexed by the `K_`
/// constants. [`ExpK::new`] gives them as splats, which the compiler folds into every use as
/// it would the literals; a loop that holds more values than there are registers takes
/// [`ExpK::held`] instead, so that they stay where the register allocator put them (see
/// [`Lanes::HOLD_EXP`]).
#[derive(Clone, Copy)]
pub(crate) struct ExpK<S>([S; 11]);

const K_LOG2_E: usize = 0;
const K_MAGIC: usize = 1;
const K_LN2_HI: usize = 2;
const K_LN2_LO: usize = 3;
/// The polynomial's first coefficient, then [`EXP_P`] from `K_P`.
const K_P0: usize = 4;
const K_P: usize = 5;
const K_HALF: usize = 9;
const K_ONE: usize = 10;

impl<S: Lanes> ExpK<S> {
    /// The constants.
    #[inline(always)]
    pub(crate) fn new() -> Self {
        let p = EXP_P_VALUES;
        Self([
            S::splat(LOG2_E),
            S::splat(12_582_912.0),
            S::splat(LN2_HI),
            S::splat(LN2_LO),
            S::splat(1.987_569_1e-4),
            S::splat(p[0]),
            S::splat(p[1]),
            S::splat(p[2]),
            S::splat(p[3]),
            S::splat(0.5),
            S::splat(1.0),
        ])
    }

    /// The constants, each made opaque to the compiler ([`Lanes::opaque`]) once: it can no
    /// longer fold them into their uses (a broadcast and an FMA, on AVX2) and keeps them in
    /// registers or its stack frame (an FMA reading memory: one operation).
    #[inline(always)]
    pub(crate) fn held() -> Self {
        let k = Self::new().0;
        Self(core::array::from_fn(|i| k[i].opaque()))
    }
}

/// The same for [`log1p_unit`].
static LOG1P_UNIT_P: [f32; 8] = [
    -1.718_426_7e-2,
    4.930_997_3e-2,
    -9.139_414e-2,
    1.303_336_5e-1,
    -1.636_515_3e-1,
    1.995_670_8e-1,
    -2.499_676e-1,
    3.333_323_6e-1,
];

/// `e·ln2 + ln(1 + f)` for `f` in `[√½ - 1, √2 - 1]` and integral `e`.
#[inline(always)]
fn ln1p_reduced<S: Lanes>(f: S, e: S) -> S {
    let z = f.mul(f);
    let p = S::splat(7.037_683_6e-2)
        .mul_add(f, S::splat(-1.151_461e-1))
        .mul_add(f, S::splat(1.167_699_9e-1))
        .mul_add(f, S::splat(-1.242_014_1e-1))
        .mul_add(f, S::splat(1.424_932_3e-1))
        .mul_add(f, S::splat(-1.666_805_8e-1))
        .mul_add(f, S::splat(2.000_071_4e-1))
        .mul_add(f, S::splat(-2.499_999_4e-1))
        .mul_add(f, S::splat(0.333_333_3));
    let y = p.mul(f).mul(z);
    let y = e.mul_add(S::splat(LN2_LO), y);
    let y = z.neg_mul_add(S::splat(0.5), y);
    e.mul_add(S::splat(LN2_HI), f.add(y))
}

/// Splits a positive finite normal `m·2^e` so that `m` lies in `[√½, √2)`.
#[inline(always)]
fn split_sqrt2<S: Lanes>(x: S) -> (S, S) {
    let (m, e) = x.frexp();
    let big = S::splat(2.0 * SQRT_HALF).le(m);
    (
        S::select(big, m.mul(S::splat(0.5)), m),
        S::select(big, e.add(S::splat(1.0)), e),
    )
}

/// `ln x`.
///
/// Subnormal inputs are scaled by `2^25` first; then `x = m·2^e` with `m` in `[√½, √2)` and
/// `ln x = e·ln2 + ln(1 + (m - 1))`.
///
/// Error: at most 0.85 ulp on every backend (exhaustive sweep: worst 0.829 ulp);
/// `ln(±0) = -inf`, `ln(x < 0) = NaN`, `ln(inf) = inf`, `ln(NaN) = NaN`, `ln(1) = 0`.
#[inline(always)]
pub(crate) fn ln<S: Lanes>(x: S) -> S {
    let tiny = x.lt(S::splat(f32::MIN_POSITIVE));
    let xs = S::select(tiny, x.mul(S::splat(33_554_432.0)), x);
    let (m, e) = split_sqrt2(xs);
    let e = S::select(tiny, e.sub(S::splat(25.0)), e);
    let r = ln1p_reduced(m.sub(S::splat(1.0)), e);
    let r = S::select(x.eq(S::splat(f32::INFINITY)), x, r);
    let r = S::select(x.eq(S::splat(0.0)), S::splat(f32::NEG_INFINITY), r);
    // x < 0 and NaN give NaN.
    S::select(S::splat(0.0).le(x), r, S::splat(f32::NAN))
}

/// `ln(1 + x)`, without division.
///
/// `u = 1 + x` is rounded; its rounding error `c` is recovered exactly (Fast2Sum), and with
/// `u = m·2^e`, `ln(1 + x) = e·ln2 + ln(1 + f)` where `f = (m - 1) + c·2^-e` carries the
/// correction, so tiny and subnormal `x` come out as `x` itself.
///
/// Error: at most 1.4 ulp on every backend (exhaustive sweep: worst 1.394 ulp);
/// `log1p(±0) = ±0`, `log1p(-1) = -inf`, `log1p(x < -1) = NaN`, `log1p(inf) = inf`.
#[inline(always)]
pub(crate) fn log1p<S: Lanes>(x: S) -> S {
    let one = S::splat(1.0);
    let u = one.add(x);
    let small = x.abs().le(one);
    let c = S::select(small, one.sub(u).add(x), x.sub(u).add(one));
    let (m, e) = split_sqrt2(u);
    // The correction only matters while c·2^-e is near an ulp of m; clamping the exponent
    // keeps the power of two in range for huge u.
    let f = c.mul_pow2(S::splat(-126.0).max(e.neg())).add(m.sub(one));
    let r = ln1p_reduced(f, e);
    let r = S::select(x.eq(S::splat(f32::INFINITY)), x, r);
    let r = S::select(x.eq(S::splat(-1.0)), S::splat(f32::NEG_INFINITY), r);
    let r = S::select(x.eq(S::splat(0.0)), x, r);
    // x < -1 and NaN give NaN.
    S::select(S::splat(-1.0).le(x), r, S::splat(f32::NAN))
}

/// `ln(1 + x)` for `x` in `[+0, 1]` (or NaN), the range the sigmoid kernel needs: one
/// polynomial over the whole range, with no reduction, about half the work of [`log1p`].
///
/// `ln(1 + x) = x + x·(x²·P(x) - x/2)`, where `x/2` is exact and `P` of degree 8 comes from a
/// degree-9 Chebyshev fit of `(ln(1 + x) - x)/x²` on `[0, 1]` whose constant term rounds to
/// `-1/2` (`log1p` has its nearest singularity at `-1`, so the fit converges like `5.8^-n`).
///
/// Error: at most 1.5 ulp with FMA and 1.9 ulp without (exhaustive sweep: worst 1.466 ulp
/// AVX2 and AVX-512, 1.856 ulp scalar and SSE2, both near `x = 1`); `log1p_unit(+0) = +0`,
/// `log1p_unit(NaN) = NaN`.
#[inline(always)]
pub(crate) fn log1p_unit<S: Lanes>(x: S) -> S {
    let c = |k: usize| S::addend(&LOG1P_UNIT_P[k]);
    let p = S::splat(2.801_642e-3)
        .mul_add(x, c(0))
        .mul_add(x, c(1))
        .mul_add(x, c(2))
        .mul_add(x, c(3))
        .mul_add(x, c(4))
        .mul_add(x, c(5))
        .mul_add(x, c(6))
        .mul_add(x, c(7));
    // x + x·(x²·p - x/2): the x/2 is exact, so only small terms are rounded.
    let h = x.mul(x).mul_add(p, x.mul(S::splat(-0.5)));
    h.mul_add(x, x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::Scalar;

    fn e(x: f32) -> f32 {
        exp(Scalar(x)).0
    }
    fn l(x: f32) -> f32 {
        ln(Scalar(x)).0
    }
    fn l1p(x: f32) -> f32 {
        log1p(Scalar(x)).0
    }

    #[test]
    fn special_values() {
        assert_eq!(e(0.0), 1.0);
        assert_eq!(e(f32::INFINITY), f32::INFINITY);
        assert_eq!(e(f32::NEG_INFINITY), 0.0);
        assert!(e(f32::NAN).is_nan());
        assert_eq!(e(89.0), f32::INFINITY);
        assert_eq!(e(-104.0), 0.0);
        assert_eq!(l(1.0), 0.0);
        assert_eq!(l(0.0), f32::NEG_INFINITY);
        assert_eq!(l(-0.0), f32::NEG_INFINITY);
        assert!(l(-1.0).is_nan());
        assert!(l(f32::NAN).is_nan());
        assert_eq!(l(f32::INFINITY), f32::INFINITY);
        assert_eq!(l1p(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(l1p(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(l1p(-1.0), f32::NEG_INFINITY);
        assert!(l1p(-2.0).is_nan());
        assert!(l1p(f32::NAN).is_nan());
        assert_eq!(l1p(f32::INFINITY), f32::INFINITY);
        assert_eq!(l1p(1e-40), 1e-40);
    }

    fn ulps(got: f32, want: f64) -> f64 {
        let w = want as f32;
        let ulp = if w == 0.0 {
            f32::from_bits(1) as f64
        } else {
            let b = w.abs().to_bits();
            (f32::from_bits(b + 1) - f32::from_bits(b)) as f64
        };
        (got as f64 - want).abs() / ulp
    }

    /// The bounds every backend meets over every f32, in ulp (see each function's doc):
    /// exp, ln, log1p, log1p_unit, exp_normal_nonpos.
    const MAX_ULP: [f64; 5] = [1.02, 0.85, 1.4, 1.9, 1.02];

    #[test]
    fn sampled_accuracy() {
        let mut worst = [0.0f64; 3];
        let mut b = 1u32;
        while b < 0x7f80_0000 {
            for s in [0u32, 0x8000_0000] {
                let x = f32::from_bits(b | s);
                let xd = x as f64;
                if xd > -104.0 && xd < 88.7 {
                    worst[0] = worst[0].max(ulps(e(x), libm::exp(xd)));
                }
                if x > 0.0 {
                    worst[1] = worst[1].max(ulps(l(x), libm::log(xd)));
                }
                if x > -1.0 {
                    worst[2] = worst[2].max(ulps(l1p(x), libm::log1p(xd)));
                }
            }
            b += 997;
        }
        assert!(
            worst.iter().zip(MAX_ULP).all(|(&w, m)| w <= m),
            "exp, ln, log1p: {worst:?}"
        );
    }

    /// Which function a sweep evaluates.
    #[derive(Clone, Copy, Debug)]
    enum Func {
        Exp,
        Ln,
        Log1p,
        /// `log1p_unit`, checked on `[0, 1]` and NaN only (its domain).
        Log1pUnit,
        /// `exp_normal_nonpos`, checked on `[-87, 0]` and NaN only (its domain), where it
        /// must also give `exp`'s bits.
        ExpNormal,
    }

    const FUNCS: [Func; 5] = [
        Func::Exp,
        Func::Ln,
        Func::Log1p,
        Func::Log1pUnit,
        Func::ExpNormal,
    ];

    /// Evaluates `f` over `xs` with lanes `S` (inlined into each backend's entry below).
    #[inline(always)]
    fn apply<S: Lanes>(f: Func, xs: &[f32], out: &mut [f32]) {
        for (x, o) in xs.chunks_exact(S::N).zip(out.chunks_exact_mut(S::N)) {
            // SAFETY: both chunks hold exactly S::N values.
            unsafe {
                let v = S::load(x.as_ptr());
                let r = match f {
                    Func::Exp => exp(v),
                    Func::Ln => ln(v),
                    Func::Log1p => log1p(v),
                    Func::Log1pUnit => log1p_unit(v),
                    Func::ExpNormal => exp_normal_nonpos(v),
                };
                r.store(o.as_mut_ptr());
            }
        }
    }

    macro_rules! sweep_entry {
        ($name:ident, $lanes:ty, $feat:ident) => {
            crate::simd::with_features! { $feat;
                /// # Safety
                /// The lanes' target features (those of the backend's entry points) are
                /// present.
                unsafe fn $name(f: Func, xs: &[f32], out: &mut [f32]) {
                    apply::<$lanes>(f, xs, out)
                }
            }
        };
    }
    sweep_entry!(sweep_scalar, Scalar, none);
    #[cfg(focal_portable)]
    sweep_entry!(sweep_portable, crate::simd::Portable, none);
    #[cfg(target_arch = "x86_64")]
    sweep_entry!(sweep_avx2, crate::simd::Avx2, avx2);
    #[cfg(target_arch = "x86_64")]
    sweep_entry!(sweep_avx512, crate::simd::Avx512, avx512);

    /// A backend's sweep entry point.
    type Entry = unsafe fn(Func, &[f32], &mut [f32]);

    /// The backends available here, with their entry points.
    // `mut` is unused where no SIMD backend exists (wasm32 without simd128, for one).
    #[allow(unused_mut)]
    fn sweep_backends() -> std::vec::Vec<(&'static str, Entry)> {
        let mut v: std::vec::Vec<(&'static str, Entry)> = std::vec![("scalar", sweep_scalar)];
        for b in crate::Backend::ALL {
            if !b.is_available() {
                continue;
            }
            match b {
                crate::Backend::Scalar => {}
                #[cfg(focal_portable)]
                crate::Backend::Portable => v.push(("portable", sweep_portable)),
                #[cfg(target_arch = "x86_64")]
                crate::Backend::Avx2 => v.push(("avx2", sweep_avx2)),
                #[cfg(target_arch = "x86_64")]
                crate::Backend::Avx512 => v.push(("avx512", sweep_avx512)),
                #[allow(unreachable_patterns)]
                _ => {}
            }
        }
        v
    }

    /// Whether `x` is in the checked domain of `f`: NaN or `+0..=1` for `log1p_unit`, NaN
    /// or `-87..=0` for `exp_normal_nonpos`, everything for the others.
    fn in_domain(f: Func, x: f32) -> bool {
        match f {
            Func::Log1pUnit => x.is_nan() || (x.is_sign_positive() && x <= 1.0),
            Func::ExpNormal => x.is_nan() || (-87.0..=0.0).contains(&x),
            _ => true,
        }
    }

    /// The `f64` reference (from `std`), NaN where the input is outside `f`'s checked domain.
    fn reference(f: Func, xs: &[f32], want: &mut [f64]) {
        for (&x, w) in xs.iter().zip(want.iter_mut()) {
            let xd = x as f64;
            *w = match f {
                Func::Exp => xd.exp(),
                Func::Ln => xd.ln(),
                Func::Log1p => xd.ln_1p(),
                _ if !in_domain(f, x) => f64::NAN,
                Func::Log1pUnit => xd.ln_1p(),
                Func::ExpNormal => xd.exp(),
            };
        }
    }

    /// `(worst ulp error over finite results, count of wrong special values)`.
    fn check(f: Func, xs: &[f32], want: &[f64], got: &[f32]) -> (f64, u64) {
        let mut worst = 0.0f64;
        let mut bad = 0;
        for ((&x, &want), &g) in xs.iter().zip(want).zip(got) {
            if !in_domain(f, x) {
                continue;
            }
            let w32 = want as f32;
            if want.is_nan() || !w32.is_finite() {
                // NaN, ±inf (also overflow past f32::MAX): the exact special value.
                let ok = if want.is_nan() { g.is_nan() } else { g == w32 };
                bad += u64::from(!ok);
                continue;
            }
            if w32 == 0.0 && want != 0.0 && !(g == 0.0 || g.abs() == f32::from_bits(1)) {
                bad += 1;
                continue;
            }
            if want == 0.0 {
                // Exact zeros keep their sign: ln(1) = +0, log1p(±0) = ±0.
                bad += u64::from(g.to_bits() != w32.to_bits());
                continue;
            }
            worst = worst.max(ulps(g, want));
        }
        (worst, bad)
    }

    /// Every f32 input, every backend available here, against `f64` from `std` (whose
    /// results are far inside an f32 ulp). Release mode: `cargo test --release --lib --
    /// --ignored sweep` (about 5 minutes on 2 cores).
    #[test]
    #[ignore = "exhaustive: run in release mode (CI does)"]
    fn sweep_every_f32() {
        const CHUNK: u64 = 1 << 16;
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
        let backends = sweep_backends();
        let results: std::vec::Vec<_> = std::thread::scope(|s| {
            let handles: std::vec::Vec<_> = (0..threads)
                .map(|tid| {
                    let backends = &backends;
                    s.spawn(move || {
                        let mut worst = std::vec![[0.0f64; 5]; backends.len()];
                        let mut bad = std::vec![[0u64; 5]; backends.len()];
                        let mut xs = std::vec![0.0f32; CHUNK as usize];
                        let mut out = std::vec![0.0f32; CHUNK as usize];
                        let mut same = std::vec![0.0f32; CHUNK as usize];
                        let mut want = std::vec![0.0f64; CHUNK as usize];
                        let mut start = tid * CHUNK;
                        while start < 1 << 32 {
                            for (i, x) in xs.iter_mut().enumerate() {
                                *x = f32::from_bits((start + i as u64) as u32);
                            }
                            for (fi, &f) in FUNCS.iter().enumerate() {
                                reference(f, &xs, &mut want);
                                for (bi, (_, run)) in backends.iter().enumerate() {
                                    // SAFETY: only backends reported available are listed.
                                    unsafe { run(f, &xs, &mut out) };
                                    let (w, mut b) = check(f, &xs, &want, &out);
                                    if let Func::ExpNormal = f {
                                        // Also `exp`'s bits on its domain, which the softmax
                                        // relies on (it mixes the two in one row).
                                        // SAFETY: as above, the backend is available.
                                        unsafe { run(Func::Exp, &xs, &mut same) };
                                        b += xs
                                            .iter()
                                            .zip(out.iter().zip(&same))
                                            .filter(|(x, (g, e))| {
                                                in_domain(f, **x)
                                                    && g.to_bits() != e.to_bits()
                                                    && !(g.is_nan() && e.is_nan())
                                            })
                                            .count()
                                            as u64;
                                    }
                                    worst[bi][fi] = worst[bi][fi].max(w);
                                    bad[bi][fi] += b;
                                }
                            }
                            start += threads * CHUNK;
                        }
                        (worst, bad)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut failed = false;
        for (bi, (name, _)) in backends.iter().enumerate() {
            for (fi, f) in FUNCS.iter().enumerate() {
                let worst = results.iter().map(|r| r.0[bi][fi]).fold(0.0, f64::max);
                let bad: u64 = results.iter().map(|r| r.1[bi][fi]).sum();
                std::eprintln!("{name:>8} {f:?}: worst {worst:.3} ulp, {bad} wrong special values");
                failed |= worst > MAX_ULP[fi] || bad > 0;
            }
        }
        assert!(
            !failed,
            "an error bound or a special value failed (see above)"
        );
    }
}
