//! Shared test support: the f64 oracle ([`oracle`]), the backend loop, ulp arithmetic, a
//! deterministic generator and the accuracy meter that enforces and reports the error bound.
//!
//! Each integration-test binary compiles this module separately and uses a subset of it.
#![allow(dead_code)]

pub mod calls;
pub mod oracle;
pub mod rows;

use std::fmt::Write as _;

use focal_loss::{Backend, Reduction, SigmoidForm};
pub use oracle::*;
#[allow(unused_imports)]
pub use rows::*;

// ---------------------------------------------------------------------------------------
// Backends

/// Every reduction, `Normalize` with a divisor of 3.
pub const REDUCTIONS: [Reduction; 4] = [
    Reduction::Sum,
    Reduction::Mean,
    Reduction::MeanValid,
    Reduction::Normalize(3.0),
];

/// Every backend this CPU can run, each to be forced explicitly with `.backend(b)`.
pub fn backends() -> Vec<Backend> {
    let v: Vec<Backend> = Backend::ALL
        .into_iter()
        .filter(|b| b.is_available())
        .collect();
    assert!(
        v.contains(&Backend::Scalar),
        "the scalar backend must always be available"
    );
    v
}

// ---------------------------------------------------------------------------------------
// ulp arithmetic

/// The spacing of `f32` values at magnitude `|y|` (`y` a real number given as f64):
/// `2^(e-23)` for `2^e <= |y| < 2^(e+1)` in the normal range, `2^-149` below it.
pub fn ulp32(y: f64) -> f64 {
    let a = y.abs();
    if !a.is_finite() {
        return f64::INFINITY;
    }
    if a < f32::MIN_POSITIVE as f64 {
        return f64::from_bits(((1023 - 149) as u64) << 52); // 2^-149
    }
    let e = ((a.to_bits() >> 52) & 0x7ff) as i64 - 1023; // floor(log2 a), a normal f64
    2f64.powi((e - 23) as i32)
}

/// Distance in representable `f32` values between two finite floats (0 for `0.0` vs `-0.0`).
pub fn ulp_dist(a: f32, b: f32) -> u64 {
    fn key(x: f32) -> i64 {
        let i = x.to_bits() as i32 as i64;
        if i < 0 { i64::from(i32::MIN) - i } else { i }
    }
    key(a).abs_diff(key(b))
}

