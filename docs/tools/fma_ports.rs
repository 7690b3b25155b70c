//! How many 512-bit (and 256-bit) FMAs one core of this machine issues per cycle.
//!
//! `rustc -O docs/tools/fma_ports.rs -o /tmp/fma_ports && taskset -c 1 /tmp/fma_ports`
//! (x86_64 with AVX-512F; not part of the crate's build).
//!
//! A chain of dependent FMAs runs at one per latency (4 cycles on Intel cores since
//! Skylake); ten independent chains run at the issue rate. Their ratio gives FMAs per cycle
//! without knowing the clock, which AVX-512 code may lower (the chain also gives that
//! clock, if the latency is 4). Every register starts at zero, so no operand is subnormal.

use std::arch::asm;
use std::time::Instant;

const N: u64 = 200_000_000;

/// `(dependent, independent)`: seconds per FMA of one chain and of ten chains, on the
/// vector registers of class `$class` (`zmm_reg` or `ymm_reg`; `{x}` prints `zmmN` or
/// `ymmN`).
macro_rules! timings {
    ($class:ident) => {{
        let t = Instant::now();
        // SAFETY: the caller's target features cover `$class`; only declared registers
        // are written.
        unsafe {
            asm!("vxorps {a}, {a}, {a}", "vxorps {x}, {x}, {x}", "2:",
                 "vfmadd231ps {a}, {x}, {x}", "vfmadd231ps {a}, {x}, {x}",
                 "vfmadd231ps {a}, {x}, {x}", "vfmadd231ps {a}, {x}, {x}",
                 "dec {n}", "jnz 2b", n = inout(reg) N => _,
                 a = out($class) _, x = out($class) _);
        }
        let dependent = t.elapsed().as_secs_f64() / (N * 4) as f64;
        let t = Instant::now();
        // SAFETY: as above.
        unsafe {
            asm!("vxorps {x}, {x}, {x}",
                 "vxorps {a0}, {a0}, {a0}", "vxorps {a1}, {a1}, {a1}",
                 "vxorps {a2}, {a2}, {a2}", "vxorps {a3}, {a3}, {a3}",
                 "vxorps {a4}, {a4}, {a4}", "vxorps {a5}, {a5}, {a5}",
                 "vxorps {a6}, {a6}, {a6}", "vxorps {a7}, {a7}, {a7}",
                 "vxorps {a8}, {a8}, {a8}", "vxorps {a9}, {a9}, {a9}", "2:",
                 "vfmadd231ps {a0}, {x}, {x}", "vfmadd231ps {a1}, {x}, {x}",
                 "vfmadd231ps {a2}, {x}, {x}", "vfmadd231ps {a3}, {x}, {x}",
                 "vfmadd231ps {a4}, {x}, {x}", "vfmadd231ps {a5}, {x}, {x}",
                 "vfmadd231ps {a6}, {x}, {x}", "vfmadd231ps {a7}, {x}, {x}",
                 "vfmadd231ps {a8}, {x}, {x}", "vfmadd231ps {a9}, {x}, {x}",
                 "dec {n}", "jnz 2b", n = inout(reg) N => _, x = out($class) _,
                 a0 = out($class) _, a1 = out($class) _, a2 = out($class) _,
                 a3 = out($class) _, a4 = out($class) _, a5 = out($class) _,
                 a6 = out($class) _, a7 = out($class) _, a8 = out($class) _,
                 a9 = out($class) _);
        }
        (dependent, t.elapsed().as_secs_f64() / (N * 10) as f64)
    }};
}

#[target_feature(enable = "avx512f")]
fn zmm() -> (f64, f64) {
    timings!(zmm_reg)
}

#[target_feature(enable = "avx,fma")]
fn ymm() -> (f64, f64) {
    timings!(ymm_reg)
}

fn main() {
    if !std::is_x86_feature_detected!("avx512f") {
        println!("this CPU has no AVX-512F");
        return;
    }
    // SAFETY: AVX-512F was detected (and with it AVX and FMA).
    let runs = unsafe { [("512-bit", zmm()), ("256-bit", ymm())] };
    for (name, (c, i)) in runs {
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
