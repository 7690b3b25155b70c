//! Public parameter types and their validation.

use crate::backend::{self, Backend, Ready};
use crate::error::FocalError;
use crate::label::{Check, Labels};
use crate::total::Total;

/// Which of the two published sigmoid focal losses to compute. They agree for hard targets
/// (`t` in `{0, 1}`) and differ for soft ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SigmoidForm {
    /// `L = α_t·(1 - p_t)^γ·BCE(x, t)` with `1 - p_t = t·q + (1-t)·p`: torchvision, fvcore,
    /// optax, Keras `BinaryFocalCrossentropy`, mmdet's Python loss.
    #[default]
    ModulatedBce,
    /// `L = α·t·q^γ·(-ln p) + (1-α)·(1-t)·p^γ·(-ln q)`: the mmcv and Detectron CUDA kernels,
    /// kornia's `binary_focal_loss_with_logits`, TorchBlocks' `BinaryFocalLoss`.
    PerTerm,
}

/// How per-element (sigmoid) or per-row (softmax) losses are reduced to one number. The
/// gradient functions scale by the same factor.
///
/// The counts that `Mean` and `MeanValid` divide by are rounded to `f32` (exact up to 2^24 =
/// 16 777 216; beyond it within a relative `2^-24`, well inside the accuracy bound), so that
/// no backend needs `f64`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reduction {
    /// The sum.
    Sum,
    /// Sigmoid: sum ÷ number of elements. Softmax: sum ÷ number of rows, ignored rows
    /// included (mmcv, TorchBlocks). An empty input gives 0.
    Mean,
    /// Sigmoid: as `Mean`. Softmax: sum ÷ number of rows that are not ignored (PyTorch's
    /// `cross_entropy` with `ignore_index`); with no such row the loss and gradients are 0.
    /// It counts rows, not class weights: for `cross_entropy(weight=w)`'s weighted mean use
    /// `Normalize(Σ w[y_i])` over the rows not ignored.
    MeanValid,
    /// Sum ÷ `d`, `d` finite and > 0 (RetinaNet divides by the number of positive anchors).
    /// The gradient's scale `upstream / d` is one `f32`: a `d` so small that it overflows
    /// (a subnormal `d`) makes every gradient element `±inf`, NaN where `dL/dx = 0`
    /// (docs/failure-contract.md).
    Normalize(f32),
}

impl Reduction {
    pub(crate) fn check(self) -> Result<(), FocalError> {
        match self {
            Reduction::Normalize(d) if !(d.is_finite() && d > 0.0) => {
                Err(FocalError::InvalidNormalizer { value: d })
            }
            _ => Ok(()),
        }
    }

    /// What the sum is divided by, for `count` items of which `valid` are not ignored (1 for
    /// `Sum`; 0 when there is nothing to average, which makes the loss and gradients 0). In
    /// `f32`: the scalar backend, which microcontrollers run, never needs `f64`.
    pub(crate) fn divisor(self, count: usize, valid: usize) -> f32 {
        match self {
            Reduction::Sum => 1.0,
            Reduction::Mean => count as f32,
            Reduction::MeanValid => valid as f32,
            Reduction::Normalize(d) => d,
        }
    }
}

/// Class weights for the softmax loss.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Alpha<'a> {
    /// Weight 1 for every class.
    #[default]
    None,
    /// The same weight for every class: a pure scale of the loss (mmcv, Keras
    /// `CategoricalFocalCrossentropy`).
    Scalar(f32),
    /// One weight per class, indexed by each row's target class (Keras, TorchBlocks). kornia's
    /// convention (class 0 gets `1 - a`, the others `a`) is such a vector.
    PerClass(&'a [f32]),
}

/// `v` in `[0, 1]` (NaN is not; `-0` is), on the bits: `+0` up to `1.0` are the patterns up
/// to `1.0`'s, and every NaN and negative value but `-0` has a larger one. Two integer
/// comparisons, where the float comparisons cost 11 instructions on a Cortex-M4F (each a
/// `vcmp`, a flag move and a branch).
#[inline(always)]
fn in_unit(v: f32) -> bool {
    let b = v.to_bits();
    b <= 1.0f32.to_bits() || b == (-0.0f32).to_bits()
}

pub(crate) fn check_alpha(a: f32) -> Result<(), FocalError> {
    if in_unit(a) {
        Ok(())
    } else {
        Err(FocalError::InvalidAlpha { value: a })
    }
}

/// Label smoothing: in `[0, 1]` (NaN fails).
pub(crate) fn check_smoothing(e: f32) -> Result<(), FocalError> {
    if in_unit(e) {
        Ok(())
    } else {
        Err(FocalError::InvalidLabelSmoothing { value: e })
    }
}

pub(crate) fn check_gamma(g: f32) -> Result<(), FocalError> {
    // Finite and not negative (NaN fails; -0 passes): +0 up to the largest finite value,
    // or -0. On the bits, two comparisons: LLVM turns the float comparisons (and
    // `is_finite`) into a class test of about 20 integer instructions on a Cortex-M.
    let b = g.to_bits();
    if b < f32::INFINITY.to_bits() || b == (-0.0f32).to_bits() {
        Ok(())
    } else {
        Err(FocalError::InvalidGamma { value: g })
    }
}

impl Alpha<'_> {
    /// Value checks (the per-class length is a shape check, made once `C` is known).
    pub(crate) fn check_values(&self) -> Result<(), FocalError> {
        match *self {
            Alpha::None => Ok(()),
            Alpha::Scalar(a) => check_alpha(a),
            Alpha::PerClass(v) => match v.iter().enumerate().find(|(_, a)| !in_unit(**a)) {
                Some((index, &value)) => Err(FocalError::InvalidClassAlpha { index, value }),
                None => Ok(()),
            },
        }
    }
}

