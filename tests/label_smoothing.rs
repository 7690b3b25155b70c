//! Label smoothing of the softmax focal loss (Keras `CategoricalFocalCrossentropy`'s
//! `label_smoothing`: target `(1-ε)·onehot + ε/C`, every class a focal term) on every
//! available backend, forced explicitly, in both layouts, against the f64 oracle
//! `common::oracle::softmax_focal_smoothed_row`, under the softmax bound of
//! `softmax_accuracy.rs` (`common::SoftCond`).
//!
//! Also: `ε = 0` gives the unsmoothed bits; the scalar backend's channels-first results
//! equal its row-major ones on the transposed logits bit for bit; the in-place method equals
//! the fused one; the oracle's gradient is the derivative of its loss (central differences
//! in f64); errors and their order.

mod common;

use common::*;
use focal_loss::{Alpha, Backend, FocalError, Reduction, SoftmaxFocal};

const EPSILONS: [f32; 3] = [0.1, 0.45, 1.0];
const GAMMAS: [f32; 6] = [0.0, 0.5, 1.0, 2.0, 2.7, 5.0];

fn oalpha<'a>(a: &Alpha<'a>) -> OAlpha<'a> {
    match *a {
        Alpha::None => OAlpha::None,
        Alpha::Scalar(a) => OAlpha::Scalar(a as f64),
        Alpha::PerClass(v) => OAlpha::PerClass(v),
    }
}

