//! The softmax focal loss API.

use crate::backend::{self, Backend, Ready};
use crate::error::FocalError;
use crate::exact::Exact;
use crate::kernel::Mode;
use crate::kernel::sigmoid::gamma_code;
use crate::kernel::softmax::{Job, NO_IGNORE};
use crate::label::{ClassIndex, Labels, erase};
use crate::params::{
    Alpha, Outputs, Reduction, check_gamma, check_labels, check_rows, check_smoothing, grad_factor,
    ready, reduced,
};
use crate::total::Total;

/// Softmax focal loss over row-major `[rows × C]` logits with one class label per row
/// (multi-class classification), computed in log-space.
///
/// A `Copy` builder: set the parameters, then call any of the methods. Parameters are checked
/// when a method runs, before anything is written.
///
/// ```
/// use focal_loss::{Reduction, SoftmaxFocal};
///
/// let logits = [1.0, 0.0, -1.0, 0.0, 1.0, 2.0]; // 2 rows × 3 classes
/// let labels = [2u8, 1];
/// let loss = SoftmaxFocal::mmcv().loss(&logits, 3, &labels, Reduction::Mean).unwrap();
/// assert!((loss - 0.349_569_08).abs() < 1e-6);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SoftmaxFocal<'a> {
    alpha: Alpha<'a>,
    gamma: f32,
    /// `gamma_code(gamma)`: decoded once, when `γ` is set, not in every call.
    gamma_code: u32,
    ignore_index: Option<i64>,
    label_smoothing: f32,
    smoothed: SmoothedKernel,
    backend: Option<Backend>,
}

/// The label-smoothing kernel, set by [`SoftmaxFocal::label_smoothing`] only: reachable
/// through this pointer, it is linked into a program only if the program calls that method
/// (on a Cortex-M4 it is about 15 KB of flash and more stack than the rest of the softmax).
#[derive(Clone, Copy)]
struct SmoothedKernel(Option<unsafe fn(Ready, &Job<'_>, f32) -> Total>);

// Whether the pointer is set follows from `label_smoothing` alone: compare and show that.
impl PartialEq for SmoothedKernel {
    fn eq(&self, other: &Self) -> bool {
        self.0.is_some() == other.0.is_some()
    }
}

impl core::fmt::Debug for SmoothedKernel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(if self.0.is_some() { "set" } else { "unset" })
    }
}

/// What [`SoftmaxFocal::prepare`] found: the backend, the number of rows and the number of
/// rows not ignored. `repr(C)` with the words first: as a tuple inside the `Result`, the
/// compiler packed it at odd offsets and moved it with byte-wise `memcpy` calls on a
/// Cortex-M4. (The class weights, which it held too, are built where the job is: moved out
/// of the `Result`, their two copies took 16 bytes of every softmax method's frame there.)
#[repr(C)]
pub(crate) struct Prepared {
    pub(crate) rows: usize,
    pub(crate) valid: usize,
    pub(crate) b: Ready,
}

