//! x86_64 feature detection with `cpuid` and `xgetbv`: no `std`, no caching (the caller
//! caches the chosen backend).
//!
//! A feature counts only if the CPU has it **and** the OS saves the registers it uses
//! (otherwise the instructions fault or registers get corrupted on a context switch):
//! `CPUID.1:ECX.OSXSAVE` must be set before `xgetbv` may run at all, then `XCR0` must enable
//! SSE and AVX state (bits 1, 2) for AVX2, plus the opmask and both parts of the upper `zmm`
//! state (bits 5, 6, 7) for AVX-512.
//!
//! Each check also covers the features that its `#[target_feature]` implies for the
//! compiler (`avx2` implies SSE3–SSE4.2 and AVX; `avx512f` also implies AVX2, FMA and F16C),
//! since code compiled for it may use any of them, and `popcnt`, which both SIMD backends
//! enable (every CPU with AVX2 has it; without it a mask's population count is a dozen
//! instructions instead of one).
//!
//! Under Miri both report `false` (Miri cannot run these instructions, nor the SIMD code).

use core::arch::x86_64::{__cpuid, __cpuid_count, _xgetbv};

// CPUID.1:ECX.
const SSE3: u32 = 1 << 0;
const SSSE3: u32 = 1 << 9;
const FMA: u32 = 1 << 12;
const SSE4_1: u32 = 1 << 19;
const SSE4_2: u32 = 1 << 20;
const POPCNT: u32 = 1 << 23;
const OSXSAVE: u32 = 1 << 27;
const AVX: u32 = 1 << 28;
const F16C: u32 = 1 << 29;
// CPUID.(7,0):EBX.
const AVX2: u32 = 1 << 5;
const AVX512F: u32 = 1 << 16;
// XCR0: SSE, AVX (ymm upper halves); opmask, zmm0-15 upper halves, zmm16-31.
const XCR0_YMM: u64 = 0b0000_0110;
const XCR0_ZMM: u64 = 0b1110_0110;

/// What the CPU and the OS offer.
struct Cpu {
    leaf1_ecx: u32,
    leaf7_ebx: u32,
    /// 0 when the OS has not enabled `xgetbv` (no OSXSAVE).
    xcr0: u64,
    /// Leaf 0's vendor is AMD's or Hygon's ([`amd_vendor`]).
    amd: bool,
}

#[allow(unused_unsafe)] // `__cpuid` is an unsafe fn before Rust 1.94 (this crate's MSRV is 1.89)
fn cpu() -> Cpu {
    // SAFETY: `cpuid` exists on every x86_64 CPU and has no preconditions; leaf 0 gives the
    // highest supported basic leaf, and the vendor in EBX, EDX, ECX.
    let leaf0 = unsafe { __cpuid(0) };
    let max_leaf = leaf0.eax;
    // SAFETY: as above; leaf 1 always exists on x86_64.
    let leaf1_ecx = unsafe { __cpuid(1) }.ecx;
    let leaf7_ebx = if max_leaf >= 7 {
        // SAFETY: as above; leaf 7 exists (max_leaf >= 7).
        unsafe { __cpuid_count(7, 0) }.ebx
    } else {
        0
    };
    let xcr0 = if leaf1_ecx & OSXSAVE != 0 {
        // SAFETY: OSXSAVE means the CPU has XSAVE/XGETBV and the OS set CR4.OSXSAVE, so
        // `xgetbv` does not fault; XCR0 (index 0) always exists when XSAVE does.
        unsafe { _xgetbv(0) }
    } else {
        0
    };
    Cpu {
        leaf1_ecx,
        leaf7_ebx,
        xcr0,
        amd: amd_vendor(leaf0.ebx, leaf0.edx, leaf0.ecx),
    }
}

impl Cpu {
    fn has_avx2_fma(&self) -> bool {
        let leaf1 = SSE3 | SSSE3 | SSE4_1 | SSE4_2 | POPCNT | FMA | OSXSAVE | AVX;
        self.leaf1_ecx & leaf1 == leaf1
            && self.leaf7_ebx & AVX2 != 0
            && self.xcr0 & XCR0_YMM == XCR0_YMM
    }

    fn has_avx512f(&self) -> bool {
        self.has_avx2_fma()
            && self.leaf1_ecx & F16C != 0
            && self.leaf7_ebx & AVX512F != 0
            && self.xcr0 & XCR0_ZMM == XCR0_ZMM
    }
}

