//! Instruction counts on the Cortex-M4F (`mps2-an386`, `-icount shift=0`; see `icount`).
//!
//! First validates the SysTick method on `asm!` loops of known length (fails if off by more
//! than 0.1 %), then measures, with every input, γ, α, form and reduction behind
//! `black_box`:
//!
//! * fused sigmoid `loss_and_grad` (ModulatedBce, α 0.25, Mean) at N = 4096 on a detection
//!   batch (`batch::detection`), γ = 2 and γ = 2.5, and the same through `Targets::checked`;
//! * the naive libm loops of `naive` on the same data (and, for γ = 2, the variant with
//!   two `expf` per element, the formulas as written), and the libm functions they call,
//!   one call per element (arguments in the ranges the loops give them);
//! * fused softmax `loss_and_grad`, 512 rows × 10 classes, `u8` labels, no α, γ = 2, Mean,
//!   and its naive loop (also with `p = e_y / s`, one `expf` a row fewer); the same logits
//!   as channels-first images (8 × 10 × 64), and with label smoothing ε = 0.1;
//! * the fixed cost of one call: sigmoid N = 1 and softmax 1 row × 10 classes, each the
//!   average over 64 calls in a loop, and the same loops without the call (their overhead,
//!   which the report subtracts); for the softmax also the call over that row twice, whose
//!   difference from one row is the row's own cost.
//!
//! Prints `instr <name> <instructions> <units>` lines (units: elements, or logits for the
//! softmax, or calls for the fixed costs) and `validate ...` / `agree ...` lines; exits 1 if
//! a check fails.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m as _;
use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use focal_loss::{Alpha, Reduction, SigmoidFocal, SigmoidForm, SoftmaxFocal, Targets};
use focal_loss_embedded::icount::{Counter, validate};
use focal_loss_embedded::{batch, naive};

focal_loss_embedded::semihosting_panic!();

/// A libm function of one `f32`, with its argument range.
type Unary = fn(f32) -> f32;

/// A naive softmax loop of `naive`: logits, classes, labels, gradient, γ; the mean loss.
type NaiveSoftmax = fn(&[f32], usize, &[u8], &mut [f32], f32) -> f32;

const N: usize = 4096;
const ROWS: usize = 512;
const CLASSES: usize = 10;
const REPEATS: u32 = 64;

/// The default sigmoid builder with every parameter hidden from the optimiser.
fn sigmoid(gamma: f32) -> SigmoidFocal {
    SigmoidFocal::new()
        .alpha(black_box(Some(0.25)))
        .gamma(black_box(gamma))
        .form(black_box(SigmoidForm::ModulatedBce))
}

fn print(name: &str, instructions: u32, units: usize) {
    hprintln!("instr {} {} {}", name, instructions, units);
}

/// `a` and `b` agree to a relative 1e-4 (the naive loop computes the same loss).
fn agree(name: &str, a: f32, b: f32) -> bool {
    let ok = (a - b).abs() <= 1e-4 * a.abs().max(b.abs());
    hprintln!(
        "agree {} crate {} naive {} {}",
        name,
        a,
        b,
        if ok { "ok" } else { "FAILED" }
    );
    ok
}

