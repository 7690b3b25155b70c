//! Bit identity: runs every generated case (see `build/cases.rs`) with the backend a
//! firmware gets by default and compares every result and output word, NaN payloads
//! included, with what the host's `Backend::Scalar` produced. Prints
//! `firmware: N passed, M failed (K only in NaN bits)` and exits QEMU with status 0 only if
//! nothing differed. "Only in NaN bits": every differing word is a NaN on both sides, with a
//! different sign or payload (x86's SSE makes the default NaN 0xFFC00000, Arm's FPU and
//! soft-float 0x7FC00000; Rust leaves the sign and payload of a computed NaN unspecified).
#![no_std]
#![no_main]

use cortex_m as _;
use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use focal_loss::Backend;
use focal_loss_embedded::data::{CASES, LONGEST_OUTPUT, expected, pools};
use focal_loss_embedded::exec::{RESULT_WORDS, run};

focal_loss_embedded::semihosting_panic!();

/// Mismatching cases printed in full before the rest are only counted.
const SHOWN: usize = 10;

/// Whether a word is the bit pattern of an `f32` NaN (result tags and sizes never are).
fn is_nan(w: u32) -> bool {
    f32::from_bits(w).is_nan()
}

/// The same bits, or both NaN.
fn same(g: u32, w: u32) -> bool {
    g == w || (is_nan(g) && is_nan(w))
}

#[entry]
fn main() -> ! {
    let pools = pools();
    let expected = expected();
    let mut scratch = [0.0f32; LONGEST_OUTPUT];
    let (mut passed, mut failed, mut nan_only, mut words, mut at) = (0usize, 0, 0, 0, 0usize);
    for (i, case) in CASES.iter().enumerate() {
        let result = run(case, &pools, None, &mut scratch);
        let n = RESULT_WORDS + case.out_len as usize;
        let want = &expected[at..at + n];
        at += n;
        words += n;
        let got = result
            .iter()
            .copied()
            .chain(scratch[..case.out_len as usize].iter().map(|v| v.to_bits()));
        let pairs = got.zip(want.iter().copied());
        // A NaN's sign and payload are the hardware's (an invalid operation gives 0xffc00000
        // on x86_64 and 0x7fc00000 on Arm; Rust does not specify either): two NaNs match.
        // Every other word must be the same bits.
        if pairs.clone().any(|(g, w)| g != w) && pairs.clone().all(|(g, w)| same(g, w)) {
            nan_only += 1;
        }
        match pairs.clone().position(|(g, w)| !same(g, w)) {
            None => passed += 1,
            Some(k) => {
                failed += 1;
                if failed <= SHOWN {
                    let g = if k < RESULT_WORDS {
                        result[k]
                    } else {
                        scratch[k - RESULT_WORDS].to_bits()
                    };
                    hprintln!(
                        "case {} {:?} (c {}, len {}, gamma {}): word {} is {:#010x}, host {:#010x}",
                        i,
                        case.method,
                        case.c,
                        case.x.len,
                        case.gamma,
                        k,
                        g,
                        want[k]
                    );
                }
            }
        }
    }
    assert_eq!(
        at,
        expected.len(),
        "the case table and expected.bin disagree"
    );
    hprintln!(
        "default backend here: {}; {} words compared",
        Backend::detect().name(),
        words
    );
    hprintln!(
        "firmware: {} passed, {} failed ({} passed with a NaN of other sign or payload)",
        passed,
        failed,
        nan_only
    );
    focal_loss_embedded::exit(failed == 0 && Backend::detect() == Backend::Scalar)
}
