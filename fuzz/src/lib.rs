//! Shared pieces of the fuzz targets: input decoding (arbitrary bit patterns biased towards
//! the edge cases), the sentinel that outputs must keep on error, the cross-backend
//! comparison and an `f64` oracle of the sigmoid focal loss (SPEC.md section 1).

use arbitrary::Arbitrary;
use focal_loss::{Backend, FocalError, Reduction};

/// The bits every output buffer holds before a call; a call that returns `Err` must leave
/// them (a signalling-NaN pattern no kernel produces).
pub const SENTINEL: u32 = 0x7FA5_A5A5;

/// A buffer of `n` sentinels.
pub fn sentinels(n: usize) -> Vec<f32> {
    vec![f32::from_bits(SENTINEL); n]
}

/// Whether every element still holds the sentinel.
pub fn untouched(v: &[f32]) -> bool {
    v.iter().all(|x| x.to_bits() == SENTINEL)
}

/// Every backend this CPU runs (each forced with `.backend(b)`), scalar first.
pub fn backends() -> Vec<Backend> {
    Backend::ALL
        .into_iter()
        .filter(|b| b.is_available())
        .collect()
}

/// Errors compared by their `Debug` text: `FocalError`'s `PartialEq` says a `NaN` value
/// differs from itself.
pub fn same_err(a: &FocalError, b: &FocalError) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

/// Results compared as the same bits, any NaN equal to any NaN (payloads are not part of
/// the contract), errors by [`same_err`].
pub fn same_result(a: &Result<f32, FocalError>, b: &Result<f32, FocalError>) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => same_bits(*x, *y),
        (Err(x), Err(y)) => same_err(x, y),
        _ => false,
    }
}

/// The same bits, or both NaN.
pub fn same_bits(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// The first index where two slices differ (as [`same_bits`]).
pub fn first_diff(a: &[f32], b: &[f32]) -> Option<usize> {
    if a.len() != b.len() {
        return Some(a.len().min(b.len()));
    }
    a.iter().zip(b).position(|(x, y)| !same_bits(*x, *y))
}

/// `v` copied to a fresh allocation of exactly `offset + v.len()` elements, returned with the
/// offset: the slice `buf[offset..]` starts `offset` floats past an allocation's start (so at
/// any alignment modulo 64 bytes) and ends at the allocation's end (so the sanitizer sees a
/// read past it).
pub fn placed(v: &[f32], offset: usize) -> Vec<f32> {
    let mut buf = Vec::with_capacity(offset + v.len());
    buf.extend(std::iter::repeat_n(0.0f32, offset));
    buf.extend_from_slice(v);
    buf.shrink_to_fit();
    buf
}

// ---------------------------------------------------------------------------------------
// Decoding

/// A logit: any bit pattern, or values that matter (ordinary, saturating, special).
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Logit {
    /// Any `f32`, NaNs and infinities included.
    Bits(u32),
    /// `v / 256`: ordinary logits in (-128, 128).
    Small(i16),
    /// `v / 256 · 2^(e mod 48 - 24)`: from about 1e-9 to 1e9.
    Scaled(i16, u8),
    /// One of [`SPECIAL_LOGITS`].
    Special(u8),
}

/// Edge values of the logits.
pub const SPECIAL_LOGITS: [f32; 24] = [
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    0.0,
    -0.0,
    f32::MIN_POSITIVE,
    -f32::MIN_POSITIVE,
    1e-45,
    -1e-45,
    1e-40,
    f32::MAX,
    f32::MIN,
    87.0,
    -87.0,
    88.8,
    -88.8,
    104.0,
    -104.0,
    1e4,
    -1e4,
    1e30,
    -1e30,
    16.635532,
    -16.635532,
];

impl Logit {
    /// The value.
    pub fn get(self) -> f32 {
        match self {
            Logit::Bits(b) => f32::from_bits(b),
            Logit::Small(v) => f32::from(v) / 256.0,
            Logit::Scaled(v, e) => f32::from(v) / 256.0 * 2f32.powi(i32::from(e % 48) - 24),
            Logit::Special(i) => SPECIAL_LOGITS[usize::from(i) % SPECIAL_LOGITS.len()],
        }
    }
}

/// A sigmoid target: hard, soft, close to 0 or 1, or any bit pattern (mostly invalid).
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Target {
    /// 0.
    Zero,
    /// 1.
    One,
    /// -0 (valid: it is in `[0, 1]`).
    NegZero,
    /// `v / 65535`.
    Frac(u16),
    /// `1 - v · 2^-24`, clamped to `[0, 1]`.
    NearOne(u16),
    /// `v · 2^-(e mod 150)`: down to subnormals.
    NearZero(u8, u8),
    /// Any bit pattern (valid if it happens to be in `[0, 1]`).
    Bits(u32),
}

impl Target {
    /// The value.
    pub fn get(self) -> f32 {
        match self {
            Target::Zero => 0.0,
            Target::One => 1.0,
            Target::NegZero => -0.0,
            Target::Frac(v) => f32::from(v) / 65535.0,
            Target::NearOne(v) => (1.0 - f32::from(v) * 2f32.powi(-24)).max(0.0),
            Target::NearZero(v, e) => (f32::from(v) * 2f32.powi(-i32::from(e % 150))).min(1.0),
            Target::Bits(b) => f32::from_bits(b),
        }
    }
}

/// Gamma: the compile-time cases 0 to 4, the general path, and any bit pattern.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Gamma {
    /// 0, 1, 2, 3 or 4.
    Int(u8),
    /// The same, again (they are the common case).
    Int2(u8),
    /// `v / 65535 · 5`: the general path on [0, 5].
    Frac(u16),
    /// `v / 65535`: below 1, where `u^(γ-1)` would blow up.
    Below1(u16),
    /// Any bit pattern (invalid when negative or not finite).
    Bits(u32),
}

