//! Code size of `compat::torchblocks` (`BinaryFocalLoss::loss_and_grad` and
//! `FocalLoss::loss_and_grad` with `u8` labels), which computes in `f64`: reported apart
//! from the kernels in the soft-float check. Its panic handler is a plain trap; with
//! `--features panic-probe` it gets the `size_*` binaries' handler, and `report.sh` reports
//! whether it then links (it does since the row loops stopped zipping `chunks_exact`).
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m as _;
use cortex_m_rt::entry;
use focal_loss::compat::torchblocks::{BinaryFocalLoss, FocalLoss};

#[cfg(feature = "panic-probe")]
focal_loss_embedded::link_time_no_panic!();

#[cfg(not(feature = "panic-probe"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    cortex_m::asm::udf()
}

static P: [f32; 20] = [0.5; 20];
static L: [u8; 2] = [1, 3];

#[entry]
fn main() -> ! {
    let mut g = [0.0f32; 20];
    let b = black_box(BinaryFocalLoss::default());
    black_box(b.loss_and_grad(black_box(&P[..]), black_box(&P[..]), black_box(&mut g[..]))).ok();
    let f = black_box(FocalLoss::default());
    let r = f.loss_and_grad(
        black_box(&P[..]),
        black_box(10),
        black_box(&L[..]),
        black_box(&mut g[..]),
    );
    black_box(r).ok();
    loop {
        black_box(());
    }
}
