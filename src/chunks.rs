//! The chunk API: one call's work cut by the caller into chunks that it runs where it likes
//! (its own threads, a second core of a microcontroller, another time), with the same bits
//! as the single call.
//!
//! On the SIMD backends a long call is computed as fixed blocks whose totals are added
//! exactly (see `split`), so a chunk that starts on a block boundary computes exactly the
//! blocks the single call computes there. Its [`Partial`] is the exact sum of those blocks;
//! joining partials is exact too, so the joined loss is the single call's, bit for bit, in any
//! order and grouping. The scalar backend sums a call in one pass (see [`SigmoidChunks`]).

use crate::channels_first::ChannelsFirst;
use crate::error::FocalError;
use crate::exact::Exact;
use crate::kernel::Mode;
use crate::label::{ClassIndex, Labels, erase};
use crate::params::{Outputs, Reduction, grad_factor, reduced};
use crate::sigmoid::SigmoidFocal;
use crate::softmax::{Prepared, SoftmaxFocal};
use crate::split;
use crate::targets::Targets;

/// The exact sum of the losses of some chunks of one call. Join the partials of all the
/// chunks ([`join`](Self::join) is exact, so in any order), then reduce them with the
/// plan's `finish` ([`SigmoidChunks::finish`], [`SoftmaxChunks::finish`]).
///
/// 52 bytes, `Copy`, no allocation: a partial can be returned from a thread or sent through
/// a queue as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partial(pub(crate) Exact);

impl Partial {
    /// The partial of no chunk.
    pub const EMPTY: Partial = Partial(Exact::ZERO);

    /// Both partials' losses together (exact: the order of joins does not matter).
    #[must_use]
    pub fn join(self, other: Partial) -> Partial {
        Partial(self.0.join(&other.0))
    }
}

const _: () = assert!(core::mem::size_of::<Partial>() == 52);

impl Default for Partial {
    fn default() -> Self {
        Partial::EMPTY
    }
}

/// A sigmoid focal loss call of `len` elements, to be computed in chunks: made by
/// [`SigmoidFocal::chunks`].
///
/// Cut the logits, targets and gradient at the same element indices, each chunk but the last
/// a multiple of [`CHUNK`](Self::CHUNK) elements long, and call the same method on every
/// chunk. Then [`finish`](Self::finish) of the joined partials, and every gradient element,
/// are the bits the single call ([`SigmoidFocal::loss`], [`SigmoidFocal::loss_and_grad`],
/// ...) gives. Chunks cut elsewhere still give the right loss, within the accuracy bound, but
/// not necessarily the same bits. A plan keeps no state, so it cannot check that the chunks
/// cover exactly the `len` elements it was made for: chunks of another total length are
/// divided by the plan's count all the same (for `Mean`).
///
/// The scalar backend (what microcontrollers run) sums each call in one pass instead of in
/// blocks, which keeps the accumulator off a microcontroller's stack: there the gradient is
/// the same bits however the call is cut, and the joined loss is the same bits as one call
/// when the whole input is one chunk, otherwise within the accuracy bound (and still the
/// same bits on every target and for every order of joins).
///
/// ```
/// use focal_loss::{Partial, Reduction, SigmoidChunks, SigmoidFocal};
///
/// let n = 3 * SigmoidChunks::CHUNK + 5;
/// let logits: Vec<f32> = (0..n).map(|i| (i % 7) as f32 - 3.0).collect();
/// let targets: Vec<f32> = (0..n).map(|i| (i % 3 == 0) as u8 as f32).collect();
/// let f = SigmoidFocal::torchvision();
/// let plan = f.chunks(n, Reduction::Mean)?;
///
/// // Two chunks on two threads; each writes its part of the gradient.
/// let mut grad = vec![0.0; n];
/// let cut = 2 * SigmoidChunks::CHUNK;
/// let (g0, g1) = grad.split_at_mut(cut);
/// let (p0, p1) = std::thread::scope(|s| {
///     let a = s.spawn(|| plan.loss_and_grad(&logits[..cut], &targets[..cut], g0));
///     let b = plan.loss_and_grad(&logits[cut..], &targets[cut..], g1);
///     (a.join().unwrap(), b)
/// });
/// let loss = plan.finish(p1?.join(p0?));
///
/// let mut one_call = vec![0.0; n];
/// assert_eq!(loss, f.loss_and_grad(&logits, &targets[..], Reduction::Mean, &mut one_call)?);
/// assert_eq!(grad, one_call);
/// # Ok::<(), focal_loss::FocalError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SigmoidChunks {
    focal: SigmoidFocal,
    div: f32,
}

