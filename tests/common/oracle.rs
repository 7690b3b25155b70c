//! The f64 reference ("oracle") for the formulas of `SPEC.md`, written from the spec alone.
//!
//! Pure `f64`, no dependency on the crate under test, so it can also be compiled on its own
//! (that is how it was validated before the library existed). Every function evaluates the
//! exact value of the spec's formula at `f32` inputs (widened exactly to `f64`), with care
//! so that the `f64` evaluation itself is accurate to far better than an `f32` ulp:
//!
//! * `softplus` as `max(x,0) + log1p(exp(-|x|))`; `ln p = -sp(-x)`, `ln q = -sp(x)`;
//! * `p` and `q` computed directly (never `1 - p`);
//! * powers of probabilities taken in log space (`exp(γ·ln u)`) so they do not underflow
//!   before the `f32` result would;
//! * infinite logits give the mathematical limits (`0·∞` products whose limit is 0 are taken
//!   as 0, and a term whose weight is exactly 0 contributes 0).
//!
//! Every value comes with `mag`, the magnitude of the largest term added inside the formula
//! (in the units of the result), so tests can judge a result that cancels (a gradient crossing
//! zero) against the terms it was computed from.

/// A reference value and the largest magnitude of the terms summed to make it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Eval {
    pub value: f64,
    pub mag: f64,
}

impl Eval {
    pub const ZERO: Eval = Eval {
        value: 0.0,
        mag: 0.0,
    };
    pub const NAN: Eval = Eval {
        value: f64::NAN,
        mag: f64::NAN,
    };
    fn plain(value: f64) -> Eval {
        Eval {
            value,
            mag: value.abs(),
        }
    }
}

/// `softplus(x) = ln(1 + e^x)`, exact limits at `±inf`.
pub fn softplus(x: f64) -> f64 {
    if x.is_nan() {
        f64::NAN
    } else if x == f64::INFINITY {
        f64::INFINITY
    } else if x == f64::NEG_INFINITY {
        0.0
    } else {
        x.max(0.0) + (-x.abs()).exp().ln_1p()
    }
}

/// `σ(x)` without cancellation on either side.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `b^γ` given `ln b`, with `b^0 = 1` (also for `b = 0`).
fn pow_from_ln(ln_b: f64, gamma: f64) -> f64 {
    if gamma == 0.0 {
        1.0
    } else {
        (gamma * ln_b).exp()
    }
}

/// The two sigmoid forms of SPEC 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// (A) modulated BCE.
    ModulatedBce,
    /// (B) per-term.
    PerTerm,
}

/// Sigmoid focal loss parameters, in f64.
#[derive(Clone, Copy, Debug)]
pub struct SigParams {
    pub alpha: Option<f64>,
    pub gamma: f64,
    pub form: Form,
}

/// Loss and `dL/dx` of one element of the sigmoid focal loss (SPEC 1).
pub fn sigmoid_focal(x: f32, t: f32, p: &SigParams) -> (Eval, Eval) {
    let (x, t) = (x as f64, t as f64);
    if x.is_nan() || t.is_nan() {
        return (Eval::NAN, Eval::NAN);
    }
    match p.form {
        Form::ModulatedBce => modulated_bce(x, t, p.alpha, p.gamma),
        Form::PerTerm => per_term(x, t, p.alpha, p.gamma),
    }
}

