//! The entries of docs/failure-contract.md, computed by the library on every backend this
//! CPU has: `cargo test --test failure_contract -- --nocapture` prints the table's rows.
//! Each row asserts that every backend gives the same class of result (the same error, or
//! values that are NaN, ±inf, 0 or finite at the same positions) and the value the table
//! states.

use focal_loss::compat::torchblocks::{BinaryFocalLoss, FocalLoss};
use focal_loss::{Alpha, Backend, FocalError, Reduction, SigmoidFocal, SoftmaxFocal, Targets};

const SENTINEL: u32 = 0x7FA5_A5A5;

fn backends() -> Vec<Backend> {
    Backend::ALL
        .into_iter()
        .filter(|b| b.is_available())
        .collect()
}

/// A value's class: `NaN`, `+inf`, `-inf`, `0`, `-0`, `+` (finite > 0), `-` (finite < 0).
fn class(v: f32) -> &'static str {
    if v.is_nan() {
        "NaN"
    } else if v == f32::INFINITY {
        "+inf"
    } else if v == f32::NEG_INFINITY {
        "-inf"
    } else if v.to_bits() == 0 {
        "0"
    } else if v == 0.0 {
        "-0"
    } else if v > 0.0 {
        "+"
    } else {
        "-"
    }
}

fn classes(v: &[f32]) -> String {
    v.iter().map(|&x| class(x)).collect::<Vec<_>>().join(" ")
}

fn show(r: &Result<String, FocalError>) -> String {
    match r {
        Ok(s) => s.clone(),
        Err(e) => format!("Err({e:?})"),
    }
}

/// Runs `f` on every backend, asserts they agree, prints and returns the row.
fn row(what: &str, f: impl Fn(Backend) -> Result<String, FocalError>) -> String {
    let all: Vec<String> = backends().into_iter().map(|b| show(&f(b))).collect();
    for (b, r) in backends().iter().zip(&all) {
        assert_eq!(r, &all[0], "{what}: {} differs from scalar", b.name());
    }
    println!("| {what} | {} |", all[0]);
    all[0].clone()
}

/// Sigmoid loss and gradient (elementwise, upstream 1) of `x` with targets `t`, default
/// parameters (alpha 0.25, gamma 2, form A): "loss classes / grad classes".
fn sig(b: Backend, x: &[f32], t: &[f32]) -> Result<String, FocalError> {
    let f = SigmoidFocal::new().backend(b);
    let mut l = vec![0.0; x.len()];
    f.loss_elementwise(x, t, &mut l)?;
    let mut g = vec![0.0; x.len()];
    f.grad_elementwise(x, t, &vec![1.0; x.len()], &mut g)?;
    let mut gg = vec![0.0; x.len()];
    let s = f.loss_and_grad(x, t, Reduction::Mean, &mut gg)?;
    Ok(format!(
        "loss {} / grad {} / mean {}",
        classes(&l),
        classes(&g),
        class(s)
    ))
}

/// Softmax per-row losses and the gradient of the Mean loss, gamma 2, alpha 0.25.
fn sm(b: Backend, z: &[f32], c: usize, labels: &[i64]) -> Result<String, FocalError> {
    let f = SoftmaxFocal::new()
        .alpha(Alpha::Scalar(0.25))
        .gamma(2.0)
        .ignore_index(Some(-100))
        .backend(b);
    let mut l = vec![0.0; labels.len()];
    f.loss_per_row(z, c, labels, &mut l)?;
    let mut g = vec![0.0; z.len()];
    let s = f.loss_and_grad(z, c, labels, Reduction::Mean, &mut g)?;
    Ok(format!(
        "row loss {} / grad {} / mean {}",
        classes(&l),
        classes(&g),
        class(s)
    ))
}

