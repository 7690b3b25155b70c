//! Known values and other libraries' conventions, on every available backend:
//!
//! * the mmcv unit-test vectors of SPEC 6 (softmax via `SoftmaxFocal::mmcv()` with Mean;
//!   sigmoid as mmcv computes it: label k one-hot over C channels, per-term form, summed and
//!   divided by the number of rows), within 1e-6 relative;
//! * the TorchBlocks modules (`compat::torchblocks`) against an f64 transcription of their
//!   formulas (SPEC 4), values and gradients, to f32 accuracy; and `FocalLoss` with ε = 0
//!   against the exact softmax kernel with class 0 ignored;
//! * regressions for failures of other libraries: gamma 0 and 0.5 at logits ±20, ±100, ±1e4
//!   must give finite gradients equal to the oracle (optax #1267, kornia #918);
//! * the presets (torchvision, fvcore, optax, mmcv, kornia, keras; softmax mmcv, keras, torch)
//!   are the parameter sets the crate documents.

mod common;

use common::*;
use focal_loss::compat::torchblocks::{BinaryFocalLoss, FocalLoss};
use focal_loss::{Alpha, Reduction, SigmoidFocal, SigmoidForm, SoftmaxFocal};

fn rel_close(got: f32, want: f64, rel: f64) -> bool {
    (got as f64 - want).abs() <= rel * want.abs()
}

const MMCV_1: ([f32; 4], [u32; 2], usize) = ([1.0, 0.0, 0.0, 1.0], [0, 1], 2);
const MMCV_2: ([f32; 6], [u32; 2], usize) = ([1.0, 0.0, -1.0, 0.0, 1.0, 2.0], [2, 1], 3);

#[test]
fn mmcv_softmax_vectors() {
    for b in backends() {
        let f = SoftmaxFocal::mmcv().backend(b);
        let l1 = f
            .loss(&MMCV_1.0, MMCV_1.2, &MMCV_1.1, Reduction::Mean)
            .unwrap();
        let l2 = f
            .loss(&MMCV_2.0, MMCV_2.2, &MMCV_2.1, Reduction::Mean)
            .unwrap();
        eprintln!("{}: mmcv softmax {l1:.8} {l2:.8}", b.name());
        assert!(rel_close(l1, 0.00566451, 1e-6), "{b:?}: {l1:e}");
        assert!(rel_close(l2, 0.34956908, 1e-6), "{b:?}: {l2:e}");
    }
}

/// mmcv's sigmoid op: label k is one-hot over the C channels; the loss is summed and
/// divided by the number of rows.
fn mmcv_sigmoid(f: &SigmoidFocal, logits: &[f32], labels: &[u32], c: usize) -> (f32, f32) {
    let rows = labels.len();
    let targets: Vec<f32> = (0..rows * c)
        .map(|i| (labels[i / c] as usize == i % c) as u8 as f32)
        .collect();
    let a = f
        .loss(logits, &targets, Reduction::Normalize(rows as f32))
        .unwrap();
    let b = f.loss(logits, &targets, Reduction::Sum).unwrap() / rows as f32;
    (a, b)
}

#[test]
fn mmcv_sigmoid_vectors() {
    for b in backends() {
        let f = SigmoidFocal::mmcv().backend(b);
        let (a1, s1) = mmcv_sigmoid(&f, &MMCV_1.0, &MMCV_1.1, MMCV_1.2);
        let (a2, s2) = mmcv_sigmoid(&f, &MMCV_2.0, &MMCV_2.1, MMCV_2.2);
        eprintln!("{}: mmcv sigmoid {a1:.8} {a2:.8}", b.name());
        for (got, want) in [
            (a1, 0.13562961),
            (s1, 0.13562961),
            (a2, 1.10251057),
            (s2, 1.10251057),
        ] {
            assert!(rel_close(got, want, 1e-6), "{b:?}: {got:e} vs {want}");
        }
    }
}

