//! The channels-first softmax (`SoftmaxFocal::channels_first`): every method on every
//! backend against the row-major methods on the transposed logits, in place against out of
//! place, the reductions, and its shape errors (nothing written). Accuracy against the f64
//! oracle is in `softmax_accuracy.rs`.

mod common;

use common::*;
use focal_loss::{Alpha, Backend, FocalError, Reduction, SoftmaxFocal};

/// Relative closeness for results of two summation orders (every value here is moderate).
fn close(a: f32, b: f32) -> bool {
    (a == b) || (a - b).abs() <= 2e-6 * a.abs().max(b.abs()) + 1e-30
}

/// The same bits where `exact` (the scalar backend runs the row-major loop over each
/// position's strided classes), else [`close`].
fn agrees(exact: bool, a: f32, b: f32) -> bool {
    if exact {
        a.to_bits() == b.to_bits()
    } else {
        close(a, b)
    }
}

fn all_agree(exact: bool, a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| agrees(exact, *x, *y))
}

#[test]
fn every_method_equals_row_major_on_the_transposed_logits() {
    let mut rng = Rng::new(7);
    let class_alpha: Vec<f32> = (0..250).map(|k| (k % 5) as f32 / 4.0).collect();
    // (N, C, S): S below, at and above every lane count, with tails; C = 1; one image.
    // Images of more than 32768 logits run as parts of an image on the SIMD backends (blocks
    // of 1664, 768 and 128 positions here, the last one shorter).
    for (n, c, s) in [
        (3, 5, 37),
        (2, 1, 20),
        (1, 19, 64),
        (4, 3, 1),
        (2, 40, 17),
        (1, 2, 3),
        (2, 7, 33),
        (1, 19, 2000),
        (2, 40, 1000),
        (1, 250, 200),
    ] {
        let positions = n * s;
        // A logit far below the others here and there: rows whose span is not normal (more
        // than 87 between their extremes) take the guarded exponential.
        let z: Vec<f32> = (0..positions * c)
            .map(|i| {
                if i % 17 == 5 {
                    -120.0
                } else {
                    rng.range(-8.0, 8.0)
                }
            })
            .collect();
        let labels: Vec<u8> = (0..positions)
            .map(|i| if i % 11 == 3 { 255 } else { rng.below(c) as u8 })
            .collect();
        let up: Vec<f32> = (0..positions).map(|_| rng.range(-2.0, 2.0)).collect();
        let zt = to_channels_first(&z, c, s);
        for b in backends() {
            let exact = b == Backend::Scalar;
            for (alpha, gamma) in [
                (Alpha::None, 2.0),
                (Alpha::Scalar(0.25), 0.0),
                (Alpha::PerClass(&class_alpha[..c]), 2.5),
                (Alpha::None, 0.7),
            ] {
                let f = SoftmaxFocal::new()
                    .alpha(alpha)
                    .gamma(gamma)
                    .ignore_index(Some(255))
                    .backend(b);
                let cf = f.channels_first(s);
                let ctx = format!("{} N {n} C {c} S {s} {alpha:?} gamma {gamma}", b.name());
                for r in [
                    Reduction::Mean,
                    Reduction::MeanValid,
                    Reduction::Sum,
                    Reduction::Normalize(3.0),
                ] {
                    let want = f.loss(&z, c, &labels, r).unwrap();
                    let got = cf.loss(&zt, c, &labels, r).unwrap();
                    assert!(
                        agrees(exact, got, want),
                        "{ctx} {r:?}: loss {got} vs {want}"
                    );

                    let mut g_rm = vec![0.0; z.len()];
                    let mut g_cf = vec![0.0; z.len()];
                    f.grad(&z, c, &labels, r, 0.5, &mut g_rm).unwrap();
                    cf.grad(&zt, c, &labels, r, 0.5, &mut g_cf).unwrap();
                    assert!(
                        all_agree(exact, &from_channels_first(&g_cf, c, s), &g_rm),
                        "{ctx} {r:?}: grad"
                    );

                    let mut fused = vec![0.0; z.len()];
                    let l = cf.loss_and_grad(&zt, c, &labels, r, &mut fused).unwrap();
                    assert!(
                        agrees(exact, l, want),
                        "{ctx} {r:?}: fused loss {l} vs {want}"
                    );
                    let mut g1 = vec![0.0; z.len()];
                    cf.grad(&zt, c, &labels, r, 1.0, &mut g1).unwrap();
                    assert_eq!(bits(&fused), bits(&g1), "{ctx} {r:?}: fused grad = grad");

                    let mut inplace = zt.clone();
                    let li = cf
                        .loss_and_grad_in_place(&mut inplace, c, &labels, r)
                        .unwrap();
                    assert_eq!(li.to_bits(), l.to_bits(), "{ctx} {r:?}: in-place loss");
                    assert_eq!(bits(&inplace), bits(&fused), "{ctx} {r:?}: in-place grad");
                }
                let mut per_rm = vec![0.0; positions];
                let mut per_cf = vec![0.0; positions];
                f.loss_per_row(&z, c, &labels, &mut per_rm).unwrap();
                cf.loss_per_position(&zt, c, &labels, &mut per_cf).unwrap();
                assert!(all_agree(exact, &per_cf, &per_rm), "{ctx}: per position");
                for (i, &l) in labels.iter().enumerate() {
                    if l == 255 {
                        assert_eq!(per_cf[i].to_bits(), 0, "{ctx}: ignored position {i}");
                    }
                }
                let mut g_rm = vec![0.0; z.len()];
                let mut g_cf = vec![0.0; z.len()];
                f.grad_per_row(&z, c, &labels, &up, &mut g_rm).unwrap();
                cf.grad_per_position(&zt, c, &labels, &up, &mut g_cf)
                    .unwrap();
                assert!(
                    all_agree(exact, &from_channels_first(&g_cf, c, s), &g_rm),
                    "{ctx}: grad per position"
                );
            }
        }
    }
}