fn modulated_bce(x: f64, t: f64, alpha: Option<f64>, gamma: f64) -> (Eval, Eval) {
    let alpha_t = match alpha {
        None => 1.0,
        Some(a) => a * t + (1.0 - a) * (1.0 - t),
    };
    if alpha_t == 0.0 {
        return (Eval::ZERO, Eval::ZERO);
    }
    let (sp_pos, sp_neg) = (softplus(x), softplus(-x)); // -ln q, -ln p
    let (p, q) = (sigmoid(x), sigmoid(-x));
    // ce = t·sp(-x) + (1-t)·sp(x); a term with weight 0 is 0 even where sp is infinite.
    let ce_pos = if t != 0.0 { t * sp_neg } else { 0.0 };
    let ce_neg = if t != 1.0 { (1.0 - t) * sp_pos } else { 0.0 };
    let ce = ce_pos + ce_neg;
    // u = 1 - p_t = t·q + (1-t)·p and r = p·q/u, both exactly for hard targets.
    let (ln_u, r) = if t == 1.0 {
        (-sp_pos, p)
    } else if t == 0.0 {
        (-sp_neg, q)
    } else {
        let u = t * q + (1.0 - t) * p; // > 0: max(p, q) >= 1/2 and 0 < t < 1
        (u.ln(), p * q / u)
    };
    let ug = pow_from_ln(ln_u, gamma);
    let loss = Eval {
        value: alpha_t * ug * ce,
        mag: alpha_t * ug * ce_pos.max(ce_neg),
    };
    // dL/dx = α_t·u^γ·[γ(1-2t)·r·ce + (1-t)·p - t·q]; r·ce -> 0 where r = 0 (even if ce = inf).
    let focal = if gamma == 0.0 || r == 0.0 || ce == 0.0 {
        0.0
    } else {
        gamma * (1.0 - 2.0 * t) * r * ce
    };
    let bce_pos = (1.0 - t) * p;
    let bce_neg = t * q;
    let s = alpha_t * ug;
    // The bracket is a difference of two non-negative sums; either side may cancel the other.
    let grad = Eval {
        value: s * (focal + bce_pos - bce_neg),
        mag: s * (bce_pos + focal.max(0.0)).max(bce_neg - focal.min(0.0)),
    };
    (loss, grad)
}

fn per_term(x: f64, t: f64, alpha: Option<f64>, gamma: f64) -> (Eval, Eval) {
    let (wp, wn) = match alpha {
        None => (1.0, 1.0),
        Some(a) => (a, 1.0 - a),
    };
    let (pos_w, neg_w) = (wp * t, wn * (1.0 - t));
    let (sp_pos, sp_neg) = (softplus(x), softplus(-x)); // -ln q, -ln p
    let (p, q) = (sigmoid(x), sigmoid(-x));
    let qg = pow_from_ln(-sp_pos, gamma);
    let pg = pow_from_ln(-sp_neg, gamma);
    // L = α·t·q^γ·sp(-x) + (1-α)(1-t)·p^γ·sp(x)
    let (l_pos, l_neg) = (
        if pos_w != 0.0 {
            pos_w * qg * sp_neg
        } else {
            0.0
        },
        if neg_w != 0.0 {
            neg_w * pg * sp_pos
        } else {
            0.0
        },
    );
    // dL/dx = -α·t·q^γ·[γ·p·sp(-x) + q] + (1-α)(1-t)·p^γ·[γ·q·sp(x) + p]
    // (p·sp(-x) -> 0 as x -> -inf, q·sp(x) -> 0 as x -> +inf).
    let (g_pos_a, g_pos_b) = if pos_w != 0.0 {
        let a = if gamma == 0.0 || p == 0.0 {
            0.0
        } else {
            pos_w * qg * gamma * p * sp_neg
        };
        (a, pos_w * qg * q)
    } else {
        (0.0, 0.0)
    };
    let (g_neg_a, g_neg_b) = if neg_w != 0.0 {
        let a = if gamma == 0.0 || q == 0.0 {
            0.0
        } else {
            neg_w * pg * gamma * q * sp_pos
        };
        (a, neg_w * pg * p)
    } else {
        (0.0, 0.0)
    };
    let loss = Eval {
        value: l_pos + l_neg,
        mag: l_pos.max(l_neg),
    };
    // A difference of two products `weight·b^γ·[...]`: each side carries the error of its own
    // power, so the gradient is judged against the larger side.
    let (g_neg, g_pos) = (g_neg_a + g_neg_b, g_pos_a + g_pos_b);
    let grad = Eval {
        value: g_neg - g_pos,
        mag: g_neg.max(g_pos),
    };
    (loss, grad)
}

