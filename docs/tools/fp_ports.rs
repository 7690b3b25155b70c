//! Which 512-bit operations of the softmax's exponential pass and of the sigmoid's loop
//! compete with their FMAs for the same issue ports on this machine.
//!
//! `rustc -O docs/tools/fp_ports.rs -o /tmp/fp_ports && taskset -c 1 /tmp/fp_ports`
//! (x86_64 with AVX-512F and DQ, for `vpmovd2m`; not part of the crate's build).
//!
//! Each loop issues ten independent FMAs (one per cycle where, as on Zen 4, the core issues
//! one 512-bit FMA a cycle: see `fma_ports.rs`) and four independent operations of one
//! other kind. If those four go to ports of their own, an iteration takes as long as the
//! ten FMAs alone; if they share the FMAs' ports, it takes 14/10 of that. The last rows add
//! eight to fourteen operations, to find the limit of a kind's own ports and of the core
//! as a whole (on Zen 4: one 512-bit add a cycle, and two 512-bit operations a cycle in
//! all). Cycles come from a
//! chain of dependent FMAs at their 4-cycle latency, so the clock need not be known. Every
//! register starts at zero, so no operand is subnormal (`vscalefps` of zero is zero).

use std::arch::asm;
use std::time::Instant;

const N: u64 = 100_000_000;

/// Seconds per iteration of ten independent FMAs into `a0..a9` followed by `$extra`
/// (instructions on `x`, `y` and the outputs `e0..e3`, of register class `$eclass`).
macro_rules! mix {
    ($eclass:ident, $($extra:literal),*) => {{
        let t = Instant::now();
        // SAFETY: AVX-512F and DQ are present (checked in `main`); only declared registers are
        // written.
        unsafe {
            asm!("vxorps {x}, {x}, {x}", "vxorps {y}, {y}, {y}",
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
                 $($extra,)*
                 "dec {n}", "jnz 2b", n = inout(reg) N => _,
                 x = out(zmm_reg) _, y = out(zmm_reg) _,
                 a0 = out(zmm_reg) _, a1 = out(zmm_reg) _, a2 = out(zmm_reg) _,
                 a3 = out(zmm_reg) _, a4 = out(zmm_reg) _, a5 = out(zmm_reg) _,
                 a6 = out(zmm_reg) _, a7 = out(zmm_reg) _, a8 = out(zmm_reg) _,
                 a9 = out(zmm_reg) _,
                 e0 = out($eclass) _, e1 = out($eclass) _, e2 = out($eclass) _,
                 e3 = out($eclass) _);
        }
        t.elapsed().as_secs_f64() / N as f64
    }};
}

/// Seconds per FMA of one chain of dependent FMAs (4 cycles each on the cores measured).
#[target_feature(enable = "avx512f")]
fn chain() -> f64 {
    let t = Instant::now();
    // SAFETY: as in `mix`.
    unsafe {
        asm!("vxorps {a}, {a}, {a}", "vxorps {x}, {x}, {x}", "2:",
             "vfmadd231ps {a}, {x}, {x}", "vfmadd231ps {a}, {x}, {x}",
             "vfmadd231ps {a}, {x}, {x}", "vfmadd231ps {a}, {x}, {x}",
             "dec {n}", "jnz 2b", n = inout(reg) N => _,
             a = out(zmm_reg) _, x = out(zmm_reg) _);
    }
    t.elapsed().as_secs_f64() / (N * 4) as f64
}