impl SigmoidFocal {
    /// A plan for computing one call of `len` elements with reduction `r` in chunks (see
    /// [`SigmoidChunks`]). Checks the parameters and the reduction.
    pub fn chunks(&self, len: usize, r: Reduction) -> Result<SigmoidChunks, FocalError> {
        self.params(Some(r))?;
        Ok(SigmoidChunks {
            focal: *self,
            div: r.divisor(len, len),
        })
    }
}

impl SigmoidChunks {
    /// Every chunk but the last is a multiple of this many elements (16384).
    pub const CHUNK: usize = split::BLOCK;

    /// The losses of a chunk (as [`SigmoidFocal::loss`]).
    pub fn loss<'t>(
        &self,
        logits: &[f32],
        targets: impl Into<Targets<'t>>,
    ) -> Result<Partial, FocalError> {
        let targets = targets.into();
        let (b, p) = self.focal.params(None)?;
        let t = SigmoidFocal::inputs(b, logits.len(), targets, Outputs::NONE)?;
        let sum = SigmoidFocal::run_exact(b, &p, logits.as_ptr(), t, Mode::Sum);
        Ok(Partial(sum))
    }

    /// The losses of a chunk and its part of the gradient of the reduced loss (as
    /// [`SigmoidFocal::loss_and_grad`]).
    pub fn loss_and_grad<'t>(
        &self,
        logits: &[f32],
        targets: impl Into<Targets<'t>>,
        grad: &mut [f32],
    ) -> Result<Partial, FocalError> {
        let (b, p) = self.focal.params(None)?;
        let t = SigmoidFocal::inputs(b, logits.len(), targets.into(), Outputs::grad(grad.len()))?;
        let mode = Mode::SumGrad(grad.as_mut_ptr(), grad_factor(1.0, self.div));
        let sum = SigmoidFocal::run_exact(b, &p, logits.as_ptr(), t, mode);
        Ok(Partial(sum))
    }

    /// A chunk's part of the gradient of `upstream · reduced loss` (as [`SigmoidFocal::grad`]).
    pub fn grad<'t>(
        &self,
        logits: &[f32],
        targets: impl Into<Targets<'t>>,
        upstream: f32,
        grad: &mut [f32],
    ) -> Result<(), FocalError> {
        let (b, p) = self.focal.params(None)?;
        let t = SigmoidFocal::inputs(b, logits.len(), targets.into(), Outputs::grad(grad.len()))?;
        let mode = Mode::Grad(grad.as_mut_ptr(), grad_factor(upstream, self.div));
        SigmoidFocal::run_exact(b, &p, logits.as_ptr(), t, mode);
        Ok(())
    }

    /// The reduced loss of the whole call, from the join of all its chunks' partials.
    pub fn finish(&self, all: Partial) -> f32 {
        reduced(all.0.total(), self.div)
    }

    /// The divisor of the reduced loss (the C ABI's plans carry it).
    #[cfg(feature = "capi")]
    pub(crate) fn divisor(&self) -> f32 {
        self.div
    }

    /// This plan with divisor `div` (a C plan's: the plan of an empty call with the same
    /// parameters checks them, and the divisor comes from the call the C plan was made for).
    #[cfg(feature = "capi")]
    pub(crate) fn with_divisor(self, div: f32) -> Self {
        Self { div, ..self }
    }
}

