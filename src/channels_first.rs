//! The softmax focal loss over channels-first logits: [`ChannelsFirst`].

use crate::error::FocalError;
use crate::label::{ClassIndex, erase};
use crate::params::Reduction;
use crate::softmax::SoftmaxFocal;

/// [`SoftmaxFocal`] over channels-first logits `[N, C, S]`, the layout of dense heads in
/// PyTorch, candle and burn (`S = H·W` positions per image; class `j` of position `s` of
/// image `n` at `n·C·S + j·S + s`), with labels `[N, S]` (one per position, in the order
/// `n·S + s`). Made by [`SoftmaxFocal::channels_first`]; every parameter, reduction and
/// check is the softmax's, a position plays the part of a row, and gradients have the
/// logits' layout. The kernels vectorise across neighbouring positions, which are
/// contiguous: no transpose.
///
/// `S = 1` is the row-major layout `[N × C]`. The scalar backend's results equal, bit for
/// bit, those of the row-major methods on the transposed logits; the SIMD backends' are within
/// the same documented bound.
///
/// ```
/// use focal_loss::{Reduction, SoftmaxFocal};
///
/// // One image, 2 classes, 3 positions: class 0 then class 1 for every position.
/// let logits = [2.0, 0.0, -1.0, 0.0, 1.0, 3.0];
/// let labels = [0u8, 1, 1];
/// let mut grad = [0.0; 6];
/// let cf = SoftmaxFocal::new().channels_first(3);
/// let loss = cf.loss_and_grad(&logits, 2, &labels, Reduction::Mean, &mut grad)?;
///
/// // The same as the row-major call on the transposed logits.
/// let rows = [2.0, 0.0, 0.0, 1.0, -1.0, 3.0];
/// let row_major = SoftmaxFocal::new().loss(&rows, 2, &labels, Reduction::Mean)?;
/// assert!((loss - row_major).abs() <= 1e-6 * row_major);
/// # Ok::<(), focal_loss::FocalError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChannelsFirst<'a> {
    pub(crate) focal: SoftmaxFocal<'a>,
    pub(crate) spatial: usize,
}

impl<'a> SoftmaxFocal<'a> {
    /// The same loss over channels-first logits `[N, C, S]` with `spatial = S` positions per
    /// image (see [`ChannelsFirst`]). `spatial` must be positive and divide the number of
    /// positions, else the methods return [`FocalError::InvalidSpatial`].
    pub const fn channels_first(self, spatial: usize) -> ChannelsFirst<'a> {
        ChannelsFirst {
            focal: self,
            spatial,
        }
    }
}

impl ChannelsFirst<'_> {
    /// The positions per image, `S`.
    pub const fn spatial(&self) -> usize {
        self.spatial
    }

    /// The reduced loss (over positions; [`Reduction::Mean`] divides by `N·S`).
    #[inline(always)]
    pub fn loss<L: ClassIndex>(
        &self,
        logits: &[f32],
        num_classes: usize,
        labels: &[L],
        r: Reduction,
    ) -> Result<f32, FocalError> {
        self.focal
            .loss_erased::<true>(self.spatial, logits, num_classes, erase(labels), r)
    }

    /// Each position's loss, written to `out` (`N·S` values in the labels' order; 0 for
    /// ignored positions).
    #[inline(always)]
    pub fn loss_per_position<L: ClassIndex>(
        &self,
        logits: &[f32],
        num_classes: usize,
        labels: &[L],
        out: &mut [f32],
    ) -> Result<(), FocalError> {
        let labels = erase(labels);
        self.focal
            .loss_per_row_erased::<true>(self.spatial, logits, num_classes, labels, out)
    }

    /// The gradient of `upstream · reduced loss` with respect to the logits (their layout).
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
        let labels = erase(labels);
        self.focal
            .grad_erased::<true>(self.spatial, logits, num_classes, labels, r, upstream, grad)
    }

    /// `grad = Σ_positions upstream[position] · dL_position/dlogits`: the backward pass of
    /// [`loss_per_position`](Self::loss_per_position).
    #[inline(always)]
    pub fn grad_per_position<L: ClassIndex>(
        &self,
        logits: &[f32],
        num_classes: usize,
        labels: &[L],
        upstream: &[f32],
        grad: &mut [f32],
    ) -> Result<(), FocalError> {
        let labels = erase(labels);
        self.focal.grad_per_row_erased::<true>(
            self.spatial,
            logits,
            num_classes,
            labels,
            upstream,
            grad,
        )
    }

    /// The reduced loss and its gradient (fused).
    #[inline(always)]
    pub fn loss_and_grad<L: ClassIndex>(
        &self,
        logits: &[f32],
        num_classes: usize,
        labels: &[L],
        r: Reduction,
        grad: &mut [f32],
    ) -> Result<f32, FocalError> {
        let labels = erase(labels);
        self.focal
            .loss_and_grad_erased::<true>(self.spatial, logits, num_classes, labels, r, grad)
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
        let labels = erase(labels);
        self.focal.loss_and_grad_in_place_erased::<true>(
            self.spatial,
            logits,
            num_classes,
            labels,
            r,
        )
    }
}
