//! The focal-loss C ABI as a static library (`libfocal_loss_capi.a`) and, on hosted targets,
//! a shared one (`libfocal_loss_capi.so`). The functions are `focal_loss::capi`'s, declared in
//! `include/focal_loss.h`; re-exporting them here makes them this library's exported symbols.
//!
//! `no_std`: the same library builds for `thumbv7em-none-eabihf` firmware. The library never
//! panics, and the release profile aborts on panic, so no unwinding machinery is linked.
#![no_std]

#[cfg(not(target_os = "none"))]
extern crate std;

pub use focal_loss::capi::*;

/// Bare-metal targets have no `std` to provide one. Not reached: the library does not panic.
/// On Arm it executes a permanently undefined instruction, so the firmware's fault handler
/// reports it instead of the program hanging.
#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        #[cfg(target_arch = "arm")]
        // SAFETY: `udf` only raises the UsageFault/HardFault exception; it touches no memory.
        unsafe {
            core::arch::asm!("udf #0", options(nomem, nostack))
        };
    }
}
