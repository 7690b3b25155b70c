//! Code size of every public method of both kernels with `u8` labels: `size_all`'s calls
//! (one label type) and the channels-first layout, label smoothing (either layout) and the
//! chunk API of both kernels. Links only if no panic path survives.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m as _;
use cortex_m_rt::entry;
use focal_loss_embedded::calls::{extras, sigmoid_both_targets, softmax};

focal_loss_embedded::link_time_no_panic!();

#[entry]
fn main() -> ! {
    sigmoid_both_targets();
    softmax(&[1u8, 3]);
    extras();
    loop {
        black_box(());
    }
}
