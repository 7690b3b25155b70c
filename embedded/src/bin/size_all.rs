//! Code size of every public method of both kernels: the six `SigmoidFocal` methods (plain
//! and `Targets::checked` targets) and the six `SoftmaxFocal` methods for `u8`, `u16`, `i32`
//! and `i64` labels (the label types of the `check` cases), every parameter behind
//! `black_box`. Not the channels-first layout, label smoothing or the chunk API: those are
//! `size_every`'s. Links only if no panic path survives.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m as _;
use cortex_m_rt::entry;
use focal_loss_embedded::calls::{sigmoid_both_targets, softmax};

focal_loss_embedded::link_time_no_panic!();

#[entry]
fn main() -> ! {
    sigmoid_both_targets();
    softmax(&[1u8, 3]);
    softmax(&[1u16, 3]);
    softmax(&[1i32, 3]);
    softmax(&[1i64, 3]);
    loop {
        black_box(());
    }
}