/// The oracle reproduces the anchors too (checks the oracle, independent of the crate).
#[test]
fn oracle_reproduces_mmcv_vectors() {
    let soft = |z: &[f32], labels: &[u32], c: usize| {
        let mut g = vec![Eval::ZERO; c];
        let s: f64 = labels
            .iter()
            .enumerate()
            .map(|(r, k)| {
                softmax_focal_row(&z[r * c..(r + 1) * c], *k as usize, 0.25, 2.0, &mut g).value
            })
            .sum();
        s / labels.len() as f64
    };
    let sig = |z: &[f32], labels: &[u32], c: usize| {
        let prm = SigParams {
            alpha: Some(0.25),
            gamma: 2.0,
            form: Form::PerTerm,
        };
        let s: f64 = (0..z.len())
            .map(|i| {
                let t = (labels[i / c] as usize == i % c) as u8 as f32;
                sigmoid_focal(z[i], t, &prm).0.value
            })
            .sum();
        s / labels.len() as f64
    };
    for (got, want) in [
        (soft(&MMCV_1.0, &MMCV_1.1, 2), 0.00566451),
        (soft(&MMCV_2.0, &MMCV_2.1, 3), 0.34956908),
        (sig(&MMCV_1.0, &MMCV_1.1, 2), 0.13562961),
        (sig(&MMCV_2.0, &MMCV_2.1, 3), 1.10251057),
    ] {
        assert!((got - want).abs() <= 1e-6 * want, "oracle {got} vs {want}");
    }
}

/// f32 accuracy for a value computed in f64 and rounded once: 2 ulp, plus an absolute floor
/// far below anything the ordinary inputs produce.
fn f32_close(got: f32, want: f64) -> bool {
    (got as f64 - want).abs() <= 2.0 * ulp32(want) + 1e-13
}

#[test]
fn torchblocks_binary_focal_loss_matches_its_formula() {
    let mut rng = Rng::new(0x7B01);
    let n = 257;
    let probs: Vec<f32> = (0..n)
        .map(|i| match i % 9 {
            0 => rng.range(1e-6, 1e-3),
            1 => rng.range(0.999, 0.99999),
            _ => rng.range(0.0, 1.0),
        })
        .collect();
    let targets: Vec<f32> = (0..n)
        .map(|i| match i % 3 {
            0 => 0.0,
            1 => 1.0,
            _ => rng.unit() as f32,
        })
        .collect();
    let mut cases = vec![BinaryFocalLoss::default()];
    for (gamma, alpha, epsilon) in [
        (0.0, 0.5, 1e-9),
        (0.5, 0.25, 1e-9),
        (3.0, 0.9, 1e-6),
        (2.0, 0.25, 0.0),
    ] {
        cases.push(BinaryFocalLoss {
            gamma,
            alpha,
            epsilon,
        });
    }
    let d = BinaryFocalLoss::default();
    assert_eq!((d.gamma, d.alpha, d.epsilon), (2.0, 0.25, 1e-9), "defaults");
    for m in cases {
        let (mut sum, mut grads) = (0.0f64, vec![0.0f64; n]);
        for i in 0..n {
            let (l, g) = torchblocks_binary(
                probs[i],
                targets[i],
                m.alpha as f64,
                m.gamma as f64,
                m.epsilon as f64,
            );
            sum += l;
            grads[i] = g / n as f64; // gradient of the mean
        }
        let want = sum / n as f64;
        let got = m.loss(&probs, &targets).unwrap();
        assert!(f32_close(got, want), "{m:?}: loss {got:e} vs {want:e}");
        let mut g = vec![0.0f32; n];
        let got2 = m.loss_and_grad(&probs, &targets, &mut g).unwrap();
        assert_eq!(got2.to_bits(), got.to_bits(), "{m:?}: loss_and_grad loss");
        for i in 0..n {
            assert!(
                f32_close(g[i], grads[i]),
                "{m:?}: grad[{i}] (p {} t {}) {:e} vs {:e}",
                probs[i],
                targets[i],
                g[i],
                grads[i]
            );
        }
    }
}

