//! Cortex-M harness for focal-loss, run under QEMU (see `report.sh`).
//!
//! * `check`: every generated case on the target, compared bit for bit with the host's
//!   `Backend::Scalar` ([`case`], [`exec`], [`data`]).
//! * `count`: guest instructions per element from SysTick under `-icount shift=0`
//!   ([`icount`]), for the crate and for the naive libm loops of [`naive`].
//! * `stack`: stack high-water of every public method, by painting ([`paint`]).
//! * `size_*`: one entry point each (`size_all`, `size_every`: every method, [`calls`]),
//!   linked with a panic handler that cannot link.
#![no_std]

pub mod batch;
pub mod calls;
pub mod case;
pub mod data;
pub mod exec;
pub mod icount;
pub mod naive;
pub mod paint;
pub mod prng;

/// Ends the QEMU run through semihosting, with exit status 0 if `ok`, else 1.
pub fn exit(ok: bool) -> ! {
    use cortex_m_semihosting::debug;
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Only reached without semihosting; the runner's `timeout` ends the run.
    loop {
        cortex_m::asm::wfi();
    }
}

/// Defines the `#[panic_handler]` of a measuring binary: prints the panic through
/// semihosting and exits QEMU with status 1.
#[macro_export]
macro_rules! semihosting_panic {
    () => {
        #[panic_handler]
        fn panic(info: &core::panic::PanicInfo) -> ! {
            cortex_m_semihosting::hprintln!("panic: {}", info);
            $crate::exit(false)
        }
    };
}

/// Defines a `#[panic_handler]` that calls a symbol defined nowhere. With fat LTO an
/// unreachable handler is dropped before linking; if any panic path survives, the link fails
/// with an undefined `focal_loss_panic_reachable`: the link-time proof that the binary has no
/// panic machinery.
#[macro_export]
macro_rules! link_time_no_panic {
    () => {
        #[panic_handler]
        fn panic(_: &core::panic::PanicInfo) -> ! {
            unsafe extern "C" {
                fn focal_loss_panic_reachable() -> !;
            }
            // SAFETY: never runs: the symbol is undefined, so a binary in which this handler
            // is reachable does not link.
            unsafe { focal_loss_panic_reachable() }
        }
    };
}