fn sweep(cs: &[usize]) {
    let bks = backends();
    let mut meters: Vec<(Meter, Meter)> = bks
        .iter()
        .map(|b| {
            let tag = format!("smoothed C{cs:?} {}", b.name());
            (
                Meter::new(format!("{tag} loss"), SM_LOSS),
                Meter::new(format!("{tag} grad"), SM_GRAD),
            )
        })
        .collect();
    let mut red_fail = Vec::new();
    for &c in cs {
        let b = batch(c, 0x5300 + c as u64);
        let rows = b.labels.len();
        let pc = class_alpha(c, 7 + c as u64);
        let ones = vec![1.0f32; rows];
        let spatial = if rows.is_multiple_of(2) {
            rows / 2
        } else {
            rows
        };
        let zt = to_channels_first(&b.z, c, spatial);
        let (fin_rows, z_fin, l_fin) = b.finite_rows();
        for alpha in [Alpha::None, Alpha::Scalar(0.25), Alpha::PerClass(&pc)] {
            for gamma in GAMMAS {
                for eps in EPSILONS {
                    let mut want_l = vec![Eval::ZERO; rows];
                    let mut want_g = vec![Eval::ZERO; rows * c];
                    let mut conds = vec![SoftCond::new(&[0.0], 0, 0.0); rows];
                    for r in 0..rows {
                        let zr = &b.z[r * c..(r + 1) * c];
                        if b.labels[r] == IGNORE {
                            continue;
                        }
                        let k = b.labels[r] as usize;
                        let g = &mut want_g[r * c..(r + 1) * c];
                        want_l[r] = softmax_focal_smoothed_row(
                            zr,
                            k,
                            &oalpha(&alpha),
                            gamma as f64,
                            eps as f64,
                            g,
                        );
                        conds[r] = SoftCond::new(zr, k, gamma);
                    }
                    for (bi, &backend) in bks.iter().enumerate() {
                        let f = SoftmaxFocal::new()
                            .alpha(alpha)
                            .gamma(gamma)
                            .label_smoothing(eps)
                            .ignore_index(Some(IGNORE))
                            .backend(backend);
                        let ctx0 = format!(
                            "{} C {c} alpha {alpha:?} gamma {gamma} eps {eps}",
                            backend.name()
                        );
                        let run_rm = || {
                            let mut out = vec![0.0f32; rows];
                            let mut grad = vec![0.0f32; rows * c];
                            let mut fused = vec![0.0f32; rows * c];
                            f.loss_per_row(&b.z, c, &b.labels, &mut out).unwrap();
                            f.grad_per_row(&b.z, c, &b.labels, &ones, &mut grad)
                                .unwrap();
                            let s = f
                                .loss_and_grad(&b.z, c, &b.labels, Reduction::Sum, &mut fused)
                                .unwrap();
                            let mut inplace = b.z.clone();
                            let s2 = f
                                .loss_and_grad_in_place(&mut inplace, c, &b.labels, Reduction::Sum)
                                .unwrap();
                            assert_eq!(bits_nan_eq(&inplace), bits_nan_eq(&fused), "{ctx0}");
                            assert_eq!(bits_nan_eq(&[s]), bits_nan_eq(&[s2]), "{ctx0}");
                            (out, grad, fused, s)
                        };
                        let cf = f.channels_first(spatial);
                        let run_cf = || {
                            let mut out = vec![0.0f32; rows];
                            let mut grad = vec![0.0f32; rows * c];
                            let mut fused = vec![0.0f32; rows * c];
                            cf.loss_per_position(&zt, c, &b.labels, &mut out).unwrap();
                            cf.grad_per_position(&zt, c, &b.labels, &ones, &mut grad)
                                .unwrap();
                            let s = cf
                                .loss_and_grad(&zt, c, &b.labels, Reduction::Sum, &mut fused)
                                .unwrap();
                            let mut inplace = zt.clone();
                            cf.loss_and_grad_in_place(&mut inplace, c, &b.labels, Reduction::Sum)
                                .unwrap();
                            assert_eq!(bits_nan_eq(&inplace), bits_nan_eq(&fused), "{ctx0} CF");
                            let back = |v: &[f32]| from_channels_first(v, c, spatial);
                            (out, back(&grad), back(&fused), s)
                        };
                        let rm = run_rm();
                        let cfr = run_cf();
                        if backend == Backend::Scalar {
                            assert_eq!(bits_nan_eq(&cfr.0), bits_nan_eq(&rm.0), "{ctx0} CF loss");
                            assert_eq!(bits_nan_eq(&cfr.1), bits_nan_eq(&rm.1), "{ctx0} CF grad");
                            assert_eq!(bits_nan_eq(&cfr.2), bits_nan_eq(&rm.2), "{ctx0} CF fused");
                            assert_eq!(
                                bits_nan_eq(&[cfr.3]),
                                bits_nan_eq(&[rm.3]),
                                "{ctx0} CF sum"
                            );
                        }
                        let (ml, mg) = &mut meters[bi];
                        for (layout, (out, grad, fused, _)) in [("row-major", rm), ("CF", cfr)] {
                            for r in 0..rows {
                                let zr = &b.z[r * c..(r + 1) * c];
                                let ctx = || {
                                    let shown: Vec<f32> = zr.iter().copied().take(8).collect();
                                    format!(
                                        "{ctx0} {layout} label {} row {r} z[..8] {shown:?}",
                                        b.labels[r]
                                    )
                                };
                                if b.labels[r] == IGNORE {
                                    let zero = out[r] == 0.0
                                        && grad[r * c..(r + 1) * c].iter().all(|v| *v == 0.0)
                                        && fused[r * c..(r + 1) * c].iter().all(|v| *v == 0.0);
                                    assert!(zero, "ignored row not zero: {}", ctx());
                                    continue;
                                }
                                ml.check(out[r], want_l[r], conds[r].loss(), ctx);
                                for j in 0..c {
                                    let ctxj = || format!("{} class {j}", ctx());
                                    let (w, cond) = (want_g[r * c + j], conds[r].elem(zr[j]));
                                    mg.check(grad[r * c + j], w, cond, ctxj);
                                    mg.check(fused[r * c + j], w, cond, ctxj);
                                }
                            }
                        }
                        let got = f.loss(&z_fin, c, &l_fin, Reduction::Sum).unwrap();
                        let (mut want, mut tol) = (0.0f64, 0.0f64);
                        for &r in &fin_rows {
                            want += want_l[r].value;
                            tol += SM_LOSS.tol(want_l[r], conds[r].loss());
                        }
                        tol += 1e-6 * want.abs() + ulp32(want);
                        if !within(got as f64, want, tol) {
                            red_fail.push(format!("{ctx0}: Sum got {got:e} want {want:e}"));
                        }
                    }
                }
            }
        }
    }
    let all: Vec<Meter> = meters.into_iter().flat_map(|(a, b)| [a, b]).collect();
    finish_all(&all);
    assert!(red_fail.is_empty(), "reduced loss: {red_fail:#?}");
}