#[test]
fn torchblocks_focal_loss_matches_its_formula() {
    let mut rng = Rng::new(0x7B02);
    for c in [2usize, 3, 5, 10] {
        let rows = 40;
        let z: Vec<f32> = (0..rows * c).map(|_| rng.range(-6.0, 6.0)).collect();
        let labels: Vec<i64> = (0..rows).map(|_| rng.below(c) as i64).collect();
        let pc: Vec<f32> = (0..c).map(|_| rng.range(0.1, 1.0)).collect();
        let d = FocalLoss::default();
        assert_eq!((d.gamma, d.epsilon), (2.0, 1e-9), "defaults");
        assert!(matches!(d.alpha, Alpha::None), "default alpha");
        let cases = [
            FocalLoss::default(),
            FocalLoss {
                gamma: 0.0,
                alpha: Alpha::Scalar(0.5),
                epsilon: 1e-9,
            },
            FocalLoss {
                gamma: 1.5,
                alpha: Alpha::PerClass(&pc),
                epsilon: 1e-7,
            },
        ];
        for m in cases {
            let alpha_k = |k: usize| match m.alpha {
                Alpha::None => 1.0,
                Alpha::Scalar(a) => a as f64,
                Alpha::PerClass(v) => v[k] as f64,
            };
            let mut sum = 0.0;
            let mut want_g = vec![0.0f64; rows * c];
            for r in 0..rows {
                let k = labels[r] as usize;
                sum += torchblocks_focal_row(
                    &z[r * c..(r + 1) * c],
                    k,
                    alpha_k(k),
                    m.gamma as f64,
                    m.epsilon as f64,
                    &mut want_g[r * c..(r + 1) * c],
                );
            }
            let want = sum / rows as f64; // every row counts, class-0 rows included
            let got = m.loss(&z, c, &labels).unwrap();
            assert!(
                f32_close(got, want),
                "C {c} {m:?}: loss {got:e} vs {want:e}"
            );
            let mut g = vec![0.0f32; rows * c];
            let got2 = m.loss_and_grad(&z, c, &labels, &mut g).unwrap();
            assert_eq!(
                got2.to_bits(),
                got.to_bits(),
                "C {c} {m:?}: loss_and_grad loss"
            );
            for i in 0..rows * c {
                let w = want_g[i] / rows as f64;
                assert!(
                    f32_close(g[i], w),
                    "C {c} {m:?}: grad[{i}] {:e} vs {w:e}",
                    g[i]
                );
                if labels[i / c] == 0 {
                    assert_eq!(g[i], 0.0, "class-0 rows have zero gradient");
                }
            }
        }
    }
}

/// With ε = 0 the TorchBlocks softmax module is the exact softmax focal loss with class 0
/// ignored and Mean over all rows.
#[test]
fn torchblocks_focal_loss_without_epsilon_is_the_exact_kernel() {
    let mut rng = Rng::new(0x7B03);
    let c = 6;
    let rows = 50;
    let z: Vec<f32> = (0..rows * c).map(|_| rng.range(-5.0, 5.0)).collect();
    let labels: Vec<u8> = (0..rows).map(|_| rng.below(c) as u8).collect();
    let m = FocalLoss {
        gamma: 2.0,
        alpha: Alpha::Scalar(0.25),
        epsilon: 0.0,
    };
    let mut g1 = vec![0.0f32; rows * c];
    let l1 = m.loss_and_grad(&z, c, &labels, &mut g1).unwrap();
    for b in backends() {
        let f = SoftmaxFocal::mmcv().ignore_index(Some(0)).backend(b);
        let mut g2 = vec![0.0f32; rows * c];
        let l2 = f
            .loss_and_grad(&z, c, &labels, Reduction::Mean, &mut g2)
            .unwrap();
        assert!(rel_close(l1, l2 as f64, 1e-6), "{b:?}: {l1:e} vs {l2:e}");
        let gmax = g2.iter().fold(0.0f32, |a, v| a.max(v.abs())) as f64;
        for i in 0..rows * c {
            assert!(
                (g1[i] as f64 - g2[i] as f64).abs() <= 1e-6 * gmax,
                "{b:?}: grad[{i}] {:e} vs {:e}",
                g1[i],
                g2[i]
            );
        }
    }
}