/// Alpha of the softmax loss, in the oracle's terms.
#[derive(Clone, Copy, Debug)]
pub enum OAlpha<'a> {
    None,
    Scalar(f64),
    PerClass(&'a [f32]),
}

impl OAlpha<'_> {
    pub fn for_class(&self, k: usize) -> f64 {
        match *self {
            OAlpha::None => 1.0,
            OAlpha::Scalar(a) => a,
            OAlpha::PerClass(v) => v[k] as f64,
        }
    }
}

/// Loss and `dL/dz` of one row of the softmax focal loss (SPEC 2), target class `k < C`.
/// `grad` receives `dL/dz_j` (value and term magnitude) for every class.
///
/// Rows with two or more `+inf` logits, or with every logit `-inf`, have no limit; the oracle
/// panics on them so that no test uses them by accident.
pub fn softmax_focal_row(z: &[f32], k: usize, alpha_k: f64, gamma: f64, grad: &mut [Eval]) -> Eval {
    let c = z.len();
    assert!(k < c && grad.len() == c);
    if z.iter().any(|v| v.is_nan()) {
        grad.fill(Eval::NAN);
        return Eval::NAN;
    }
    grad.fill(Eval::ZERO);
    let n_pos_inf = z.iter().filter(|v| **v == f32::INFINITY).count();
    assert!(n_pos_inf <= 1, "oracle: row with several +inf has no limit");
    assert!(
        z.iter().any(|v| *v != f32::NEG_INFINITY),
        "oracle: all -inf row"
    );
    if alpha_k == 0.0 {
        return Eval::ZERO;
    }
    if n_pos_inf == 1 {
        let i = z.iter().position(|v| *v == f32::INFINITY).unwrap();
        if i == k {
            // p_k = 1: loss 0 and w = 0.
            return Eval::ZERO;
        }
        // p_k = 0, q = 1, ℓ = -inf: L = inf, w = α_k; all the other mass is on class i.
        grad[k] = Eval::plain(-alpha_k);
        grad[i] = Eval::plain(alpha_k);
        return Eval::plain(f64::INFINITY);
    }
    // Index of the (first) maximum, and the shifted exponentials.
    let mut a = 0;
    for (j, v) in z.iter().enumerate() {
        if *v > z[a] {
            a = j;
        }
    }
    let m = z[a] as f64;
    let e: Vec<f64> = z.iter().map(|v| (*v as f64 - m).exp()).collect();
    let s_rest: f64 = e
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != a)
        .map(|(_, v)| *v)
        .sum();
    let dk = z[k] as f64 - m; // <= 0, may be -inf
    let ln_s = s_rest.ln_1p();
    let ell = dk - ln_s; // ln p_k
    let pk = ell.exp();
    let q = if k == a {
        s_rest / (1.0 + s_rest)
    } else {
        1.0 - pk // p_k <= 1/2
    };
    let qg = if gamma == 0.0 { 1.0 } else { q.powf(gamma) };
    let loss = Eval {
        value: alpha_k * qg * (-ell),
        mag: alpha_k * qg * (-dk).max(ln_s),
    };
    // w = α_k·q^γ·(q - γ·p_k·ℓ), p_k·ℓ -> 0 as p_k -> 0.
    let focal = if gamma == 0.0 || pk == 0.0 {
        0.0
    } else {
        -gamma * pk * ell
    };
    let w = alpha_k * qg * (q + focal);
    if w == 0.0 {
        return loss;
    }
    let s_mk: f64 = if k == a {
        s_rest
    } else {
        e.iter()
            .enumerate()
            .filter(|(j, _)| *j != k)
            .map(|(_, v)| *v)
            .sum()
    };
    for j in 0..c {
        grad[j] = if j == k {
            Eval {
                value: -w,
                mag: alpha_k * qg * q.max(focal),
            }
        } else {
            Eval::plain(w * (e[j] / s_mk))
        };
    }
    loss
}

