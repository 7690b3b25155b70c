//! Code size of `SigmoidFocal::loss_and_grad` alone: γ, α, form, reduction and the slices
//! all hidden behind `black_box`, so every γ path and both forms are linked. Links only if no
//! panic path survives.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m as _;
use cortex_m_rt::entry;
use focal_loss::{Reduction, SigmoidFocal, SigmoidForm};

focal_loss_embedded::link_time_no_panic!();

static X: [f32; 16] = [0.5; 16];
static T: [f32; 16] = [1.0; 16];

#[entry]
fn main() -> ! {
    let mut g = [0.0f32; 16];
    let f = SigmoidFocal::new()
        .alpha(black_box(Some(0.25)))
        .gamma(black_box(2.0))
        .form(black_box(SigmoidForm::ModulatedBce));
    let r = f.loss_and_grad(
        black_box(&X[..]),
        black_box(&T[..]),
        black_box(Reduction::Mean),
        black_box(&mut g[..]),
    );
    black_box(r).ok();
    loop {
        black_box(());
    }
}
