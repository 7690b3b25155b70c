//! The subset run under Miri (`cargo +nightly miri test --test miri`; it also runs natively
//! with `cargo test`): every public method, every kernel mode (reduced sum, per-element loss,
//! gradient, gradient with an upstream slice, fused sum and gradient, in place), both sigmoid
//! forms, integer gammas 0 to 4 and general ones, hard and soft targets, special logits
//! (NaN, ±inf, subnormal, ±f32::MAX), softmax with C = 1, 5, 17 and 600 (the one-lane-per-row,
//! two-pass and online row strategies), each label type, per-class alpha and an ignore index,
//! label smoothing in both layouts, the TorchBlocks modules, `Targets::checked` and the error paths, with small inputs, on the
//! scalar backend and the portable one (`wide` over SSE2 on x86_64). AVX2 and AVX-512 are
//! left out: Miri does not implement their intrinsics, and the crate's detection reports
//! them unavailable under Miri.
//!
//! Each case also asserts what it can: portable within 1e-3 (relative) of scalar with the
//! same NaN pattern, fused == separate and in place == out of place bit for bit, nothing
//! written on error.

use focal_loss::compat::torchblocks::{BinaryFocalLoss, FocalLoss};
use focal_loss::{
    Alpha, Backend, ClassIndex, FocalError, Reduction, SigmoidFocal, SigmoidForm, SoftmaxFocal,
    Targets,
};

const SENTINEL: u32 = 0x7FA5_A5A5;

fn backends() -> Vec<Backend> {
    [Backend::Scalar, Backend::Portable]
        .into_iter()
        .filter(|b| b.is_available())
        .collect()
}

fn close(a: f32, b: f32) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    (a - b).abs() <= 1e-3 * a.abs().max(b.abs()) + 1e-37
}