/// The conditioning measure used in the softmax error bound for one row: the mean of
/// `|z_j - max z|` over the classes other than the arg-max, weighted by `exp(z_j - max z)`.
/// The rounding of `z_j - max z` to f32, unavoidable in any f32 kernel, perturbs
/// `exp(z_j - max z)` by a relative `|z_j - max z|·2^-24`; `S_rest` (and so `ln S`, and `q`
/// when the target is the arg-max) inherits the weighted mean of these. (`|z_k - max z|`
/// itself does not enter: `ℓ ≈ z_k - max z` keeps its relative accuracy, and where `p_k`
/// is small `q ≈ 1` absorbs the error of `p_k`, `p·|ln p| <= 1/e`.)
/// `-inf` logits contribute `exp(-inf) = 0` exactly and are skipped; rows with NaN or `+inf`
/// (exact answers) and rows whose target is `-inf` give 0.
pub fn softmax_row_cond(z: &[f32], k: usize) -> f64 {
    if z.iter().any(|v| v.is_nan() || *v == f32::INFINITY) || z[k] == f32::NEG_INFINITY {
        return 0.0;
    }
    let Some(m) = z
        .iter()
        .filter(|v| v.is_finite())
        .map(|v| *v as f64)
        .reduce(f64::max)
    else {
        return 0.0;
    };
    let a = z.iter().position(|v| *v as f64 == m).unwrap();
    let (mut num, mut den) = (0.0, 0.0);
    for (j, v) in z.iter().enumerate() {
        if j != a && v.is_finite() {
            let d = (*v as f64 - m).abs();
            let w = (-d).exp();
            num += w * d;
            den += w;
        }
    }
    if den > 0.0 { num / den } else { 0.0 }
}

/// TorchBlocks `BinaryFocalLoss` on probabilities, one element: value of
/// `-α·t·(1-p)^γ·ln(p+ε) - (1-α)·(1-t)·p^γ·ln(1-p+ε)` and its derivative in `p`
/// (not yet divided by the element count).
pub fn torchblocks_binary(p: f32, t: f32, alpha: f64, gamma: f64, eps: f64) -> (f64, f64) {
    let (p, t) = (p as f64, t as f64);
    let one_m_p = 1.0 - p; // exact: p is an f32 in [0, 1]
    let pw = |b: f64| if gamma == 0.0 { 1.0 } else { b.powf(gamma) };
    // d/db b^γ = γ·b^(γ-1); 0 where γ = 0.
    let dpw = |b: f64| {
        if gamma == 0.0 {
            0.0
        } else {
            gamma * b.powf(gamma - 1.0)
        }
    };
    let lp = (p + eps).ln();
    let lq = (one_m_p + eps).ln();
    let mut loss = 0.0;
    let mut grad = 0.0;
    if t != 0.0 {
        loss += -alpha * t * pw(one_m_p) * lp;
        grad += -alpha * t * (-dpw(one_m_p) * lp + pw(one_m_p) / (p + eps));
    }
    if t != 1.0 {
        loss += -(1.0 - alpha) * (1.0 - t) * pw(p) * lq;
        grad += -(1.0 - alpha) * (1.0 - t) * (dpw(p) * lq - pw(p) / (one_m_p + eps));
    }
    (loss, grad)
}

