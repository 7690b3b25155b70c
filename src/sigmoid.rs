//! The sigmoid focal loss API.

use crate::backend::{self, Backend, Ready};
use crate::error::FocalError;
use crate::exact::Exact;
use crate::kernel::Mode;
use crate::kernel::sigmoid::{Job, Params, gamma_code};
use crate::params::{Outputs, Reduction, SigmoidForm, check_alpha, check_gamma, check_len, ready};
use crate::targets::Targets;
use crate::total::Total;

/// `r`'s divisor for a call of `n` elements, `None` when there are none (the reduced loss
/// is then 0 and nothing is written). It is never 0 for `n > 0` (the count, 1, or a checked
/// `Normalize(d)`, `d > 0`), so the calls divide without the test for 0 of
/// `params::reduced` and `params::grad_factor`, which the softmax's `MeanValid` needs (7
/// instructions of a call on a Cortex-M4F).
#[inline(always)]
fn divisor(r: Reduction, n: usize) -> Option<f32> {
    if n == 0 { None } else { Some(r.divisor(n, n)) }
}

/// The largest `γ` the sigmoid kernels compute with (`SigmoidFocal::gamma` caps it). Above
/// 1e30, u^γ is 0 for every u < 1 that f32 holds, as it is at 1e30, but 2γ and γ·(2w - 1)
/// overflow in the gradient, and 0·inf gave NaN (api fuzz finding, γ = f32::MAX): the same
/// results, no overflow. (A comparison, not `f32::min`, which is a call to libm's `fminf`
/// on a Cortex-M4F.)
const GAMMA_CAP: f32 = 1e30;

/// Sigmoid focal loss over flat slices of logits and targets in `[0, 1]` (binary and
/// multi-label classification, dense detection).
///
/// A `Copy` builder: set the parameters, then call any of the methods. Parameters are checked
/// when a method runs, before anything is written. The targets are a `&[f32]` (or anything
/// else that converts into [`Targets`]), checked on every call, or a [`Targets::checked`],
/// checked once for all the calls that use it.
///
/// ```
/// use focal_loss::{Reduction, SigmoidFocal};
///
/// let logits = [2.0, -1.0, 0.5, -3.0];
/// let targets = [1.0, 0.0, 0.0, 1.0];
/// let mut grad = [0.0; 4];
/// let loss = SigmoidFocal::torchvision()
///     .loss_and_grad(&logits, &targets, Reduction::Mean, &mut grad)
///     .unwrap();
/// assert!(loss > 0.0 && grad[3] < 0.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SigmoidFocal {
    alpha: Option<f32>,
    gamma: f32,
    /// `gamma_code(gamma)`: decoded once, when `γ` is set, not in every call.
    gamma_code: u32,
    form: SigmoidForm,
    backend: Option<Backend>,
}

impl Default for SigmoidFocal {
    fn default() -> Self {
        Self::new()
    }
}

impl SigmoidFocal {
    /// torchvision's `sigmoid_focal_loss` defaults: `alpha = 0.25`, `gamma = 2`,
    /// [`SigmoidForm::ModulatedBce`], backend chosen at run time.
    pub const fn new() -> Self {
        SigmoidFocal {
            alpha: Some(0.25),
            gamma: 2.0,
            gamma_code: gamma_code(2.0),
            form: SigmoidForm::ModulatedBce,
            backend: None,
        }
    }

    /// `torchvision.ops.sigmoid_focal_loss` (alpha 0.25, gamma 2, modulated BCE). Its
    /// `reduction="mean"` is [`Reduction::Mean`], `"sum"` is [`Reduction::Sum`].
    pub const fn torchvision() -> Self {
        Self::new()
    }

    /// fvcore's `sigmoid_focal_loss` with its defaults: `alpha=-1` (no class balancing),
    /// gamma 2, modulated BCE. Its default `reduction="none"` is the `_elementwise` methods.
    /// detectron2's RetinaNet passes `alpha=0.25` and `reduction="sum"`, then divides by the
    /// number of foreground anchors: `.alpha(Some(0.25))` (= [`SigmoidFocal::torchvision`])
    /// with [`Reduction::Normalize`].
    pub const fn fvcore() -> Self {
        Self::new().alpha(None)
    }

