//! TorchBlocks' `BinaryFocalLoss` and `FocalLoss`, reproduced with their ε-clamped formulas.
//!
//! These take what the Python modules take (probabilities for the binary loss) and compute
//! their formulas literally, in `f64`, with `libm`; they run on the scalar path and are meant
//! for porting and checking results, not for speed. Where they differ from this crate's exact
//! kernels:
//!
//! * `ln(p + ε)` instead of `ln p`: for `p` much larger than `ε` (1e-9) the difference is
//!   below f32 resolution; for `p` near 0 the loss saturates near `-ln ε ≈ 20.7` where the
//!   exact loss grows without bound, and the gradient shrinks accordingly.
//! * Probabilities are taken after the sigmoid/softmax, so `1 - p` loses everything below
//!   `2^-24` near `p = 1`; the exact kernels work from logits and never form `1 - p`.
//! * The softmax module ignores class 0 (loss 0, gradient 0) and its mean divides by every
//!   row, ignored ones included.
//!
//! Where a weight is exactly 0 its term is skipped (PyTorch would give `0 · inf = NaN` at
//! `p = 0` or `p = 1` with `γ < 1`). Otherwise the formulas are TorchBlocks', infinities
//! included: with `γ < 1` the gradient of a correct, certain prediction (`p = 0` with
//! `t = 0`, `p_k = 1`) has `p^(γ-1)` and is infinite (or NaN in the softmax, where it meets
//! a 0), as autograd gives; and an `ε` above 1 makes `ln(p + ε)` positive, so losses
//! negative (the repository's `docs/failure-contract.md` lists these cases).

use crate::backend::Ready;
use crate::error::FocalError;
use crate::label::ClassIndex;
use crate::params::{
    Alpha, check_alpha, check_gamma, check_labels, check_len, check_rows, check_unit, ready,
};

fn check_epsilon(e: f32) -> Result<(), FocalError> {
    if e.is_finite() && e >= 0.0 {
        Ok(())
    } else {
        Err(FocalError::InvalidEpsilon { value: e })
    }
}

/// `b^g` with `b^0 = 1`.
fn pow(b: f64, g: f64) -> f64 {
    if g == 0.0 { 1.0 } else { libm::pow(b, g) }
}

/// `d/db b^g = g·b^(g-1)`, 0 for `g = 0`.
fn dpow(b: f64, g: f64) -> f64 {
    if g == 0.0 {
        0.0
    } else {
        g * libm::pow(b, g - 1.0)
    }
}

/// `w · v`, 0 when the weight `w` is 0.
fn weighted(w: f64, v: f64) -> f64 {
    if w == 0.0 { 0.0 } else { w * v }
}

/// TorchBlocks `BinaryFocalLoss(gamma, alpha, epsilon)`: inputs are probabilities.
///
/// `L = -α·t·(1-p)^γ·ln(p+ε) - (1-α)·(1-t)·p^γ·ln(1-p+ε)`, mean over the elements.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BinaryFocalLoss {
    /// Focusing exponent (default 2).
    pub gamma: f32,
    /// Weight of the positive term (default 0.25).
    pub alpha: f32,
    /// Added inside the logarithms (default 1e-9).
    pub epsilon: f32,
}

impl Default for BinaryFocalLoss {
    fn default() -> Self {
        BinaryFocalLoss {
            gamma: 2.0,
            alpha: 0.25,
            epsilon: 1e-9,
        }
    }
}

impl BinaryFocalLoss {
    /// Parameters, then lengths (`grad`: the gradient buffer's, if any), then data.
    fn check(&self, probs: &[f32], targets: &[f32], grad: Option<usize>) -> Result<(), FocalError> {
        check_alpha(self.alpha)?;
        check_gamma(self.gamma)?;
        check_epsilon(self.epsilon)?;
        check_len("targets", probs.len(), targets.len())?;
        if let Some(len) = grad {
            check_len("grad", probs.len(), len)?;
        }
        let b = ready(None)?;
        check_unit(b, probs, |index, value| FocalError::ProbabilityOutOfRange {
            index,
            value,
        })?;
        check_unit(b, targets, |index, value| FocalError::TargetOutOfRange {
            index,
            value,
        })
    }

    /// `(L, dL/dp)` of one element.
    fn eval(&self, p: f32, t: f32) -> (f64, f64) {
        let (p, t) = (p as f64, t as f64);
        let (a, g, e) = (self.alpha as f64, self.gamma as f64, self.epsilon as f64);
        let (wp, wn) = (a * t, (1.0 - a) * (1.0 - t));
        let (lp, ln_) = (libm::log(p + e), libm::log(1.0 - p + e));
        let loss = -weighted(wp, pow(1.0 - p, g) * lp) - weighted(wn, pow(p, g) * ln_);
        let dp = -weighted(wp, -dpow(1.0 - p, g) * lp + pow(1.0 - p, g) / (p + e))
            - weighted(wn, dpow(p, g) * ln_ - pow(p, g) / (1.0 - p + e));
        (loss, dp)
    }

    /// The mean loss.
    pub fn loss(&self, probs: &[f32], targets: &[f32]) -> Result<f32, FocalError> {
        self.check(probs, targets, None)?;
        let sum: f64 = probs
            .iter()
            .zip(targets)
            .map(|(&p, &t)| self.eval(p, t).0)
            .sum();
        Ok(mean(sum, probs.len()))
    }

