//! The softmax's exponential pass on AVX-512 (`row_sums` with `Span::Finite`), as the
//! compiler emits it, and variants of it, timed in cycles per vector of 16 logits with the
//! row in L1: what the loop costs by itself, and what each change to it could gain.
//!
//! `rustc -O docs/tools/exp_loop.rs -o /tmp/exp_loop && taskset -c 1 /tmp/exp_loop`
//! (x86_64 with AVX-512F and DQ, for `vpmovd2m`; not part of the crate's build).
//!
//! The instruction sequence is the one of `focal_loss::backend::avx512::softmax_rows` at
//! eb99d33 (objdump): the load, `z - max`, the clamp, the reduction, Horner's polynomial,
//! `vscalefps`, the store of the exponential, the tie count (`vcmpeqps`, `kmovw`, `popcnt`)
//! and the masked sum over the logits below the maximum (`vcmpneqps`, masked `vaddps`).
//! The constants are all -1 and the logits -1, so nothing is subnormal or NaN; the values
//! do not matter to the timing, only the operations and their dependencies. Cycles come
//! from a chain of dependent FMAs at their 4-cycle latency, as in `fp_ports.rs`.

use std::arch::asm;
use std::time::Instant;

const N: u64 = 50_000_000;
static mut ROW: [f32; 4096] = [-1.0; 4096];
static mut OUT: [f32; 4096] = [0.0; 4096];

/// Seconds per iteration of `$body` (instructions on `{b}` and `{o}` + `4*{j}`, the row and
/// output at the iteration's vector, and `{t}`, a scratch register), with zmm3 = the row's
/// maximum, zmm19-zmm30 the constants, zmm1 the sum.
macro_rules! lp {
    ($($body:expr),*) => {{
        let t = Instant::now();
        // SAFETY: AVX-512F and DQ are present (checked in `main`); the loop reads and writes
        // the first 2048 + 48 values of two static arrays of 4096 (`j` wraps at 2048), and
        // writes only the registers declared.
        unsafe {
            let b = (&raw mut ROW) as *mut f32;
            let o = (&raw mut OUT) as *mut f32;
            asm!(
                "vxorps zmm3, zmm3, zmm3",
                "vxorps zmm1, zmm1, zmm1",
                "vbroadcastss zmm19, [{b}]",
                "vmovaps zmm20, zmm19", "vmovaps zmm21, zmm19", "vmovaps zmm22, zmm19",
                "vmovaps zmm23, zmm19", "vmovaps zmm24, zmm19", "vmovaps zmm25, zmm19",
                "vmovaps zmm26, zmm19", "vmovaps zmm27, zmm19", "vmovaps zmm28, zmm19",
                "vmovaps zmm29, zmm19", "vmovaps zmm30, zmm19",
                "xor {j}, {j}", "/* {t} {o} */",
                "2:",
                $($body,)*
                "add {j}, 16",
                "and {j}, 2047",
                "dec {n}", "jnz 2b",
                n = inout(reg) N => _, j = out(reg) _, t = out(reg) _, b = in(reg) b,
                o = in(reg) o,
                out("zmm1") _, out("zmm3") _, out("zmm4") _, out("zmm5") _, out("zmm6") _,
                out("zmm7") _, out("zmm8") _, out("zmm9") _, out("zmm10") _, out("zmm11") _,
                out("zmm12") _, out("zmm13") _, out("zmm14") _, out("zmm15") _,
                out("zmm16") _, out("zmm19") _, out("zmm20") _, out("zmm21") _,
                out("zmm22") _, out("zmm23") _, out("zmm24") _, out("zmm25") _,
                out("zmm26") _, out("zmm27") _, out("zmm28") _, out("zmm29") _,
                out("zmm30") _, out("k0") _, out("k1") _,
            );
        }
        t.elapsed().as_secs_f64() / N as f64
    }};
}

