//! The targets argument of the sigmoid methods: checked on every call, or once for many.

use crate::backend;
use crate::error::FocalError;
use crate::params::{self, ready};

/// The targets of a [`SigmoidFocal`](crate::SigmoidFocal) call: values in `[0, 1]`, one per
/// logit.
///
/// Every sigmoid method takes `impl Into<Targets>`, so a plain `&[f32]` (or `&[f32; N]`,
/// `&Vec<f32>`, any `&T` with `T: AsRef<[f32]>`) can be passed as it is; the method then
/// checks every value before it writes anything, which out of cache is a pass over the
/// targets of its own (the reduced [`loss`](crate::SigmoidFocal::loss), which writes
/// nothing, checks them within its pass).
///
/// [`Targets::checked`] does that check once and remembers it, for targets used by several
/// calls, as the forward and backward calls of a training step are. Methods given a checked
/// `Targets` only check its length. The borrow keeps the values from changing while the
/// `Targets` exists, so the check stays true.
///
/// ```
/// use focal_loss::{Reduction, SigmoidFocal, Targets};
///
/// let logits = [2.0, -1.0, 0.5, -3.0];
/// let targets = Targets::checked(&[1.0, 0.0, 0.0, 1.0]).unwrap();
/// let f = SigmoidFocal::torchvision();
/// let loss = f.loss(&logits, targets, Reduction::Mean).unwrap();
/// let mut grad = [0.0; 4];
/// f.grad(&logits, targets, Reduction::Mean, 1.0, &mut grad).unwrap();
/// assert!(loss > 0.0 && grad[3] < 0.0);
///
/// assert!(Targets::checked(&[0.5, 1.5]).is_err());
/// // Plain slices, arrays and vectors are checked by the call itself.
/// assert!(f.loss(&[0.5, -0.5], &[1.0, 0.0], Reduction::Sum).is_ok());
/// assert!(f.loss(&[0.5, -0.5], &vec![1.0, 7.0], Reduction::Sum).is_err());
/// let mut buffer = vec![0.0f32, 1.0];
/// assert!(f.loss(&[0.5, -0.5], &mut buffer, Reduction::Sum).is_ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Targets<'a> {
    values: &'a [f32],
    checked: bool,
}

impl<'a> Targets<'a> {
    /// Checks that every value is in `[0, 1]` (NaN is not), with the fastest backend this
    /// CPU has. The error is [`FocalError::TargetOutOfRange`] with the first offending index.
    pub fn checked(values: &'a [f32]) -> Result<Self, FocalError> {
        check_unit(ready(None)?, values)?;
        Ok(Targets {
            values,
            checked: true,
        })
    }

    /// Targets whose caller vouches that they are in `[0, 1]` (the C ABI's `targets_checked`
    /// flag, set after `focal_check_targets`): not checked again. A broken promise gives
    /// unspecified numbers, never undefined behaviour: the kernels only read targets as
    /// numbers, never as indices or lengths.
    #[cfg(feature = "capi")]
    pub(crate) const fn vouched(values: &'a [f32]) -> Self {
        Targets {
            values,
            checked: true,
        }
    }

    /// The values.
    pub const fn values(&self) -> &'a [f32] {
        self.values
    }

    /// Whether the values are known to be in `[0, 1]` ([`Targets::checked`]).
    pub const fn is_checked(&self) -> bool {
        self.checked
    }

    /// The values, after checking them with backend `b` unless that was done already.
    pub(crate) fn in_unit(self, b: backend::Ready) -> Result<&'a [f32], FocalError> {
        if !self.checked {
            check_unit(b, self.values)?;
        }
        Ok(self.values)
    }
}

/// `Err` naming the first value of `t` that is NaN or outside `[0, 1]`.
fn check_unit(b: backend::Ready, t: &[f32]) -> Result<(), FocalError> {
    match params::first_outside_unit(b, t) {
        Some((index, value)) => Err(FocalError::TargetOutOfRange { index, value }),
        None => Ok(()),
    }
}

/// Any borrowed slice of `f32` (`&[f32]`, `&[f32; N]`, `&Vec<f32>`, ...), checked by each
/// call that takes it.
impl<'a, T: AsRef<[f32]> + ?Sized> From<&'a T> for Targets<'a> {
    fn from(values: &'a T) -> Self {
        Targets {
            values: values.as_ref(),
            checked: false,
        }
    }
}

/// A mutable borrow, taken as a shared one for the call (as `&mut [f32]` coerces to
/// `&[f32]`), checked by each call that takes it.
impl<'a, T: AsRef<[f32]> + ?Sized> From<&'a mut T> for Targets<'a> {
    fn from(values: &'a mut T) -> Self {
        Self::from(&*values)
    }
}
