//! x86_64 feature detection with `cpuid` and `xgetbv`, no `std` needed.
//!
//! A feature counts only if the CPU has it **and** the OS saves the registers it uses:
//! `OSXSAVE` must be set, and `XCR0` must enable SSE and AVX state (bits 1, 2) for AVX2, plus
//! the opmask and both halves of the upper `zmm` state (bits 5, 6, 7) for AVX-512.

use core::arch::x86_64::{__cpuid, __cpuid_count, _xgetbv};

/// XCR0 bits, if the OS has enabled `xgetbv` (CPUID.1:ECX.OSXSAVE).
fn xcr0() -> Option<u64> {
    let leaf1 = __cpuid(1);
    let osxsave = leaf1.ecx & (1 << 27) != 0;
    let avx = leaf1.ecx & (1 << 28) != 0;
    if !(osxsave && avx) {
        return None;
    }
    // SAFETY: OSXSAVE is set, so xgetbv is enabled; register 0 is XCR0.
    Some(unsafe { xgetbv0() })
}

#[target_feature(enable = "xsave")]
unsafe fn xgetbv0() -> u64 {
    // SAFETY: the caller checked OSXSAVE.
    unsafe { _xgetbv(0) }
}

/// CPUID leaf 7, sub-leaf 0, `(ebx)`, if the CPU has that leaf.
fn leaf7_ebx() -> u32 {
    // Leaf 0 gives the highest leaf.
    let max = __cpuid(0).eax;
    if max < 7 {
        return 0;
    }
    __cpuid_count(7, 0).ebx
}

/// AVX2 and FMA, with `ymm` state saved by the OS.
pub(crate) fn has_avx2_fma() -> bool {
    if cfg!(miri) {
        return false;
    }
    let Some(x) = xcr0() else { return false };
    let fma = __cpuid(1).ecx & (1 << 12) != 0;
    let avx2 = leaf7_ebx() & (1 << 5) != 0;
    x & 0b110 == 0b110 && fma && avx2
}

/// AVX-512F, with `zmm` and opmask state saved by the OS.
pub(crate) fn has_avx512f() -> bool {
    if cfg!(miri) {
        return false;
    }
    let Some(x) = xcr0() else { return false };
    let avx512f = leaf7_ebx() & (1 << 16) != 0;
    x & 0b1110_0110 == 0b1110_0110 && avx512f
}