/// Load `v`, `r = max(z - max, lo)`, `n`, the reduced `r`, `r²`, the polynomial's first
/// coefficient: everything before Horner's chain.
#[rustfmt::skip]
macro_rules! front {
    ($v:literal, $r:literal, $n:literal, $r2:literal, $p:literal, $off:literal) => {
        concat!(
            "vmovups ", $v, ", [{b} + 4*{j} + ", $off, "]\n",
            "vsubps ", $r, ", ", $v, ", zmm3\n",
            "vmaxps ", $r, ", zmm19, ", $r, "\n",
            "vmovaps ", $n, ", zmm20\n",
            "vfmsub231ps ", $n, ", ", $r, ", zmm21\n",
            "vaddps ", $n, ", ", $n, ", zmm20\n",
            "vfmadd231ps ", $r, ", ", $n, ", zmm22\n",
            "vfmadd231ps ", $r, ", ", $n, ", zmm23\n",
            "vmulps ", $r2, ", ", $r, ", ", $r, "\n",
            "vmovaps ", $p, ", zmm24\n"
        )
    };
}

/// Horner's chain, as emitted (each FMA waits for the one before).
#[rustfmt::skip]
macro_rules! horner {
    ($r:literal, $r2:literal, $p:literal) => {
        concat!(
            "vfmadd213ps ", $p, ", ", $r, ", zmm25\n",
            "vfmadd213ps ", $p, ", ", $r, ", zmm26\n",
            "vfmadd213ps ", $p, ", ", $r, ", zmm27\n",
            "vfmadd213ps ", $p, ", ", $r, ", zmm28\n",
            "vfmadd213ps ", $p, ", ", $r, ", zmm29\n",
            "vfmadd213ps ", $p, ", ", $r2, ", ", $r, "\n"
        )
    };
}

/// The same six FMAs without the chain (wrong values, the same operations): what the
/// polynomial's latency costs.
#[rustfmt::skip]
macro_rules! flat {
    () => {
        concat!(
            "vfmadd213ps zmm8, zmm5, zmm25\n",
            "vfmadd213ps zmm9, zmm5, zmm26\n",
            "vfmadd213ps zmm10, zmm5, zmm27\n",
            "vfmadd213ps zmm11, zmm5, zmm28\n",
            "vfmadd213ps zmm9, zmm5, zmm29\n",
            "vfmadd213ps zmm8, zmm7, zmm5\n"
        )
    };
}

/// The last step (`e = p · 2^n`) and the store of `e`.
#[rustfmt::skip]
macro_rules! back {
    ($r:literal, $n:literal, $p:literal, $off:literal) => {
        concat!(
            "vaddps ", $r, ", ", $p, ", zmm30\n",
            "vscalefps ", $r, ", ", $r, ", ", $n, "\n",
            "vmovups [{o} + 4*{j} + ", $off, "], ", $r, "\n"
        )
    };
}

/// The tie count and the masked sum of the crate's loop.
#[rustfmt::skip]
macro_rules! ties_and_sum {
    ($v:literal, $e:literal) => {
        concat!(
            "vcmpeqps k0, ", $v, ", zmm3\n",
            "kmovw {t:e}, k0\n",
            "popcnt {t:e}, {t:e}\n",
            "vcmpneqps k1, ", $v, ", zmm3\n",
            "vaddps zmm1{{k1}}, zmm1, ", $e, "\n"
        )
    };
}

/// The crate's loop for one vector, in registers zmm4-zmm8.
#[rustfmt::skip]
macro_rules! crate_loop {
    () => {
        concat!(
            front!("zmm4", "zmm5", "zmm6", "zmm7", "zmm8", "0"),
            horner!("zmm5", "zmm7", "zmm8"),
            back!("zmm5", "zmm6", "zmm8", "0")
        )
    };
}

/// The second half of the crate's loop for one vector (from Horner's chain on), in the
/// registers given; [`front`] is the first.
#[rustfmt::skip]
macro_rules! rest {
    ($v:literal, $r:literal, $n:literal, $r2:literal, $p:literal, $off:literal) => {
        concat!(
            horner!($r, $r2, $p),
            back!($r, $n, $p, $off),
            ties_and_sum!($v, $r)
        )
    };
}

#[target_feature(enable = "avx512f")]
fn chain() -> f64 {
    let t = Instant::now();
    // SAFETY: AVX-512F is present (checked in `main`); only declared registers are written.
    unsafe {
        asm!("vxorps {a}, {a}, {a}", "vxorps {x}, {x}, {x}", "2:",
             "vfmadd231ps {a}, {x}, {x}", "vfmadd231ps {a}, {x}, {x}",
             "vfmadd231ps {a}, {x}, {x}", "vfmadd231ps {a}, {x}, {x}",
             "dec {n}", "jnz 2b", n = inout(reg) N => _, a = out(zmm_reg) _,
             x = out(zmm_reg) _);
    }
    t.elapsed().as_secs_f64() / N as f64 / 4.0
}

