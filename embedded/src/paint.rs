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
/// Unoptimised builds (`debug_assertions`, the dev profile) paint 256 KiB: their frames are
/// tens of KB.
pub const WINDOW: usize = if cfg!(debug_assertions) { 256 } else { 32 } * 1024;

const PATTERNS: [u32; 2] = [0xA5A5_A5A5, 0x5AC3_3C5A];

/// The deepest stack use of `f` in bytes, the larger of two painted runs, and whether the two
/// runs agreed.
pub fn high_water(f: &mut dyn FnMut()) -> (usize, bool) {
    both_patterns(|pattern| painted_run(f, pattern))
}

/// As [`high_water`], for a call that writes over its input (an in-place method): `fresh`
/// is copied to `buf` before each painted run (before the painting, so the copy is not
/// measured), and `f` runs on `buf`. Both runs then see the same input.
pub fn high_water_fresh(
    buf: &mut [f32],
    fresh: &[f32],
    f: &mut dyn FnMut(&mut [f32]),
) -> (usize, bool) {
    both_patterns(|pattern| {
        buf.copy_from_slice(fresh);
        painted_run(&mut || f(buf), pattern)
    })
}

/// `run` with each pattern: the larger depth, and whether the two agreed.
fn both_patterns(mut run: impl FnMut(u32) -> usize) -> (usize, bool) {
    let a = run(PATTERNS[0]);
    let b = run(PATTERNS[1]);
    (a.max(b), a == b)
}

#[inline(never)]
fn painted_run(f: &mut dyn FnMut(), pattern: u32) -> usize {
    let sp: usize;
    // SAFETY: reads the stack pointer into a register; no memory or stack access.
    unsafe { asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    let bottom = sp - WINDOW;
    // The frame of this function is allocated by now, so `sp` is where `f` starts its frames.
    // Both loops are `asm!`, so that nothing below `sp` is used while they run, at any
    // optimisation level: in an unoptimised build `write_volatile` and `read_volatile` are
    // calls, whose frames lay in the window (the painting wrote over its own return
    // address there, and the binary hung).
    // SAFETY: writes `pattern` to the words of [bottom, sp), free stack below this frame
    // (RAM of 4 MiB, the stack far deeper than WINDOW) where nothing lives and no interrupt
    // is enabled; `bottom < sp`, both word-aligned; only the declared registers change.
    unsafe {
        asm!(
            "2:",
            "str {pat}, [{p}]",
            "adds {p}, #4",
            "cmp {p}, {end}",
            "blo 2b",
            p = inout(reg) bottom => _,
            end = in(reg) sp,
            pat = in(reg) pattern,
            options(nostack),
        )
    };
    f();
    let mut p = bottom;
    // SAFETY: reads the same free stack words, after `f` returned, from `bottom` up while
    // they hold the pattern, stopping at `sp` at the latest; only `p` and a scratch register
    // change.
    unsafe {
        asm!(
            "2:",
            "ldr {w}, [{p}]",
            "cmp {w}, {pat}",
            "bne 3f",
            "adds {p}, #4",
            "cmp {p}, {end}",
            "blo 2b",
            "3:",
            p = inout(reg) p,
            w = out(reg) _,
            end = in(reg) sp,
            pat = in(reg) pattern,
            options(nostack, readonly),
        )
    };
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