#[test]
fn small_c_matches_oracle_on_every_backend() {
    sweep(&[1, 2, 3, 5, 16, 17]);
}

#[test]
fn medium_and_large_c_match_oracle_on_every_backend() {
    sweep(&[31, 80, 600]);
}

/// `ε = 0` is the unsmoothed loss, bit for bit, on every backend and method.
#[test]
fn zero_smoothing_is_the_unsmoothed_bits() {
    for c in [3, 20, 600] {
        let b = batch(c, 11);
        let rows = b.labels.len();
        for backend in backends() {
            let f = SoftmaxFocal::torch()
                .alpha(Alpha::Scalar(0.25))
                .backend(backend);
            let g = f.label_smoothing(0.0);
            let (mut o1, mut o2) = (vec![0.0; rows * c], vec![0.0; rows * c]);
            let s1 = f
                .loss_and_grad(&b.z, c, &b.labels, Reduction::MeanValid, &mut o1)
                .unwrap();
            let s2 = g
                .loss_and_grad(&b.z, c, &b.labels, Reduction::MeanValid, &mut o2)
                .unwrap();
            assert_eq!(bits_nan_eq(&o1), bits_nan_eq(&o2));
            assert_eq!(bits_nan_eq(&[s1]), bits_nan_eq(&[s2]));
        }
    }
}

/// The oracle's gradient is the derivative of its loss: central differences in f64 on
/// ordinary rows (this checks the formula the kernels and the oracle share).
#[test]
fn oracle_gradient_is_the_derivative_of_its_loss() {
    let mut rng = Rng::new(42);
    for c in [2, 3, 7, 30] {
        let pc = class_alpha(c, 3);
        for gamma in [0.0, 0.5, 2.0, 2.7] {
            for eps in [0.1, 0.6, 1.0] {
                for alpha in [OAlpha::None, OAlpha::PerClass(&pc)] {
                    let z: Vec<f32> = (0..c).map(|_| rng.range(-3.0, 3.0)).collect();
                    let k = rng.below(c);
                    let mut g = vec![Eval::ZERO; c];
                    softmax_focal_smoothed_row(&z, k, &alpha, gamma, eps, &mut g);
                    // The loss at z + h·e_j, in f64 throughout (the oracle reads f32 logits,
                    // so evaluate the definition directly here).
                    let loss_at = |j: usize, h: f64| {
                        let zz: Vec<f64> = (0..c)
                            .map(|i| z[i] as f64 + if i == j { h } else { 0.0 })
                            .collect();
                        let m = zz.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                        let s: f64 = zz.iter().map(|v| (v - m).exp()).sum();
                        (0..c)
                            .map(|i| {
                                let ell = zz[i] - m - s.ln();
                                let y = eps / c as f64 + if i == k { 1.0 - eps } else { 0.0 };
                                let q: f64 = 1.0 - ell.exp();
                                alpha.for_class(i) * y * q.powf(gamma) * -ell
                            })
                            .sum::<f64>()
                    };
                    for (j, gj) in g.iter().enumerate() {
                        let h = 1e-6;
                        let fd = (loss_at(j, h) - loss_at(j, -h)) / (2.0 * h);
                        let got = gj.value;
                        assert!(
                            (fd - got).abs() <= 1e-6 * (1.0 + gj.mag),
                            "C {c} gamma {gamma} eps {eps} class {j}: fd {fd} oracle {got}"
                        );
                    }
                }
            }
        }
    }
}