#[test]
fn spatial_one_is_row_major_bit_for_bit_on_the_scalar_backend() {
    let mut rng = Rng::new(3);
    let (rows, c) = (50, 6);
    let z: Vec<f32> = (0..rows * c).map(|_| rng.logit()).collect();
    let labels: Vec<i64> = (0..rows).map(|_| rng.below(c) as i64).collect();
    let f = SoftmaxFocal::new().backend(Backend::Scalar);
    let (mut a, mut b) = (vec![0.0; z.len()], vec![0.0; z.len()]);
    let la = f
        .loss_and_grad(&z, c, &labels, Reduction::Mean, &mut a)
        .unwrap();
    let lb = f
        .channels_first(1)
        .loss_and_grad(&z, c, &labels, Reduction::Mean, &mut b)
        .unwrap();
    assert_eq!(la.to_bits(), lb.to_bits());
    assert_eq!(bits(&a), bits(&b));
}

#[test]
fn shape_errors_write_nothing() {
    let z = [0.5f32; 24]; // 12 positions of 2 classes
    let labels = [1u16; 12];
    for b in backends() {
        let f = SoftmaxFocal::new().backend(b);
        for (spatial, ok) in [
            (0, false),
            (5, false),
            (24, false),
            (1, true),
            (4, true),
            (12, true),
        ] {
            let cf = f.channels_first(spatial);
            let mut g = [sentinel(); 24];
            let mut per = [sentinel(); 12];
            let r = cf.loss_and_grad(&z, 2, &labels, Reduction::Mean, &mut g);
            let p = cf.loss_per_position(&z, 2, &labels, &mut per);
            if ok {
                assert!(r.is_ok() && p.is_ok(), "{}: S = {spatial}", b.name());
            } else {
                let want = FocalError::InvalidSpatial {
                    spatial,
                    positions: 12,
                };
                assert_eq!(r, Err(want), "{}: S = {spatial}", b.name());
                assert_eq!(p, Err(want));
                assert!(untouched(&g) && untouched(&per));
            }
        }
        // The checks before it come first: num_classes, then the labels' length.
        let cf = f.channels_first(0);
        assert!(matches!(
            cf.loss(&z, 5, &labels, Reduction::Sum),
            Err(FocalError::InvalidNumClasses { .. })
        ));
        assert!(matches!(
            cf.loss(&z, 2, &labels[..11], Reduction::Sum),
            Err(FocalError::LengthMismatch { what: "labels", .. })
        ));
    }
}

/// An empty tensor of images larger than a block (`C·S` above 32768 logits, which the SIMD
/// backends cut into parts of an image): every method returns zeros and writes nothing.
/// Until 2026-12-04 the blocked path ran one part of "image 0" of the empty tensor, reading
/// and writing up to a block's logits beyond the empty slices (found by an adversarial
/// review; with dangling empty slices it crashed).
#[test]
fn empty_tensor_of_large_images_writes_nothing() {
    const SENTINEL: f32 = -7.0;
    // (C, S): parts of one image on the SIMD backends, and one position wider than a block.
    for (c, s) in [(20usize, 2000usize), (32769, 1), (3, 12000)] {
        for b in backends() {
            let cf = SoftmaxFocal::torch().backend(b).channels_first(s);
            let logits = vec![0.5f32; 2 * c * s];
            let labels = vec![1u8; 2 * s];
            let up = vec![1.0f32; 2 * s];
            let mut out = vec![SENTINEL; 2 * c * s];
            let untouched = |out: &[f32], what: &str| {
                assert!(
                    out.iter().all(|&v| v == SENTINEL),
                    "{} C = {c}, S = {s}: {what} wrote outside its empty output",
                    b.name()
                )
            };
            for r in [Reduction::Sum, Reduction::Mean, Reduction::MeanValid] {
                assert_eq!(cf.loss(&logits[..0], c, &labels[..0], r), Ok(0.0));
                // Slices at the start of live buffers: a stray write lands in `out`.
                assert_eq!(
                    cf.loss_and_grad(&logits[..0], c, &labels[..0], r, &mut out[..0]),
                    Ok(0.0)
                );
                untouched(&out, "loss_and_grad");
                assert_eq!(
                    cf.grad(&logits[..0], c, &labels[..0], r, 1.0, &mut out[..0]),
                    Ok(())
                );
                untouched(&out, "grad");
                assert_eq!(
                    cf.loss_and_grad_in_place(&mut out[..0], c, &labels[..0], r),
                    Ok(0.0)
                );
                untouched(&out, "loss_and_grad_in_place");
                // Dangling empty slices: a stray access faults.
                assert_eq!(cf.loss(&[], c, &[] as &[i64], r), Ok(0.0));
                assert_eq!(cf.loss_and_grad(&[], c, &[] as &[i64], r, &mut []), Ok(0.0));
            }
            assert_eq!(
                cf.loss_per_position(&logits[..0], c, &labels[..0], &mut out[..0]),
                Ok(())
            );
            untouched(&out, "loss_per_position");
            assert_eq!(
                cf.grad_per_position(&logits[..0], c, &labels[..0], &up[..0], &mut out[..0]),
                Ok(())
            );
            untouched(&out, "grad_per_position");
        }
    }
}
