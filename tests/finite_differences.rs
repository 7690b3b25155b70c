//! Gradients against finite differences of the loss.
//!
//! The derivative of the f64 ORACLE loss is taken by a 6th-order central difference
//! (`common::oracle::central_diff6`), so the analytic gradient formulas of SPEC 1 (A), (B) and
//! SPEC 2 are checked independently of how they are written:
//! * the oracle's analytic gradient equals the finite difference to ~1e-9 of the largest term;
//! * every backend's `grad`/`grad_elementwise`/`grad_per_row` equals the finite difference
//!   within the gradient bound of `common` plus the (tiny) finite-difference error.
//!
//! Points are where the loss is smooth: finite logits with |x| <= 15 (sigmoid), rows with
//! logits in [-8, 8] (softmax); hard and soft targets; every gamma of the accuracy sweeps.

mod common;

use common::*;
use focal_loss::{Alpha, Reduction, SigmoidFocal, SigmoidForm, SoftmaxFocal};

const GAMMAS: [f32; 8] = [0.0, 0.25, 0.5, 1.0, 2.0, 2.5, 3.0, 5.0];
const H: f64 = 1e-3;
/// Relative (to the largest term) accuracy of the 6th-order difference with step 1e-3:
/// truncation ~h^6·f^(7), rounding ~1e-16/h; 1e-9 leaves a wide margin on both.
const FD_REL: f64 = 1e-9;

#[test]
fn sigmoid_gradient_equals_finite_difference() {
    let mut rng = Rng::new(0xFD01);
    let mut xs = Vec::new();
    let mut ts = Vec::new();
    for _ in 0..400 {
        xs.push(rng.range(-15.0, 15.0));
        ts.push(rng.target());
    }
    xs.extend([0.0f32, 1e-3, -1e-3, 0.5, -0.5, 3.0, -3.0, 12.0, -12.0]);
    ts.extend([0.0f32, 1.0, 0.5, 0.25, 0.75, 1.0, 0.0, 0.1, 0.9]);
    let n = xs.len();
    let mut worst_oracle: f64 = 0.0;
    let mut meters = Vec::new();
    for form in [SigmoidForm::ModulatedBce, SigmoidForm::PerTerm] {
        for alpha in [None, Some(0.25f32), Some(0.9)] {
            for gamma in GAMMAS {
                let prm = sig_params(alpha, gamma, form);
                let mut fd = vec![Eval::ZERO; n];
                for i in 0..n {
                    let (_, an) = sigmoid_focal(xs[i], ts[i], &prm);
                    let t = ts[i] as f64;
                    let d = central_diff6(|y| sigmoid_focal_loss_f64(y, t, &prm), xs[i] as f64, H);
                    let scale = an.mag.max(an.value.abs());
                    let e = (d - an.value).abs() / scale.max(1e-300);
                    worst_oracle = worst_oracle.max(e);
                    assert!(
                        (d - an.value).abs() <= FD_REL * scale,
                        "oracle {form:?} alpha {alpha:?} gamma {gamma} x {} t {}: analytic {:e} vs finite difference {d:e}",
                        xs[i],
                        ts[i],
                        an.value
                    );
                    // Judge the crate against the finite difference, with the oracle's term
                    // magnitude (the bound's unit) and the finite-difference error added.
                    fd[i] = Eval {
                        value: d,
                        mag: an.mag,
                    };
                }
                for b in backends() {
                    let f = SigmoidFocal::new()
                        .alpha(alpha)
                        .gamma(gamma)
                        .form(form)
                        .backend(b);
                    let mut g = vec![0.0f32; n];
                    f.grad(&xs, &ts, Reduction::Sum, 1.0, &mut g).unwrap();
                    let mut m = Meter::new(format!("fd sigmoid {form:?} {}", b.name()), SIG_GRAD);
                    for i in 0..n {
                        let cond = sigmoid_cond(xs[i], ts[i], gamma, form);
                        // widen by the finite-difference error, expressed in the bound's unit
                        let slack = FD_REL * fd[i].mag.max(fd[i].value.abs()) / unit(fd[i]);
                        m.check(g[i], fd[i], cond + slack / SIG_GRAD.c, || {
                            format!("alpha {alpha:?} gamma {gamma} x {:e} t {:e}", xs[i], ts[i])
                        });
                    }
                    meters.push(m);
                }
            }
        }
    }
    eprintln!("sigmoid: worst |analytic - finite difference| / largest term = {worst_oracle:.2e}");
    let failing: Vec<&Meter> = meters.iter().filter(|m| m.n_failures > 0).collect();
    assert!(
        failing.is_empty(),
        "{:#?}",
        failing.iter().map(|m| &m.failures).collect::<Vec<_>>()
    );
}