#[target_feature(enable = "avx512f,avx512dq")]
fn runs() -> Vec<(&'static str, f64)> {
    vec![
        ("10 FMAs alone", mix!(zmm_reg, "/* {e0} {e1} {e2} {e3} */")),
        (
            "+ 4 vmulps",
            mix!(
                zmm_reg,
                "vmulps {e0}, {x}, {y}",
                "vmulps {e1}, {x}, {y}",
                "vmulps {e2}, {x}, {y}",
                "vmulps {e3}, {x}, {y}"
            ),
        ),
        (
            "+ 4 vaddps",
            mix!(
                zmm_reg,
                "vaddps {e0}, {x}, {y}",
                "vaddps {e1}, {x}, {y}",
                "vaddps {e2}, {x}, {y}",
                "vaddps {e3}, {x}, {y}"
            ),
        ),
        (
            "+ 4 vmaxps",
            mix!(
                zmm_reg,
                "vmaxps {e0}, {x}, {y}",
                "vmaxps {e1}, {x}, {y}",
                "vmaxps {e2}, {x}, {y}",
                "vmaxps {e3}, {x}, {y}"
            ),
        ),
        (
            "+ 4 vscalefps",
            mix!(
                zmm_reg,
                "vscalefps {e0}, {x}, {y}",
                "vscalefps {e1}, {x}, {y}",
                "vscalefps {e2}, {x}, {y}",
                "vscalefps {e3}, {x}, {y}"
            ),
        ),
        (
            "+ 4 vcmpps (to k)",
            mix!(
                kreg,
                "vcmpps {e0}, {x}, {y}, 0",
                "vcmpps {e1}, {x}, {y}, 4",
                "vcmpps {e2}, {x}, {y}, 0",
                "vcmpps {e3}, {x}, {y}, 4"
            ),
        ),
        (
            "+ 4 vpcmpeqd (to k)",
            mix!(
                kreg,
                "vpcmpeqd {e0}, {x}, {y}",
                "vpcmpeqd {e1}, {x}, {y}",
                "vpcmpeqd {e2}, {x}, {y}",
                "vpcmpeqd {e3}, {x}, {y}"
            ),
        ),
        (
            "+ 4 vptestnmd (to k)",
            mix!(
                kreg,
                "vptestnmd {e0}, {x}, {y}",
                "vptestnmd {e1}, {x}, {y}",
                "vptestnmd {e2}, {x}, {y}",
                "vptestnmd {e3}, {x}, {y}"
            ),
        ),
        (
            "+ 4 vptestmd (to k)",
            mix!(
                kreg,
                "vptestmd {e0}, {x}, {y}",
                "vptestmd {e1}, {x}, {y}",
                "vptestmd {e2}, {x}, {y}",
                "vptestmd {e3}, {x}, {y}"
            ),
        ),
        (
            "+ 4 vminps",
            mix!(
                zmm_reg,
                "vminps {e0}, {x}, {y}",
                "vminps {e1}, {x}, {y}",
                "vminps {e2}, {x}, {y}",
                "vminps {e3}, {x}, {y}"
            ),
        ),
        (
            "+ 4 vsubps",
            mix!(
                zmm_reg,
                "vsubps {e0}, {x}, {y}",
                "vsubps {e1}, {x}, {y}",
                "vsubps {e2}, {x}, {y}",
                "vsubps {e3}, {x}, {y}"
            ),
        ),
        (
            "+ 4 vcvtps2pd",
            mix!(
                zmm_reg,
                "vcvtps2pd {e0}, {y:y}",
                "vcvtps2pd {e1}, {y:y}",
                "vcvtps2pd {e2}, {y:y}",
                "vcvtps2pd {e3}, {y:y}"
            ),
        ),
        (
            "+ 4 vaddpd",
            mix!(
                zmm_reg,
                "vaddpd {e0}, {x}, {y}",
                "vaddpd {e1}, {x}, {y}",
                "vaddpd {e2}, {x}, {y}",
                "vaddpd {e3}, {x}, {y}"
            ),
        ),
        (
            "+ 4 vrcp14ps",
            mix!(
                zmm_reg,
                "vrcp14ps {e0}, {y}",
                "vrcp14ps {e1}, {y}",
                "vrcp14ps {e2}, {y}",
                "vrcp14ps {e3}, {y}"
            ),
        ),
        (
            "+ 4 vpandd",
            mix!(
                zmm_reg,
                "vpandd {e0}, {x}, {y}",
                "vpandd {e1}, {x}, {y}",
                "vpandd {e2}, {x}, {y}",
                "vpandd {e3}, {x}, {y}"
            ),
        ),
        (
            "+ 4 vpsrad",
            mix!(
                zmm_reg,
                "vpsrad {e0}, {x}, 31",
                "vpsrad {e1}, {x}, 31",
                "vpsrad {e2}, {x}, 31",
                "vpsrad {e3}, {x}, 31"
            ),
        ),
        (
            "+ 4 vpsubd",
            mix!(
                zmm_reg,
                "vpsubd {e0}, {x}, {y}",
                "vpsubd {e1}, {x}, {y}",
                "vpsubd {e2}, {x}, {y}",
                "vpsubd {e3}, {x}, {y}"
            ),
        ),
        (
            "+ 4 vpandnd",
            mix!(
                zmm_reg,
                "vpandnd {e0}, {x}, {y}",
                "vpandnd {e1}, {x}, {y}",
                "vpandnd {e2}, {x}, {y}",
                "vpandnd {e3}, {x}, {y}"
            ),
        ),
        (
            "+ 4 vpmovd2m (to k)",
            mix!(
                kreg,
                "vpmovd2m {e0}, {x}",
                "vpmovd2m {e1}, {x}",
                "vpmovd2m {e2}, {x}",
                "vpmovd2m {e3}, {x}"
            ),
        ),
        (
            "+ 4 knotw",
            mix!(
                kreg,
                "knotw {e0}, {e1}",
                "knotw {e1}, {e2}",
                "knotw {e2}, {e3}",
                "knotw {e3}, {e0}"
            ),
        ),
        (
            "+ 4 vmovaps (register copies)",
            mix!(
                zmm_reg,
                "vmovaps {e0}, {x}",
                "vmovaps {e1}, {y}",
                "vmovaps {e2}, {x}",
                "vmovaps {e3}, {y}"
            ),
        ),
        (
            "+ 8 vmovaps (register copies)",
            mix!(
                zmm_reg,
                "vmovaps {e0}, {x}",
                "vmovaps {e1}, {y}",
                "vmovaps {e2}, {x}",
                "vmovaps {e3}, {y}",
                "vmovaps {e0}, {y}",
                "vmovaps {e1}, {x}",
                "vmovaps {e2}, {y}",
                "vmovaps {e3}, {x}"
            ),
        ),
        (
            "+ 8 vaddps",
            mix!(
                zmm_reg,
                "vaddps {e0}, {x}, {y}",
                "vaddps {e1}, {x}, {y}",
                "vaddps {e2}, {x}, {y}",
                "vaddps {e3}, {x}, {y}",
                "vaddps {e0}, {x}, {y}",
                "vaddps {e1}, {x}, {y}",
                "vaddps {e2}, {x}, {y}",
                "vaddps {e3}, {x}, {y}"
            ),
        ),
        (
            "+ 10 vaddps",
            mix!(
                zmm_reg,
                "vaddps {e0}, {x}, {y}",
                "vaddps {e1}, {x}, {y}",
                "vaddps {e2}, {x}, {y}",
                "vaddps {e3}, {x}, {y}",
                "vaddps {e0}, {x}, {y}",
                "vaddps {e1}, {x}, {y}",
                "vaddps {e2}, {x}, {y}",
                "vaddps {e3}, {x}, {y}",
                "vaddps {e0}, {x}, {y}",
                "vaddps {e1}, {x}, {y}"
            ),
        ),
        (
            "+ 6 vaddps, 4 vpandd",
            mix!(
                zmm_reg,
                "vaddps {e0}, {x}, {y}",
                "vaddps {e1}, {x}, {y}",
                "vaddps {e2}, {x}, {y}",
                "vaddps {e3}, {x}, {y}",
                "vaddps {e0}, {x}, {y}",
                "vaddps {e1}, {x}, {y}",
                "vpandd {e2}, {x}, {y}",
                "vpandd {e3}, {x}, {y}",
                "vpandd {e0}, {x}, {y}",
                "vpandd {e1}, {x}, {y}"
            ),
        ),
        (
            "+ 10 vaddps, 4 vpandd",
            mix!(
                zmm_reg,
                "vaddps {e0}, {x}, {y}",
                "vaddps {e1}, {x}, {y}",
                "vaddps {e2}, {x}, {y}",
                "vaddps {e3}, {x}, {y}",
                "vaddps {e0}, {x}, {y}",
                "vaddps {e1}, {x}, {y}",
                "vaddps {e2}, {x}, {y}",
                "vaddps {e3}, {x}, {y}",
                "vaddps {e0}, {x}, {y}",
                "vaddps {e1}, {x}, {y}",
                "vpandd {e2}, {x}, {y}",
                "vpandd {e3}, {x}, {y}",
                "vpandd {e0}, {x}, {y}",
                "vpandd {e1}, {x}, {y}"
            ),
        ),
        (
            "+ 10 vpandd",
            mix!(
                zmm_reg,
                "vpandd {e0}, {x}, {y}",
                "vpandd {e1}, {x}, {y}",
                "vpandd {e2}, {x}, {y}",
                "vpandd {e3}, {x}, {y}",
                "vpandd {e0}, {x}, {y}",
                "vpandd {e1}, {x}, {y}",
                "vpandd {e2}, {x}, {y}",
                "vpandd {e3}, {x}, {y}",
                "vpandd {e0}, {x}, {y}",
                "vpandd {e1}, {x}, {y}"
            ),
        ),
        (
            "+ 14 vaddps",
            mix!(
                zmm_reg,
                "vaddps {e0}, {x}, {y}",
                "vaddps {e1}, {x}, {y}",
                "vaddps {e2}, {x}, {y}",
                "vaddps {e3}, {x}, {y}",
                "vaddps {e0}, {x}, {y}",
                "vaddps {e1}, {x}, {y}",
                "vaddps {e2}, {x}, {y}",
                "vaddps {e3}, {x}, {y}",
                "vaddps {e0}, {x}, {y}",
                "vaddps {e1}, {x}, {y}",
                "vaddps {e2}, {x}, {y}",
                "vaddps {e3}, {x}, {y}",
                "vaddps {e0}, {x}, {y}",
                "vaddps {e1}, {x}, {y}"
            ),
        ),
    ]
}

fn main() {
    if !std::is_x86_feature_detected!("avx512f") || !std::is_x86_feature_detected!("avx512dq") {
        println!("this CPU has no AVX-512F and DQ");
        return;
    }
    // SAFETY: AVX-512F and DQ were detected.
    let (cycle, runs) = unsafe { (chain() / 4.0, runs()) };
    println!(
        "clock {:.2} GHz (from the FMA chain at a 4-cycle latency)",
        1e-9 / cycle
    );
    let alone = runs[0].1;
    for (name, t) in runs {
        println!(
            "{name}: {:.2} cycles per iteration, {:.2}x the FMAs alone",
            t / cycle,
            t / alone
        );
    }
}