impl Default for SoftmaxFocal<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> SoftmaxFocal<'a> {
    /// No class weights, `gamma = 2`, no ignored label, backend chosen at run time.
    pub const fn new() -> Self {
        SoftmaxFocal {
            alpha: Alpha::None,
            gamma: 2.0,
            gamma_code: gamma_code(2.0),
            ignore_index: None,
            label_smoothing: 0.0,
            smoothed: SmoothedKernel(None),
            backend: None,
        }
    }

    /// mmcv's `softmax_focal_loss` op: alpha 0.25 for every class, gamma 2; its `"mean"`
    /// divides by the number of rows: [`Reduction::Mean`].
    ///
    /// mmcv's kernel gives every negative label a loss of 0 and still counts its row in the
    /// mean. Here `.ignore_index(Some(-1))` does that for `-1` (with `Mean`, ignored rows
    /// count); any other negative label is [`FocalError::LabelOutOfRange`], before anything is
    /// written.
    pub const fn mmcv() -> Self {
        Self::new().alpha(Alpha::Scalar(0.25))
    }

    /// Keras `CategoricalFocalCrossentropy(from_logits=True)` defaults (alpha 0.25 for every
    /// class, gamma 2); `"sum_over_batch_size"` is [`Reduction::Mean`]. Keras' list alpha is
    /// [`Alpha::PerClass`].
    pub const fn keras() -> Self {
        Self::new().alpha(Alpha::Scalar(0.25))
    }

    /// PyTorch-style labels: `ignore_index = -100`, no class weights, gamma 2. Pair it with
    /// [`Reduction::MeanValid`] for `cross_entropy`'s `"mean"`.
    ///
    /// With class weights ([`Alpha::PerClass`]) PyTorch's `cross_entropy(weight=w)` mean
    /// divides by the sum of the rows' weights, `Σ w[y_i]` over the rows not ignored, where
    /// `MeanValid` divides by their number (as focal losses do that take the `.mean()` of
    /// `nll_loss(weight=w, reduction="none")` times the focal term over the rows not
    /// ignored). For PyTorch's weighted mean pass [`Reduction::Normalize`]`(Σ w[y_i])`.
    pub const fn torch() -> Self {
        Self::new().ignore_index(Some(-100))
    }

    /// Class weights, each in `[0, 1]`.
    pub const fn alpha(mut self, alpha: Alpha<'a>) -> Self {
        self.alpha = alpha;
        self
    }

    /// The focusing exponent, finite and `>= 0`. 0, 1, 2, 3 and 4 are computed by
    /// multiplication, 0.5 to 4.5 in steps of one as `q^k·√q` (a correctly rounded square
    /// root), other values through `exp(γ·ln q)`.
    pub const fn gamma(mut self, gamma: f32) -> Self {
        self.gamma = gamma;
        self.gamma_code = gamma_code(gamma);
        self
    }

    /// Rows whose label equals this value have loss 0 and gradient 0.
    pub const fn ignore_index(mut self, ignore_index: Option<i64>) -> Self {
        self.ignore_index = ignore_index;
        self
    }

    /// Label smoothing `ε` in `[0, 1]` (default 0), the Keras `CategoricalFocalCrossentropy`
    /// convention: the target of a row with class `k` becomes `(1-ε)·onehot(k) + ε/C`, and
    /// every class is a focal term,
    /// `L = Σ_j α_j·y_j·(1-p_j)^γ·(-ln p_j)`, with `α_j` the weight of class `j` (for
    /// [`Alpha::PerClass`]; a scalar alpha weights every class alike). Loss and gradient are
    /// exact in log-space, like the unsmoothed loss: Keras clips `p` to `[1e-7, 1 - 1e-7]`
    /// first, so the two differ where a probability is below about `1e-7` (here a `-inf`
    /// logit gives loss `+inf` when `ε > 0`, and a finite gradient).
    ///
    /// `ε = 0` computes exactly what the unsmoothed loss computes, bit for bit. With `ε > 0`
    /// each row costs two more passes over its classes (one exponential and one `q^γ` per
    /// logit each) in a separate, less specialised kernel; the bench group
    /// `softmax_fused_by_gamma_and_smoothing` measures it. Its code is linked only into
    /// programs that call this method.
    ///
    /// ```
    /// use focal_loss::{Reduction, SoftmaxFocal};
    ///
    /// let (logits, labels) = ([2.0f32, 0.0, -1.0], [0u8]);
    /// let f = SoftmaxFocal::keras().gamma(0.0).alpha(focal_loss::Alpha::None);
    /// let smoothed = f.label_smoothing(0.3).loss(&logits, 3, &labels, Reduction::Sum)?;
    /// // γ = 0 and no weights: cross-entropy against the target (0.8, 0.1, 0.1).
    /// let lse = (2.0f32.exp() + 1.0 + (-1.0f32).exp()).ln();
    /// let want = 0.8 * (lse - 2.0) + 0.1 * lse + 0.1 * (lse + 1.0);
    /// assert!((smoothed - want).abs() <= 1e-6 * want);
    /// # Ok::<(), focal_loss::FocalError>(())
    /// ```
    pub const fn label_smoothing(mut self, epsilon: f32) -> Self {
        self.label_smoothing = epsilon;
        self.smoothed = SmoothedKernel(Some(backend::run_softmax_smoothed));
        self
    }

    /// Forces a backend (for tests and benchmarks). Calls return
    /// [`FocalError::BackendUnavailable`] if this CPU lacks it.
    pub const fn backend(mut self, backend: Backend) -> Self {
        self.backend = Some(backend);
        self
    }

    /// Every check, in the documented order, before anything is written. Returns the backend,
    /// the class weights, the number of rows and the number of rows not ignored.
    pub(crate) fn prepare<const CF: bool>(
        &self,
        spatial: usize,
        r: Option<Reduction>,
        len: usize,
        num_classes: usize,
        labels: Labels<'_>,
        outputs: Outputs,
    ) -> Result<Prepared, FocalError> {
        self.alpha.check_values()?;
        check_gamma(self.gamma)?;
        // Only `label_smoothing` sets a value, and it sets the kernel too.
        if self.smoothed.0.is_some() {
            check_smoothing(self.label_smoothing)?;
        }
        if let Some(r) = r {
            r.check()?;
        }
        let b = ready(self.backend)?;
        let rows = check_rows(len, num_classes, labels.len(), &self.alpha)?;
        if CF && (spatial == 0 || !rows.is_multiple_of(spatial)) {
            return Err(FocalError::InvalidSpatial {
                spatial,
                positions: rows,
            });
        }
        outputs.check(rows, len)?;
        let valid = check_labels(b, labels, num_classes, self.ignore_index)?;
        Ok(Prepared { rows, valid, b })
    }

    /// [`prepare`](Self::prepare) channels-first with `spatial` positions per image if
    /// `spatial` is `Some`, else row-major.
    pub(crate) fn prepare_either(
        &self,
        spatial: Option<usize>,
        r: Option<Reduction>,
        len: usize,
        num_classes: usize,
        labels: Labels<'_>,
        outputs: Outputs,
    ) -> Result<Prepared, FocalError> {
        match spatial {
            Some(s) => self.prepare::<true>(s, r, len, num_classes, labels, outputs),
            None => self.prepare::<false>(1, r, len, num_classes, labels, outputs),
        }
    }

    /// The kernel job of a call with these parameters (`spatial` 1 for row-major).
    #[inline(always)]
    fn job<'j>(
        &self,
        spatial: usize,
        z: *const f32,
        num_classes: usize,
        labels: Labels<'j>,
        mode: Mode,
    ) -> Job<'j>
    where
        'a: 'j,
    {
        Job {
            z,
            c: num_classes,
            labels,
            ignore: match self.ignore_index {
                Some(i) => i,
                None => NO_IGNORE,
            },
            alpha: self.alpha,
            gamma: self.gamma,
            code: self.gamma_code,
            mode,
            spatial,
            #[cfg(any(focal_portable, target_arch = "x86_64"))]
            stride: spatial,
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn run<const CF: bool>(
        &self,
        spatial: usize,
        b: Ready,
        z: *const f32,
        num_classes: usize,
        labels: Labels<'_>,
        mode: Mode,
    ) -> Total {
        let job = self.job(spatial, z, num_classes, labels, mode);
        // SAFETY: `prepare` checked rows·C == logits.len(), labels.len() == rows (a multiple
        // of `spatial` for the channels-first layout), each output length and every label;
        // `z` and a gradient output are the same pointer only in the in-place method, which
        // the kernels allow. `smoothed` is only ever `backend::run_softmax_smoothed`, whose
        // contract is the kernels'.
        unsafe {
            if let Some(smoothed) = self.smoothed.0
                && self.label_smoothing > 0.0
            {
                smoothed(b, &job, self.label_smoothing)
            } else if CF {
                backend::run_softmax_cf(b, &job)
            } else {
                backend::run_softmax(b, &job)
            }
        }
    }

    /// As [`run`](Self::run), the exact sum (for the chunk API): channels-first with
    /// `spatial` positions per image if `spatial` is `Some`, else row-major.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) fn run_exact(
        &self,
        spatial: Option<usize>,
        b: Ready,
        z: *const f32,
        num_classes: usize,
        labels: Labels<'_>,
        mode: Mode,
    ) -> Exact {
        let job = self.job(spatial.unwrap_or(1), z, num_classes, labels, mode);
        // SAFETY: as for `run`.
        unsafe { backend::run_softmax_exact(b, &job, self.smoothing(), spatial.is_some()) }
    }

    /// The label smoothing `ε` the kernels apply (0 for none).
    pub(crate) fn smoothing(&self) -> f32 {
        if self.smoothed.0.is_some() {
            self.label_smoothing
        } else {
            0.0
        }
    }

    /// The reduced loss.
    #[inline(always)]
    pub fn loss<L: ClassIndex>(
        &self,
        logits: &[f32],
        num_classes: usize,
        labels: &[L],
        r: Reduction,
    ) -> Result<f32, FocalError> {
        self.loss_erased::<false>(1, logits, num_classes, erase(labels), r)
    }

    /// [`loss`](Self::loss) with the labels' type as a run-time tag: one copy of the
    /// body for every label type (on a Cortex-M4, 2 KB per label type otherwise).
    #[inline(never)]
    pub(crate) fn loss_erased<const CF: bool>(
        &self,
        spatial: usize,
        logits: &[f32],
        num_classes: usize,
        labels: Labels<'_>,
        r: Reduction,
    ) -> Result<f32, FocalError> {
        let outs = Outputs::NONE;
        let Prepared { b, rows, valid } =
            self.prepare::<CF>(spatial, Some(r), logits.len(), num_classes, labels, outs)?;
        let sum = self.run::<CF>(spatial, b, logits.as_ptr(), num_classes, labels, Mode::Sum);
        Ok(reduced(sum, r.divisor(rows, valid)))
    }

    /// Each row's loss, written to `out` (one value per row; 0 for ignored rows).
    #[inline(always)]
    pub fn loss_per_row<L: ClassIndex>(
        &self,
        logits: &[f32],
        num_classes: usize,
        labels: &[L],
        out: &mut [f32],
    ) -> Result<(), FocalError> {
        self.loss_per_row_erased::<false>(1, logits, num_classes, erase(labels), out)
    }

    /// [`loss_per_row`](Self::loss_per_row) with the labels' type as a run-time tag: one copy of the
    /// body for every label type (on a Cortex-M4, 2 KB per label type otherwise).
    #[inline(never)]
    pub(crate) fn loss_per_row_erased<const CF: bool>(
        &self,
        spatial: usize,
        logits: &[f32],
        num_classes: usize,
        labels: Labels<'_>,
        out: &mut [f32],
    ) -> Result<(), FocalError> {
        let outs = Outputs::per_row(out.len());
        let Prepared { b, .. } =
            self.prepare::<CF>(spatial, None, logits.len(), num_classes, labels, outs)?;
        let mode = Mode::Loss(out.as_mut_ptr());
        self.run::<CF>(spatial, b, logits.as_ptr(), num_classes, labels, mode);
        Ok(())
    }

    /// The gradient of `upstream · reduced loss` with respect to the logits.
    #[inline(always)]
    pub fn grad<L: ClassIndex>(
        &self,
        logits: &[f32],
        num_classes: usize,
        labels: &[L],
        r: Reduction,
        upstream: f32,
        grad: &mut [f32],
    ) -> Result<(), FocalError> {
        self.grad_erased::<false>(1, logits, num_classes, erase(labels), r, upstream, grad)
    }

    /// [`grad`](Self::grad) with the labels' type as a run-time tag: one copy of the
    /// body for every label type (on a Cortex-M4, 2 KB per label type otherwise).
    #[inline(never)]
    #[allow(clippy::too_many_arguments)] // the public method's five, the layout's one
    pub(crate) fn grad_erased<const CF: bool>(
        &self,
        spatial: usize,
        logits: &[f32],
        num_classes: usize,
        labels: Labels<'_>,
        r: Reduction,
        upstream: f32,
        grad: &mut [f32],
    ) -> Result<(), FocalError> {
        let outs = Outputs::grad(grad.len());
        let Prepared { b, rows, valid } =
            self.prepare::<CF>(spatial, Some(r), logits.len(), num_classes, labels, outs)?;
        let mode = Mode::Grad(
            grad.as_mut_ptr(),
            grad_factor(upstream, r.divisor(rows, valid)),
        );
        self.run::<CF>(spatial, b, logits.as_ptr(), num_classes, labels, mode);
        Ok(())
    }

    /// `grad[row·C + j] = upstream[row] · dL_row/dz_j`: the backward pass of
    /// [`loss_per_row`](Self::loss_per_row).
    #[inline(always)]
    pub fn grad_per_row<L: ClassIndex>(
        &self,
        logits: &[f32],
        num_classes: usize,
        labels: &[L],
        upstream: &[f32],
        grad: &mut [f32],
    ) -> Result<(), FocalError> {
        self.grad_per_row_erased::<false>(1, logits, num_classes, erase(labels), upstream, grad)
    }

    /// [`grad_per_row`](Self::grad_per_row) with the labels' type as a run-time tag: one copy of the
    /// body for every label type (on a Cortex-M4, 2 KB per label type otherwise).
    #[inline(never)]
    pub(crate) fn grad_per_row_erased<const CF: bool>(
        &self,
        spatial: usize,
        logits: &[f32],
        num_classes: usize,
        labels: Labels<'_>,
        upstream: &[f32],
        grad: &mut [f32],
    ) -> Result<(), FocalError> {
        let outs = Outputs::upstream_grad(upstream.len(), grad.len());
        let Prepared { b, .. } =
            self.prepare::<CF>(spatial, None, logits.len(), num_classes, labels, outs)?;
        let mode = Mode::GradUpstream(grad.as_mut_ptr(), upstream.as_ptr());
        self.run::<CF>(spatial, b, logits.as_ptr(), num_classes, labels, mode);
        Ok(())
    }

    /// The reduced loss and its gradient; each row is read twice.
    #[inline(always)]
    pub fn loss_and_grad<L: ClassIndex>(
        &self,
        logits: &[f32],
        num_classes: usize,
        labels: &[L],
        r: Reduction,
        grad: &mut [f32],
    ) -> Result<f32, FocalError> {
        self.loss_and_grad_erased::<false>(1, logits, num_classes, erase(labels), r, grad)
    }

    /// [`loss_and_grad`](Self::loss_and_grad) with the labels' type as a run-time tag: one copy of the
    /// body for every label type (on a Cortex-M4, 2 KB per label type otherwise).
    #[inline(never)]
    pub(crate) fn loss_and_grad_erased<const CF: bool>(
        &self,
        spatial: usize,
        logits: &[f32],
        num_classes: usize,
        labels: Labels<'_>,
        r: Reduction,
        grad: &mut [f32],
    ) -> Result<f32, FocalError> {
        let outs = Outputs::grad(grad.len());
        let Prepared { b, rows, valid } =
            self.prepare::<CF>(spatial, Some(r), logits.len(), num_classes, labels, outs)?;
        let div = r.divisor(rows, valid);
        let mode = Mode::SumGrad(grad.as_mut_ptr(), grad_factor(1.0, div));
        let sum = self.run::<CF>(spatial, b, logits.as_ptr(), num_classes, labels, mode);
        Ok(reduced(sum, div))
    }

    /// As [`loss_and_grad`](Self::loss_and_grad), writing the gradient over the logits.
    #[inline(always)]
    pub fn loss_and_grad_in_place<L: ClassIndex>(
        &self,
        logits: &mut [f32],
        num_classes: usize,
        labels: &[L],
        r: Reduction,
    ) -> Result<f32, FocalError> {
        self.loss_and_grad_in_place_erased::<false>(1, logits, num_classes, erase(labels), r)
    }

    /// [`loss_and_grad_in_place`](Self::loss_and_grad_in_place) with the labels' type as a run-time tag: one copy of the
    /// body for every label type (on a Cortex-M4, 2 KB per label type otherwise).
    #[inline(never)]
    pub(crate) fn loss_and_grad_in_place_erased<const CF: bool>(
        &self,
        spatial: usize,
        logits: &mut [f32],
        num_classes: usize,
        labels: Labels<'_>,
        r: Reduction,
    ) -> Result<f32, FocalError> {
        let outs = Outputs::NONE;
        let Prepared { b, rows, valid } =
            self.prepare::<CF>(spatial, Some(r), logits.len(), num_classes, labels, outs)?;
        let div = r.divisor(rows, valid);
        // One pointer for both reading and writing.
        let z = logits.as_mut_ptr();
        let mode = Mode::SumGrad(z, grad_factor(1.0, div));
        Ok(reduced(
            self.run::<CF>(spatial, b, z, num_classes, labels, mode),
            div,
        ))
    }
}
