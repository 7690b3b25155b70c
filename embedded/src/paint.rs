//! Stack high-water of a call, by painting.
//!
//! The [`WINDOW`] bytes below the current stack pointer are filled with a pattern, the call
//! runs, and the lowest word that no longer holds the pattern marks the deepest the call
//! wrote. That is done twice, with two different patterns, and the larger depth is kept (a
//! word the call happened to write with the pattern's value is caught by the other run).
//! The depth counts from the stack pointer of the measuring frame: the called method's
//! frames plus the small frame of the closure that passes its arguments (measured as well:
//! see `stack`'s validation lines).

use core::arch::asm;

/// Bytes painted below the stack pointer; a depth that reaches it is reported as a failure.
pub const WINDOW: usize = 32 * 1024;

const PATTERNS: [u32; 2] = [0xA5A5_A5A5, 0x5AC3_3C5A];

/// The deepest stack use of `f` in bytes, the larger of two painted runs, and whether the two
/// runs agreed.
pub fn high_water(f: &mut dyn FnMut()) -> (usize, bool) {
    let a = painted_run(f, PATTERNS[0]);
    let b = painted_run(f, PATTERNS[1]);
    (a.max(b), a == b)
}

#[inline(never)]
fn painted_run(f: &mut dyn FnMut(), pattern: u32) -> usize {
    let sp: usize;
    // SAFETY: reads the stack pointer into a register; no memory or stack access.
    unsafe { asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    let bottom = sp - WINDOW;
    // The frame of this function is allocated by now, so `sp` is where `f` starts its frames.
    // Volatile writes in a plain loop: no call (no memset), so nothing below `sp` is used.
    let mut p = bottom;
    while p < sp {
        // SAFETY: [bottom, sp) is free stack below this frame (RAM of 4 MiB, the stack far
        // deeper than WINDOW); nothing lives there and no interrupt is enabled.
        unsafe { core::ptr::write_volatile(p as *mut u32, pattern) };
        p += 4;
    }
    f();
    let mut p = bottom;
    // SAFETY: the same free stack words, read after `f` returned.
    while p < sp && unsafe { core::ptr::read_volatile(p as *const u32) } == pattern {
        p += 4;
    }
    sp - p
}

/// A closure body whose stack use is known: `asm!` that moves the stack pointer down by
/// `256` bytes, stores a word at the new stack pointer, and moves it back.
#[inline(always)]
pub fn known_256() {
    // SAFETY: the 256 bytes below the stack pointer are free stack; the stack pointer is
    // restored before the block ends; r3 is declared clobbered (it holds 1, a value no
    // pattern has).
    unsafe {
        asm!(
            "movs r3, #1",
            "sub sp, #256",
            "str r3, [sp]",
            "add sp, #256",
            out("r3") _,
        )
    };
}