/// optax #1267 and kornia #918: with gamma < 1 (and 0) the textbook gradient contains
/// `u^(γ-1)` and is NaN/inf at saturated logits. The spec's form has none: gradients at
/// ±20, ±100, ±1e4 are finite and equal to the oracle.
#[test]
fn small_gamma_gradients_at_saturated_logits_are_finite_and_exact() {
    let xs = [20.0f32, -20.0, 100.0, -100.0, 1e4, -1e4];
    for b in backends() {
        for form in [SigmoidForm::ModulatedBce, SigmoidForm::PerTerm] {
            for gamma in [0.0f32, 0.5] {
                for t in [0.0f32, 1.0, 0.3] {
                    for alpha in [None, Some(0.25)] {
                        let f = SigmoidFocal::new()
                            .alpha(alpha)
                            .gamma(gamma)
                            .form(form)
                            .backend(b);
                        let ts = [t; 6];
                        let mut g = [0.0f32; 6];
                        let mut l = [0.0f32; 6];
                        f.grad(&xs, &ts, Reduction::Sum, 1.0, &mut g).unwrap();
                        f.loss_elementwise(&xs, &ts, &mut l).unwrap();
                        let prm = sig_params(alpha, gamma, form);
                        let mut mg = Meter::new("regression grad", SIG_GRAD);
                        let mut ml = Meter::new("regression loss", SIG_LOSS);
                        for i in 0..6 {
                            let (wl, wg) = sigmoid_focal(xs[i], t, &prm);
                            let cond = sigmoid_cond(xs[i], t, gamma, form);
                            let ctx = || {
                                format!(
                                    "{b:?} {form:?} gamma {gamma} alpha {alpha:?} x {} t {t}",
                                    xs[i]
                                )
                            };
                            assert!(g[i].is_finite(), "{}: gradient {}", ctx(), g[i]);
                            mg.check(g[i], wg, cond, ctx);
                            ml.check(l[i], wl, cond, ctx);
                        }
                        assert!(
                            mg.n_failures + ml.n_failures == 0,
                            "{:?} {:?}",
                            mg.failures,
                            ml.failures
                        );
                    }
                }
            }
        }
        // Softmax: rows [d, 0] and [0, d] with the target on either side.
        for gamma in [0.0f32, 0.5] {
            for d in xs {
                let z = [d, 0.0, 0.0, d];
                let labels = [0u8, 0];
                let f = SoftmaxFocal::new().gamma(gamma).backend(b);
                let mut g = [0.0f32; 4];
                f.grad(&z, 2, &labels, Reduction::Sum, 1.0, &mut g).unwrap();
                let mut want = [Eval::ZERO; 4];
                for r in 0..2 {
                    softmax_focal_row(
                        &z[2 * r..2 * r + 2],
                        0,
                        1.0,
                        gamma as f64,
                        &mut want[2 * r..2 * r + 2],
                    );
                }
                let mut m = Meter::new("regression softmax", SM_GRAD);
                for i in 0..4 {
                    let r = i / 2;
                    let cond = SoftCond::new(&z[2 * r..2 * r + 2], 0, gamma);
                    assert!(
                        g[i].is_finite(),
                        "{b:?} gamma {gamma} z {z:?}: gradient {g:?}"
                    );
                    m.check(g[i], want[i], cond.elem(z[i]), || {
                        format!("{b:?} gamma {gamma} z {z:?} i {i}")
                    });
                }
                assert!(m.n_failures == 0, "{:?}", m.failures);
            }
        }
    }
}