    /// optax `sigmoid_focal_loss` (alpha None, gamma 2, modulated BCE). optax returns
    /// per-element losses: use the `_elementwise` methods, or [`Reduction::Mean`] for
    /// `jnp.mean` of them.
    pub const fn optax() -> Self {
        Self::new().alpha(None)
    }

    /// Keras `BinaryFocalCrossentropy(from_logits=True)` defaults (gamma 2, no class
    /// balancing, modulated BCE); `apply_class_balancing=True, alpha=a` is `.alpha(Some(a))`.
    /// Keras' default `"sum_over_batch_size"` is [`Reduction::Mean`].
    pub const fn keras() -> Self {
        Self::new().alpha(None)
    }

    /// mmcv's `sigmoid_focal_loss` CUDA/CPU op (alpha 0.25, gamma 2, per-term form). mmcv
    /// takes class labels and one-hot encodes them over the C channels; its `"mean"` divides
    /// the sum by the number of rows: [`Reduction::Normalize`]`(rows)`.
    pub const fn mmcv() -> Self {
        Self::new().form(SigmoidForm::PerTerm)
    }

    /// kornia `binary_focal_loss_with_logits` (alpha 0.25, gamma 2, per-term form); its
    /// `"mean"` is [`Reduction::Mean`].
    pub const fn kornia() -> Self {
        Self::new().form(SigmoidForm::PerTerm)
    }

    /// Class balancing: `Some(α)` weighs positives by `α` and negatives by `1 - α`; `None`
    /// weighs both by 1. Must be in `[0, 1]`.
    pub const fn alpha(mut self, alpha: Option<f32>) -> Self {
        self.alpha = alpha;
        self
    }

    /// The focusing exponent, finite and `>= 0`. 0, 1, 2, 3 and 4 are computed by
    /// multiplication, 0.5 to 4.5 in steps of one as `u^k·√u` (a correctly rounded square
    /// root), other values through `exp(γ·ln u)`. Values above `1e30` compute as `1e30`,
    /// which gives the same `f32` results without overflow in the gradient. The accuracy
    /// bound (docs/accuracy.md) is enforced for `γ <= 5`; far above (`γ` near `2^24` and
    /// beyond), `b^γ` multiplies the rounding of a base `b` near 1 until the result is
    /// meaningless.
    pub const fn gamma(mut self, gamma: f32) -> Self {
        // Capped here, once, not in every call (5 instructions of a call on a Cortex-M4F).
        // Infinite and NaN values are kept for the calls' check to report.
        self.gamma = if gamma > GAMMA_CAP && gamma < f32::INFINITY {
            GAMMA_CAP
        } else {
            gamma
        };
        self.gamma_code = gamma_code(gamma);
        self
    }

    /// Which definition to compute for soft targets.
    pub const fn form(mut self, form: SigmoidForm) -> Self {
        self.form = form;
        self
    }

    /// Forces a backend (for tests and benchmarks). Calls return
    /// [`FocalError::BackendUnavailable`] if this CPU lacks it.
    pub const fn backend(mut self, backend: Backend) -> Self {
        self.backend = Some(backend);
        self
    }

    /// Parameter checks, then the backend. Inlined: returned through memory, its `Result`
    /// went through two byte-wise `memcpy`s per call on a Cortex-M4 (277 instructions of a
    /// 744-instruction call with N = 1).
    #[inline(always)]
    pub(crate) fn params(&self, r: Option<Reduction>) -> Result<(Ready, Params), FocalError> {
        if let Some(a) = self.alpha {
            check_alpha(a)?;
        }
        check_gamma(self.gamma)?;
        if let Some(r) = r {
            r.check()?;
        }
        let b = ready(self.backend)?;
        Ok((
            b,
            Params {
                per_term: self.form == SigmoidForm::PerTerm,
                alpha: self.alpha,
                // At most GAMMA_CAP (`.gamma()` capped it; `check_gamma` passed).
                gamma: self.gamma,
                code: self.gamma_code,
            },
        ))
    }