/// What [`found`] reports, from one reading of `cpuid` and `xgetbv`.
pub(crate) struct Found {
    /// AVX2 and FMA (and the features they imply), with `ymm` state saved by the OS.
    pub(crate) avx2_fma: bool,
    /// AVX-512F (and the features it implies), with `zmm` and opmask state saved by the OS.
    pub(crate) avx512f: bool,
    /// The CPU is an AMD one (vendor `AuthenticAMD`, or `HygonGenuine`, Zen cores made under
    /// licence): the kernels tune a prefetch by vendor (see
    /// [`grad_rows_ahead`](super::grad_rows_ahead)).
    pub(crate) amd: bool,
}

/// The features and vendor of this CPU (nothing under Miri).
pub(crate) fn found() -> Found {
    if cfg!(miri) {
        return Found {
            avx2_fma: false,
            avx512f: false,
            amd: false,
        };
    }
    let c = cpu();
    Found {
        avx2_fma: c.has_avx2_fma(),
        avx512f: c.has_avx512f(),
        amd: c.amd,
    }
}

/// Whether leaf 0's vendor words (EBX, EDX, ECX) name AMD or Hygon.
fn amd_vendor(ebx: u32, edx: u32, ecx: u32) -> bool {
    let mut name = [0u8; 12];
    name[..4].copy_from_slice(&ebx.to_le_bytes());
    name[4..8].copy_from_slice(&edx.to_le_bytes());
    name[8..].copy_from_slice(&ecx.to_le_bytes());
    &name == b"AuthenticAMD" || &name == b"HygonGenuine"
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    #[test]
    #[cfg_attr(miri, ignore)]
    fn agrees_with_std() {
        let avx2 = std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("popcnt");
        let avx512 = avx2
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("f16c");
        let f = found();
        assert_eq!(f.avx2_fma, avx2);
        assert_eq!(f.avx512f, avx512);
        std::println!("avx2+fma: {avx2}, avx512f: {avx512}, amd: {}", f.amd);
    }

    #[test]
    fn vendors() {
        // Each name as `cpuid` leaf 0 gives it: EBX, EDX, ECX, four bytes each.
        let words = |name: &[u8; 12]| {
            let w = |i: usize| u32::from_le_bytes(name[i..i + 4].try_into().unwrap());
            (w(0), w(4), w(8))
        };
        for (name, amd) in [
            (b"AuthenticAMD", true),
            (b"HygonGenuine", true),
            (b"GenuineIntel", false),
            (b"CentaurHauls", false),
            (b"AuthenticAMX", false),
        ] {
            let (ebx, edx, ecx) = words(name);
            assert_eq!(amd_vendor(ebx, edx, ecx), amd, "{name:?}");
        }
        // Leaf 0 of an AMD CPU, as documented: EBX "Auth", EDX "enti", ECX "cAMD".
        assert!(amd_vendor(0x6874_7541, 0x6974_6e65, 0x444d_4163));
    }

    #[test]
    fn requires_os_support() {
        let all = Cpu {
            leaf1_ecx: u32::MAX,
            leaf7_ebx: u32::MAX,
            xcr0: XCR0_ZMM,
            amd: false,
        };
        assert!(all.has_avx2_fma() && all.has_avx512f());
        // The CPU has everything, but the OS saves only the ymm state.
        let ymm_only = Cpu {
            xcr0: XCR0_YMM,
            ..all
        };
        assert!(ymm_only.has_avx2_fma() && !ymm_only.has_avx512f());
        // No OSXSAVE: xgetbv was not run (xcr0 = 0) and nothing counts.
        let no_os = Cpu {
            leaf1_ecx: !OSXSAVE,
            xcr0: 0,
            ..all
        };
        assert!(!no_os.has_avx2_fma() && !no_os.has_avx512f());
        // Opmask state missing.
        let no_k = Cpu {
            xcr0: XCR0_ZMM & !(1 << 5),
            ..all
        };
        assert!(!no_k.has_avx512f());
        // AVX-512F without AVX2 (never seen, but the compiled code would use AVX2).
        let no_avx2 = Cpu {
            leaf7_ebx: AVX512F,
            ..all
        };
        assert!(!no_avx2.has_avx512f());
        // No POPCNT (never seen with AVX2): neither SIMD backend.
        let no_popcnt = Cpu {
            leaf1_ecx: !POPCNT,
            ..all
        };
        assert!(!no_popcnt.has_avx2_fma() && !no_popcnt.has_avx512f());
    }
}
