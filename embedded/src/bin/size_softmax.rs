//! Code size of `SoftmaxFocal::loss_and_grad` alone, `u8` labels: γ, α, ignore index,
//! reduction, C and the slices all hidden behind `black_box`. Links only if no panic path
//! survives.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m as _;
use cortex_m_rt::entry;
use focal_loss::{Alpha, Reduction, SoftmaxFocal};

focal_loss_embedded::link_time_no_panic!();

static Z: [f32; 20] = [0.5; 20];
static L: [u8; 2] = [1, 3];

#[entry]
fn main() -> ! {
    let mut g = [0.0f32; 20];
    let f = SoftmaxFocal::new()
        .alpha(black_box(Alpha::None))
        .gamma(black_box(2.0))
        .ignore_index(black_box(None));
    let r = f.loss_and_grad(
        black_box(&Z[..]),
        black_box(10),
        black_box(&L[..]),
        black_box(Reduction::Mean),
        black_box(&mut g[..]),
    );
    black_box(r).ok();
    loop {
        black_box(());
    }
}