/// The presets are the documented parameter sets: each equals the explicit builder bit for
/// bit (on soft targets, where the forms differ, and with the alpha that tells them apart).
#[test]
fn presets_are_the_documented_parameters() {
    let mut rng = Rng::new(0x9E5E);
    let n = 40;
    let xs: Vec<f32> = (0..n).map(|_| rng.logit()).collect();
    let ts: Vec<f32> = (0..n).map(|_| rng.target()).collect();
    let run = |f: SigmoidFocal| {
        let mut g = vec![0.0f32; n];
        let l = f.loss_and_grad(&xs, &ts, Reduction::Mean, &mut g).unwrap();
        (l.to_bits(), bits(&g))
    };
    for b in backends() {
        let a = |f: SigmoidFocal| run(f.backend(b));
        let tv = a(SigmoidFocal::new()
            .alpha(Some(0.25))
            .gamma(2.0)
            .form(SigmoidForm::ModulatedBce));
        let no_alpha = a(SigmoidFocal::new()
            .alpha(None)
            .gamma(2.0)
            .form(SigmoidForm::ModulatedBce));
        let per_term = a(SigmoidFocal::new()
            .alpha(Some(0.25))
            .gamma(2.0)
            .form(SigmoidForm::PerTerm));
        assert_ne!(tv, no_alpha, "the data must tell the presets apart");
        assert_ne!(tv, per_term, "the data must tell the forms apart");
        assert_eq!(a(SigmoidFocal::new()), tv, "new() = torchvision");
        assert_eq!(a(SigmoidFocal::default()), tv, "default() = torchvision");
        assert_eq!(a(SigmoidFocal::torchvision()), tv, "torchvision");
        assert_eq!(a(SigmoidFocal::fvcore()), no_alpha, "fvcore (alpha=-1)");
        assert_eq!(a(SigmoidFocal::optax()), no_alpha, "optax");
        assert_eq!(a(SigmoidFocal::keras()), no_alpha, "keras");
        assert_eq!(a(SigmoidFocal::mmcv()), per_term, "mmcv");
        assert_eq!(a(SigmoidFocal::kornia()), per_term, "kornia");
        assert_eq!(
            SigmoidForm::default(),
            SigmoidForm::ModulatedBce,
            "default form"
        );
    }
    let c = 5;
    let rows = 30;
    let z: Vec<f32> = (0..rows * c).map(|_| rng.logit()).collect();
    let labels: Vec<i64> = (0..rows)
        .map(|r| {
            if r % 4 == 1 {
                -100
            } else {
                rng.below(c) as i64
            }
        })
        .collect();
    let valid: Vec<i64> = labels.iter().map(|l| if *l < 0 { 0 } else { *l }).collect();
    for b in backends() {
        let run = |f: SoftmaxFocal, labels: &[i64], r: Reduction| {
            let mut g = vec![0.0f32; rows * c];
            let l = f
                .backend(b)
                .loss_and_grad(&z, c, labels, r, &mut g)
                .unwrap();
            (l.to_bits(), bits(&g))
        };
        let plain = run(
            SoftmaxFocal::new().alpha(Alpha::None).gamma(2.0),
            &valid,
            Reduction::Mean,
        );
        let quarter = run(
            SoftmaxFocal::new().alpha(Alpha::Scalar(0.25)).gamma(2.0),
            &valid,
            Reduction::Mean,
        );
        assert_ne!(plain, quarter);
        assert_eq!(
            run(SoftmaxFocal::new(), &valid, Reduction::Mean),
            plain,
            "new()"
        );
        assert_eq!(
            run(SoftmaxFocal::default(), &valid, Reduction::Mean),
            plain,
            "default()"
        );
        assert_eq!(
            run(SoftmaxFocal::mmcv(), &valid, Reduction::Mean),
            quarter,
            "mmcv"
        );
        assert_eq!(
            run(SoftmaxFocal::keras(), &valid, Reduction::Mean),
            quarter,
            "keras"
        );
        // torch(): ignore_index -100, to be used with MeanValid.
        let torch = run(SoftmaxFocal::torch(), &labels, Reduction::MeanValid);
        let explicit = run(
            SoftmaxFocal::new()
                .alpha(Alpha::None)
                .gamma(2.0)
                .ignore_index(Some(-100)),
            &labels,
            Reduction::MeanValid,
        );
        assert_eq!(torch, explicit, "torch");
        assert!(
            SoftmaxFocal::new()
                .backend(b)
                .loss(&z, c, &labels, Reduction::Mean)
                .is_err(),
            "new() has no ignore index: -100 is out of range"
        );
    }
}