/// Every backend's results (`results[i]`) [`close`] to the first's.
fn all_close(results: &[Vec<f32>], ctx: &str) {
    for other in &results[1..] {
        for (i, (a, b)) in results[0].iter().zip(other).enumerate() {
            assert!(close(*a, *b), "{ctx} [{i}]: {a} vs {b}");
        }
    }
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

/// Logits for `n` elements: the first six are 0.5, -2, NaN, +inf, -inf and a subnormal.
fn logits(n: usize) -> Vec<f32> {
    const V: [f32; 12] = [
        0.5,
        -2.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1e-40,
        -3.5,
        f32::MAX,
        f32::MIN,
        30.0,
        -0.0,
        7.25,
    ];
    (0..n).map(|i| V[i % V.len()]).collect()
}

/// All results of one sigmoid configuration on one backend.
fn sigmoid_all(f: &SigmoidFocal, x: &[f32], t: &[f32], r: Reduction) -> (Vec<f32>, Vec<Vec<f32>>) {
    let n = x.len();
    let up: Vec<f32> = (0..n).map(|i| 0.5 + i as f32).collect();
    let mut le = vec![0.0; n];
    f.loss_elementwise(x, t, &mut le).unwrap();
    let mut ge = vec![0.0; n];
    f.grad_elementwise(x, t, &up, &mut ge).unwrap();
    let mut g = vec![0.0; n];
    f.grad(x, t, r, 1.0, &mut g).unwrap();
    let mut g3 = vec![0.0; n];
    f.grad(x, t, r, -3.0, &mut g3).unwrap();
    let mut fg = vec![0.0; n];
    let fl = f.loss_and_grad(x, t, r, &mut fg).unwrap();
    let l = f.loss(x, t, r).unwrap();
    let mut ip = x.to_vec();
    let il = f.loss_and_grad_in_place(&mut ip, t, r).unwrap();
    // Checked targets give the same bits.
    let tc = Targets::checked(t).unwrap();
    let mut fgc = vec![0.0; n];
    let flc = f.loss_and_grad(x, tc, r, &mut fgc).unwrap();
    assert!(
        same_bits(&[l, fl, il, flc], &[fl, il, flc, l]),
        "{l} {fl} {il} {flc}"
    );
    assert!(same_bits(&g, &fg) && same_bits(&fg, &ip) && same_bits(&fg, &fgc));
    for i in 0..n {
        if x[i].is_nan() {
            assert!(
                le[i].is_nan() && ge[i].is_nan() && g[i].is_nan(),
                "NaN at {i}"
            );
        } else {
            assert!(
                le[i] >= 0.0 && ge[i].is_finite() && g[i].is_finite(),
                "{i}: {x:?}"
            );
        }
    }
    (vec![l], vec![le, ge, g, g3, fg])
}

#[test]
fn sigmoid_every_mode_form_and_gamma() {
    use SigmoidForm::{ModulatedBce as A, PerTerm as B};
    // (form, alpha, gamma, soft targets): every compile-time gamma 0 to 4, the half-integers
    // (2.5, and 0.5 below 1: `u^k·√u`) and the general path (2.7, 0.3) in form (A); form (B)
    // at 0, 2, 2.5 and 2.7; soft targets (for 2.7 the `exp(γ·ln u)` path with `ln v`) at 2,
    // 2.5 and 2.7 in both forms.
    let cases = [
        (A, Some(0.25), 0.0, false),
        (A, None, 1.0, false),
        (A, Some(0.25), 2.0, false),
        (A, None, 3.0, false),
        (A, Some(0.75), 4.0, false),
        (A, Some(0.5), 2.5, false),
        (A, None, 0.5, false),
        (A, Some(0.25), 2.7, false),
        (A, None, 0.3, false),
        (B, None, 2.7, false),
        (A, None, 2.7, true),
        (B, Some(0.6), 2.7, true),
        (B, Some(0.25), 0.0, false),
        (B, None, 2.0, false),
        (B, Some(0.25), 2.5, false),
        (A, Some(0.25), 2.0, true),
        (A, None, 2.5, true),
        (B, Some(0.25), 2.0, true),
        (B, Some(0.6), 2.5, true),
    ];
    // 0 elements, and 6: one 4-lane vector and a tail of 2 on the portable backend.
    for n in [0usize, 6] {
        let x = logits(n);
        let hard: Vec<f32> = (0..n).map(|i| (i % 2) as f32).collect();
        let soft: Vec<f32> = (0..n).map(|i| [0.3, 1.0, 0.0, 0.9][i % 4]).collect();
        for (i, &(form, alpha, gamma, is_soft)) in cases.iter().enumerate() {
            let t = if is_soft { &soft } else { &hard };
            let r = [
                Reduction::Mean,
                Reduction::Sum,
                Reduction::MeanValid,
                Reduction::Normalize(2.5),
            ][i % 4];
            let f = SigmoidFocal::new().alpha(alpha).gamma(gamma).form(form);
            let runs: Vec<_> = backends()
                .into_iter()
                .map(|b| sigmoid_all(&f.backend(b), &x, t, r))
                .collect();
            for other in &runs[1..] {
                for (a, b) in runs[0].0.iter().zip(&other.0) {
                    assert!(close(*a, *b), "loss {a} vs {b}");
                }
                for (va, vb) in runs[0].1.iter().zip(&other.1) {
                    for (a, b) in va.iter().zip(vb) {
                        assert!(close(*a, *b), "n={n} {form:?} {gamma}: {a} vs {b}");
                    }
                }
            }
        }
    }
}

#[test]
fn sigmoid_errors_write_nothing() {
    for b in backends() {
        let f = SigmoidFocal::new().backend(b);
        let x = logits(5);
        let t = [0.0, 1.0, 0.5, 1.5, 0.0];
        let mut out = [f32::from_bits(SENTINEL); 5];
        let e = f.loss_elementwise(&x, &t, &mut out).unwrap_err();
        assert_eq!(e.index(), Some(3));
        let e = f
            .loss_and_grad(&x, &t, Reduction::Mean, &mut out)
            .unwrap_err();
        assert_eq!(e.index(), Some(3));
        assert!(matches!(
            f.loss(&x, &t, Reduction::Sum),
            Err(FocalError::TargetOutOfRange { index: 3, .. })
        ));
        let mut z = x.clone();
        assert!(
            f.loss_and_grad_in_place(&mut z, &t, Reduction::Sum)
                .is_err()
        );
        assert!(same_bits(&z, &x));
        let mut short = [f32::from_bits(SENTINEL); 4];
        assert!(matches!(
            f.grad(&x, &[0.0; 5], Reduction::Sum, 1.0, &mut short),
            Err(FocalError::LengthMismatch { what: "grad", .. })
        ));
        assert!(out.iter().chain(&short).all(|v| v.to_bits() == SENTINEL));
        assert!(Targets::checked(&t).is_err());
    }
}

fn softmax_case<L: ClassIndex + std::fmt::Debug>(labels: &[L], c: usize, ignore: Option<i64>) {
    let rows = labels.len();
    let z: Vec<f32> = (0..rows * c)
        .map(|i| match i % 23 {
            3 if c > 1 => f32::NEG_INFINITY,
            7 => 40.0,
            11 => 1e-41,
            _ => ((i * 37) % 19) as f32 * 0.37 - 3.0,
        })
        .collect();
    let class_alpha: Vec<f32> = (0..c).map(|k| 0.2 + 0.6 * (k % 3) as f32 / 2.0).collect();
    let up: Vec<f32> = (0..rows).map(|r| 1.0 - r as f32).collect();
    let params = [
        (Alpha::Scalar(0.25), 2.0, Reduction::Mean),
        (Alpha::PerClass(&class_alpha), 2.5, Reduction::MeanValid),
        (Alpha::None, 0.0, Reduction::Sum),
        (Alpha::None, 1.0, Reduction::Normalize(3.0)),
        (Alpha::Scalar(0.5), 0.7, Reduction::Mean),
    ];
    // Longer rows: one parameter set (the row loops do not depend on gamma but for the
    // power, which the short rows cover with every set).
    let take = if c > 5 { 1 } else { params.len() };
    for &(alpha, gamma, r) in &params[..take] {
        let mut results: Vec<Vec<f32>> = Vec::new();
        for b in backends() {
            let f = SoftmaxFocal::new()
                .alpha(alpha)
                .gamma(gamma)
                .ignore_index(ignore)
                .backend(b);
            let l = f.loss(&z, c, labels, r).unwrap();
            let mut pr = vec![0.0; rows];
            f.loss_per_row(&z, c, labels, &mut pr).unwrap();
            let mut g = vec![0.0; z.len()];
            f.grad(&z, c, labels, r, 1.0, &mut g).unwrap();
            let mut gr = vec![0.0; z.len()];
            f.grad_per_row(&z, c, labels, &up, &mut gr).unwrap();
            let mut fg = vec![0.0; z.len()];
            let fl = f.loss_and_grad(&z, c, labels, r, &mut fg).unwrap();
            let mut ip = z.clone();
            let il = f.loss_and_grad_in_place(&mut ip, c, labels, r).unwrap();
            assert!(same_bits(&[l, fl], &[fl, il]), "{l} {fl} {il}");
            assert!(same_bits(&g, &fg) && same_bits(&fg, &ip));
            for (row, lab) in labels.iter().enumerate() {
                let ignored = ignore.is_some_and(|i| lab.widen() == i as i128);
                if ignored {
                    assert_eq!(pr[row], 0.0);
                    assert!(gr[row * c..(row + 1) * c].iter().all(|&v| v == 0.0));
                } else {
                    assert!(
                        pr[row].is_finite() && pr[row] >= 0.0,
                        "row {row}: {}",
                        pr[row]
                    );
                }
            }
            results.push([vec![l], pr, g, gr].concat());
        }
        all_close(&results, &format!("C={c} {labels:?}"));
    }
}

#[test]
fn softmax_every_row_strategy_and_label_type() {
    // C = 1: every row's only class is its label.
    softmax_case::<u8>(&[0, 0, 0], 1, None);
    softmax_case::<u16>(&[4, 0, 2, 65535, 1, 3], 5, Some(65535));
    softmax_case::<u32>(&[16, 0, 3], 17, None);
    softmax_case::<u64>(&[599], 600, None);
    softmax_case::<usize>(&[2, 4, 1, 0, 3], 5, None);
    softmax_case::<i32>(&[-100, 16, 5], 17, Some(-100));
    softmax_case::<i64>(&[-100], 600, Some(-100));
    softmax_case::<i64>(&[3, 1, 3, 0, 2, 4, 1], 5, Some(3));
}

/// Label smoothing: both layouts (row-major blocks of rows with strided loads, channels-first
/// blocks of positions), every mode, an integer and a general gamma, an ignored row.
#[test]
fn softmax_label_smoothing_both_layouts() {
    for c in [1usize, 5, 17] {
        let labels: Vec<i64> = (0..6)
            .map(|r| if r == 4 { -100 } else { (r * 7 % c) as i64 })
            .collect();
        let rows = labels.len();
        let z: Vec<f32> = (0..rows * c)
            .map(|i| ((i * 37) % 19) as f32 * 0.41 - 3.0)
            .collect();
        let up: Vec<f32> = (0..rows).map(|r| 1.0 - r as f32).collect();
        // Channels-first [2, C, 3]: position r = n·3 + s.
        let mut zt = vec![0.0; z.len()];
        for r in 0..rows {
            for j in 0..c {
                zt[(r / 3) * c * 3 + j * 3 + r % 3] = z[r * c + j];
            }
        }
        for gamma in [2.0, 2.7] {
            let mut results: Vec<Vec<f32>> = Vec::new();
            for b in backends() {
                let f = SoftmaxFocal::new()
                    .alpha(Alpha::Scalar(0.25))
                    .gamma(gamma)
                    .label_smoothing(0.2)
                    .ignore_index(Some(-100))
                    .backend(b);
                let r = Reduction::MeanValid;
                let l = f.loss(&z, c, &labels, r).unwrap();
                let mut pr = vec![0.0; rows];
                f.loss_per_row(&z, c, &labels, &mut pr).unwrap();
                let mut g = vec![0.0; z.len()];
                f.grad(&z, c, &labels, r, 1.0, &mut g).unwrap();
                let mut gr = vec![0.0; z.len()];
                f.grad_per_row(&z, c, &labels, &up, &mut gr).unwrap();
                let mut fg = vec![0.0; z.len()];
                let fl = f.loss_and_grad(&z, c, &labels, r, &mut fg).unwrap();
                let mut ip = z.clone();
                let il = f.loss_and_grad_in_place(&mut ip, c, &labels, r).unwrap();
                assert!(same_bits(&[l, fl], &[fl, il]), "{l} {fl} {il}");
                assert!(same_bits(&g, &fg) && same_bits(&fg, &ip));
                assert!(pr.iter().all(|v| v.is_finite() && *v >= 0.0) && pr[4] == 0.0);
                let cf = f.channels_first(3);
                let mut cg = vec![0.0; z.len()];
                let cl = cf.loss_and_grad(&zt, c, &labels, r, &mut cg).unwrap();
                let mut cip = zt.clone();
                let cil = cf.loss_and_grad_in_place(&mut cip, c, &labels, r).unwrap();
                let mut cpr = vec![0.0; rows];
                cf.loss_per_position(&zt, c, &labels, &mut cpr).unwrap();
                assert!(same_bits(&[cl], &[cil]) && same_bits(&cg, &cip));
                if b == Backend::Scalar {
                    let back: Vec<f32> = (0..z.len())
                        .map(|i| cg[(i / c / 3) * c * 3 + (i % c) * 3 + (i / c) % 3])
                        .collect();
                    assert!(
                        same_bits(&back, &fg) && same_bits(&cpr, &pr) && same_bits(&[cl], &[fl])
                    );
                }
                results.push([vec![l], pr, g, gr].concat());
            }
            all_close(&results, &format!("C={c} gamma {gamma}"));
        }
    }
}

#[test]
fn softmax_errors_write_nothing() {
    for b in backends() {
        let f = SoftmaxFocal::new().backend(b);
        let z = [0.5f32; 15];
        let mut g = [f32::from_bits(SENTINEL); 15];
        let e = f
            .loss_and_grad(&z, 5, &[1u8, 5, 9], Reduction::Mean, &mut g)
            .unwrap_err();
        assert!(matches!(
            e,
            FocalError::LabelOutOfRange {
                index: 1,
                label: 5,
                ..
            }
        ));
        let e = f.loss(&z, 4, &[0i64; 3], Reduction::Mean).unwrap_err();
        assert!(matches!(e, FocalError::InvalidNumClasses { .. }));
        let mut zi = z;
        assert!(
            f.loss_and_grad_in_place(&mut zi, 5, &[0u64, 1, u64::MAX], Reduction::Sum)
                .is_err()
        );
        assert!(same_bits(&zi, &z));
        assert!(g.iter().all(|v| v.to_bits() == SENTINEL));
    }
}

#[test]
fn torchblocks_modules() {
    let p = [0.1f32, 0.9, 0.5, 0.0, 1.0];
    let t = [0.0f32, 1.0, 1.0, 0.0, 1.0];
    let m = BinaryFocalLoss::default();
    let mut g = [0.0; 5];
    let l = m.loss_and_grad(&p, &t, &mut g).unwrap();
    assert!(l.is_finite() && l >= 0.0 && l == m.loss(&p, &t).unwrap());
    assert!(g.iter().all(|v| v.is_finite()));
    let z = [1.0f32, 0.0, -1.0, 0.0, 1.0, 2.0, 3.0, 3.0, 3.0];
    let m = FocalLoss::default();
    let mut g = [0.0; 9];
    let l = m.loss_and_grad(&z, 3, &[2u8, 0, 1], &mut g).unwrap();
    assert!(l.is_finite() && l > 0.0 && l == m.loss(&z, 3, &[2u8, 0, 1]).unwrap());
    assert!(g[3..6].iter().all(|&v| v == 0.0), "class 0 is ignored");
    let mut g = [f32::from_bits(SENTINEL); 9];
    assert!(m.loss_and_grad(&z, 3, &[3i64, 0, 0], &mut g).is_err());
    assert!(g.iter().all(|v| v.to_bits() == SENTINEL));
}