/// Keras' definition (`CategoricalFocalCrossentropy(from_logits=True, label_smoothing=0.2,
/// alpha=0.25, gamma=2)`, whose clipping at 1e-7 does not act on these rows): the loss is
/// `Σ_j 0.25·y_j·(1-p_j)^2·(-ln p_j)` per row, computed here in f64 from the softmax itself,
/// independently of the oracle's log-space form, and compared on every backend.
#[test]
fn keras_definition_on_every_backend() {
    let z = [1.0f32, 2.0, 0.5, -1.0, 0.0, 3.0, -2.0, 1.5];
    let labels = [1u8, 3];
    let (c, eps, gamma) = (4usize, 0.2f64, 2.0f64);
    let mut want = 0.0;
    for (r, &k) in labels.iter().enumerate() {
        let row: Vec<f64> = z[r * c..(r + 1) * c].iter().map(|&v| v as f64).collect();
        let s: f64 = row.iter().map(|v| v.exp()).sum();
        for (j, v) in row.iter().enumerate() {
            let p = v.exp() / s;
            let y = eps / c as f64 + if j == k as usize { 1.0 - eps } else { 0.0 };
            want += 0.25 * y * (1.0 - p).powf(gamma) * -p.ln();
        }
    }
    want /= labels.len() as f64;
    for backend in backends() {
        let f = SoftmaxFocal::keras().label_smoothing(0.2).backend(backend);
        let got = f.loss(&z, c, &labels, Reduction::Mean).unwrap();
        assert!(
            (got as f64 - want).abs() <= 4.0 * ulp32(want),
            "{}: {got} vs {want}",
            backend.name()
        );
    }
}

/// `-inf` and `+inf` logits: with `ε > 0` a class of probability 0 has an infinite loss
/// term and a finite gradient; a NaN makes its row NaN only.
#[test]
fn special_logits() {
    let ninf = f32::NEG_INFINITY;
    for backend in backends() {
        let f = SoftmaxFocal::new().label_smoothing(0.1).backend(backend);
        let z = [0.0, ninf, 1.0, f32::INFINITY, 0.0, 0.0, f32::NAN, 0.0, 1.0];
        let mut g = [0.0f32; 9];
        let mut per = [0.0f32; 3];
        f.loss_per_row(&z, 3, &[0u8, 0, 0], &mut per).unwrap();
        f.grad(&z, 3, &[0u8, 0, 0], Reduction::Sum, 1.0, &mut g)
            .unwrap();
        assert_eq!(per[0], f32::INFINITY, "{}", backend.name());
        assert_eq!(per[1], f32::INFINITY, "{}", backend.name());
        assert!(per[2].is_nan());
        assert!(g[..6].iter().all(|v| v.is_finite()), "{g:?}");
        assert!(g[6..].iter().all(|v| v.is_nan()), "{g:?}");
        // Row 2 of the gradient sums to 0 like every softmax gradient row.
        let s: f32 = g[..3].iter().sum();
        assert!(s.abs() < 1e-6, "{g:?}");
    }
}