#[test]
fn softmax_gradient_equals_finite_difference() {
    let mut rng = Rng::new(0xFD02);
    let mut worst_oracle: f64 = 0.0;
    let mut failures = Vec::new();
    for &c in &[2usize, 3, 5, 8, 16, 17] {
        let rows = 12;
        let z: Vec<f32> = (0..rows * c).map(|_| rng.range(-8.0, 8.0)).collect();
        let labels: Vec<usize> = (0..rows).map(|_| rng.below(c)).collect();
        let pc: Vec<f32> = (0..c).map(|_| rng.range(0.05, 1.0)).collect();
        for alpha in [Alpha::None, Alpha::Scalar(0.25), Alpha::PerClass(&pc)] {
            let alpha_k = |k: usize| match alpha {
                Alpha::None => 1.0,
                Alpha::Scalar(a) => a as f64,
                Alpha::PerClass(v) => v[k] as f64,
            };
            for gamma in GAMMAS {
                let mut fd = vec![Eval::ZERO; rows * c];
                let mut an = vec![Eval::ZERO; c];
                let mut conds = Vec::new();
                for r in 0..rows {
                    let zr = &z[r * c..(r + 1) * c];
                    let k = labels[r];
                    softmax_focal_row(zr, k, alpha_k(k), gamma as f64, &mut an);
                    conds.push(SoftCond::new(zr, k, gamma));
                    let z64: Vec<f64> = zr.iter().map(|v| *v as f64).collect();
                    let scale = an.iter().map(|e| e.value.abs()).fold(0.0, f64::max);
                    for j in 0..c {
                        let d = central_diff6(
                            |y| {
                                let mut zz = z64.clone();
                                zz[j] = y;
                                softmax_focal_loss_f64(&zz, k, alpha_k(k), gamma as f64)
                            },
                            z64[j],
                            H,
                        );
                        worst_oracle =
                            worst_oracle.max((d - an[j].value).abs() / scale.max(1e-300));
                        assert!(
                            (d - an[j].value).abs() <= FD_REL * scale.max(1e-30),
                            "oracle C {c} gamma {gamma} row {zr:?} k {k} class {j}: analytic {:e} vs finite difference {d:e}",
                            an[j].value
                        );
                        fd[r * c + j] = Eval {
                            value: d,
                            mag: an[j].mag,
                        };
                    }
                }
                for b in backends() {
                    let f = SoftmaxFocal::new().alpha(alpha).gamma(gamma).backend(b);
                    let mut g = vec![0.0f32; rows * c];
                    f.grad(&z, c, &labels, Reduction::Sum, 1.0, &mut g).unwrap();
                    let mut m = Meter::new(format!("fd softmax C{c} {}", b.name()), SM_GRAD);
                    for r in 0..rows {
                        let zr = &z[r * c..(r + 1) * c];
                        for j in 0..c {
                            let w = fd[r * c + j];
                            // finite-difference error relative to the row's largest gradient
                            let row_max = fd[r * c..(r + 1) * c]
                                .iter()
                                .map(|e| e.value.abs())
                                .fold(0.0, f64::max);
                            let slack = FD_REL * row_max / unit(w);
                            m.check(
                                g[r * c + j],
                                w,
                                conds[r].elem(zr[j]) + slack / SM_GRAD.c,
                                || {
                                    format!(
                                        "alpha {alpha:?} gamma {gamma} row {zr:?} k {} class {j}",
                                        labels[r]
                                    )
                                },
                            );
                        }
                    }
                    if m.n_failures > 0 {
                        failures.push(m.failures.clone());
                    }
                }
            }
        }
    }
    eprintln!(
        "softmax: worst |analytic - finite difference| / largest gradient of the row = {worst_oracle:.2e}"
    );
    assert!(failures.is_empty(), "{failures:#?}");
}