/// A softmax focal loss call, to be computed in chunks of rows: made by
/// [`SoftmaxFocal::chunks`] (row-major) or [`ChannelsFirst::chunks`] (a "row" is then a
/// position, one label, and a chunk is whole images).
///
/// Cut the rows (logits, labels and gradient alike) with every chunk but the last a multiple
/// of [`rows_per_chunk`](Self::rows_per_chunk) rows, and call the same method on every
/// chunk: [`finish`](Self::finish) of the joined partials and every gradient element are the
/// bits of the single call. (Cut elsewhere, the loss is still right within the accuracy
/// bound; on the scalar backend, as for [`SigmoidChunks`].) Channels-first, a chunk of `k`
/// images is the logits `[k, C, S]` and the labels `[k, S]` that follow the previous
/// chunk's; a chunk that is not whole images is refused ([`FocalError::InvalidSpatial`]).
/// The plan's divisor comes from the labels it was made with (the rows, or the rows not
/// ignored for `MeanValid`); it cannot check that the chunks' labels are those.
///
/// ```
/// use focal_loss::{Reduction, SoftmaxFocal};
///
/// // 6 images of 19 classes and 40 × 40 positions, in two chunks of 3 images.
/// let (n, c, s) = (6, 19, 1600);
/// let logits: Vec<f32> = (0..n * c * s).map(|i| (i % 23) as f32 * 0.25 - 2.0).collect();
/// let labels: Vec<u8> = (0..n * s).map(|i| (i % 19) as u8).collect();
/// let cf = SoftmaxFocal::torch().channels_first(s);
/// let plan = cf.chunks(c, &labels, Reduction::MeanValid)?;
/// let cut = 3 * s; // positions: a multiple of rows_per_chunk() (one image here)
/// assert_eq!(cut % plan.rows_per_chunk(), 0);
///
/// let mut grad = vec![0.0; logits.len()];
/// let (g0, g1) = grad.split_at_mut(cut * c);
/// let p0 = plan.loss_and_grad(&logits[..cut * c], &labels[..cut], g0)?;
/// let p1 = plan.loss_and_grad(&logits[cut * c..], &labels[cut..], g1)?;
///
/// let mut one_call = vec![0.0; logits.len()];
/// let loss = cf.loss_and_grad(&logits, c, &labels, Reduction::MeanValid, &mut one_call)?;
/// assert_eq!(plan.finish(p0.join(p1)), loss);
/// assert_eq!(grad, one_call);
/// # Ok::<(), focal_loss::FocalError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SoftmaxChunks<'a> {
    focal: SoftmaxFocal<'a>,
    num_classes: usize,
    /// `Some(S)` channels-first.
    spatial: Option<usize>,
    div: f32,
}

impl<'a> SoftmaxFocal<'a> {
    /// A plan for computing one call over `labels.len()` rows of `num_classes` logits with
    /// reduction `r` in chunks (see [`SoftmaxChunks`]). Checks the parameters and every label
    /// (it counts the rows that are not ignored, which [`Reduction::MeanValid`] divides by).
    /// Rows whose logits no slice could hold (`labels.len() · num_classes` above
    /// `isize::MAX / 4`) give [`FocalError::LengthMismatch`] for `"labels"`, with the most
    /// rows such a slice holds as `expected`.
    pub fn chunks<L: ClassIndex>(
        &self,
        num_classes: usize,
        labels: &[L],
        r: Reduction,
    ) -> Result<SoftmaxChunks<'a>, FocalError> {
        SoftmaxChunks::new(*self, None, num_classes, erase(labels), r)
    }
}

impl<'a> ChannelsFirst<'a> {
    /// A plan for computing one channels-first call over `labels.len()` positions of
    /// `num_classes` classes with reduction `r` in chunks of whole images (see
    /// [`SoftmaxChunks`]). Checks what [`SoftmaxFocal::chunks`] checks, and that the
    /// positions are whole images.
    pub fn chunks<L: ClassIndex>(
        &self,
        num_classes: usize,
        labels: &[L],
        r: Reduction,
    ) -> Result<SoftmaxChunks<'a>, FocalError> {
        let labels = erase(labels);
        SoftmaxChunks::new(self.focal, Some(self.spatial), num_classes, labels, r)
    }
}