#[test]
fn failure_contract() {
    let nan = f32::NAN;
    let inf = f32::INFINITY;
    let sub = 1e-40f32;
    println!("| input | result (all backends) |\n|---|---|");

    // Sigmoid special logits, hard targets.
    let r = row("sigmoid x = NaN, t = 0 and 1", |b| {
        sig(b, &[nan, nan], &[0.0, 1.0])
    });
    check(&r, "loss NaN NaN / grad NaN NaN / mean NaN");
    let r = row("sigmoid x = +inf: t = 1 (correct), t = 0 (wrong)", |b| {
        sig(b, &[inf, inf], &[1.0, 0.0])
    });
    check(&r, "loss 0 +inf / grad 0 + / mean +inf");
    let r = row("sigmoid x = -inf: t = 0 (correct), t = 1 (wrong)", |b| {
        sig(b, &[-inf, -inf], &[0.0, 1.0])
    });
    check(&r, "loss 0 +inf / grad -0 - / mean +inf");
    row("sigmoid x = +inf, soft t = 0.5", |b| sig(b, &[inf], &[0.5]));
    row("sigmoid x = ±subnormal, t = 0, 1", |b| {
        sig(b, &[sub, -sub, sub, -sub], &[0.0, 0.0, 1.0, 1.0])
    });
    row("sigmoid x = ±f32::MAX, t = 1", |b| {
        sig(b, &[f32::MAX, f32::MIN], &[1.0, 1.0])
    });
    row("sigmoid x = ±0, t = 0.5", |b| {
        sig(b, &[0.0, -0.0], &[0.5, 0.5])
    });
    // NaN in every lane position, including the tail, for lengths 0, 1, lanes-1, lanes,
    // lanes+1 of each backend: only that element is NaN.
    for n in [0usize, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17] {
        for pos in 0..n {
            let mut x = vec![0.5f32; n];
            x[pos] = nan;
            let t = vec![1.0f32; n];
            for b in backends() {
                let f = SigmoidFocal::new().backend(b);
                let mut l = vec![0.0; n];
                f.loss_elementwise(&x, &t, &mut l).unwrap();
                let mut g = vec![0.0; n];
                f.loss_and_grad(&x, &t, Reduction::Sum, &mut g).unwrap();
                for i in 0..n {
                    assert_eq!(l[i].is_nan(), i == pos, "{} n={n} pos={pos}", b.name());
                    assert_eq!(g[i].is_nan(), i == pos, "{} n={n} pos={pos}", b.name());
                }
            }
        }
    }
    println!(
        "| sigmoid NaN logit at any position of lengths 0..=17 | that element NaN, the others finite |"
    );
    let r = row("sigmoid length 0, Mean / Sum", |b| {
        let f = SigmoidFocal::new().backend(b);
        let m = f.loss(&[], &[], Reduction::Mean)?;
        let s = f.loss(&[], &[], Reduction::Sum)?;
        Ok(format!("mean {} / sum {}", class(m), class(s)))
    });
    check(&r, "mean 0 / sum 0");

    // Sigmoid errors.
    let r = row("sigmoid target NaN at 2 and 7 (n = 9)", |b| {
        let mut t = [0.0f32; 9];
        t[2] = nan;
        t[7] = 2.0;
        sig(b, &[0.0; 9], &t)
    });
    check_contains(&r, "TargetOutOfRange { index: 2");
    row("sigmoid target -0.0", |b| sig(b, &[1.0], &[-0.0]));
    row("sigmoid target 1 + 2^-23 at the tail (n = 17)", |b| {
        let mut t = [1.0f32; 17];
        t[16] = 1.0 + f32::EPSILON;
        sig(b, &[0.0; 17], &t)
    });
    let r = row("sigmoid targets too short (3 for 4 logits)", |b| {
        sig(b, &[0.0; 4], &[0.0; 3])
    });
    check_contains(
        &r,
        "LengthMismatch { what: \"targets\", expected: 4, found: 3 }",
    );
    for (what, n) in [("too short", 3usize), ("too long", 5)] {
        row(&format!("sigmoid grad buffer {what} ({n} for 4)"), |b| {
            let f = SigmoidFocal::new().backend(b);
            let mut g = vec![f32::from_bits(SENTINEL); n];
            let e = f.loss_and_grad(&[0.0; 4], &[0.0; 4], Reduction::Sum, &mut g);
            assert!(g.iter().all(|v| v.to_bits() == SENTINEL));
            e.map(|v| class(v).to_string())
        });
    }
    row("sigmoid out too long, target bad too", |b| {
        let f = SigmoidFocal::new().backend(b);
        let mut o = [0.0f32; 5];
        f.loss_elementwise(&[0.0; 4], &[9.0; 4], &mut o)
            .map(|()| String::new())
    });
    for (name, f) in [
        ("alpha NaN", SigmoidFocal::new().alpha(Some(nan))),
        ("alpha 1.5", SigmoidFocal::new().alpha(Some(1.5))),
        ("gamma -1", SigmoidFocal::new().gamma(-1.0)),
        ("gamma +inf", SigmoidFocal::new().gamma(inf)),
    ] {
        row(&format!("sigmoid {name} (and a bad target)"), |b| {
            f.backend(b)
                .loss(&[0.0], &[5.0], Reduction::Sum)
                .map(|v| class(v).into())
        });
    }
    for d in [0.0f32, -1.0, nan, inf] {
        row(&format!("sigmoid Normalize({d})"), |b| {
            let f = SigmoidFocal::new().backend(b);
            f.loss(&[0.0], &[0.0], Reduction::Normalize(d))
                .map(|v| class(v).into())
        });
    }
    row("sigmoid Normalize(1e-45), x = 0", |b| {
        let f = SigmoidFocal::new().backend(b);
        f.loss(&[0.0], &[0.0], Reduction::Normalize(1e-45))
            .map(|v| class(v).into())
    });
    row("Targets::checked([0, 1, NaN, 2])", |_| {
        Targets::checked(&[0.0, 1.0, nan, 2.0]).map(|_| String::new())
    });
    // Unaligned slices: the same bits at every offset (the consistency tests cover more).
    for b in backends() {
        let x: Vec<f32> = (0..40).map(|i| i as f32 * 0.3 - 6.0).collect();
        let t: Vec<f32> = (0..40).map(|i| (i % 3) as f32 * 0.5).collect();
        let f = SigmoidFocal::new().backend(b);
        let mut full = vec![0.0; 40];
        f.loss_elementwise(&x, &t, &mut full).unwrap();
        for off in 0..17 {
            let mut part = vec![0.0; 40 - off];
            f.loss_elementwise(&x[off..], &t[off..], &mut part).unwrap();
            assert!(
                part.iter()
                    .zip(&full[off..])
                    .all(|(a, b)| a.to_bits() == b.to_bits())
            );
        }
    }
    println!("| sigmoid slices at offsets 0..17 (unaligned) | the same bits per element |");

    // Softmax rows.
    let r = row("softmax row all -inf (C = 3), label 0", |b| {
        sm(b, &[-inf; 3], 3, &[0])
    });
    check(&r, "row loss + / grad - + + / mean +");
    row("softmax row all equal (C = 4), label 2", |b| {
        sm(b, &[1.5; 4], 4, &[2])
    });
    row("softmax row all equal (C = 17), label 16", |b| {
        sm(b, &[0.0; 17], 17, &[16])
    });
    row("softmax row [+inf, -inf, 0], label 0 (correct)", |b| {
        sm(b, &[inf, -inf, 0.0], 3, &[0])
    });
    row("softmax row [+inf, -inf, 0], label 1 (wrong)", |b| {
        sm(b, &[inf, -inf, 0.0], 3, &[1])
    });
    row("softmax row [+inf, -inf, 0], label 2", |b| {
        sm(b, &[inf, -inf, 0.0], 3, &[2])
    });
    row("softmax row [+inf, +inf, 0], label 0", |b| {
        sm(b, &[inf, inf, 0.0], 3, &[0])
    });
    let r = row("softmax rows [NaN, 0, 0] and [0, 1, 2], labels 1, 2", |b| {
        sm(b, &[nan, 0.0, 0.0, 0.0, 1.0, 2.0], 3, &[1, 2])
    });
    check(&r, "row loss NaN + / grad NaN NaN NaN + + - / mean NaN");
    let r = row("softmax row with NaN, ignored (-100)", |b| {
        sm(b, &[nan, 0.0, 0.0, 0.0, 1.0, 2.0], 3, &[-100, 2])
    });
    check(&r, "row loss 0 + / grad 0 0 0 + + - / mean +");
    row("softmax row with a subnormal logit", |b| {
        sm(b, &[1e-40, 0.0, -1e-40], 3, &[0])
    });
    row("softmax C = 1 (two rows)", |b| {
        sm(b, &[3.0, -inf], 1, &[0, 0])
    });
    row("softmax C = 1, logit NaN", |b| sm(b, &[nan], 1, &[0]));
    row("softmax rows 0 (empty), Mean", |b| sm(b, &[], 3, &[]));
    row("softmax all rows ignored, MeanValid", |b| {
        let f = SoftmaxFocal::new().ignore_index(Some(-100)).backend(b);
        let mut g = [0.0f32; 3];
        let l = f.loss_and_grad(
            &[1.0, 2.0, 3.0],
            3,
            &[-100i64],
            Reduction::MeanValid,
            &mut g,
        )?;
        Ok(format!("loss {} / grad {}", class(l), classes(&g)))
    });
    // Softmax errors.
    row("softmax C = 0", |b| sm(b, &[0.0; 3], 0, &[0]));
    row("softmax C = 4 for 6 logits", |b| sm(b, &[0.0; 6], 4, &[0]));
    row("softmax labels too short", |b| sm(b, &[0.0; 6], 3, &[0]));
    row("softmax labels too long", |b| {
        sm(b, &[0.0; 6], 3, &[0, 1, 2])
    });
    row("softmax label C at row 1, -1 at row 2", |b| {
        sm(b, &[0.0; 9], 3, &[0, 3, -1])
    });
    row("softmax label -100 without ignore index", |b| {
        let f = SoftmaxFocal::new().backend(b);
        f.loss(&[0.0; 3], 3, &[-100i64], Reduction::Sum)
            .map(|v| class(v).into())
    });
    row(
        "softmax ignore_index = 1 (a valid class), labels [1, 2]",
        |b| {
            let f = SoftmaxFocal::new().ignore_index(Some(1)).backend(b);
            let mut l = [0.0f32; 2];
            f.loss_per_row(&[0.0, 1.0, 2.0, 0.0, 1.0, 2.0], 3, &[1u8, 2], &mut l)?;
            Ok(classes(&l))
        },
    );
    macro_rules! extremes {
        ($($t:ty),*) => {$(
            row(concat!("softmax labels ", stringify!($t), "::MIN, ::MAX (C = 3)"), |b| {
                let f = SoftmaxFocal::new().backend(b);
                let mut g = [f32::from_bits(SENTINEL); 6];
                let r = f.loss_and_grad(&[0.0; 6], 3, &[<$t>::MIN, <$t>::MAX], Reduction::Sum, &mut g);
                assert!(r.is_ok() || g.iter().all(|v| v.to_bits() == SENTINEL));
                r.map(|v| class(v).into())
            });
        )*};
    }
    extremes!(u8, u16, u32, u64, usize, i32, i64);
    row("softmax u64::MAX label, ignore_index -1", |b| {
        let f = SoftmaxFocal::new().ignore_index(Some(-1)).backend(b);
        f.loss(&[0.0; 3], 3, &[u64::MAX], Reduction::Sum)
            .map(|v| class(v).into())
    });
    row("softmax u8 labels, ignore_index 255, label 255", |b| {
        let f = SoftmaxFocal::new().ignore_index(Some(255)).backend(b);
        f.loss(&[0.0; 3], 3, &[255u8], Reduction::Sum)
            .map(|v| class(v).into())
    });
    row("softmax per-class alpha of length C - 1", |b| {
        let a = [0.5f32; 2];
        let f = SoftmaxFocal::new().alpha(Alpha::PerClass(&a)).backend(b);
        f.loss(&[0.0; 3], 3, &[0u8], Reduction::Sum)
            .map(|v| class(v).into())
    });
    row(
        "softmax per-class alpha [0.5, NaN, 2] (and length wrong)",
        |b| {
            let a = [0.5f32, nan, 2.0];
            let f = SoftmaxFocal::new().alpha(Alpha::PerClass(&a)).backend(b);
            f.loss(&[0.0; 8], 4, &[0u8, 0], Reduction::Sum)
                .map(|v| class(v).into())
        },
    );
    let r = row(
        "softmax label smoothing 1.5 (and gamma fine, a bad label)",
        |b| {
            let f = SoftmaxFocal::new().label_smoothing(1.5).backend(b);
            f.loss(&[0.0; 3], 3, &[7u8], Reduction::Sum)
                .map(|v| class(v).into())
        },
    );
    check(&r, "Err(InvalidLabelSmoothing { value: 1.5 })");
    let r = row("softmax label smoothing NaN, gamma -1", |b| {
        let f = SoftmaxFocal::new()
            .label_smoothing(f32::NAN)
            .gamma(-1.0)
            .backend(b);
        f.loss(&[0.0; 3], 3, &[0u8], Reduction::Sum)
            .map(|v| class(v).into())
    });
    check(&r, "Err(InvalidGamma { value: -1.0 })");
    let r = row(
        "softmax label smoothing 0.1, row [0, -inf, 1], label 0",
        |b| {
            let f = SoftmaxFocal::new().label_smoothing(0.1).backend(b);
            let (z, mut g) = ([0.0, f32::NEG_INFINITY, 1.0], [0.0f32; 3]);
            let l = f.loss_and_grad(&z, 3, &[0u8], Reduction::Sum, &mut g)?;
            Ok(format!("loss {} / grad {}", class(l), classes(&g)))
        },
    );
    check(&r, "loss +inf / grad - - +");
    let r = row(
        "softmax per-class alpha [0, 1, 1], row [-inf, 0, 0], label 0 (and label 1)",
        |b| {
            let a = [0.0f32, 1.0, 1.0];
            let f = SoftmaxFocal::new().alpha(Alpha::PerClass(&a)).backend(b);
            let z = [f32::NEG_INFINITY, 0.0, 0.0, f32::NEG_INFINITY, 0.0, 0.0];
            let mut l = [0.0f32; 2];
            f.loss_per_row(&z, 3, &[0u8, 1], &mut l)?;
            let mut g = [0.0f32; 6];
            f.loss_and_grad(&z, 3, &[0u8, 1], Reduction::Sum, &mut g)?;
            Ok(format!("row loss {} / grad {}", classes(&l), classes(&g)))
        },
    );
    check(&r, "row loss 0 + / grad -0 0 0 0 - +");
    let r = row(
        "sigmoid upstream +inf: logits 1, +inf, t = 1 (`grad_elementwise`, `grad` Sum)",
        |b| {
            let f = SigmoidFocal::new().backend(b);
            let (x, t) = ([1.0f32, inf], [1.0f32, 1.0]);
            let mut g = [0.0f32; 2];
            f.grad_elementwise(&x, &t, &[inf, inf], &mut g)?;
            let mut h = [0.0f32; 2];
            f.grad(&x, &t, Reduction::Sum, inf, &mut h)?;
            Ok(format!("grad {} / {}", classes(&g), classes(&h)))
        },
    );
    check(&r, "grad -inf NaN / -inf NaN");
    let r = row("channels-first S = 0", |b| {
        let cf = SoftmaxFocal::new().backend(b).channels_first(0);
        cf.loss(&[0.0; 6], 3, &[0u8, 1], Reduction::Sum)
            .map(|v| class(v).into())
    });
    check(&r, "Err(InvalidSpatial { spatial: 0, positions: 2 })");
    let r = row(
        "channels-first S = 4 for 6 positions, grad too short (shape before outputs)",
        |b| {
            let cf = SoftmaxFocal::new().backend(b).channels_first(4);
            let mut g = [0.0f32; 5];
            cf.grad(&[0.0; 12], 2, &[0u8; 6], Reduction::Sum, 1.0, &mut g)
                .map(|()| String::new())
        },
    );
    check(&r, "Err(InvalidSpatial { spatial: 4, positions: 6 })");
    let r = row("channels-first S = 3, 2 images: labels too short", |b| {
        let cf = SoftmaxFocal::new().backend(b).channels_first(3);
        cf.loss(&[0.0; 12], 2, &[0u8; 5], Reduction::Sum)
            .map(|v| class(v).into())
    });
    check(
        &r,
        "Err(LengthMismatch { what: \"labels\", expected: 6, found: 5 })",
    );
    row("softmax grad buffer too long", |b| {
        let f = SoftmaxFocal::new().backend(b);
        let mut g = [0.0f32; 7];
        f.grad(&[0.0; 6], 3, &[0u8, 1], Reduction::Sum, 1.0, &mut g)
            .map(|()| String::new())
    });
    row("softmax grad_per_row upstream too short", |b| {
        let f = SoftmaxFocal::new().backend(b);
        let mut g = [0.0f32; 6];
        f.grad_per_row(&[0.0; 6], 3, &[0u8, 1], &[1.0], &mut g)
            .map(|()| String::new())
    });

    // TorchBlocks.
    row(
        "BinaryFocalLoss probability 1.5 at 1, target NaN at 0",
        |_| {
            BinaryFocalLoss::default()
                .loss(&[0.5, 1.5], &[nan, 0.0])
                .map(|v| class(v).into())
        },
    );
    row("BinaryFocalLoss p = 0, t = 1 and p = 1, t = 0", |_| {
        let mut g = [0.0f32; 2];
        let l = BinaryFocalLoss::default().loss_and_grad(&[0.0, 1.0], &[1.0, 0.0], &mut g)?;
        Ok(format!("loss {} / grad {}", class(l), classes(&g)))
    });
    row("BinaryFocalLoss epsilon -1", |_| {
        let m = BinaryFocalLoss {
            epsilon: -1.0,
            ..Default::default()
        };
        m.loss(&[0.5], &[0.5]).map(|v| class(v).into())
    });
    row("torchblocks FocalLoss label 0 (ignored), NaN row", |_| {
        let mut g = [0.0f32; 6];
        let l = FocalLoss::default().loss_and_grad(
            &[nan, 0.0, 0.0, 0.0, 1.0, 2.0],
            3,
            &[0u8, 2],
            &mut g,
        )?;
        Ok(format!("loss {} / grad {}", class(l), classes(&g)))
    });
    row("torchblocks FocalLoss label -100", |_| {
        FocalLoss::default()
            .loss(&[0.0; 3], 3, &[-100i64])
            .map(|v| class(v).into())
    });
}

fn check(got: &str, want: &str) {
    assert_eq!(got, want);
}

fn check_contains(got: &str, want: &str) {
    assert!(got.contains(want), "{got} does not contain {want}");
}