#[entry]
fn main() -> ! {
    let peripherals = cortex_m::Peripherals::take().unwrap();
    let counter = Counter::start(peripherals.SYST);
    let mut ok = true;

    for iterations in [1_000_000, 250_000] {
        let (expected, measured) = validate(&counter, iterations);
        let off = (f64::from(measured) - f64::from(expected)).abs() / f64::from(expected);
        let pass = off <= 0.001;
        ok &= pass;
        hprintln!(
            "validate known_loop expected {} measured {} {}",
            expected,
            measured,
            if pass { "ok" } else { "FAILED" }
        );
    }
    let (empty, ()) = counter.instructions(|| ());
    hprintln!("validate empty_interval measured {}", empty);

    let mut crate_g2 = 0.0;
    let (mut x, mut t, mut g) = ([0.0f32; N], [0.0f32; N], [0.0f32; N]);
    batch::detection(&mut x, &mut t, 0xDE7EC7);
    let mean = Reduction::Mean;
    for (name, naive_name, gamma) in [
        ("sigmoid_fused_g2", "naive_sigmoid_g2", 2.0),
        ("sigmoid_fused_g2.5", "naive_sigmoid_g2.5", 2.5),
    ] {
        let f = sigmoid(gamma);
        let (n, crate_loss) = counter.instructions(|| {
            f.loss_and_grad(
                black_box(&x[..]),
                black_box(&t[..]),
                black_box(mean),
                &mut g,
            )
        });
        print(name, n, N);
        let (n, naive_loss) = counter.instructions(|| {
            let (x, t, a, gm) = (
                black_box(&x[..]),
                black_box(&t[..]),
                black_box(0.25),
                black_box(gamma),
            );
            if gamma == 2.0 {
                naive::sigmoid_gamma2(x, t, &mut g, a, gm)
            } else {
                naive::sigmoid_powf(x, t, &mut g, a, gm)
            }
        });
        print(naive_name, n, N);
        ok &= agree(name, crate_loss.unwrap(), naive_loss);
        if gamma == 2.0 {
            crate_g2 = crate_loss.unwrap();
        }
    }
    let (n, naive_loss) = counter.instructions(|| {
        let (x, t) = (black_box(&x[..]), black_box(&t[..]));
        naive::sigmoid_gamma2_two_exp(x, t, &mut g, black_box(0.25), black_box(2.0))
    });
    print("naive_sigmoid_g2_two_exp", n, N);
    ok &= agree("sigmoid_fused_g2_two_exp", crate_g2, naive_loss);
    // What the naive loops are made of: one libm call per element (plus the call through a
    // function pointer and the sum, a few instructions).
    let libm_calls: [(&str, Unary); 4] = [
        ("libm_expf", |v| libm::expf(-v.abs())),
        ("libm_log1pf", |v| libm::log1pf(libm::fabsf(v) * 0.125)),
        ("libm_logf", |v| libm::logf(1.0 + libm::fabsf(v) * 0.125)),
        ("libm_powf", |v| libm::powf(libm::fabsf(v) * 0.125, 1.5)),
    ];
    for (name, f) in libm_calls {
        let (n, s) = counter.instructions(|| naive::sum_of(black_box(&x[..]), black_box(f)));
        black_box(s);
        print(name, n, N);
    }
    let checked = Targets::checked(&t).unwrap();
    let (n, _) = counter.instructions(|| {
        sigmoid(2.0).loss_and_grad(
            black_box(&x[..]),
            black_box(checked),
            black_box(mean),
            &mut g,
        )
    });
    print("sigmoid_fused_g2_checked_targets", n, N);

    let mut z = [0.0f32; ROWS * CLASSES];
    let mut gz = [0.0f32; ROWS * CLASSES];
    let mut labels = [0u8; ROWS * CLASSES / 2];
    let sm = SoftmaxFocal::new()
        .alpha(black_box(Alpha::None))
        .gamma(black_box(2.0))
        .ignore_index(black_box(None));
    // The same 5120 logits as 512 rows of 10 classes (the budgeted figure), and as rows of
    // 4 and 2 classes, where a firmware classifier with few classes spends its time.
    for (name, naive_name, div_name, c) in [
        (
            "softmax_fused_512x10",
            "naive_softmax_512x10",
            "naive_div_softmax_512x10",
            CLASSES,
        ),
        (
            "softmax_fused_1280x4",
            "naive_softmax_1280x4",
            "naive_div_softmax_1280x4",
            4,
        ),
        (
            "softmax_fused_2560x2",
            "naive_softmax_2560x2",
            "naive_div_softmax_2560x2",
            2,
        ),
    ] {
        let rows = ROWS * CLASSES / c;
        let labels = &mut labels[..rows];
        batch::classification(&mut z, labels, c as u32, 0x50F7);
        let (n, crate_loss) = counter.instructions(|| {
            sm.loss_and_grad(
                black_box(&z[..]),
                black_box(c),
                black_box(&labels[..]),
                black_box(mean),
                &mut gz,
            )
        });
        print(name, n, ROWS * CLASSES);
        // The naive loop as the goal's (`p = exp(log p)`), then with `p = e_y / s`.
        let loops: [(&str, NaiveSoftmax); 2] = [
            (naive_name, naive::softmax_gamma2::<false>),
            (div_name, naive::softmax_gamma2::<true>),
        ];
        for (naive_name, naive_loop) in loops {
            let (n, naive_loss) = counter.instructions(|| {
                naive_loop(
                    black_box(&z[..]),
                    black_box(c),
                    black_box(&labels[..]),
                    &mut gz,
                    black_box(2.0),
                )
            });
            print(naive_name, n, ROWS * CLASSES);
            ok &= agree(name, crate_loss.unwrap(), naive_loss);
        }
    }

    // The 512 × 10 logits as channels-first images of 64 positions (8 × 10 × 64): the same
    // rows' loss, each position's classes 64 apart.
    batch::classification(&mut z, &mut labels[..ROWS], CLASSES as u32, 0x50F7);
    let cf = sm.channels_first(black_box(64));
    let (n, cf_loss) = counter.instructions(|| {
        cf.loss_and_grad(
            black_box(&z[..]),
            black_box(CLASSES),
            black_box(&labels[..ROWS]),
            black_box(mean),
            &mut gz,
        )
    });
    print("softmax_cf_fused_8x10x64", n, ROWS * CLASSES);
    ok &= cf_loss.is_ok();

    let f = sigmoid(2.0);
    let (n, ()) = counter.instructions(|| {
        for _ in 0..black_box(REPEATS) {
            let r = f.loss_and_grad(
                black_box(&x[..1]),
                black_box(&t[..1]),
                black_box(mean),
                &mut g[..1],
            );
            black_box(r).ok();
        }
    });
    print("sigmoid_fixed_n1", n, REPEATS as usize);
    // One row of 10 classes from the classification batch (the loop above left rows of 2).
    batch::classification(&mut z, &mut labels[..ROWS], CLASSES as u32, 0x50F7);
    let (n, ()) = counter.instructions(|| {
        for _ in 0..black_box(REPEATS) {
            let r = sm.loss_and_grad(
                black_box(&z[..CLASSES]),
                black_box(CLASSES),
                black_box(&labels[..1]),
                black_box(mean),
                &mut gz[..CLASSES],
            );
            black_box(r).ok();
        }
    });
    print("softmax_fixed_1x10", n, REPEATS as usize);
    // The same row twice: the second row's cost, which the report subtracts from the call
    // above to leave its fixed part, is that of the same data (not the average row's, which
    // data-dependent paths would make a different amount).
    z.copy_within(..CLASSES, CLASSES);
    labels[1] = labels[0];
    let (n, ()) = counter.instructions(|| {
        for _ in 0..black_box(REPEATS) {
            let r = sm.loss_and_grad(
                black_box(&z[..2 * CLASSES]),
                black_box(CLASSES),
                black_box(&labels[..2]),
                black_box(mean),
                &mut gz[..2 * CLASSES],
            );
            black_box(r).ok();
        }
    });
    print("softmax_fixed_2x10", n, REPEATS as usize);
    // The same loops without the call: what the loop and black_box add to each call above.
    let (n, ()) = counter.instructions(|| {
        for _ in 0..black_box(REPEATS) {
            black_box((
                black_box(&x[..1]),
                black_box(&t[..1]),
                black_box(mean),
                &mut g[..1],
            ));
        }
    });
    print("sigmoid_loop_overhead", n, REPEATS as usize);
    let (n, ()) = counter.instructions(|| {
        for _ in 0..black_box(REPEATS) {
            black_box((
                black_box(&z[..CLASSES]),
                black_box(CLASSES),
                black_box(&labels[..1]),
                black_box(mean),
                &mut gz[..CLASSES],
            ));
        }
    });
    print("softmax_loop_overhead", n, REPEATS as usize);

    // Label smoothing ε = 0.1 on the 512 × 10 rows (last: measured before the loops
    // above, it moved their overhead's count by 0.7).
    batch::classification(&mut z, &mut labels[..ROWS], CLASSES as u32, 0x50F7);
    let smoothed = sm.label_smoothing(black_box(0.1));
    let (n, smoothed_loss) = counter.instructions(|| {
        smoothed.loss_and_grad(
            black_box(&z[..]),
            black_box(CLASSES),
            black_box(&labels[..ROWS]),
            black_box(mean),
            &mut gz,
        )
    });
    print("softmax_smoothed_fused_512x10", n, ROWS * CLASSES);
    ok &= smoothed_loss.is_ok();

    focal_loss_embedded::exit(ok)
}
