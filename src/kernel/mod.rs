//! The kernels: each written once, generic over the lane trait, instantiated per backend by
//! `crate::backend`. Nothing here knows about errors, reductions or the public types; the
//! callers pass validated arguments and the scale of the gradient.

pub(crate) mod channels_first;
pub(crate) mod check;
pub(crate) mod sigmoid;
pub(crate) mod smoothing;
pub(crate) mod softmax;

/// What one call computes and where it writes. An item is an element (sigmoid) or a row
/// (softmax); a gradient has one value per logit.
#[derive(Clone, Copy)]
pub(crate) enum Mode {
    /// The sum of the items' losses only.
    Sum,
    /// `out[item] = L_item`.
    Loss(*mut f32),
    /// `out[logit] = c · dL/dlogit`.
    Grad(*mut f32, f32),
    /// `out[logit] = up[item] · dL_item/dlogit`.
    GradUpstream(*mut f32, *const f32),
    /// The sum of the losses, and `out[logit] = c · dL/dlogit` (fused; `out` may be the
    /// logits themselves).
    SumGrad(*mut f32, f32),
}

impl Mode {
    /// `(out, c, up)`: the output pointer (null for `Sum`), the gradient scale (0 where
    /// unused) and the upstream pointer (null unless `GradUpstream`).
    #[inline(always)]
    pub(crate) fn parts(self) -> (*mut f32, f32, *const f32) {
        let (null, nothing) = (core::ptr::null_mut(), core::ptr::null());
        match self {
            Mode::Sum => (null, 0.0, nothing),
            Mode::Loss(o) => (o, 0.0, nothing),
            Mode::Grad(o, c) | Mode::SumGrad(o, c) => (o, c, nothing),
            Mode::GradUpstream(o, u) => (o, 0.0, u),
        }
    }

    /// The same mode for the part of a call that starts at logit `logit` and item `item`:
    /// each output pointer moved to that part (the upstream by items, the rest by what they
    /// hold). Wrapping arithmetic: the pointers are only dereferenced by a kernel running
    /// the part, whose caller guarantees that the part is in bounds.
    #[inline(always)]
    pub(crate) fn at(self, logit: usize, item: usize) -> Mode {
        match self {
            Mode::Sum => Mode::Sum,
            Mode::Loss(o) => Mode::Loss(o.wrapping_add(item)),
            Mode::Grad(o, c) => Mode::Grad(o.wrapping_add(logit), c),
            Mode::GradUpstream(o, u) => {
                Mode::GradUpstream(o.wrapping_add(logit), u.wrapping_add(item))
            }
            Mode::SumGrad(o, c) => Mode::SumGrad(o.wrapping_add(logit), c),
        }
    }

    /// Whether the losses are summed.
    #[inline(always)]
    pub(crate) fn sums(self) -> bool {
        matches!(self, Mode::Sum | Mode::SumGrad(..))
    }

    /// Whether a gradient is written.
    #[inline(always)]
    pub(crate) fn grads(self) -> bool {
        matches!(
            self,
            Mode::Grad(..) | Mode::GradUpstream(..) | Mode::SumGrad(..)
        )
    }
}
