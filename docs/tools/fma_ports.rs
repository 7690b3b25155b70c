//! How many 512-bit (and 256-bit) FMAs one core of this machine issues per cycle.
//!
//! `rustc -O docs/tools/fma_ports.rs -o /tmp/fma_ports && taskset -c 1 /tmp/fma_ports`
//! (x86_64 with AVX-512F; not part of the crate's build).
//!
//! A chain of dependent FMAs runs at one per latency (4 cycles on Intel cores since
//! Skylake); ten independent chains run at the issue rate. Their ratio gives FMAs per cycle
//! without knowing the clock, which AVX-512 code may lower (the chain also gives that
//! clock, if the latency is 4).

use std::arch::asm;
use std::time::Instant;

const N: u64 = 200_000_000;

/// Seconds per FMA of one dependent chain (`zmm` if `wide`, else `ymm`).
fn chain(wide: bool) -> f64 {
    let t = Instant::now();
    // SAFETY: AVX-512F is checked in `main`; only the named registers are written.
    unsafe {
        if wide {
            asm!("vxorps zmm0, zmm0, zmm0", "2:",
                 "vfmadd231ps zmm0, zmm1, zmm2", "vfmadd231ps zmm0, zmm1, zmm2",
                 "vfmadd231ps zmm0, zmm1, zmm2", "vfmadd231ps zmm0, zmm1, zmm2",
                 "dec {n}", "jnz 2b", n = inout(reg) N => _, out("zmm0") _);
        } else {
            asm!("vxorps ymm0, ymm0, ymm0", "2:",
                 "vfmadd231ps ymm0, ymm1, ymm2", "vfmadd231ps ymm0, ymm1, ymm2",
                 "vfmadd231ps ymm0, ymm1, ymm2", "vfmadd231ps ymm0, ymm1, ymm2",
                 "dec {n}", "jnz 2b", n = inout(reg) N => _, out("ymm0") _);
        }
    }
    t.elapsed().as_secs_f64() / (N * 4) as f64
}

/// Seconds per FMA of ten independent chains.
fn independent(wide: bool) -> f64 {
    let t = Instant::now();
    // SAFETY: as in `chain`.
    unsafe {
        if wide {
            asm!("2:",
                 "vfmadd231ps zmm0, zmm10, zmm11", "vfmadd231ps zmm1, zmm10, zmm11",
                 "vfmadd231ps zmm2, zmm10, zmm11", "vfmadd231ps zmm3, zmm10, zmm11",
                 "vfmadd231ps zmm4, zmm10, zmm11", "vfmadd231ps zmm5, zmm10, zmm11",
                 "vfmadd231ps zmm6, zmm10, zmm11", "vfmadd231ps zmm7, zmm10, zmm11",
                 "vfmadd231ps zmm8, zmm10, zmm11", "vfmadd231ps zmm9, zmm10, zmm11",
                 "dec {n}", "jnz 2b", n = inout(reg) N => _,
                 out("zmm0") _, out("zmm1") _, out("zmm2") _, out("zmm3") _, out("zmm4") _,
                 out("zmm5") _, out("zmm6") _, out("zmm7") _, out("zmm8") _, out("zmm9") _);
        } else {
            asm!("2:",
                 "vfmadd231ps ymm0, ymm10, ymm11", "vfmadd231ps ymm1, ymm10, ymm11",
                 "vfmadd231ps ymm2, ymm10, ymm11", "vfmadd231ps ymm3, ymm10, ymm11",
                 "vfmadd231ps ymm4, ymm10, ymm11", "vfmadd231ps ymm5, ymm10, ymm11",
                 "vfmadd231ps ymm6, ymm10, ymm11", "vfmadd231ps ymm7, ymm10, ymm11",
                 "vfmadd231ps ymm8, ymm10, ymm11", "vfmadd231ps ymm9, ymm10, ymm11",
                 "dec {n}", "jnz 2b", n = inout(reg) N => _,
                 out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _, out("ymm4") _,
                 out("ymm5") _, out("ymm6") _, out("ymm7") _, out("ymm8") _, out("ymm9") _);
        }
    }
    t.elapsed().as_secs_f64() / (N * 10) as f64
}

fn main() {
    if !std::is_x86_feature_detected!("avx512f") {
        println!("this CPU has no AVX-512F");
        return;
    }
    for (wide, name) in [(true, "512-bit"), (false, "256-bit")] {
        let (c, i) = (chain(wide), independent(wide));
        println!(
            "{name}: dependent {:.3} ns, independent {:.3} ns per FMA: {:.2} FMAs per cycle \
             (at a 4-cycle latency; clock {:.2} GHz)",
            c * 1e9,
            i * 1e9,
            c / (4.0 * i),
            4.0 / (c * 1e9)
        );
    }
}
