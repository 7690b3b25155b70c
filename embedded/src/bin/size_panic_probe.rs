//! The negative control of the link-time no-panic proof: a binary with a reachable panic
//! (an index behind `black_box`) and the same panic handler as the `size_*` binaries. It must
//! fail to link with an undefined `focal_loss_panic_reachable`; `report.sh` checks that it
//! does. Built only with `--features panic-probe`.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m as _;
use cortex_m_rt::entry;

focal_loss_embedded::link_time_no_panic!();

static X: [f32; 16] = [0.5; 16];

#[entry]
fn main() -> ! {
    black_box(X[black_box(99)]);
    loop {
        black_box(());
    }
}
