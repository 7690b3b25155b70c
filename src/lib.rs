#![doc = include_str!("../README.md")]
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
// Targets without a SIMD backend (Cortex-M, RISC-V: no `focal_portable`) run only the scalar
// loops; the SIMD drivers they do not instantiate are dead code there, by design.
#![cfg_attr(not(focal_portable), allow(dead_code, unused_macros))]

#[cfg(any(test, feature = "std"))]
extern crate std;

mod backend;
#[cfg(feature = "capi")]
pub mod capi;
mod channels_first;
mod chunks;
pub mod compat;
mod error;
mod exact;
mod kernel;
mod label;
mod math;
mod params;
mod sigmoid;
mod simd;
mod softmax;
mod split;
mod targets;
mod total;

pub use backend::Backend;
pub use channels_first::ChannelsFirst;
pub use chunks::{Partial, SigmoidChunks, SoftmaxChunks};
pub use error::FocalError;
pub use label::ClassIndex;
pub use params::{Alpha, Reduction, SigmoidForm};
pub use sigmoid::SigmoidFocal;
pub use softmax::SoftmaxFocal;
pub use targets::Targets;
