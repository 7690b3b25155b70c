//! The kernels: each written once, generic over the lane trait, instantiated per backend by
//! `crate::backend`. Nothing here knows about errors, reductions or the public types; the
//! callers pass validated arguments and the scale of the gradient.

pub(crate) mod check;
pub(crate) mod sigmoid;
pub(crate) mod softmax;
