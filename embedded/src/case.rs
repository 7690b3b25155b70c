//! One bit-identity case: which method runs, with which parameters, on which inputs.
//!
//! Shared by the host build script, which writes the case table and computes the expected
//! bits with `Backend::Scalar`, and the `check` firmware, which runs the same table.

use focal_loss::{Reduction, SigmoidForm};

/// The public entry point a case calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `SigmoidFocal::loss`.
    SigLoss,
    /// `SigmoidFocal::loss_elementwise`.
    SigLossElementwise,
    /// `SigmoidFocal::grad`.
    SigGrad,
    /// `SigmoidFocal::grad_elementwise`.
    SigGradElementwise,
    /// `SigmoidFocal::loss_and_grad`.
    SigLossAndGrad,
    /// `SigmoidFocal::loss_and_grad_in_place`.
    SigLossAndGradInPlace,
    /// `Targets::checked` alone (its result, for bad targets).
    TargetsChecked,
    /// `SoftmaxFocal::loss`.
    SmLoss,
    /// `SoftmaxFocal::loss_per_row`.
    SmLossPerRow,
    /// `SoftmaxFocal::grad`.
    SmGrad,
    /// `SoftmaxFocal::grad_per_row`.
    SmGradPerRow,
    /// `SoftmaxFocal::loss_and_grad`.
    SmLossAndGrad,
    /// `SoftmaxFocal::loss_and_grad_in_place`.
    SmLossAndGradInPlace,
    /// The softmax chunk API: `loss_and_grad` in two chunks (whole images where
    /// channels-first), joined and finished.
    SmChunks,
    /// The sigmoid chunk API: `loss_and_grad` in two chunks, joined and finished.
    SigChunks,
}

/// The element type of a case's softmax labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelKind {
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
}

/// A run of `len` elements starting at element `at` of one of the input pools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// First element.
    pub at: u32,
    /// Number of elements.
    pub len: u32,
}

impl Span {
    /// No elements.
    pub const EMPTY: Span = Span { at: 0, len: 0 };

    /// The elements of `pool` this span names.
    pub fn of<T>(self, pool: &[T]) -> &[T] {
        &pool[self.at as usize..(self.at + self.len) as usize]
    }
}

/// One call: a method, its parameters and where its inputs are.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// The entry point.
    pub method: Method,
    /// Logits (f32 pool).
    pub x: Span,
    /// Sigmoid targets (f32 pool).
    pub t: Span,
    /// Per-element or per-row upstream gradients (f32 pool).
    pub up: Span,
    /// Softmax labels, in the pool of `labels`.
    pub lab: Span,
    /// The label type.
    pub labels: LabelKind,
    /// Per-class alpha (f32 pool), used when `per_class`.
    pub class_alpha: Span,
    /// Softmax `num_classes`.
    pub c: u32,
    /// Length of the output buffer (`out`/`grad`); 0 for the reduced `loss`.
    pub out_len: u32,
    /// Gamma.
    pub gamma: f32,
    /// Sigmoid alpha; softmax `Alpha::Scalar` when `Some` and not `per_class`.
    pub alpha: Option<f32>,
    /// Softmax `Alpha::PerClass(class_alpha)`.
    pub per_class: bool,
    /// Sigmoid form.
    pub form: SigmoidForm,
    /// Reduction (methods that take one).
    pub reduction: Reduction,
    /// The scalar upstream of `grad`.
    pub upstream: f32,
    /// Softmax ignore index.
    pub ignore: Option<i64>,
    /// Sigmoid targets passed as `Targets::checked`.
    pub checked: bool,
    /// Softmax `label_smoothing(ε)`, where `Some` (`Some(0.0)` too).
    pub smoothing: Option<f32>,
    /// Softmax channels-first with this many positions per image (`c` classes apart);
    /// 0 for row-major rows.
    pub spatial: u32,
}

/// The input pools the spans index.
pub struct Pools<'a> {
    /// Logits, targets, upstream gradients, per-class alphas.
    pub f32: &'a [f32],
    /// `u8` labels.
    pub u8: &'a [u8],
    /// `u16` labels.
    pub u16: &'a [u16],
    /// `i32` labels.
    pub i32: &'a [i32],
    /// `i64` labels.
    pub i64: &'a [i64],
}