/// TorchBlocks `FocalLoss` on one row of logits with target class `k`:
/// `-α_k·(1-p_k)^γ·ln(p_k+ε)` (0 for `k == 0`) and its gradient in the logits
/// (not yet divided by the row count).
pub fn torchblocks_focal_row(
    z: &[f32],
    k: usize,
    alpha_k: f64,
    gamma: f64,
    eps: f64,
    grad: &mut [f64],
) -> f64 {
    grad.fill(0.0);
    if k == 0 {
        return 0.0;
    }
    let m = z.iter().fold(f64::NEG_INFINITY, |a, v| a.max(*v as f64));
    let s: f64 = z.iter().map(|v| (*v as f64 - m).exp()).sum();
    let pr: Vec<f64> = z.iter().map(|v| (*v as f64 - m).exp() / s).collect();
    let pk = pr[k];
    let q = 1.0 - pk;
    let qg = if gamma == 0.0 { 1.0 } else { q.powf(gamma) };
    let lpk = (pk + eps).ln();
    let loss = -alpha_k * qg * lpk;
    // dL/dp_k = -α_k·[-γ·q^(γ-1)·ln(p_k+ε) + q^γ/(p_k+ε)];  dp_k/dz_j = p_k·(δ_kj - p_j)
    let dq = if gamma == 0.0 {
        0.0
    } else {
        gamma * q.powf(gamma - 1.0)
    };
    let dl_dpk = -alpha_k * (-dq * lpk + qg / (pk + eps));
    for (j, g) in grad.iter_mut().enumerate() {
        let delta = if j == k { 1.0 } else { 0.0 };
        *g = dl_dpk * pk * (delta - pr[j]);
    }
    loss
}

/// Sixth-order central difference of `f` at `x` with step `h`.
pub fn central_diff6(f: impl Fn(f64) -> f64, x: f64, h: f64) -> f64 {
    let c = [(1.0, 45.0), (2.0, -9.0), (3.0, 1.0)];
    let mut s = 0.0;
    for (i, w) in c {
        s += w * (f(x + i * h) - f(x - i * h));
    }
    s / (60.0 * h)
}

/// The sigmoid focal loss of one element at a real (f64) logit, for finite differences.
pub fn sigmoid_focal_loss_f64(x: f64, t: f64, p: &SigParams) -> f64 {
    let r = match p.form {
        Form::ModulatedBce => modulated_bce(x, t, p.alpha, p.gamma),
        Form::PerTerm => per_term(x, t, p.alpha, p.gamma),
    };
    r.0.value
}

/// The softmax focal loss of one row at real (f64) logits, for finite differences.
pub fn softmax_focal_loss_f64(z: &[f64], k: usize, alpha_k: f64, gamma: f64) -> f64 {
    let m = z.iter().fold(f64::NEG_INFINITY, |a, v| a.max(*v));
    let mut a = 0;
    for (j, v) in z.iter().enumerate() {
        if *v > z[a] {
            a = j;
        }
    }
    let s_rest: f64 = z
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != a)
        .map(|(_, v)| (*v - m).exp())
        .sum();
    let ell = (z[k] - m) - s_rest.ln_1p();
    let q = if k == a {
        s_rest / (1.0 + s_rest)
    } else {
        1.0 - ell.exp()
    };
    let qg = if gamma == 0.0 { 1.0 } else { q.powf(gamma) };
    -alpha_k * qg * ell
}

