//! Guest instruction counts from the SysTick timer.
//!
//! Under `qemu-system-arm -icount shift=0` every guest instruction advances virtual time by
//! 1 ns, and on `mps2-an386` the SysTick (clock source: core) counts the 25 MHz core clock,
//! so one tick is [`INSTRUCTIONS_PER_TICK`] = 40 instructions. The counter is 24 bits wide and
//! counts down from `0xFF_FFFF`; a measured interval must stay below 2^24 ticks (671 M
//! instructions). A figure is a multiple of 40, so a measured call should run far more than
//! 40 instructions (repeat short calls). [`validate`] checks all of this on an `asm!` loop
//! of known length before any figure is trusted. QEMU does not model cycles: instructions
//! are a proxy for time.

use core::arch::asm;

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;

/// Guest instructions per SysTick tick: 1 GHz of `-icount shift=0` over the 25 MHz clock.
pub const INSTRUCTIONS_PER_TICK: u32 = 40;

/// Address of the SysTick current value register (SYST_CVR).
const SYST_CVR: usize = 0xE000_E018;

/// A running SysTick: core clock, full 24-bit reload, no interrupt.
pub struct Counter {
    _syst: SYST,
}

impl Counter {
    /// Starts the SysTick counting the core clock from `0xFF_FFFF` down, without interrupts.
    pub fn start(mut syst: SYST) -> Self {
        syst.disable_counter();
        syst.disable_interrupt();
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(0xFF_FFFF);
        syst.clear_current();
        syst.enable_counter();
        Counter { _syst: syst }
    }

    /// The current value: a read in `asm!` without `nomem`, so the compiler moves no memory
    /// access (and so none of a measured call's work, which reads and writes memory) across it.
    #[inline(always)]
    fn now(&self) -> u32 {
        let v: u32;
        // SAFETY: SYST_CVR is the SysTick current value register, a readable 32-bit
        // register on every Cortex-M; reading it has no side effect besides clearing
        // COUNTFLAG, which nothing here uses. `self` owns the SYST peripheral.
        unsafe { asm!("ldr {v}, [{a}]", v = out(reg) v, a = in(reg) SYST_CVR, options(nostack)) };
        v
    }

    /// Runs `f` and returns the guest instructions it took (a multiple of 40) and its result.
    #[inline(always)]
    pub fn instructions<R>(&self, f: impl FnOnce() -> R) -> (u32, R) {
        let before = self.now();
        let r = f();
        let after = self.now();
        let ticks = before.wrapping_sub(after) & 0xFF_FFFF;
        (ticks * INSTRUCTIONS_PER_TICK, r)
    }
}

/// Runs exactly `2 · iterations` instructions in its loop (`subs` and `bne` per iteration),
/// plus the call and return around it. `iterations` must be at least 1.
#[inline(never)]
pub fn known_loop(iterations: u32) {
    // SAFETY: a register-only countdown loop: it reads and writes one scratch register and
    // the flags, touches no memory and no stack, and ends once the register reaches 0.
    unsafe {
        asm!(
            "2:",
            "subs {n}, {n}, #1",
            "bne 2b",
            n = inout(reg) iterations => _,
            options(nomem, nostack),
        )
    };
}

/// The measured instructions of [`known_loop`] for `iterations`, against the `2 · iterations`
/// it executes.
pub fn validate(counter: &Counter, iterations: u32) -> (u32, u32) {
    let (measured, ()) = counter.instructions(|| known_loop(core::hint::black_box(iterations)));
    (2 * iterations, measured)
}