impl Gamma {
    /// The value.
    pub fn get(self) -> f32 {
        match self {
            Gamma::Int(v) | Gamma::Int2(v) => f32::from(v % 5),
            Gamma::Frac(v) => f32::from(v) / 65535.0 * 5.0,
            Gamma::Below1(v) => f32::from(v) / 65535.0,
            Gamma::Bits(b) => f32::from_bits(b),
        }
    }
}

/// An alpha value: none, 0, 1, 0.25, any in `[0, 1]`, or any bit pattern.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum AlphaVal {
    /// No balancing.
    None,
    /// 0.25.
    Quarter,
    /// 0.
    Zero,
    /// 1.
    One,
    /// `v / 65535`.
    Frac(u16),
    /// Any bit pattern.
    Bits(u32),
}

impl AlphaVal {
    /// The value.
    pub fn get(self) -> Option<f32> {
        match self {
            AlphaVal::None => None,
            AlphaVal::Quarter => Some(0.25),
            AlphaVal::Zero => Some(0.0),
            AlphaVal::One => Some(1.0),
            AlphaVal::Frac(v) => Some(f32::from(v) / 65535.0),
            AlphaVal::Bits(b) => Some(f32::from_bits(b)),
        }
    }
}

/// A reduction. `Normalize` takes a modest divisor (from 2^-10 to 2^20) or, rarely, any bit
/// pattern; the differential targets keep the gradient factor `upstream / d` in a range
/// where rounding near `f32::MAX` is not what is compared.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Red {
    /// Sum.
    Sum,
    /// Mean.
    Mean,
    /// MeanValid.
    MeanValid,
    /// `Normalize(v / 256 · 2^(e mod 20 - 10))`, with `v` > 0.
    Normalize(u16, u8),
    /// `Normalize` of any bit pattern.
    NormalizeBits(u32),
}

impl Red {
    /// The reduction.
    pub fn get(self) -> Reduction {
        match self {
            Red::Sum => Reduction::Sum,
            Red::Mean => Reduction::Mean,
            Red::MeanValid => Reduction::MeanValid,
            Red::Normalize(v, e) => Reduction::Normalize(
                (f32::from(v) + 1.0) / 256.0 * 2f32.powi(i32::from(e % 20) - 10),
            ),
            Red::NormalizeBits(b) => Reduction::Normalize(f32::from_bits(b)),
        }
    }
}