#[target_feature(enable = "avx512f,avx512dq,popcnt")]
fn runs() -> Vec<(&'static str, f64)> {
    vec![
        (
            "the crate's loop",
            lp!(crate_loop!(), ties_and_sum!("zmm4", "zmm5")),
        ),
        (
            "one compare: below = knot(ties)",
            lp!(
                crate_loop!(),
                "vcmpeqps k0, zmm4, zmm3",
                "kmovw {t:e}, k0",
                "popcnt {t:e}, {t:e}",
                "knotw k1, k0",
                "vaddps zmm1{{k1}}, zmm1, zmm5"
            ),
        ),
        (
            "no compares, no count: every e summed",
            lp!(crate_loop!(), "vaddps zmm1, zmm1, zmm5"),
        ),
        (
            "the crate's loop, polynomial without its chain",
            lp!(
                front!("zmm4", "zmm5", "zmm6", "zmm7", "zmm8", "0"),
                flat!(),
                back!("zmm5", "zmm6", "zmm8", "0"),
                ties_and_sum!("zmm4", "zmm5")
            ),
        ),
        (
            "sign of z - max: vpsrad (early), vpandd (late), vaddps, vpsubd count",
            lp!(
                crate_loop!(),
                "vpsrad zmm9, zmm4, 31",
                "vpandd zmm10, zmm9, zmm5",
                "vaddps zmm1, zmm1, zmm10",
                "vpsubd zmm11, zmm11, zmm9"
            ),
        ),
        (
            "the same, vpsrad on the late e",
            lp!(
                crate_loop!(),
                "vpsrad zmm9, zmm5, 31",
                "vpandd zmm10, zmm9, zmm5",
                "vaddps zmm1, zmm1, zmm10",
                "vpsubd zmm11, zmm11, zmm9"
            ),
        ),
        (
            "sign to a mask: vpmovd2m, masked vaddps, kmovw, popcnt",
            lp!(
                crate_loop!(),
                "vpmovd2m k1, zmm4",
                "vaddps zmm1{{k1}}, zmm1, zmm5",
                "kmovw {t:e}, k1",
                "popcnt {t:e}, {t:e}"
            ),
        ),
        (
            "two vectors an iteration, in order (per vector)",
            lp!(
                front!("zmm4", "zmm5", "zmm6", "zmm7", "zmm8", "0"),
                rest!("zmm4", "zmm5", "zmm6", "zmm7", "zmm8", "0"),
                front!("zmm12", "zmm13", "zmm14", "zmm15", "zmm16", "64"),
                rest!("zmm12", "zmm13", "zmm14", "zmm15", "zmm16", "64"),
                "add {j}, 16"
            ) / 2.0,
        ),
        (
            "two vectors an iteration, the next vector's first half before this one's second (per vector)",
            lp!(
                front!("zmm12", "zmm13", "zmm14", "zmm15", "zmm16", "64"),
                rest!("zmm4", "zmm5", "zmm6", "zmm7", "zmm8", "0"),
                front!("zmm4", "zmm5", "zmm6", "zmm7", "zmm8", "128"),
                rest!("zmm12", "zmm13", "zmm14", "zmm15", "zmm16", "64"),
                "add {j}, 16"
            ) / 2.0,
        ),
        (
            "the exponential alone (no store, no sum, no count)",
            lp!(
                front!("zmm4", "zmm5", "zmm6", "zmm7", "zmm8", "0"),
                horner!("zmm5", "zmm7", "zmm8"),
                "vaddps zmm5, zmm8, zmm30",
                "vscalefps zmm5, zmm5, zmm6"
            ),
        ),
    ]
}

fn main() {
    if !std::is_x86_feature_detected!("avx512f")
        || !std::is_x86_feature_detected!("avx512dq")
        || !std::is_x86_feature_detected!("popcnt")
    {
        println!("this CPU has no AVX-512F and DQ");
        return;
    }
    // SAFETY: AVX-512F, DQ and POPCNT were detected.
    let (cycle, runs) = unsafe { (chain() / 4.0, runs()) };
    println!(
        "clock {:.2} GHz (from the FMA chain at a 4-cycle latency)",
        1e-9 / cycle
    );
    for (name, t) in runs {
        println!("{name}: {:.2} cycles per vector", t / cycle);
    }
}