/// A peaked row (the class at the maximum has `p` within an ulp of 1) whose other classes
/// weigh little or nothing: the smoothing part of that class's gradient, `p·Σ_c a_c·u_c -
/// a_k·u_k`, cancelled to 0 (or to a few ulps of the cancelled term: 1.3 % off) where the
/// true value is `-q·a_k·u_k`, tiny but not 0. Every element within 1e-5 of the exact
/// value (the f64 oracle, which takes the same care), in either layout, on every backend.
#[test]
fn peaked_rows_keep_the_top_class_gradient() {
    /// Logits, label, per-class alpha, γ, ε.
    type Case = (&'static [f32], usize, &'static [f32], f32, f32);
    let cases: [Case; 5] = [
        (&[-50.0, 3.043026], 1, &[0.0, 0.7], 0.0, 1.0),
        (&[-20.0, 3.0, -30.0], 1, &[0.0, 0.7, 0.0], 0.0, 1.0),
        (&[-20.0, 3.0, -30.0], 1, &[1e-6, 0.7, 0.0], 0.0, 1.0),
        (&[-20.0, 3.0, -30.0], 1, &[1e-6, 0.7, 0.0], 2.0, 0.3),
        (
            &[-12.0, 9.0, -30.0, -1.0],
            0,
            &[0.0, 0.5, 0.0, 1e-7],
            1.0,
            0.1,
        ),
    ];
    for (z, k, pa, gamma, eps) in cases {
        let c = z.len();
        let mut want = vec![Eval::ZERO; c];
        let a = OAlpha::PerClass(pa);
        softmax_focal_smoothed_row(z, k, &a, gamma as f64, eps as f64, &mut want);
        for backend in backends() {
            let f = SoftmaxFocal::new()
                .alpha(Alpha::PerClass(pa))
                .gamma(gamma)
                .label_smoothing(eps)
                .backend(backend);
            let mut g = vec![0.0f32; c];
            let mut gcf = vec![0.0f32; c];
            f.grad(z, c, &[k as u8], Reduction::Sum, 1.0, &mut g)
                .unwrap();
            f.channels_first(1)
                .grad(z, c, &[k as u8], Reduction::Sum, 1.0, &mut gcf)
                .unwrap();
            for (layout, got) in [("row-major", &g), ("channels-first", &gcf)] {
                for (j, (&got, w)) in got.iter().zip(&want).enumerate() {
                    let ok = (got as f64 - w.value).abs() <= 1e-5 * w.value.abs() + 1e-44;
                    assert!(
                        ok,
                        "{} {layout} z {z:?} label {k} alpha {pa:?} γ {gamma} ε {eps}: \
                         class {j} got {got:e}, want {:e}",
                        backend.name(),
                        w.value
                    );
                }
            }
        }
    }
}

#[test]
fn invalid_smoothing_is_refused_after_gamma_and_before_the_rest() {
    let z = [0.0f32; 6];
    for e in [f32::NAN, -0.1, 1.0 + f32::EPSILON, f32::INFINITY] {
        let f = SoftmaxFocal::new().label_smoothing(e);
        let mut g = [7.0f32; 6];
        let r = f.loss_and_grad(&z, 3, &[0u8, 9], Reduction::Normalize(-1.0), &mut g);
        match r {
            Err(FocalError::InvalidLabelSmoothing { value }) => {
                assert_eq!(value.to_bits(), e.to_bits())
            }
            other => panic!("{e}: {other:?}"),
        }
        assert!(g.iter().all(|v| *v == 7.0));
        let r = f
            .gamma(-1.0)
            .loss(&z, 3, &[0u8, 0], Reduction::Sum)
            .unwrap_err();
        assert!(matches!(r, FocalError::InvalidGamma { .. }), "{r:?}");
    }
    for e in [0.0, -0.0, 1.0, 1e-30] {
        let f = SoftmaxFocal::new().label_smoothing(e);
        assert!(f.loss(&z, 3, &[0u8, 2], Reduction::Sum).is_ok(), "{e}");
    }
}