    /// The mean loss, and its gradient with respect to the probabilities in `grad_probs`.
    pub fn loss_and_grad(
        &self,
        probs: &[f32],
        targets: &[f32],
        grad_probs: &mut [f32],
    ) -> Result<f32, FocalError> {
        self.check(probs, targets, Some(grad_probs.len()))?;
        let n = probs.len() as f64;
        let mut sum = 0.0;
        for ((&p, &t), g) in probs.iter().zip(targets).zip(grad_probs.iter_mut()) {
            let (l, d) = self.eval(p, t);
            sum += l;
            *g = (d / n) as f32;
        }
        Ok(mean(sum, probs.len()))
    }
}

fn mean(sum: f64, n: usize) -> f32 {
    if n == 0 { 0.0 } else { (sum / n as f64) as f32 }
}

/// TorchBlocks softmax `FocalLoss(gamma, alpha, epsilon)`: logits in, softmax per row,
/// `L_row = -α_k·(1-p_k)^γ·ln(p_k+ε)`, rows labelled 0 ignored, mean over all rows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FocalLoss<'a> {
    /// Focusing exponent (default 2).
    pub gamma: f32,
    /// Class weights (default [`Alpha::None`], weight 1).
    pub alpha: Alpha<'a>,
    /// Added inside the logarithm (default 1e-9).
    pub epsilon: f32,
}

impl Default for FocalLoss<'_> {
    fn default() -> Self {
        FocalLoss {
            gamma: 2.0,
            alpha: Alpha::None,
            epsilon: 1e-9,
        }
    }
}

impl FocalLoss<'_> {
    /// Parameters, then shapes (`grad`: the gradient buffer's length, if any), then labels.
    fn check<L: ClassIndex>(
        &self,
        logits: &[f32],
        num_classes: usize,
        labels: &[L],
        grad: Option<usize>,
    ) -> Result<(), FocalError> {
        self.alpha.check_values()?;
        check_gamma(self.gamma)?;
        check_epsilon(self.epsilon)?;
        check_rows(logits.len(), num_classes, labels.len(), &self.alpha)?;
        if let Some(len) = grad {
            check_len("grad", logits.len(), len)?;
        }
        check_labels(
            Ready::SCALAR,
            crate::label::erase(labels),
            num_classes,
            None,
        )
        .map(|_| ())
    }

    fn alpha_of(&self, k: usize) -> f64 {
        match self.alpha {
            Alpha::None => 1.0,
            Alpha::Scalar(a) => a as f64,
            Alpha::PerClass(v) => v.get(k).map_or(1.0, |&a| a as f64),
        }
    }

    /// One row: its loss, and if `grad` is given, `scale · dL/dz` written there.
    fn row(&self, z: &[f32], k: usize, grad: Option<(&mut [f32], f64)>) -> f64 {
        let m = z.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        let s: f64 = z.iter().map(|&v| libm::exp(v as f64 - m)).sum();
        let pk = z.get(k).map_or(0.0, |&v| libm::exp(v as f64 - m) / s);
        let (a, g, e) = (self.alpha_of(k), self.gamma as f64, self.epsilon as f64);
        let ln_p = libm::log(pk + e);
        let loss = -weighted(a, pow(1.0 - pk, g) * ln_p);
        if let Some((grad, scale)) = grad {
            let dp = -weighted(a, -dpow(1.0 - pk, g) * ln_p + pow(1.0 - pk, g) / (pk + e));
            for (j, (o, &v)) in grad.iter_mut().zip(z).enumerate() {
                let pj = libm::exp(v as f64 - m) / s;
                let delta = if j == k { 1.0 } else { 0.0 };
                *o = (scale * dp * pk * (delta - pj)) as f32;
            }
        }
        loss
    }

    /// The mean loss over all rows (rows labelled 0 count as 0).
    pub fn loss<L: ClassIndex>(
        &self,
        logits: &[f32],
        num_classes: usize,
        labels: &[L],
    ) -> Result<f32, FocalError> {
        self.check(logits, num_classes, labels, None)?;
        let mut sum = 0.0;
        // `check` rejected num_classes = 0; the `max` only keeps the panic of a zero chunk
        // size out of the binary (firmware links no panic path).
        for (z, &l) in logits.chunks_exact(num_classes.max(1)).zip(labels) {
            if let Some(k) = crate::label::resolve(l, num_classes, Some(0)) {
                sum += self.row(z, k, None);
            }
        }
        Ok(mean(sum, labels.len()))
    }

    /// The mean loss, and its gradient with respect to the logits in `grad_logits`.
    pub fn loss_and_grad<L: ClassIndex>(
        &self,
        logits: &[f32],
        num_classes: usize,
        labels: &[L],
        grad_logits: &mut [f32],
    ) -> Result<f32, FocalError> {
        self.check(logits, num_classes, labels, Some(grad_logits.len()))?;
        let scale = 1.0 / labels.len().max(1) as f64;
        let mut sum = 0.0;
        // Rows by `get`, not by zipping two `chunks_exact`: the zip divides by the chunk size
        // out of line, which kept a division-by-zero panic in firmware binaries although
        // `check` rejected num_classes = 0.
        for (r, &l) in labels.iter().enumerate() {
            let span = r * num_classes..(r + 1) * num_classes;
            let (Some(z), Some(g)) = (logits.get(span.clone()), grad_logits.get_mut(span)) else {
                break;
            };
            match crate::label::resolve(l, num_classes, Some(0)) {
                Some(k) => sum += self.row(z, k, Some((g, scale))),
                None => g.fill(0.0),
            }
        }
        Ok(mean(sum, labels.len()))
    }
}