/// Loss and `dL/dz` of one row of the softmax focal loss with label smoothing `eps`
/// (Keras' convention): target `y_j = (1-eps)·[j = k] + eps/C`, every class a focal term,
/// `L = Σ_j α_j·y_j·q_j^γ·(-ln p_j)`, `dL/dz_j = p_j·Σ_c u_c - u_j = p_j·Σ_{c≠j} u_c - q_j·u_j` with
/// `u_c = α_c·y_c·q_c^γ·(1 + γ·p_c·h_c)`, `h_c = -ln p_c / q_c` (1 at `q_c = 0`; `p·h = 0`
/// at `p = 0`). Written directly from that definition (not from the kernel's split into the
/// target's term and a uniform part). `q_c` is a sum of the other exponentials over the
/// total where `p_c > 1/2`, so nothing cancels. Magnitudes: the loss is a sum of
/// non-negative terms; a gradient's is `p_j·Σ_c u_c + u_j`, or `p_j·Σ_{c≠j} u_c + q_j·u_j`
/// where `p_j > 1/2` (the second form, evaluated there so that nothing cancels).
///
/// Rows with two or more `+inf` logits, or with every logit `-inf`, have no limit (panics).
pub fn softmax_focal_smoothed_row(
    z: &[f32],
    k: usize,
    alpha: &OAlpha<'_>,
    gamma: f64,
    eps: f64,
    grad: &mut [Eval],
) -> Eval {
    let c = z.len();
    assert!(k < c && grad.len() == c);
    if z.iter().any(|v| v.is_nan()) {
        grad.fill(Eval::NAN);
        return Eval::NAN;
    }
    let n_pos_inf = z.iter().filter(|v| **v == f32::INFINITY).count();
    assert!(n_pos_inf <= 1, "oracle: row with several +inf has no limit");
    assert!(
        z.iter().any(|v| *v != f32::NEG_INFINITY),
        "oracle: all -inf row"
    );
    // ln p_j, p_j and q_j = 1 - p_j.
    let (ell, p, q): (Vec<f64>, Vec<f64>, Vec<f64>) = if n_pos_inf == 1 {
        let i = z.iter().position(|v| *v == f32::INFINITY).unwrap();
        (0..c)
            .map(|j| {
                if j == i {
                    (0.0, 1.0, 0.0)
                } else {
                    (f64::NEG_INFINITY, 0.0, 1.0)
                }
            })
            .unzip3()
    } else {
        let m = z.iter().fold(f32::NEG_INFINITY, |a, v| a.max(*v)) as f64;
        let e: Vec<f64> = z.iter().map(|v| (*v as f64 - m).exp()).collect();
        let s: f64 = e.iter().sum();
        let ln_s = s.ln();
        (0..c)
            .map(|j| {
                let pj = e[j] / s;
                let qj = if pj <= 0.5 {
                    1.0 - pj
                } else {
                    let others: f64 = (0..c).filter(|&i| i != j).map(|i| e[i]).sum();
                    others / s
                };
                ((z[j] as f64 - m) - ln_s, pj, qj)
            })
            .unzip3()
    };
    let y = |j: usize| eps / c as f64 + if j == k { 1.0 - eps } else { 0.0 };
    let (mut loss, mut u) = (0.0f64, vec![0.0f64; c]);
    for j in 0..c {
        let w = alpha.for_class(j) * y(j);
        let qg = if gamma == 0.0 { 1.0 } else { q[j].powf(gamma) };
        if w * qg != 0.0 {
            loss += w * qg * -ell[j];
        }
        let h = if q[j] == 0.0 { 1.0 } else { -ell[j] / q[j] };
        let ph = if p[j] == 0.0 { 0.0 } else { p[j] * h };
        u[j] = w * qg * (1.0 + gamma * ph);
    }
    let total: f64 = u.iter().sum();
    for j in 0..c {
        // `p·Σ_c u_c - u_j` as `p·Σ_{c≠j} u_c - q·u_j`: where `p` is near 1 the first form
        // cancels, in f64 too (a peaked row whose other classes weigh 0 gave 0). There the
        // magnitude is that of the second form, which the kernel evaluates.
        let others: f64 = (0..c).filter(|&i| i != j).map(|i| u[i]).sum();
        grad[j] = Eval {
            value: p[j] * others - q[j] * u[j],
            mag: if p[j] > 0.5 {
                p[j] * others + q[j] * u[j]
            } else {
                p[j] * total + u[j]
            },
        };
    }
    Eval {
        value: loss,
        mag: loss,
    }
}

/// `unzip` for triples.
trait Unzip3<A, B, C> {
    fn unzip3(self) -> (Vec<A>, Vec<B>, Vec<C>);
}

impl<A, B, C, I: Iterator<Item = (A, B, C)>> Unzip3<A, B, C> for I {
    fn unzip3(self) -> (Vec<A>, Vec<B>, Vec<C>) {
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        for (x, y, z) in self {
            a.push(x);
            b.push(y);
            c.push(z);
        }
        (a, b, c)
    }
}