impl<'a> SoftmaxChunks<'a> {
    fn new(
        focal: SoftmaxFocal<'a>,
        spatial: Option<usize>,
        num_classes: usize,
        labels: Labels<'_>,
        r: Reduction,
    ) -> Result<Self, FocalError> {
        // A plan has no logits: their length is the labels' times `num_classes`, unless no
        // slice can hold that many. Then the plan is checked as if its logits held the most
        // whole rows a slice can, so that the labels' length is the error (not a made-up
        // number of logits), after the parameters as usual.
        let most = (isize::MAX as usize / size_of::<f32>())
            .checked_div(num_classes)
            .unwrap_or(0);
        let len = labels.len().min(most) * num_classes;
        let Prepared { rows, valid, .. } =
            focal.prepare_either(spatial, Some(r), len, num_classes, labels, Outputs::NONE)?;
        Ok(SoftmaxChunks {
            focal,
            num_classes,
            spatial,
            div: r.divisor(rows, valid),
        })
    }

    /// Every chunk but the last holds a multiple of this many rows (about 32768 logits'
    /// worth, at least one row; channels-first, positions: whole images, at least one).
    pub fn rows_per_chunk(&self) -> usize {
        let (c, s) = (self.num_classes, self.spatial.unwrap_or(1));
        let smoothed = self.focal.smoothing() > 0.0;
        if split::image_blocks(self.spatial.is_some(), smoothed, s) {
            split::positions_per_block(c, s)
        } else {
            split::rows_per_block(c)
        }
    }

    /// The losses of a chunk of rows (as [`SoftmaxFocal::loss`]).
    pub fn loss<L: ClassIndex>(&self, logits: &[f32], labels: &[L]) -> Result<Partial, FocalError> {
        self.run(logits, erase(labels), None, |_| Mode::Sum)
    }

    /// The losses of a chunk of rows and its part of the gradient of the reduced loss (as
    /// [`SoftmaxFocal::loss_and_grad`]).
    pub fn loss_and_grad<L: ClassIndex>(
        &self,
        logits: &[f32],
        labels: &[L],
        grad: &mut [f32],
    ) -> Result<Partial, FocalError> {
        let div = self.div;
        self.run(logits, erase(labels), Some(grad), |g| {
            Mode::SumGrad(g, grad_factor(1.0, div))
        })
    }

    /// A chunk's part of the gradient of `upstream · reduced loss` (as
    /// [`SoftmaxFocal::grad`]).
    pub fn grad<L: ClassIndex>(
        &self,
        logits: &[f32],
        labels: &[L],
        upstream: f32,
        grad: &mut [f32],
    ) -> Result<(), FocalError> {
        let div = self.div;
        self.run(logits, erase(labels), Some(grad), |g| {
            Mode::Grad(g, grad_factor(upstream, div))
        })
        .map(|_| ())
    }

    /// The reduced loss of the whole call, from the join of all its chunks' partials.
    pub fn finish(&self, all: Partial) -> f32 {
        reduced(all.0.total(), self.div)
    }

    /// The divisor of the reduced loss (the C ABI's plans carry it).
    #[cfg(feature = "capi")]
    pub(crate) fn divisor(&self) -> f32 {
        self.div
    }

    /// This plan with divisor `div` (a C plan's: the plan of an empty call with the same
    /// parameters checks them, and the divisor comes from the call the C plan was made for).
    #[cfg(feature = "capi")]
    pub(crate) fn with_divisor(self, div: f32) -> Self {
        Self { div, ..self }
    }

    fn run(
        &self,
        logits: &[f32],
        labels: Labels<'_>,
        grad: Option<&mut [f32]>,
        mode: impl FnOnce(*mut f32) -> Mode,
    ) -> Result<Partial, FocalError> {
        let c = self.num_classes;
        let (out, outs) = match grad {
            Some(g) => (g.as_mut_ptr(), Outputs::grad(g.len())),
            None => (core::ptr::null_mut(), Outputs::NONE),
        };
        let Prepared { b, .. } =
            self.focal
                .prepare_either(self.spatial, None, logits.len(), c, labels, outs)?;
        let sum = self
            .focal
            .run_exact(self.spatial, b, logits.as_ptr(), c, labels, mode(out));
        Ok(Partial(sum))
    }
}