/// An upstream gradient: 1, -1, a modest value, 0, or a special value.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Upstream {
    /// 1.
    One,
    /// `v / 256`: within ±128.
    Small(i16),
    /// 0 or -0.
    Zero(bool),
    /// NaN, ±inf.
    Special(u8),
}

impl Upstream {
    /// The value.
    pub fn get(self) -> f32 {
        match self {
            Upstream::One => 1.0,
            Upstream::Small(v) => f32::from(v) / 256.0,
            Upstream::Zero(neg) => {
                if neg {
                    -0.0
                } else {
                    0.0
                }
            }
            Upstream::Special(i) => {
                [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][usize::from(i) % 3]
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Cross-backend comparison

/// The smallest subnormal, 2^-149.
pub const TINY: f64 = 1.401298464324817e-45;

/// Whether `got` (a SIMD backend) agrees with `want` (the scalar backend) within the fuzz
/// bound: relative `1e-3` of `mag` (the magnitude of the terms the value is made of: where
/// nothing cancels `max(|want|, |got|)`, for the sigmoid gradient the sum of its terms'
/// magnitudes from the `f64` oracle, times the scale) plus `1024·scale` smallest subnormals;
/// NaN exactly where the scalar backend gives NaN, the same infinity where it gives one
/// (unless the value sits within 1% of `f32::MAX`, where one rounding may overflow and the
/// other not).
///
/// Why this bound: every backend is within `(K + 3·cond)` ulp of the exact value (README,
/// Accuracy: K <= 7, and `cond` is at most about 110 where a power `b^γ` does not underflow,
/// so about 340 ulp = 4e-5 relative), SIMD backends within 2x of the scalar one, so two
/// backends differ by at most about 1e-4 of the magnitude of the terms; 1e-3 leaves a margin
/// of 10. Below the normal range the README's bound counts smallest subnormals, the same
/// few hundred at most.
pub fn close(got: f32, want: f32, mag: f64, scale: f64) -> bool {
    if got.is_nan() || want.is_nan() {
        return got.is_nan() && want.is_nan();
    }
    let mag = if mag.is_finite() { mag } else { 0.0 }
        .max((want as f64).abs())
        .max((got as f64).abs());
    if got.is_infinite() || want.is_infinite() {
        if got == want {
            return true;
        }
        // Overflow at the edge: the finite one must be within 1% of f32::MAX, same sign.
        let (f, i) = if got.is_infinite() {
            (want, got)
        } else {
            (got, want)
        };
        return f.is_finite()
            && (f as f64).abs() >= f32::MAX as f64 * 0.99
            && f.is_sign_negative() == i.is_sign_negative();
    }
    let tol = 1e-3 * mag + 1024.0 * TINY * scale.abs().max(1.0);
    ((got as f64) - (want as f64)).abs() <= tol
}

// ---------------------------------------------------------------------------------------
// f64 oracle of the sigmoid focal loss (SPEC.md section 1), for one element

/// One element's exact values (to f64 accuracy) and the magnitudes the README's bound uses.
#[derive(Debug, Clone, Copy)]
pub struct SigmoidExact {
    /// The loss.
    pub loss: f64,
    /// `dL/dx`.
    pub grad: f64,
    /// The larger of the two sides of the gradient's difference (what cancels).
    pub grad_side: f64,
    /// The sum of the gradient terms' magnitudes.
    pub grad_mag: f64,
    /// `γ·(1 + |ln b|)` over the powers `b^γ` with a non-zero weight.
    pub cond: f64,
}

/// `a·b`, 0 when either is 0 (the limit the kernels give: a zero weight or a zero
/// probability times an infinite log is 0).
fn mul0(a: f64, b: f64) -> f64 {
    if a == 0.0 || b == 0.0 { 0.0 } else { a * b }
}

/// `softplus(x) = max(x, 0) + log1p(exp(-|x|))`.
pub fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// `b^g` with `0^0 = 1`.
fn powg(b: f64, g: f64) -> f64 {
    if g == 0.0 { 1.0 } else { b.powf(g) }
}

/// The sigmoid focal loss of one element (logit `x`, target `t` in `[0, 1]`), form (A)
/// modulated BCE or (B) per term, from SPEC.md section 1, in `f64`.
pub fn sigmoid_exact(
    x: f32,
    t: f32,
    alpha: Option<f32>,
    gamma: f32,
    per_term: bool,
) -> SigmoidExact {
    if x.is_nan() {
        // SPEC.md section 5: a NaN logit gives NaN loss and gradient, whatever the weights.
        let nan = f64::NAN;
        return SigmoidExact {
            loss: nan,
            grad: nan,
            grad_side: nan,
            grad_mag: nan,
            cond: 0.0,
        };
    }
    let (x, t, g) = (x as f64, t as f64, gamma as f64);
    // p = σ(x), q = σ(-x), each computed directly.
    let p = 1.0 / (1.0 + (-x).exp());
    let q = 1.0 / (1.0 + x.exp());
    let (spn, spp) = (softplus(-x), softplus(x)); // -ln p, -ln q
    let cond_of = |b: f64| {
        if g == 0.0 {
            0.0
        } else {
            g * (1.0 + b.ln().abs())
        }
    };
    if !per_term {
        let at = match alpha {
            Some(a) => {
                let a = a as f64;
                a * t + (1.0 - a) * (1.0 - t)
            }
            None => 1.0,
        };
        let u = t * q + (1.0 - t) * p;
        let ce = mul0(t, spn) + mul0(1.0 - t, spp);
        let w = mul0(at, powg(u, g));
        let r = if u == 0.0 { 0.0 } else { p * q / u };
        let t1 = g * (1.0 - 2.0 * t) * mul0(r, ce);
        let (t2, t3) = ((1.0 - t) * p, -t * q);
        let pos = t1.max(0.0) + t2;
        let neg = (-t1).max(0.0) - t3;
        SigmoidExact {
            loss: mul0(w, ce),
            grad: mul0(w, t1 + t2 + t3),
            grad_side: mul0(w, pos.max(neg)),
            grad_mag: mul0(w, pos + neg),
            cond: if w == 0.0 { 0.0 } else { cond_of(u) },
        }
    } else {
        let (wp, wn) = match alpha {
            Some(a) => (a as f64 * t, (1.0 - a as f64) * (1.0 - t)),
            None => (t, 1.0 - t),
        };
        let (qg, pg) = (powg(q, g), powg(p, g));
        let lp = mul0(wp, mul0(qg, spn));
        let ln = mul0(wn, mul0(pg, spp));
        let gp = -mul0(wp, qg) * (g * mul0(p, spn) + q);
        let gn = mul0(wn, pg) * (g * mul0(q, spp) + p);
        let mut cond: f64 = 0.0;
        if wp != 0.0 {
            cond = cond.max(cond_of(q));
        }
        if wn != 0.0 {
            cond = cond.max(cond_of(p));
        }
        SigmoidExact {
            loss: lp + ln,
            grad: gp + gn,
            grad_side: gp.abs().max(gn.abs()),
            grad_mag: gp.abs() + gn.abs(),
            cond,
        }
    }
}

/// The spacing of `f32` values at magnitude `|y|`; `2^-149` below the normal range.
pub fn ulp32(y: f64) -> f64 {
    let a = y.abs();
    if !a.is_finite() {
        return f64::INFINITY;
    }
    if a < f32::MIN_POSITIVE as f64 {
        return TINY;
    }
    let e = ((a.to_bits() >> 52) & 0x7ff) as i64 - 1023;
    2f64.powi((e - 23) as i32)
}

/// The README's accuracy bound: `|got - want| <= (K + 3·cond)·max(ulp(want), ulp(m))`, with
/// the same infinities and NaN only where `want` is NaN; `want` rounded to `f32` first, so
/// a value beyond `f32::MAX` is the infinity it rounds to.
pub fn within_readme_bound(got: f32, want: f64, m: f64, k: f64, cond: f64) -> bool {
    let w32 = want as f32;
    if want.is_nan() || got.is_nan() {
        return want.is_nan() && got.is_nan();
    }
    if w32.is_infinite() || got.is_infinite() {
        return got == w32;
    }
    let tol = (k + 3.0 * cond) * ulp32(want).max(ulp32(m));
    (got as f64 - want).abs() <= tol
}