// ---------------------------------------------------------------------------------------
// Deterministic pseudo-random numbers (xorshift64*)

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    /// Uniform in `[lo, hi)`, rounded to f32.
    pub fn range(&mut self, lo: f64, hi: f64) -> f32 {
        (lo + (hi - lo) * self.unit()) as f32
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }
    /// A logit with the scales that matter: mostly `[-s, s]` for a random scale up to 100,
    /// sometimes a tiny or subnormal value.
    pub fn logit(&mut self) -> f32 {
        let s = self.pick(&[1.0, 4.0, 16.0, 40.0, 100.0]);
        match self.below(40) {
            0 => self.range(-1e-38, 1e-38),
            1 => self.range(-1e-6, 1e-6),
            _ => self.range(-s, s),
        }
    }
    /// A target: hard half of the time, otherwise soft (sometimes very near 0 or 1).
    pub fn target(&mut self) -> f32 {
        match self.below(8) {
            0..=1 => 0.0,
            2..=3 => 1.0,
            4 => self.pick(&[1e-3, 1.0 - 1e-3, 1e-7, 1.0 - 6e-8, 0.5]),
            _ => self.unit() as f32,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Logit sets

/// Special logits: signed zeros, subnormals, the edges of the f32 exponential, huge and
/// infinite values, NaN.
pub fn special_logits() -> Vec<f32> {
    let base = [
        0.0f32,
        f32::from_bits(1),       // smallest subnormal
        1e-40,                   // subnormal
        f32::MIN_POSITIVE / 2.0, // subnormal
        f32::MIN_POSITIVE,
        1e-30,
        1e-7,
        6e-8,
        1e-3,
        0.5,
        1.0,
        2.0,
        8.0,
        15.9,
        16.635532, // 1 + e^-x rounds to 1 in f32 about here
        17.0,
        20.0,
        30.0,
        50.0,
        80.0,
        87.33655, // ~ -ln(f32::MIN_POSITIVE)
        88.72283, // ~ ln(f32::MAX)
        89.0,
        100.0,
        103.27893, // ~ -ln(smallest subnormal)
        104.0,
        150.0,
        1e4,
        f32::INFINITY,
    ];
    let mut v = Vec::new();
    for x in base {
        v.push(x);
        v.push(-x);
    }
    v.push(f32::NAN);
    v
}

/// Logits for the sigmoid accuracy sweep: an even grid over [-100, 100], random values at
/// several scales, and the special values.
pub fn sigmoid_sweep_logits(rng: &mut Rng, grid: usize, random: usize) -> Vec<f32> {
    let mut v = Vec::new();
    for i in 0..=grid {
        v.push((-100.0 + 200.0 * i as f64 / grid as f64) as f32);
    }
    for _ in 0..random {
        v.push(rng.logit());
    }
    v.extend(special_logits());
    v.extend([1e30f32, -1e30, f32::MAX, -f32::MAX]);
    v
}

// ---------------------------------------------------------------------------------------
// Parameter translation

pub fn oracle_form(f: SigmoidForm) -> Form {
    match f {
        SigmoidForm::ModulatedBce => Form::ModulatedBce,
        SigmoidForm::PerTerm => Form::PerTerm,
    }
}

pub fn sig_params(alpha: Option<f32>, gamma: f32, form: SigmoidForm) -> SigParams {
    SigParams {
        alpha: alpha.map(f64::from),
        gamma: gamma as f64,
        form: oracle_form(form),
    }
}

// ---------------------------------------------------------------------------------------
// The error bound and the accuracy meter

/// The error bound, in f32 ulps:
///
/// `|got - want| <= (K + c·cond)·max(ulp(want), ulp(mag))`
///
/// `want` is the exact (f64 oracle) value and `mag` the largest term summed inside the formula,
/// so a result that cancels (a gradient crossing zero as a difference of two terms) is judged
/// against the terms it was computed from: each term may carry `K + c·cond` ulps of relative
/// error. Without cancellation `mag <= |want|` and this is `(K + c·cond)·ulp(want)`.
/// `cond` is the conditioning measure, which grows where any f32 kernel must lose accuracy:
/// [`sigmoid_cond`] (`γ·(1 + |ln u|)`, i.e. about `γ·|x|` on the saturated side) for the sigmoid
/// kernels,
/// [`SoftCond`] (`(1+γ)·(D + ln C) [+ |z_j - max z|]`) for softmax.
#[derive(Clone, Copy, Debug)]
pub struct Bound {
    pub k: f64,
    pub c: f64,
}

impl Bound {
    pub fn tol(&self, want: Eval, cond: f64) -> f64 {
        (self.k + self.c * cond) * unit(want)
    }
}

/// `max(ulp(want), ulp(mag))`, the unit of the bound.
pub fn unit(want: Eval) -> f64 {
    ulp32(want.value).max(ulp32(want.mag))
}

/// The bounds the suite enforces: sigmoid loss and gradient, softmax loss and gradient.
///
/// `c = 3`: the argument `γ·ln b` of `exp` is built from `ln` (within 1 ulp of `|ln b|`, which
/// is up to `2·|ln b|·2^-24`) and one or two more roundings, each up to `|value|·2^-24`, so it
/// carries about 3 units of `γ·|ln b|·2^-24` (at `c = 2` random soft targets near 0 or 1 with
/// a non-integer `γ` needed `K` = 18). The `K` were set from random searches of 5·10^8
/// elements per kernel and backend (properties' generators; on this machine the worst needed
/// `K` at `c = 3` were 4.7 / 5.5 / 0.2 / 1.2) with about 1.5 ulp to spare; without
/// conditioning the sigmoid pays up to ~6.5 ulp for soft targets with an `α` (the weights
/// `1-t`, `α·t + (1-α)·(1-t)` are rounded too). The accuracy tests print what they measure.
pub const SIG_LOSS: Bound = Bound { k: 6.0, c: 3.0 };
pub const SIG_GRAD: Bound = Bound { k: 7.0, c: 3.0 };
pub const SM_LOSS: Bound = Bound { k: 2.0, c: 3.0 };
pub const SM_GRAD: Bound = Bound { k: 3.0, c: 3.0 };

/// The conditioning measure of the sigmoid kernels: `γ·(1 + |ln b|)` for the powers `b^γ` of
/// probabilities the formula takes. `b` is computed in f32 with a relative error of a few
/// rounding units, which `b^γ` multiplies by `γ` (the `1`); `ln b` is a sum of f32 values whose
/// absolute error, a few units of `|ln b|·2^-24`, becomes a relative one in `exp(γ·ln b)` (the
/// `|ln b|`).
/// (A): `b = u = 1 - p_t`; (B): `b = q` (when t > 0) and `b = p` (when t < 1). For hard
/// targets `|ln u| = sp(±x)`, which is `|x|` on the saturated-correct side and ~0 on the wrong
/// side, so this is the `γ·|x|` of SPEC 6 where it matters. Capped at 110: past
/// `γ·|ln b| ≈ 104` the factor `b^γ` is below the smallest f32 and exactly 0.
pub fn sigmoid_cond(x: f32, t: f32, gamma: f32, form: SigmoidForm) -> f64 {
    let (x, t, g) = (x as f64, t as f64, gamma as f64);
    if x.is_nan() || g == 0.0 {
        return 0.0;
    }
    let ln_u = match form {
        SigmoidForm::ModulatedBce => {
            if t == 1.0 {
                -softplus(x)
            } else if t == 0.0 {
                -softplus(-x)
            } else {
                (t * sigmoid(-x) + (1.0 - t) * sigmoid(x)).ln()
            }
        }
        _ => {
            let a = if t != 0.0 { softplus(x) } else { 0.0 };
            let b = if t != 1.0 { softplus(-x) } else { 0.0 };
            -a.max(b)
        }
    };
    (g * (1.0 + ln_u.abs())).min(110.0)
}

/// The conditioning measure of the softmax kernels for one row with target `k`:
/// `(1+γ)·(D + ln C)` for the loss and `(1+γ)·(D + ln C) + |z_j - max z|` for `dL/dz_j`, with
/// `D` from [`oracle::softmax_row_cond`] (the rounding of `z_j - max z` to f32 moves
/// `exp(z_j - max z)` by a relative `|z_j - max z|·2^-24`: `D` is the `exp`-weighted mean of
/// these over the terms of `S_rest`, which `ln S` and `q` are made of; `q^γ` multiplies their
/// error by `γ`; a sum of C terms adds `ln C`; the gradient of class `j` also carries its own
/// `exp(z_j - max z)`).
#[derive(Clone, Copy, Debug)]
pub struct SoftCond {
    base: f64,
    max: f64,
}

impl SoftCond {
    pub fn new(z: &[f32], k: usize, gamma: f32) -> SoftCond {
        let d = softmax_row_cond(z, k);
        let c = z.len() as f64;
        // the row maximum when every exponential is finite-argument (NaN otherwise)
        let max = if z.iter().any(|v| v.is_nan() || *v == f32::INFINITY) {
            f64::NAN
        } else {
            z.iter().fold(f32::NEG_INFINITY, |a, v| a.max(*v)) as f64
        };
        SoftCond {
            base: ((1.0 + gamma as f64) * (d + c.ln())).min(1e4),
            max,
        }
    }
    pub fn loss(&self) -> f64 {
        self.base
    }
    pub fn elem(&self, zj: f32) -> f64 {
        if self.max.is_nan() || !zj.is_finite() {
            self.base
        } else {
            (self.base + (zj as f64 - self.max).abs()).min(1e4)
        }
    }
}

/// The values of `c` at which the meter reports the `K` each would need.
pub const C_PROBES: [f64; 4] = [2.0, 3.0, 4.0, 5.0];

/// Checks results against the oracle under a [`Bound`], keeps the worst cases, and reports.
pub struct Meter {
    pub what: String,
    pub bound: Bound,
    pub checked: usize,
    /// Worst `err / unit` (no allowance for conditioning) and its case.
    pub worst_units: f64,
    pub worst_units_case: String,
    /// Worst `err / unit` among cases with `cond <= 1`.
    pub worst_plain: f64,
    /// The smallest `K` that passes every case with the configured `c`, and that case.
    pub needed_k: f64,
    pub needed_k_case: String,
    /// The smallest `K` for each `c` of [`C_PROBES`].
    pub needed_k_probe: [f64; 4],
    pub failures: Vec<String>,
    pub n_failures: usize,
}

impl Meter {
    pub fn new(what: impl Into<String>, bound: Bound) -> Meter {
        Meter {
            what: what.into(),
            bound,
            checked: 0,
            worst_units: 0.0,
            worst_units_case: String::new(),
            worst_plain: 0.0,
            needed_k: 0.0,
            needed_k_case: String::new(),
            needed_k_probe: [0.0; 4],
            failures: Vec::new(),
            n_failures: 0,
        }
    }

    fn fail(&mut self, msg: String) {
        self.n_failures += 1;
        if self.failures.len() < 25 {
            self.failures.push(msg);
        }
    }

    /// Checks `got` against `want` under the bound; `ctx` describes the input on failure.
    pub fn check(&mut self, got: f32, want: Eval, cond: f64, ctx: impl Fn() -> String) {
        self.checked += 1;
        let w = want.value;
        if w.is_nan() {
            if !got.is_nan() {
                self.fail(format!("{}: want NaN, got {got:e}", ctx()));
            }
            return;
        }
        let w32 = w as f32; // correctly rounded; ±inf when out of range
        if w32.is_infinite() {
            if got != w32 {
                self.fail(format!("{}: want {w32}, got {got:e}", ctx()));
            }
            return;
        }
        if !got.is_finite() {
            self.fail(format!("{}: want {w:e} (finite), got {got:e}", ctx()));
            return;
        }
        let err = (got as f64 - w).abs();
        let u = unit(want);
        let units = err / u;
        if units > self.worst_units {
            self.worst_units = units;
            self.worst_units_case = format!("{} got {got:e} want {w:e} cond {cond:.1}", ctx());
        }
        if cond <= 1.0 {
            self.worst_plain = self.worst_plain.max(units);
        }
        let nk = units - self.bound.c * cond;
        if nk > self.needed_k {
            self.needed_k = nk;
            self.needed_k_case = format!(
                "{} got {got:e} want {w:e} mag {:e} cond {cond:.1}",
                ctx(),
                want.mag
            );
        }
        for (n, c) in self.needed_k_probe.iter_mut().zip(C_PROBES) {
            *n = n.max(units - c * cond);
        }
        let tol = self.bound.tol(want, cond);
        if err > tol {
            self.fail(format!(
                "{}: got {got:e} want {w:e} (mag {:e}), err {:.2} > tol {:.2} (units of max(ulp(want), ulp(mag)); cond {cond:.2})",
                ctx(),
                want.mag,
                units,
                tol / u
            ));
        }
    }

    /// Requires `got` to be NaN (a NaN input poisons exactly its own element or row).
    pub fn check_nan(&mut self, got: f32, ctx: impl Fn() -> String) {
        self.checked += 1;
        if !got.is_nan() {
            self.fail(format!("{}: want NaN, got {got:e}", ctx()));
        }
    }

    pub fn summary(&self) -> String {
        let probes: Vec<String> = C_PROBES
            .iter()
            .zip(self.needed_k_probe)
            .map(|(c, k)| format!("c={c}:K>={k:.2}"))
            .collect();
        format!(
            "{:<40} n={:>7} worst err {:>8.2} ulp | worst with cond<=1 {:>5.2} ulp | K needed {:.2} at c={} [{}] | worst case: {}",
            self.what,
            self.checked,
            self.worst_units,
            self.worst_plain,
            self.needed_k,
            self.bound.c,
            probes.join(" "),
            self.needed_k_case
        )
    }

    /// Prints the summary and panics with the first failures, if any.
    pub fn finish(&self) {
        finish_all(std::slice::from_ref(self));
    }
}

/// Prints every meter's summary, then panics with all failures, if any.
pub fn finish_all(meters: &[Meter]) {
    for m in meters {
        eprintln!("{}", m.summary());
    }
    let mut s = String::new();
    for m in meters.iter().filter(|m| m.n_failures > 0) {
        let _ = writeln!(
            s,
            "{}: {} of {} checks outside the bound (K={}, c={}):",
            m.what, m.n_failures, m.checked, m.bound.k, m.bound.c
        );
        for f in &m.failures {
            let _ = writeln!(s, "  {f}");
        }
    }
    assert!(s.is_empty(), "{s}");
}

/// `|got - want| <= tol`; false when either side is NaN.
pub fn within(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() <= tol
}

/// `f32` bit patterns of a slice (for bit-identity comparisons that treat NaN as equal to
/// itself).
pub fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// [`bits`] with every NaN as the one quiet NaN: two computations of the same operations
/// may give NaNs of either sign and any payload (wasm32 and Arm do, and Rust specifies
/// neither), so "bit for bit" holds up to that.
#[allow(dead_code)]
pub fn bits_nan_eq(v: &[f32]) -> Vec<u32> {
    v.iter()
        .map(|x| if x.is_nan() { 0x7fc0_0000 } else { x.to_bits() })
        .collect()
}

/// A NaN with a payload, as an output-buffer sentinel that no computation produces.
pub const SENTINEL_BITS: u32 = 0x7fc1_2345;
pub fn sentinel() -> f32 {
    f32::from_bits(SENTINEL_BITS)
}
pub fn untouched(v: &[f32]) -> bool {
    v.iter().all(|x| x.to_bits() == SENTINEL_BITS)
}