/// Finite logits more than `f32::MAX` apart: `z_j - max` overflows to `-inf` in f32, while
/// every class's term `(ε/C)·α·q^γ·(max - z_j + ln(1 + S_rest))` is finite. The loss was
/// `+inf` on every backend (audit finding; the unsmoothed kernel already halved such a
/// term). Each row among 37 ordinary ones, so that SIMD vectors mix them, in both layouts:
/// every row's loss within 1e-6 and every gradient element within 1e-5 of the f64 oracle.
#[test]
fn rows_wider_than_f32_max_keep_a_finite_loss() {
    const M: f32 = f32::MAX;
    /// A far row (its classes first), its label, alpha, γ, ε.
    type Case = (&'static [f32], usize, Alpha<'static>, f32, f32);
    let cases: [Case; 4] = [
        (&[2e38, -2e38], 0, Alpha::None, 2.0, 0.1),
        (&[2e38, -2e38], 1, Alpha::Scalar(0.25), 2.0, 0.1),
        (&[M, -M, 0.0, 0.0], 0, Alpha::None, 0.0, 1e-6),
        (&[-M, 0.0, M, 1e38], 2, Alpha::Scalar(0.5), 2.5, 0.3),
    ];
    let mut rng = Rng::new(5);
    for (far, k, alpha, gamma, eps) in cases {
        let (c, rows) = (far.len(), 38);
        let mut z: Vec<f32> = (0..rows * c).map(|_| rng.range(-6.0, 6.0)).collect();
        let mut labels: Vec<u8> = (0..rows).map(|r| (r % c) as u8).collect();
        // The far row at 21: inside a vector of 4, 8 or 16 rows.
        z[21 * c..22 * c].copy_from_slice(far);
        labels[21] = k as u8;
        let (mut want, mut want_g) = (vec![0.0f64; rows], vec![Eval::ZERO; rows * c]);
        for r in 0..rows {
            let row = &z[r * c..(r + 1) * c];
            let g = &mut want_g[r * c..(r + 1) * c];
            want[r] = softmax_focal_smoothed_row(
                row,
                labels[r] as usize,
                &oalpha(&alpha),
                gamma as f64,
                eps as f64,
                g,
            )
            .value;
        }
        assert!(
            want[21].is_finite() && want[21] > 1e30,
            "{far:?}: {}",
            want[21]
        );
        // Channels-first: the rows as one image of `rows` positions.
        let zt = to_channels_first(&z, c, rows);
        for backend in backends() {
            let f = SoftmaxFocal::new()
                .alpha(alpha)
                .gamma(gamma)
                .label_smoothing(eps)
                .backend(backend);
            let cf = f.channels_first(rows);
            let (mut per, mut per_cf) = (vec![0.0f32; rows], vec![0.0f32; rows]);
            let (mut g, mut g_cf) = (vec![0.0f32; rows * c], vec![0.0f32; rows * c]);
            f.loss_per_row(&z, c, &labels, &mut per).unwrap();
            cf.loss_per_position(&zt, c, &labels, &mut per_cf).unwrap();
            f.grad(&z, c, &labels, Reduction::Sum, 1.0, &mut g).unwrap();
            cf.grad(&zt, c, &labels, Reduction::Sum, 1.0, &mut g_cf)
                .unwrap();
            let g_cf = from_channels_first(&g_cf, c, rows);
            let name = backend.name();
            for r in 0..rows {
                for (layout, got) in [("row-major", per[r]), ("channels-first", per_cf[r])] {
                    let w = want[r];
                    assert!(
                        (got as f64 - w).abs() <= 1e-6 * w.abs() + 1e-30,
                        "{name} {layout} {far:?} row {r}: loss {got:e}, want {w:e}"
                    );
                }
                for j in 0..c {
                    let w = want_g[r * c + j].value;
                    for (layout, got) in [
                        ("row-major", g[r * c + j]),
                        ("channels-first", g_cf[r * c + j]),
                    ] {
                        assert!(
                            (got as f64 - w).abs() <= 1e-5 * w.abs() + 1e-6,
                            "{name} {layout} {far:?} row {r} class {j}: gradient {got:e}, want {w:e}"
                        );
                    }
                }
            }
        }
    }
}
