//! The loops a firmware author writes with libm, as the baseline of the instruction counts.
//!
//! Straightforward `f32` code over slices, one call of libm per transcendental, no
//! vectorisation tricks, `Reduction::Mean` semantics like the measured crate calls.

use libm::{expf, log1pf, logf, powf};

/// `(p, e^-|x|)` with one `expf`: `p = 1/(1+e^-x)` is `1/(1+e)` for `x >= 0` and `e/(1+e)`
/// otherwise, with `e = e^-|x|` (which the loss needs anyway): what a firmware author who
/// counts `expf` calls writes.
#[inline(always)]
fn one_exp(x: f32) -> (f32, f32) {
    let e = expf(-x.abs());
    let r = 1.0 / (1.0 + e);
    (if x >= 0.0 { r } else { e * r }, e)
}

/// `(p, e^-|x|)` with two `expf`, the formulas as written: `p = 1/(1+exp(-x))` and
/// `exp(-|x|)` for the log1p.
#[inline(always)]
fn two_exp(x: f32) -> (f32, f32) {
    (1.0 / (1.0 + expf(-x)), expf(-x.abs()))
}

/// One sigmoid focal element, torchvision's formula: `p = 1/(1+e^-x)`,
/// `ce = max(x,0) - x·t + log1p(e^-|x|)`, `p_t = p·t + (1-p)(1-t)`,
/// `α_t = α·t + (1-α)(1-t)`, `L = α_t·(1-p_t)^γ·ce`, and its derivative
/// `dL/dx = α_t·[(1-p_t)^γ·(p - t) - γ·(1-p_t)^(γ-1)·ce·(2t-1)·p·(1-p)]`.
/// `sigmoid(x)` gives `(p, e^-|x|)`, `pow(m)` gives `(m^γ, m^(γ-1))`.
#[inline(always)]
fn element(
    x: f32,
    t: f32,
    alpha: f32,
    gamma: f32,
    sigmoid: impl Fn(f32) -> (f32, f32),
    pow: impl Fn(f32) -> (f32, f32),
) -> (f32, f32) {
    let (p, e) = sigmoid(x);
    let ce = x.max(0.0) - x * t + log1pf(e);
    let p_t = p * t + (1.0 - p) * (1.0 - t);
    let alpha_t = alpha * t + (1.0 - alpha) * (1.0 - t);
    let (w, w1) = pow(1.0 - p_t);
    let dp_t = (2.0 * t - 1.0) * p * (1.0 - p);
    let loss = alpha_t * w * ce;
    let grad = alpha_t * (w * (p - t) - gamma * w1 * ce * dp_t);
    (loss, grad)
}

/// The mean loss over the elements, with the gradient of that mean in `grad`.
#[inline(always)]
fn sigmoid_mean(
    x: &[f32],
    t: &[f32],
    grad: &mut [f32],
    (alpha, gamma): (f32, f32),
    sigmoid: impl Fn(f32) -> (f32, f32),
    pow: impl Fn(f32) -> (f32, f32),
) -> f32 {
    let scale = 1.0 / x.len() as f32;
    let mut sum = 0.0f32;
    for ((&x, &t), g) in x.iter().zip(t).zip(grad.iter_mut()) {
        let (l, d) = element(x, t, alpha, gamma, &sigmoid, &pow);
        sum += l;
        *g = d * scale;
    }
    sum * scale
}

/// Fused sigmoid focal loss (mean) and gradient, γ = 2 by multiplication (`γ` is only the
/// gradient's factor), one `expf` and one `log1pf` per element: the baseline.
#[inline(never)]
pub fn sigmoid_gamma2(x: &[f32], t: &[f32], grad: &mut [f32], alpha: f32, gamma: f32) -> f32 {
    sigmoid_mean(x, t, grad, (alpha, gamma), one_exp, |m| (m * m, m))
}

/// As [`sigmoid_gamma2`] with the formulas as written: two `expf` per element.
#[inline(never)]
pub fn sigmoid_gamma2_two_exp(
    x: &[f32],
    t: &[f32],
    grad: &mut [f32],
    alpha: f32,
    gamma: f32,
) -> f32 {
    sigmoid_mean(x, t, grad, (alpha, gamma), two_exp, |m| (m * m, m))
}

/// Fused sigmoid focal loss (mean) and gradient for any γ: one `expf`, one `log1pf` and one
/// `powf` per element (`m^(γ-1)`, then `m^γ = m^(γ-1)·m`).
#[inline(never)]
pub fn sigmoid_powf(x: &[f32], t: &[f32], grad: &mut [f32], alpha: f32, gamma: f32) -> f32 {
    sigmoid_mean(x, t, grad, (alpha, gamma), one_exp, |m| {
        let w1 = powf(m, gamma - 1.0);
        (w1 * m, w1)
    })
}

/// The sum of `f(x)` over `x`: the cost of one libm function per element, for the report's
/// breakdown of the naive loops.
#[inline(never)]
pub fn sum_of(x: &[f32], f: fn(f32) -> f32) -> f32 {
    x.iter().map(|&v| f(v)).sum()
}

/// Fused softmax focal loss, γ = 2 by multiplication, no class weights, mean over rows, and
/// its gradient: per row the maximum, `e_j = exp(z_j - max)` kept in `grad`, their sum `s`,
/// `log p = z_y - max - ln s`, `p = exp(log p)` (as PyTorch-style code takes `logpt.exp()`;
/// with `DIV`, `p = e_y / s`, one `expf` a row fewer), `L = -(1-p)^2·log p`, and
/// `dL/dz_j = [γ·(1-p)·p·log p - (1-p)^2]·(δ_jy - e_j/s)`.
#[inline(never)]
pub fn softmax_gamma2<const DIV: bool>(
    z: &[f32],
    classes: usize,
    labels: &[u8],
    grad: &mut [f32],
    gamma: f32,
) -> f32 {
    let scale = 1.0 / labels.len() as f32;
    let mut sum = 0.0f32;
    let rows = z.chunks_exact(classes).zip(grad.chunks_exact_mut(classes));
    for ((z, g), &y) in rows.zip(labels) {
        let y = usize::from(y);
        let mut max = f32::NEG_INFINITY;
        for &v in z {
            max = max.max(v);
        }
        let mut s = 0.0f32;
        for (g, &v) in g.iter_mut().zip(z) {
            let e = expf(v - max);
            *g = e;
            s += e;
        }
        let log_p = z[y] - max - logf(s);
        let inv_s = 1.0 / s;
        let p = if DIV { g[y] * inv_s } else { expf(log_p) };
        let q = 1.0 - p;
        sum += -q * q * log_p;
        let f = (gamma * q * p * log_p - q * q) * scale;
        for (j, g) in g.iter_mut().enumerate() {
            let delta = if j == y { 1.0 } else { 0.0 };
            *g = f * (delta - *g * inv_s);
        }
    }
    sum * scale
}