pub(crate) fn ready(forced: Option<Backend>) -> Result<Ready, FocalError> {
    backend::resolve(forced).ok_or(FocalError::BackendUnavailable {
        backend: forced.unwrap_or(Backend::Scalar),
    })
}

/// `Err(error(index, value))` for the first value of `v` that is NaN or outside `[0, 1]`,
/// found by backend `b`'s vectorised check (targets, probabilities).
pub(crate) fn check_unit(
    b: Ready,
    v: &[f32],
    error: fn(usize, f32) -> FocalError,
) -> Result<(), FocalError> {
    match first_outside_unit(b, v) {
        Some((index, value)) => Err(error(index, value)),
        None => Ok(()),
    }
}

/// The index and value of the first value of `v` that is NaN or outside `[0, 1]`, found by
/// backend `b`'s vectorised check. (Two words in registers: a caller that builds its error
/// from them writes it straight into its own result, where a `Result` returned by a callee
/// was moved into it by a byte-wise `memcpy` on a Cortex-M4F.)
pub(crate) fn first_outside_unit(b: Ready, v: &[f32]) -> Option<(usize, f32)> {
    let index = crate::split::first_index(v.len(), &|first, n| {
        backend::first_outside_unit(b, v.get(first..first + n)?)
    })?;
    Some((index, v.get(index).copied().unwrap_or(f32::NAN)))
}

/// The lengths of a call's output and upstream slices, checked in argument order after the
/// other shapes (their expected lengths follow from those). Two words, passed in registers:
/// as a slice of `(name, expected, found)` the array stayed in each method's frame beside
/// the kernel's job (32 bytes of a Cortex-M4F's stack for `grad_per_row`, 24 for the
/// sigmoid's `grad_elementwise`), and as an enum of 12 bytes the methods without outputs
/// built one in memory (8 bytes more).
#[derive(Clone, Copy)]
pub(crate) struct Outputs {
    /// The per-row (sigmoid: per-element) slice: `out` of such a loss, or `upstream` beside
    /// a gradient; [`ABSENT`](Self::ABSENT) for none.
    per_row: usize,
    /// The gradient, one value per logit; [`ABSENT`](Self::ABSENT) for none.
    grad: usize,
}

impl Outputs {
    /// No slice: an `f32` slice is never `usize::MAX` long.
    const ABSENT: usize = usize::MAX;
    /// No output or upstream slice.
    pub(crate) const NONE: Self = Self {
        per_row: Self::ABSENT,
        grad: Self::ABSENT,
    };

    /// `out`, one value per row (per element).
    pub(crate) const fn per_row(n: usize) -> Self {
        Self {
            per_row: n,
            grad: Self::ABSENT,
        }
    }

    /// `grad`, one value per logit.
    pub(crate) const fn grad(n: usize) -> Self {
        Self {
            per_row: Self::ABSENT,
            grad: n,
        }
    }

    /// `upstream`, one value per row (per element), then `grad`.
    pub(crate) const fn upstream_grad(upstream: usize, grad: usize) -> Self {
        Self {
            per_row: upstream,
            grad,
        }
    }

    /// Checks the lengths against `rows` rows of `len` logits, in argument order.
    pub(crate) fn check(self, rows: usize, len: usize) -> Result<(), FocalError> {
        if self.per_row != Self::ABSENT {
            let what = if self.grad == Self::ABSENT {
                "out"
            } else {
                "upstream"
            };
            check_len(what, rows, self.per_row)?;
        }
        if self.grad != Self::ABSENT {
            check_len("grad", len, self.grad)?;
        }
        Ok(())
    }
}

pub(crate) fn check_len(
    what: &'static str,
    expected: usize,
    found: usize,
) -> Result<(), FocalError> {
    if expected == found {
        Ok(())
    } else {
        Err(FocalError::LengthMismatch {
            what,
            expected,
            found,
        })
    }
}

/// Softmax shape checks, in order: `num_classes` positive and dividing the `len` logits, one
/// label per row, one per-class alpha per class. Returns the number of rows.
pub(crate) fn check_rows(
    len: usize,
    num_classes: usize,
    labels: usize,
    alpha: &Alpha<'_>,
) -> Result<usize, FocalError> {
    if num_classes == 0 || !len.is_multiple_of(num_classes) {
        return Err(FocalError::InvalidNumClasses { num_classes, len });
    }
    let rows = len / num_classes;
    check_len("labels", rows, labels)?;
    if let Alpha::PerClass(v) = alpha
        && v.len() != num_classes
    {
        return Err(FocalError::ClassAlphaLength {
            expected: num_classes,
            found: v.len(),
        });
    }
    Ok(rows)
}

/// The labels' values: the number of rows not ignored, or the first label that is neither a
/// class nor the ignore index; checked on backend `b`.
pub(crate) fn check_labels(
    b: Ready,
    labels: Labels<'_>,
    num_classes: usize,
    ignore: Option<i64>,
) -> Result<usize, FocalError> {
    let check = Check {
        num_classes,
        ignore,
    };
    backend::check_labels(b, labels, check).map_err(|(index, label)| FocalError::LabelOutOfRange {
        index,
        label,
        num_classes,
    })
}

/// The reduced loss: the kernel's sum rounded to `f32`, divided by `div` (see
/// [`Reduction::divisor`]).
pub(crate) fn reduced(sum: Total, div: f32) -> f32 {
    if div == 0.0 { 0.0 } else { sum.value() / div }
}

/// The gradient factor `upstream / div`, rounded once (see [`Reduction::divisor`]).
pub(crate) fn grad_factor(upstream: f32, div: f32) -> f32 {
    if div == 0.0 { 0.0 } else { upstream / div }
}
