//! Code-size baseline: the same runtime, black-boxed inputs and endless loop as the other
//! `size_*` binaries, calling nothing of focal-loss. `.text` added by an entry point is a
//! binary's `.text` minus this one's.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m as _;
use cortex_m_rt::entry;

focal_loss_embedded::link_time_no_panic!();

static X: [f32; 16] = [0.5; 16];

#[entry]
fn main() -> ! {
    let mut g = [0.0f32; 16];
    black_box((black_box(&X[..]), black_box(&mut g[..]), black_box(2.0f32)));
    loop {
        black_box(());
    }
}
