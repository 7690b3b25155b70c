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
use focal_loss::Targets;
use focal_loss_embedded::calls::{sigmoid, softmax};

focal_loss_embedded::link_time_no_panic!();

#[entry]
fn main() -> ! {
    static T: [f32; 20] = [1.0; 20];
    sigmoid(Targets::from(black_box(&T[..])));
    if let Ok(t) = Targets::checked(black_box(&T[..])) {
        sigmoid(t);
    }
    softmax(&[1u8, 3]);
    softmax(&[1u16, 3]);
    softmax(&[1i32, 3]);
    softmax(&[1i64, 3]);
    loop {
        black_box(());
    }
}
