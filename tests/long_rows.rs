//! Softmax rows of 512 classes and more, on every available backend: they keep their
//! exponentials in the gradient buffer between the statistics pass and the gradient pass,
//! one row at a time. Checked here, at lengths around the switch to one row per group (511,
//! 512, 513), at 1000, at a length that leaves a tail in every vector width (4099) and at
//! 40000 (a row past L1, as in language models):
//!
//! * the accuracy bound of the softmax suite (`common::SM_LOSS`, `common::SM_GRAD`) against
//!   the f64 oracle, for the per-row loss and the gradient of `grad_per_row`, on the suite's
//!   rows (random scales, arg-max targets by margins, ties, special values, `+inf`, NaN,
//!   ignored rows);
//! * the reduced loss of `loss` equal bit for bit to that of `loss_and_grad` and
//!   `loss_and_grad_in_place`, and the gradients of `grad` (upstream 1), `loss_and_grad` and
//!   `loss_and_grad_in_place` equal bit for bit, for every reduction.

mod common;

use common::*;
use focal_loss::{Alpha, SoftmaxFocal};

const LENGTHS: [usize; 6] = [511, 512, 513, 1000, 4099, 40_000];
const GAMMAS: [f32; 3] = [0.0, 2.0, 2.5];

#[test]
fn long_rows_within_the_bound() {
    let mut meters = Vec::new();
    for b in backends() {
        let mut ml = Meter::new(format!("long rows {} loss", b.name()), SM_LOSS);
        let mut mg = Meter::new(format!("long rows {} grad", b.name()), SM_GRAD);
        for c in LENGTHS {
            let batch = batch(c, 0x10C6);
            let rows = batch.labels.len();
            let pc = class_alpha(c, 7 + c as u64);
            let ones = vec![1.0f32; rows];
            for (alpha, oalpha) in [
                (Alpha::None, OAlpha::None),
                (Alpha::PerClass(&pc), OAlpha::PerClass(&pc)),
            ] {
                for gamma in GAMMAS {
                    let f = SoftmaxFocal::new()
                        .alpha(alpha)
                        .gamma(gamma)
                        .ignore_index(Some(IGNORE))
                        .backend(b);
                    let mut loss = vec![0.0f32; rows];
                    let mut grad = vec![0.0f32; rows * c];
                    f.loss_per_row(&batch.z, c, &batch.labels, &mut loss)
                        .unwrap();
                    f.grad_per_row(&batch.z, c, &batch.labels, &ones, &mut grad)
                        .unwrap();
                    let mut want_g = vec![Eval::ZERO; c];
                    for r in 0..rows {
                        let zr = &batch.z[r * c..(r + 1) * c];
                        let gr = &grad[r * c..(r + 1) * c];
                        let ctx = |j: usize| {
                            move || format!("C {c} row {r} class {j} {alpha:?} gamma {gamma}")
                        };
                        if batch.labels[r] == IGNORE {
                            assert_eq!(loss[r], 0.0, "{}", ctx(0)());
                            assert!(gr.iter().all(|&v| v == 0.0), "{}", ctx(0)());
                            continue;
                        }
                        let k = batch.labels[r] as usize;
                        let want_l = softmax_focal_row(
                            zr,
                            k,
                            oalpha.for_class(k),
                            gamma as f64,
                            &mut want_g,
                        );
                        let cond = SoftCond::new(zr, k, gamma);
                        if zr.iter().any(|v| v.is_nan()) {
                            ml.check_nan(loss[r], ctx(0));
                            for (j, &g) in gr.iter().enumerate() {
                                mg.check_nan(g, ctx(j));
                            }
                            continue;
                        }
                        ml.check(loss[r], want_l, cond.loss(), ctx(0));
                        for (j, (&g, &w)) in gr.iter().zip(&want_g).enumerate() {
                            mg.check(g, w, cond.elem(zr[j]), ctx(j));
                        }
                    }
                }
            }
        }
        meters.push(ml);
        meters.push(mg);
    }
    finish_all(&meters);
}

#[test]
fn long_rows_every_mode_same_bits() {
    for b in backends() {
        for c in LENGTHS {
            let batch = batch(c, 0xB175);
            // The rows without NaN or infinity: a NaN row makes the reduced loss NaN, which
            // would hide the other rows' bits.
            let (_, z, labels) = batch.finite_rows();
            for gamma in GAMMAS {
                let f = SoftmaxFocal::new()
                    .gamma(gamma)
                    .alpha(Alpha::Scalar(0.25))
                    .ignore_index(Some(IGNORE))
                    .backend(b);
                for r in REDUCTIONS {
                    let ctx = format!("{} C {c} gamma {gamma} {r:?}", b.name());
                    let loss = f.loss(&z, c, &labels, r).unwrap();
                    let mut g = vec![0.0f32; z.len()];
                    f.grad(&z, c, &labels, r, 1.0, &mut g).unwrap();
                    let mut fused = vec![0.0f32; z.len()];
                    let lf = f.loss_and_grad(&z, c, &labels, r, &mut fused).unwrap();
                    let mut inplace = z.clone();
                    let li = f
                        .loss_and_grad_in_place(&mut inplace, c, &labels, r)
                        .unwrap();
                    assert!(loss.is_finite(), "{ctx}: loss {loss}");
                    assert_eq!(lf.to_bits(), loss.to_bits(), "{ctx}: fused loss");
                    assert_eq!(li.to_bits(), loss.to_bits(), "{ctx}: in-place loss");
                    assert_eq!(bits(&fused), bits(&g), "{ctx}: fused grad");
                    assert_eq!(bits(&inplace), bits(&g), "{ctx}: in-place grad");
                }
            }
        }
    }
}
