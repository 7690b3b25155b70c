//! The one error type: what was wrong, and where.

use core::fmt;

use crate::Backend;

/// Why a call was refused. When a function returns an error it has written nothing to any
/// output buffer.
///
/// Checks run in a fixed order — parameters (alpha, gamma, normaliser, epsilon, backend),
/// then shapes (lengths, `num_classes`), then data (targets, labels, probabilities) — and the
/// first failing check is reported; for data, the first offending index.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum FocalError {
    /// Two slices that must have matching lengths do not.
    LengthMismatch {
        /// Which argument has the wrong length (`"targets"`, `"grad"`, `"upstream"`, ...).
        what: &'static str,
        /// The length it must have.
        expected: usize,
        /// The length it has.
        found: usize,
    },
    /// `num_classes` is 0 or does not divide the number of logits.
    InvalidNumClasses {
        /// The `num_classes` given.
        num_classes: usize,
        /// The number of logits.
        len: usize,
    },
    /// A scalar alpha is NaN or outside `[0, 1]`.
    InvalidAlpha {
        /// The value given.
        value: f32,
    },
    /// Channels-first softmax: the number of positions per image is 0 or does not divide
    /// the number of positions (`logits.len() / num_classes`, which is `N·S`).
    InvalidSpatial {
        /// The positions per image given.
        spatial: usize,
        /// The number of positions.
        positions: usize,
    },
    /// A per-class alpha slice does not have one entry per class.
    ClassAlphaLength {
        /// `num_classes`.
        expected: usize,
        /// The slice's length.
        found: usize,
    },
    /// A per-class alpha entry is NaN or outside `[0, 1]`.
    InvalidClassAlpha {
        /// The class of the first bad entry.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// Gamma is negative, NaN or infinite.
    InvalidGamma {
        /// The value given.
        value: f32,
    },
    /// The divisor of [`Reduction::Normalize`](crate::Reduction::Normalize) is not finite and
    /// positive.
    InvalidNormalizer {
        /// The value given.
        value: f32,
    },
    /// An epsilon (compatibility modules) is negative or not finite.
    InvalidEpsilon {
        /// The value given.
        value: f32,
    },
    /// The softmax label smoothing is NaN or outside `[0, 1]`.
    InvalidLabelSmoothing {
        /// The value given.
        value: f32,
    },
    /// A class label is neither in `0..num_classes` nor the ignore index.
    LabelOutOfRange {
        /// The first offending row.
        index: usize,
        /// Its label, widened.
        label: i128,
        /// `num_classes`.
        num_classes: usize,
    },
    /// A sigmoid target is NaN or outside `[0, 1]`.
    TargetOutOfRange {
        /// The first offending element.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// A probability (compatibility modules) is NaN or outside `[0, 1]`.
    ProbabilityOutOfRange {
        /// The first offending element.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// The backend forced with `.backend(..)` cannot run on this CPU or target.
    BackendUnavailable {
        /// The backend asked for.
        backend: Backend,
    },
}

impl FocalError {
    /// The first offending element, row or class, for errors about data.
    pub fn index(&self) -> Option<usize> {
        match *self {
            FocalError::InvalidClassAlpha { index, .. }
            | FocalError::LabelOutOfRange { index, .. }
            | FocalError::TargetOutOfRange { index, .. }
            | FocalError::ProbabilityOutOfRange { index, .. } => Some(index),
            _ => None,
        }
    }
}

impl fmt::Display for FocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FocalError::LengthMismatch {
                what,
                expected,
                found,
            } => write!(f, "{what} has length {found}, expected {expected}"),
            FocalError::InvalidNumClasses { num_classes, len } => write!(
                f,
                "num_classes {num_classes} must be positive and divide the {len} logits"
            ),
            FocalError::InvalidSpatial { spatial, positions } => write!(
                f,
                "{spatial} positions per image must be positive and divide the {positions} positions"
            ),
            FocalError::InvalidAlpha { value } => {
                write!(f, "alpha {value} is not in [0, 1]")
            }
            FocalError::ClassAlphaLength { expected, found } => write!(
                f,
                "per-class alpha has {found} entries, expected one per class ({expected})"
            ),
            FocalError::InvalidClassAlpha { index, value } => {
                write!(f, "alpha of class {index} is {value}, not in [0, 1]")
            }
            FocalError::InvalidGamma { value } => {
                write!(f, "gamma {value} is not finite and >= 0")
            }
            FocalError::InvalidNormalizer { value } => {
                write!(f, "normalizer {value} is not finite and > 0")
            }
            FocalError::InvalidEpsilon { value } => {
                write!(f, "epsilon {value} is not finite and >= 0")
            }
            FocalError::InvalidLabelSmoothing { value } => {
                write!(f, "label smoothing {value} is not in [0, 1]")
            }
            FocalError::LabelOutOfRange {
                index,
                label,
                num_classes,
            } => write!(
                f,
                "label {label} at row {index} is outside 0..{num_classes} and is not the ignore index"
            ),
            FocalError::TargetOutOfRange { index, value } => {
                write!(f, "target {value} at index {index} is not in [0, 1]")
            }
            FocalError::ProbabilityOutOfRange { index, value } => {
                write!(f, "probability {value} at index {index} is not in [0, 1]")
            }
            FocalError::BackendUnavailable { backend } => write!(
                f,
                "backend {} is not available on this CPU or target",
                backend.name()
            ),
        }
    }
}

impl core::error::Error for FocalError {}