    /// Shape checks (targets, then each output or upstream slice), then the targets' values
    /// unless they were checked already; returns the targets.
    #[inline(always)]
    pub(crate) fn inputs<'t>(
        b: Ready,
        logits: usize,
        targets: Targets<'t>,
        outs: Outputs,
    ) -> Result<&'t [f32], FocalError> {
        check_len("targets", logits, targets.values().len())?;
        outs.check(logits, logits)?;
        targets.in_unit(b)
    }

    /// Runs the kernel: the scalar backend in one pass, inlined; a SIMD backend over fixed
    /// blocks of [`split::BLOCK`](crate::split::BLOCK) elements summed exactly (perhaps on
    /// several threads; see `split`).
    #[inline(always)]
    fn run(b: Ready, p: &Params, x: *const f32, t: &[f32], mode: Mode) -> Total {
        let job = Self::job(x, t, mode);
        // SAFETY: every caller checked that the logits, the targets and each output (and
        // upstream) slice have t.len() elements; `x` and the output are the same pointer only
        // for the in-place method, which the kernel allows.
        unsafe { backend::run_sigmoid(b, &job, p) }
    }

    /// As [`run`](Self::run), the exact sum (for the chunk API).
    #[inline(always)]
    pub(crate) fn run_exact(b: Ready, p: &Params, x: *const f32, t: &[f32], mode: Mode) -> Exact {
        let job = Self::job(x, t, mode);
        // SAFETY: as for `run`.
        unsafe { backend::run_sigmoid_exact(b, &job, p) }
    }

    #[inline(always)]
    fn job(x: *const f32, t: &[f32], mode: Mode) -> Job {
        Job {
            x,
            t: t.as_ptr(),
            n: t.len(),
            mode,
        }
    }

    /// The reduced loss.
    #[inline(always)]
    pub fn loss<'t>(
        &self,
        logits: &[f32],
        targets: impl Into<Targets<'t>>,
        r: Reduction,
    ) -> Result<f32, FocalError> {
        self.loss_targets(logits, targets.into(), r)
    }

    /// [`loss`](Self::loss) once for every type of targets (on a Cortex-M4 the
    /// methods' bodies were otherwise copied per type and per caller).
    #[inline(never)]
    fn loss_targets<'t>(
        &self,
        logits: &[f32],
        targets: Targets<'t>,
        r: Reduction,
    ) -> Result<f32, FocalError> {
        let (b, p) = self.params(Some(r))?;
        check_len("targets", logits.len(), targets.values().len())?;
        // Nothing is written, so the targets need no pass of their own: the kernel checks
        // them as it reads them and returns NaN if one is bad. A NaN sum (also the true
        // value when a logit is NaN) sends the targets through the ordered check, for the
        // error and its index.
        let Some(div) = divisor(r, logits.len()) else {
            return Ok(0.0);
        };
        let sum = Self::run(b, &p, logits.as_ptr(), targets.values(), Mode::Sum);
        if sum.is_nan() {
            targets.in_unit(b)?;
        }
        Ok(sum.value() / div)
    }

    /// Each element's loss, written to `out`.
    #[inline(always)]
    pub fn loss_elementwise<'t>(
        &self,
        logits: &[f32],
        targets: impl Into<Targets<'t>>,
        out: &mut [f32],
    ) -> Result<(), FocalError> {
        self.loss_elementwise_targets(logits, targets.into(), out)
    }

    /// [`loss_elementwise`](Self::loss_elementwise) once for every type of targets (on a Cortex-M4 the
    /// methods' bodies were otherwise copied per type and per caller).
    #[inline(never)]
    fn loss_elementwise_targets<'t>(
        &self,
        logits: &[f32],
        targets: Targets<'t>,
        out: &mut [f32],
    ) -> Result<(), FocalError> {
        let (b, p) = self.params(None)?;
        let targets = Self::inputs(b, logits.len(), targets, Outputs::per_row(out.len()))?;
        Self::run(
            b,
            &p,
            logits.as_ptr(),
            targets,
            Mode::Loss(out.as_mut_ptr()),
        );
        Ok(())
    }

    /// The gradient of `upstream · reduced loss` with respect to the logits.
    #[inline(always)]
    pub fn grad<'t>(
        &self,
        logits: &[f32],
        targets: impl Into<Targets<'t>>,
        r: Reduction,
        upstream: f32,
        grad: &mut [f32],
    ) -> Result<(), FocalError> {
        self.grad_targets(logits, targets.into(), r, upstream, grad)
    }

    /// [`grad`](Self::grad) once for every type of targets (on a Cortex-M4 the
    /// methods' bodies were otherwise copied per type and per caller).
    #[inline(never)]
    fn grad_targets<'t>(
        &self,
        logits: &[f32],
        targets: Targets<'t>,
        r: Reduction,
        upstream: f32,
        grad: &mut [f32],
    ) -> Result<(), FocalError> {
        let (b, p) = self.params(Some(r))?;
        let targets = Self::inputs(b, logits.len(), targets, Outputs::grad(grad.len()))?;
        let Some(div) = divisor(r, logits.len()) else {
            return Ok(());
        };
        let c = upstream / div;
        Self::run(
            b,
            &p,
            logits.as_ptr(),
            targets,
            Mode::Grad(grad.as_mut_ptr(), c),
        );
        Ok(())
    }

    /// `grad[i] = upstream[i] · dL_i/dx_i`: the backward pass of
    /// [`loss_elementwise`](Self::loss_elementwise).
    #[inline(always)]
    pub fn grad_elementwise<'t>(
        &self,
        logits: &[f32],
        targets: impl Into<Targets<'t>>,
        upstream: &[f32],
        grad: &mut [f32],
    ) -> Result<(), FocalError> {
        self.grad_elementwise_targets(logits, targets.into(), upstream, grad)
    }

    /// [`grad_elementwise`](Self::grad_elementwise) once for every type of targets (on a Cortex-M4 the
    /// methods' bodies were otherwise copied per type and per caller).
    #[inline(never)]
    fn grad_elementwise_targets<'t>(
        &self,
        logits: &[f32],
        targets: Targets<'t>,
        upstream: &[f32],
        grad: &mut [f32],
    ) -> Result<(), FocalError> {
        let (b, p) = self.params(None)?;
        let outs = Outputs::upstream_grad(upstream.len(), grad.len());
        let targets = Self::inputs(b, logits.len(), targets, outs)?;
        let mode = Mode::GradUpstream(grad.as_mut_ptr(), upstream.as_ptr());
        Self::run(b, &p, logits.as_ptr(), targets, mode);
        Ok(())
    }

    /// The reduced loss and its gradient, in one pass.
    #[inline(always)]
    pub fn loss_and_grad<'t>(
        &self,
        logits: &[f32],
        targets: impl Into<Targets<'t>>,
        r: Reduction,
        grad: &mut [f32],
    ) -> Result<f32, FocalError> {
        self.loss_and_grad_targets(logits, targets.into(), r, grad)
    }

    /// [`loss_and_grad`](Self::loss_and_grad) once for every type of targets (on a Cortex-M4 the
    /// methods' bodies were otherwise copied per type and per caller).
    #[inline(never)]
    fn loss_and_grad_targets<'t>(
        &self,
        logits: &[f32],
        targets: Targets<'t>,
        r: Reduction,
        grad: &mut [f32],
    ) -> Result<f32, FocalError> {
        let (b, p) = self.params(Some(r))?;
        let targets = Self::inputs(b, logits.len(), targets, Outputs::grad(grad.len()))?;
        let Some(div) = divisor(r, logits.len()) else {
            return Ok(0.0);
        };
        let mode = Mode::SumGrad(grad.as_mut_ptr(), 1.0 / div);
        let sum = Self::run(b, &p, logits.as_ptr(), targets, mode);
        Ok(sum.value() / div)
    }

    /// As [`loss_and_grad`](Self::loss_and_grad), writing the gradient over the logits.
    #[inline(always)]
    pub fn loss_and_grad_in_place<'t>(
        &self,
        logits: &mut [f32],
        targets: impl Into<Targets<'t>>,
        r: Reduction,
    ) -> Result<f32, FocalError> {
        self.loss_and_grad_in_place_targets(logits, targets.into(), r)
    }

    /// [`loss_and_grad_in_place`](Self::loss_and_grad_in_place) once for every type of targets (on a Cortex-M4 the
    /// methods' bodies were otherwise copied per type and per caller).
    #[inline(never)]
    fn loss_and_grad_in_place_targets<'t>(
        &self,
        logits: &mut [f32],
        targets: Targets<'t>,
        r: Reduction,
    ) -> Result<f32, FocalError> {
        let (b, p) = self.params(Some(r))?;
        let targets = Self::inputs(b, logits.len(), targets, Outputs::NONE)?;
        let Some(div) = divisor(r, logits.len()) else {
            return Ok(0.0);
        };
        // One pointer for both reading and writing.
        let x = logits.as_mut_ptr();
        let sum = Self::run(b, &p, x, targets, Mode::SumGrad(x, 1.0 / div));
        Ok(sum.value() / div)
    }
}
