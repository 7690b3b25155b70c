//! Consistency between the entry points, on every available backend (forced explicitly):
//!
//! * fused `loss_and_grad` == separate `loss` + `grad` (bit-identical, same backend);
//! * `loss_and_grad_in_place` == `loss_and_grad` (bit-identical);
//! * targets checked once (`Targets::checked`) give the same bits as a plain slice;
//! * Mean == Sum/N, MeanValid, Normalize(d) == Sum/d, for the loss and the gradient scale;
//!   `upstream` scales as specified (`grad`, `grad_elementwise`, `grad_per_row`);
//! * `loss_elementwise`/`loss_per_row` summed == the Sum reduction (1e-6 relative);
//! * softmax per-row gradients sum to ~0; ignored rows have loss 0 and gradient 0; MeanValid
//!   with no valid row gives loss 0 and gradient 0; every label type gives the same results;
//! * an element's (row's) result does not depend on its position or the slice length
//!   (bit-identical at offsets 0..20 in slices of varying length); repeated calls are
//!   bit-identical;
//! * reduced sums are accurate: relative error <= 1e-6 against an f64 sum of the per-element
//!   values, for N up to 2^20.

mod common;

use common::*;
use focal_loss::{
    Alpha, Backend, FocalError, Reduction, SigmoidFocal, SigmoidForm, SoftmaxFocal, Targets,
};

fn sig_inputs(seed: u64, n: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let xs = (0..n).map(|_| rng.logit()).collect();
    let ts = (0..n).map(|_| rng.target()).collect();
    (xs, ts)
}

fn sig_configs(b: Backend) -> Vec<SigmoidFocal> {
    let mut v = Vec::new();
    for form in [SigmoidForm::ModulatedBce, SigmoidForm::PerTerm] {
        for (alpha, gamma) in [
            (Some(0.25), 2.0),
            (None, 0.0),
            (Some(0.7), 0.5),
            (None, 2.5),
            (Some(0.25), 5.0),
        ] {
            v.push(
                SigmoidFocal::new()
                    .alpha(alpha)
                    .gamma(gamma)
                    .form(form)
                    .backend(b),
            );
        }
    }
    v
}

const REDUCTIONS: [Reduction; 4] = [
    Reduction::Sum,
    Reduction::Mean,
    Reduction::MeanValid,
    Reduction::Normalize(3.7),
];

/// Softmax test batch: logits, labels with some ignored rows (-100).
fn sm_inputs(seed: u64, c: usize, rows: usize) -> (Vec<f32>, Vec<i64>) {
    let mut rng = Rng::new(seed);
    let z = (0..rows * c).map(|_| rng.logit()).collect();
    let labels = (0..rows)
        .map(|r| {
            if r % 5 == 3 {
                -100
            } else {
                rng.below(c) as i64
            }
        })
        .collect();
    (z, labels)
}

fn sm_configs<'a>(b: Backend, pc: &'a [f32]) -> Vec<SoftmaxFocal<'a>> {
    let base = SoftmaxFocal::new().ignore_index(Some(-100)).backend(b);
    vec![
        base,
        base.alpha(Alpha::Scalar(0.25)).gamma(0.0),
        base.alpha(Alpha::PerClass(pc)).gamma(0.5),
        base.gamma(5.0),
    ]
}

#[test]
fn fused_and_in_place_equal_separate_passes_bitwise() {
    for b in backends() {
        for n in [0usize, 1, 5, 16, 33, 100] {
            let (xs, ts) = sig_inputs(n as u64, n);
            // The fused and in-place calls take the targets checked once.
            let tc = Targets::checked(&ts).unwrap();
            for f in sig_configs(b) {
                for r in REDUCTIONS {
                    let loss = f.loss(&xs, &ts, r).unwrap();
                    let lc = f.loss(&xs, tc, r).unwrap();
                    assert_eq!(lc.to_bits(), loss.to_bits(), "{f:?} {r:?} n {n}: checked");
                    let mut g = vec![0.0f32; n];
                    f.grad(&xs, &ts, r, 1.0, &mut g).unwrap();
                    let mut g2 = vec![0.0f32; n];
                    let l2 = f.loss_and_grad(&xs, tc, r, &mut g2).unwrap();
                    assert_eq!(
                        l2.to_bits(),
                        loss.to_bits(),
                        "{f:?} {r:?} n {n}: fused loss"
                    );
                    assert_eq!(bits(&g2), bits(&g), "{f:?} {r:?} n {n}: fused grad");
                    let mut x3 = xs.clone();
                    let l3 = f.loss_and_grad_in_place(&mut x3, tc, r).unwrap();
                    assert_eq!(
                        l3.to_bits(),
                        loss.to_bits(),
                        "{f:?} {r:?} n {n}: in-place loss"
                    );
                    assert_eq!(bits(&x3), bits(&g), "{f:?} {r:?} n {n}: in-place grad");
                }
            }
        }
        let pc: Vec<f32> = (0..17).map(|j| (j as f32 + 1.0) / 18.0).collect();
        for (c, rows) in [(1usize, 7usize), (3, 9), (17, 11), (16, 0)] {
            let (z, labels) = sm_inputs(c as u64, c, rows);
            for f in sm_configs(b, &pc[..c]) {
                for r in REDUCTIONS {
                    let loss = f.loss(&z, c, &labels, r).unwrap();
                    let mut g = vec![0.0f32; z.len()];
                    f.grad(&z, c, &labels, r, 1.0, &mut g).unwrap();
                    let mut g2 = vec![0.0f32; z.len()];
                    let l2 = f.loss_and_grad(&z, c, &labels, r, &mut g2).unwrap();
                    assert_eq!(
                        l2.to_bits(),
                        loss.to_bits(),
                        "{f:?} {r:?} C {c}: fused loss"
                    );
                    assert_eq!(bits(&g2), bits(&g), "{f:?} {r:?} C {c}: fused grad");
                    let mut z3 = z.clone();
                    let l3 = f.loss_and_grad_in_place(&mut z3, c, &labels, r).unwrap();
                    assert_eq!(
                        l3.to_bits(),
                        loss.to_bits(),
                        "{f:?} {r:?} C {c}: in-place loss"
                    );
                    assert_eq!(bits(&z3), bits(&g), "{f:?} {r:?} C {c}: in-place grad");
                }
            }
        }
    }
}

/// `|got - want| <= n·ulp(want)`. The reduced loss is rounded once more than the sum (2 ulp);
/// scaled gradients are compared with 3 ulp (the kernel may apply `upstream·scale` anywhere
/// in its product chain: three roundings either way) plus the scaled half-ulp of the unscaled
/// reference.
fn close(got: f32, want: f64, n: f64) -> bool {
    (got as f64 - want).abs() <= n * ulp32(want)
}

#[test]
fn reductions_and_upstream_scale_as_specified() {
    for b in backends() {
        for n in [1usize, 7, 64, 129] {
            let (xs, ts) = sig_inputs(100 + n as u64, n);
            for f in sig_configs(b) {
                let sum = f.loss(&xs, &ts, Reduction::Sum).unwrap() as f64;
                let mut g_sum = vec![0.0f32; n];
                f.grad(&xs, &ts, Reduction::Sum, 1.0, &mut g_sum).unwrap();
                for (r, scale) in [
                    (Reduction::Mean, 1.0 / n as f64),
                    (Reduction::MeanValid, 1.0 / n as f64),
                    (Reduction::Normalize(3.7), 1.0 / 3.7f32 as f64),
                    (Reduction::Normalize(1e-3), 1.0 / 1e-3f32 as f64),
                ] {
                    let l = f.loss(&xs, &ts, r).unwrap();
                    assert!(
                        close(l, sum * scale, 2.0),
                        "{f:?} {r:?}: {l:e} vs Sum·scale {:e}",
                        sum * scale
                    );
                    for up in [1.0f32, -0.5, 3.0e3] {
                        let mut g = vec![0.0f32; n];
                        f.grad(&xs, &ts, r, up, &mut g).unwrap();
                        for i in 0..n {
                            let factor = scale * up as f64;
                            let want = g_sum[i] as f64 * factor;
                            let tol = 3.0 * ulp32(want) + factor.abs() * ulp32(g_sum[i] as f64);
                            assert!(
                                (g[i] as f64 - want).abs() <= tol,
                                "{f:?} {r:?} upstream {up}: grad[{i}] {:e} vs {want:e}",
                                g[i]
                            );
                        }
                    }
                }
                // grad_elementwise: upstream[i]·dL_i/dx_i.
                let mut rng = Rng::new(n as u64);
                let up: Vec<f32> = (0..n).map(|_| rng.range(-4.0, 4.0)).collect();
                let mut ge = vec![0.0f32; n];
                f.grad_elementwise(&xs, &ts, &up, &mut ge).unwrap();
                let mut ones = vec![0.0f32; n];
                f.grad_elementwise(&xs, &ts, &vec![1.0; n], &mut ones)
                    .unwrap();
                assert_eq!(
                    bits(&ones),
                    bits(&g_sum),
                    "{f:?}: grad_elementwise(1) vs grad(Sum, 1)"
                );
                for i in 0..n {
                    let want = ones[i] as f64 * up[i] as f64;
                    let tol = 3.0 * ulp32(want) + (up[i] as f64).abs() * ulp32(ones[i] as f64);
                    assert!(
                        (ge[i] as f64 - want).abs() <= tol,
                        "{f:?}: grad_elementwise[{i}] {:e} vs {want:e}",
                        ge[i]
                    );
                }
            }
        }
        // Softmax: Mean over all rows, MeanValid over the non-ignored ones.
        let pc: Vec<f32> = (0..17).map(|j| (j as f32 + 1.0) / 18.0).collect();
        for (c, rows) in [(1usize, 5usize), (4, 10), (17, 13)] {
            let (z, labels) = sm_inputs(200 + c as u64, c, rows);
            let valid = labels.iter().filter(|l| **l != -100).count();
            for f in sm_configs(b, &pc[..c]) {
                let sum = f.loss(&z, c, &labels, Reduction::Sum).unwrap() as f64;
                let mut g_sum = vec![0.0f32; rows * c];
                f.grad(&z, c, &labels, Reduction::Sum, 1.0, &mut g_sum)
                    .unwrap();
                for (r, scale) in [
                    (Reduction::Mean, 1.0 / rows as f64),
                    (Reduction::MeanValid, 1.0 / valid as f64),
                    (Reduction::Normalize(0.3), 1.0 / 0.3f32 as f64),
                ] {
                    let l = f.loss(&z, c, &labels, r).unwrap();
                    assert!(
                        close(l, sum * scale, 2.0),
                        "{f:?} C {c} {r:?}: {l:e} vs {:e}",
                        sum * scale
                    );
                    let up = -1.75f32;
                    let mut g = vec![0.0f32; rows * c];
                    f.grad(&z, c, &labels, r, up, &mut g).unwrap();
                    for i in 0..rows * c {
                        // g_sum[i] is itself rounded (coarsely where subnormal): its half-ulp,
                        // scaled, is added to the allowance
                        let factor = scale * up as f64;
                        let want = g_sum[i] as f64 * factor;
                        let tol = 3.0 * ulp32(want) + factor.abs() * ulp32(g_sum[i] as f64);
                        assert!(
                            (g[i] as f64 - want).abs() <= tol,
                            "{f:?} C {c} {r:?}: grad[{i}] {:e} vs {want:e}",
                            g[i]
                        );
                    }
                }
                // grad_per_row: upstream[row]·dL_row/dz.
                let mut rng = Rng::new(c as u64);
                let up: Vec<f32> = (0..rows).map(|_| rng.range(-4.0, 4.0)).collect();
                let mut gp = vec![0.0f32; rows * c];
                f.grad_per_row(&z, c, &labels, &up, &mut gp).unwrap();
                let mut ones = vec![0.0f32; rows * c];
                f.grad_per_row(&z, c, &labels, &vec![1.0; rows], &mut ones)
                    .unwrap();
                assert_eq!(
                    bits(&ones),
                    bits(&g_sum),
                    "{f:?}: grad_per_row(1) vs grad(Sum, 1)"
                );
                for i in 0..rows * c {
                    let want = ones[i] as f64 * up[i / c] as f64;
                    let tol = 3.0 * ulp32(want) + (up[i / c] as f64).abs() * ulp32(ones[i] as f64);
                    assert!(
                        (gp[i] as f64 - want).abs() <= tol,
                        "{f:?} C {c}: grad_per_row[{i}] {:e} vs {want:e}",
                        gp[i]
                    );
                }
            }
        }
    }
}

#[test]
fn empty_inputs_and_no_valid_rows_give_zero() {
    for b in backends() {
        let f = SigmoidFocal::new().backend(b);
        for r in REDUCTIONS {
            assert_eq!(
                f.loss(&[], &[], r).unwrap(),
                0.0,
                "{b:?} {r:?}: empty sigmoid"
            );
            assert_eq!(f.loss_and_grad(&[], &[], r, &mut []).unwrap(), 0.0);
        }
        let s = SoftmaxFocal::new().ignore_index(Some(-100)).backend(b);
        for r in REDUCTIONS {
            assert_eq!(
                s.loss::<u32>(&[], 3, &[], r).unwrap(),
                0.0,
                "{b:?} {r:?}: empty softmax"
            );
        }
        // Every row ignored: MeanValid gives loss 0 and gradient 0 (not 0/0).
        let z = [1.0f32, 2.0, 3.0, -1.0, 0.5, 0.25];
        let labels = [-100i64, -100];
        for r in REDUCTIONS {
            let mut g = [sentinel(); 6];
            let l = s.loss_and_grad(&z, 3, &labels, r, &mut g).unwrap();
            assert_eq!(l, 0.0, "{b:?} {r:?}: all rows ignored");
            assert_eq!(g, [0.0; 6], "{b:?} {r:?}: all rows ignored, gradient");
        }
    }
}

/// A row whose target is certain (one class, or the others at `-inf` or far below) has loss
/// exactly `+0`, not `-0`, at every γ (γ = 0 gave `-0`: `α·(-ℓ)` with `ℓ = +0`; an audit
/// finding), as a row among others so that SIMD lanes hold it, in both layouts, also with
/// label smoothing where one class is all there is.
#[test]
fn certain_rows_have_a_positive_zero_loss() {
    let inf = f32::INFINITY;
    let rows: [&[f32]; 4] = [&[3.0], &[0.0, -inf], &[0.0, -200.0], &[5.0, -1e30, -inf]];
    for row in rows {
        let c = row.len();
        // The certain row at 5 among 11 ordinary ones.
        let mut rng = Rng::new(c as u64);
        let mut z: Vec<f32> = (0..12 * c).map(|_| rng.range(-3.0, 3.0)).collect();
        z[5 * c..6 * c].copy_from_slice(row);
        let labels: Vec<u8> = (0..12)
            .map(|r| if r == 5 { 0 } else { (r % c) as u8 })
            .collect();
        let zt = to_channels_first(&z, c, 12);
        for b in backends() {
            for (alpha, gamma, eps) in [
                (Alpha::None, 0.0, 0.0),
                (Alpha::Scalar(0.25), 0.0, 0.0),
                (Alpha::None, 2.0, 0.0),
                (Alpha::None, 0.0, 0.1),
            ] {
                if eps > 0.0 && c > 1 {
                    // Smoothing puts weight on the other classes: only one class is certain.
                    continue;
                }
                let f = SoftmaxFocal::new()
                    .alpha(alpha)
                    .gamma(gamma)
                    .label_smoothing(eps)
                    .backend(b);
                let (mut per, mut per_cf) = (vec![1.0f32; 12], vec![1.0f32; 12]);
                f.loss_per_row(&z, c, &labels, &mut per).unwrap();
                f.channels_first(12)
                    .loss_per_position(&zt, c, &labels, &mut per_cf)
                    .unwrap();
                for (layout, v) in [("row-major", per[5]), ("channels-first", per_cf[5])] {
                    assert_eq!(
                        v.to_bits(),
                        0,
                        "{b:?} {layout} {row:?} γ={gamma} ε={eps} {alpha:?}: loss {v:e}"
                    );
                }
                let one = f.loss(row, c, &[0u8], Reduction::Sum).unwrap();
                assert_eq!(one.to_bits(), 0, "{b:?} {row:?} γ={gamma}: reduced {one:e}");
            }
        }
    }
}

#[test]
fn softmax_row_gradients_sum_to_zero_and_ignored_rows_are_zero() {
    for b in backends() {
        let pc: Vec<f32> = (0..255).map(|j| ((j * 37) % 100) as f32 / 100.0).collect();
        for (c, rows) in [
            (2usize, 50usize),
            (3, 40),
            (16, 20),
            (17, 20),
            (80, 8),
            (255, 4),
        ] {
            let (z, labels) = sm_inputs(300 + c as u64, c, rows);
            for f in sm_configs(b, &pc[..c]) {
                let mut l = vec![sentinel(); rows];
                let mut g = vec![sentinel(); rows * c];
                f.loss_per_row(&z, c, &labels, &mut l).unwrap();
                f.grad_per_row(&z, c, &labels, &vec![1.0; rows], &mut g)
                    .unwrap();
                for r in 0..rows {
                    let gr = &g[r * c..(r + 1) * c];
                    if labels[r] == -100 {
                        assert_eq!(l[r], 0.0, "{f:?}: ignored row {r} loss");
                        assert!(
                            gr.iter().all(|v| *v == 0.0),
                            "{f:?}: ignored row {r} grad {gr:?}"
                        );
                        continue;
                    }
                    let sum: f64 = gr.iter().map(|v| *v as f64).sum();
                    let abs: f64 = gr.iter().map(|v| v.abs() as f64).sum();
                    // each entry carries a few ulps of relative error (the bound's K) and
                    // the exact values sum to 0
                    // (in subnormal quanta 2^-149 where the entries are subnormal)
                    let tol = 2.0
                        * SM_GRAD.k
                        * (c as f64 + 1.0)
                        * (f32::EPSILON as f64 * abs + ulp32(0.0));
                    assert!(
                        sum.abs() <= tol,
                        "{f:?} C {c} row {r}: gradient sums to {sum:e} (sum |g| {abs:e})"
                    );
                }
            }
        }
    }
}

#[test]
fn every_label_type_gives_the_same_result() {
    let c = 7;
    let rows = 23;
    let (z, l64) = sm_inputs(400, c, rows);
    let l64: Vec<i64> = l64.iter().map(|l| if *l < 0 { 0 } else { *l }).collect();
    // The default ignore index (-100: no unsigned label can be it), one that is a class
    // (rows labelled 3 are ignored whatever the label type), and none.
    for (b, ignore) in backends()
        .into_iter()
        .flat_map(|b| [Some(-100), Some(3), None].map(|i| (b, i)))
    {
        let f = SoftmaxFocal::new()
            .alpha(Alpha::Scalar(0.4))
            .gamma(1.5)
            .ignore_index(ignore)
            .backend(b);
        let run = |labels: &dyn Fn(&mut Vec<f32>, &mut Vec<f32>)| {
            let mut l = vec![0.0f32; rows];
            let mut g = vec![0.0f32; rows * c];
            labels(&mut l, &mut g);
            (bits(&l), bits(&g))
        };
        macro_rules! with {
            ($t:ty) => {{
                let labels: Vec<$t> = l64.iter().map(|l| *l as $t).collect();
                run(&|l, g| {
                    f.loss_per_row(&z, c, &labels, l).unwrap();
                    f.grad_per_row(&z, c, &labels, &vec![1.0; rows], g).unwrap();
                })
            }};
        }
        let want = with!(i64);
        let threes: Vec<usize> = (0..rows).filter(|&r| l64[r] == 3).collect();
        assert!(!threes.is_empty());
        for &r in &threes {
            let ignored = ignore == Some(3);
            assert_eq!(want.0[r] == 0, ignored, "{b:?} {ignore:?} row {r}");
        }
        assert_eq!(with!(u8), want, "{b:?} u8");
        assert_eq!(with!(u16), want, "{b:?} u16");
        assert_eq!(with!(u32), want, "{b:?} u32");
        assert_eq!(with!(u64), want, "{b:?} u64");
        assert_eq!(with!(usize), want, "{b:?} usize");
        assert_eq!(with!(i32), want, "{b:?} i32");
    }
}

/// Any `i64` is a valid ignore index, the extremes included (`i64::MIN` is also the value the
/// kernels' job holds for "no ignore index"): rows labelled with it are ignored exactly as
/// rows labelled -100 are with the default, in both layouts, with and without label
/// smoothing. Without an ignore index every row counts, and a label of `i64::MIN` is out of
/// range.
#[test]
fn extreme_ignore_indices_ignore_their_rows() {
    let (rows, sp) = (24usize, 4usize);
    for b in backends() {
        for c in [1usize, 3, 17] {
            let (z, base) = sm_inputs(500 + c as u64, c, rows);
            assert!(base.contains(&-100));
            let run = |f: &SoftmaxFocal, l: &[i64], r: Reduction| {
                let mut g = vec![0.0f32; rows * c];
                let s = f.loss_and_grad(&z, c, l, r, &mut g).unwrap();
                let mut per = vec![0.0f32; rows];
                f.loss_per_row(&z, c, l, &mut per).unwrap();
                let cf = f.channels_first(sp);
                let mut gc = vec![0.0f32; rows * c];
                let sc = cf.loss_and_grad(&z, c, l, r, &mut gc).unwrap();
                let mut perc = vec![0.0f32; rows];
                cf.loss_per_position(&z, c, l, &mut perc).unwrap();
                (
                    s.to_bits(),
                    bits(&g),
                    bits(&per),
                    sc.to_bits(),
                    bits(&gc),
                    bits(&perc),
                )
            };
            let with_minus_100 = |eps: f32| {
                SoftmaxFocal::new()
                    .gamma(1.5)
                    .label_smoothing(eps)
                    .ignore_index(Some(-100))
                    .backend(b)
            };
            for ignore in [i64::MIN, i64::MAX, -1, c as i64] {
                let labels: Vec<i64> = base
                    .iter()
                    .map(|&l| if l < 0 { ignore } else { l })
                    .collect();
                for eps in [0.0f32, 0.2] {
                    let want = with_minus_100(eps);
                    let got = want.ignore_index(Some(ignore));
                    for r in [Reduction::Sum, Reduction::Mean, Reduction::MeanValid] {
                        assert_eq!(
                            run(&got, &labels, r),
                            run(&want, &base, r),
                            "{b:?} C {c} ignore {ignore} eps {eps} {r:?}"
                        );
                    }
                }
            }
            // No ignore index: every row counts, as with one that no label equals.
            let mut l: Vec<i64> = base.iter().map(|&l| l.max(0)).collect();
            for eps in [0.0f32, 0.2] {
                let with = with_minus_100(eps);
                for r in [Reduction::Sum, Reduction::MeanValid] {
                    assert_eq!(
                        run(&with.ignore_index(None), &l, r),
                        run(&with, &l, r),
                        "{b:?} C {c} no ignore index, eps {eps} {r:?}"
                    );
                }
            }
            l[5] = i64::MIN;
            assert_eq!(
                SoftmaxFocal::new()
                    .backend(b)
                    .loss(&z, c, &l, Reduction::Sum),
                Err(FocalError::LabelOutOfRange {
                    index: 5,
                    label: i64::MIN as i128,
                    num_classes: c,
                }),
                "{b:?} C {c}"
            );
        }
    }
}

#[test]
fn elementwise_sums_equal_the_sum_reduction() {
    for b in backends() {
        for n in [1usize, 3, 17, 1000, 4099] {
            let (xs, ts) = sig_inputs(500 + n as u64, n);
            for f in sig_configs(b) {
                let mut out = vec![0.0f32; n];
                f.loss_elementwise(&xs, &ts, &mut out).unwrap();
                let want: f64 = out.iter().map(|v| *v as f64).sum();
                let got = f.loss(&xs, &ts, Reduction::Sum).unwrap() as f64;
                assert!(
                    (got - want).abs() <= 1e-6 * want.abs(),
                    "{f:?} n {n}: Sum {got:e} vs Σ elementwise {want:e}"
                );
            }
        }
        let pc: Vec<f32> = (0..33).map(|j| (j as f32 + 1.0) / 34.0).collect();
        for (c, rows) in [(1usize, 9usize), (5, 300), (33, 70)] {
            let (z, labels) = sm_inputs(600 + c as u64, c, rows);
            for f in sm_configs(b, &pc[..c]) {
                let mut out = vec![0.0f32; rows];
                f.loss_per_row(&z, c, &labels, &mut out).unwrap();
                let want: f64 = out.iter().map(|v| *v as f64).sum();
                let got = f.loss(&z, c, &labels, Reduction::Sum).unwrap() as f64;
                assert!(
                    (got - want).abs() <= 1e-6 * want.abs(),
                    "{f:?} C {c}: Sum {got:e} vs Σ per-row {want:e}"
                );
            }
        }
    }
}

/// The same element computed at every offset 0..20 of slices of lengths 1..=40 (so in the
/// SIMD body and in every tail position) gives bit-identical loss and gradient; the same
/// softmax row at several row positions too.
#[test]
fn results_do_not_depend_on_position_or_length() {
    let mut rng = Rng::new(700);
    let probes: Vec<(f32, f32)> = (0..24)
        .map(|_| (rng.logit(), rng.target()))
        .chain([
            (0.0, 1.0),
            (-0.0, 0.5),
            (1e-40, 0.0),
            (30.0, 1.0),
            (-90.0, 1.0),
            (f32::INFINITY, 0.3),
        ])
        .collect();
    for b in backends() {
        for f in sig_configs(b) {
            for &(x, t) in &probes {
                let mut reference: Option<(u32, u32)> = None;
                // Past 64, the lengths reach the widest lockstep group (4 AVX-512 vectors);
                // the outputs start at every alignment, since the kernels align to them.
                for len in (1..=40usize).chain([64, 65, 100, 150]) {
                    let offs = (0..len.min(20)).chain([len / 2, len - 1]);
                    for (j, off) in offs.enumerate() {
                        let mut xs: Vec<f32> = (0..len).map(|_| rng.logit()).collect();
                        let mut ts: Vec<f32> = (0..len).map(|_| rng.target()).collect();
                        xs[off] = x;
                        ts[off] = t;
                        let shift = (j * 7 + len) % 16;
                        let mut lb = vec![0.0f32; len + 16];
                        let mut gb = vec![0.0f32; len + 16];
                        let (l, g) = (&mut lb[shift..shift + len], &mut gb[shift..shift + len]);
                        f.loss_elementwise(&xs, &ts, l).unwrap();
                        f.grad_elementwise(&xs, &ts, &vec![1.0; len], g).unwrap();
                        let got = (l[off].to_bits(), g[off].to_bits());
                        match reference {
                            None => reference = Some(got),
                            Some(r) => {
                                assert_eq!(got, r, "{f:?} x {x:e} t {t}: len {len} offset {off}")
                            }
                        }
                    }
                }
            }
        }
        let pc: Vec<f32> = (0..9).map(|j| (j as f32 + 1.0) / 10.0).collect();
        for c in [1usize, 3, 8, 9] {
            for f in sm_configs(b, &pc[..c]) {
                let row: Vec<f32> = (0..c).map(|_| rng.logit()).collect();
                let k = rng.below(c) as u32;
                let mut reference: Option<(u32, Vec<u32>)> = None;
                for rows in 1..=12usize {
                    for pos in 0..rows {
                        let mut z: Vec<f32> = (0..rows * c).map(|_| rng.logit()).collect();
                        let mut labels: Vec<u32> = (0..rows).map(|_| rng.below(c) as u32).collect();
                        z[pos * c..(pos + 1) * c].copy_from_slice(&row);
                        labels[pos] = k;
                        let mut l = vec![0.0f32; rows];
                        let mut g = vec![0.0f32; rows * c];
                        f.loss_per_row(&z, c, &labels, &mut l).unwrap();
                        f.grad_per_row(&z, c, &labels, &vec![1.0; rows], &mut g)
                            .unwrap();
                        let got = (l[pos].to_bits(), bits(&g[pos * c..(pos + 1) * c]));
                        match &reference {
                            None => reference = Some(got),
                            Some(r) => {
                                assert_eq!(&got, r, "{f:?} C {c}: rows {rows} position {pos}")
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The kernels align their loop to the output (the logits when there is none), but the
/// reduced loss does not depend on that: the same values at every offset from a 64-byte
/// boundary give the same bits, for each backend, and the gradients do too.
#[test]
fn reduced_loss_does_not_depend_on_alignment() {
    for n in [1usize, 5, 15, 17, 63, 64, 65, 100, 200, 1000, 4099] {
        let (xs, ts) = sig_inputs(n as u64 + 31, n);
        for b in backends() {
            for f in sig_configs(b) {
                let mut first: Option<(u32, u32, Vec<u32>)> = None;
                for shift in 0..16 {
                    let mut xb = vec![0.0f32; n + 16];
                    let mut gb = vec![0.0f32; n + 16];
                    // Logits and gradients at different offsets, the in-place copy at a third.
                    let (xo, go) = (shift, (shift * 5 + 3) % 16);
                    xb[xo..xo + n].copy_from_slice(&xs);
                    let x = &xb[xo..xo + n];
                    let loss = f.loss(x, &ts, Reduction::Sum).unwrap();
                    let fused = f
                        .loss_and_grad(x, &ts, Reduction::Sum, &mut gb[go..go + n])
                        .unwrap();
                    let got = (loss.to_bits(), fused.to_bits(), bits(&gb[go..go + n]));
                    match &first {
                        None => first = Some(got),
                        Some(r) => {
                            let at = format!("{f:?} n {n} shifts {xo} {go}");
                            assert_eq!((got.0, got.1), (r.0, r.1), "{at}: losses");
                            assert!(got.2 == r.2, "{at}: gradients");
                        }
                    }
                }
                let (loss, fused, _) = first.unwrap();
                assert_eq!(loss, fused, "{f:?} n {n}: fused and forward-only sums");
            }
        }
    }
}

#[test]
fn repeated_calls_are_bit_identical() {
    let (xs, ts) = sig_inputs(800, 1537);
    let (z, labels) = sm_inputs(801, 13, 211);
    for b in backends() {
        for f in sig_configs(b) {
            let mut g1 = vec![0.0f32; xs.len()];
            let mut g2 = vec![0.0f32; xs.len()];
            let l1 = f.loss_and_grad(&xs, &ts, Reduction::Mean, &mut g1).unwrap();
            let l2 = f.loss_and_grad(&xs, &ts, Reduction::Mean, &mut g2).unwrap();
            assert_eq!(
                (l1.to_bits(), bits(&g1)),
                (l2.to_bits(), bits(&g2)),
                "{f:?}"
            );
        }
        let s = SoftmaxFocal::new().ignore_index(Some(-100)).backend(b);
        let mut g1 = vec![0.0f32; z.len()];
        let mut g2 = vec![0.0f32; z.len()];
        let l1 = s
            .loss_and_grad(&z, 13, &labels, Reduction::MeanValid, &mut g1)
            .unwrap();
        let l2 = s
            .loss_and_grad(&z, 13, &labels, Reduction::MeanValid, &mut g2)
            .unwrap();
        assert_eq!(
            (l1.to_bits(), bits(&g1)),
            (l2.to_bits(), bits(&g2)),
            "{b:?}"
        );
    }
}

/// SPEC 3: relative error <= 1e-6 of the reduced sum against the exact (f64) sum of the
/// per-element values the same backend computes, for N up to 2^20.
#[test]
fn reduced_sums_are_accurate_for_large_n() {
    let n = 1 << 20;
    let mut rng = Rng::new(900);
    // Values spread over many magnitudes, the case naive f32 accumulation gets wrong.
    let xs: Vec<f32> = (0..n).map(|_| rng.range(-12.0, 12.0)).collect();
    let ts: Vec<f32> = (0..n).map(|i| (i % 2) as f32).collect();
    for b in backends() {
        let f = SigmoidFocal::new().backend(b);
        let mut out = vec![0.0f32; n];
        f.loss_elementwise(&xs, &ts, &mut out).unwrap();
        let exact: f64 = out.iter().map(|v| *v as f64).sum();
        for (r, div) in [(Reduction::Sum, 1.0), (Reduction::Mean, n as f64)] {
            let got = f.loss(&xs, &ts, r).unwrap() as f64;
            let want = exact / div;
            let rel = (got - want).abs() / want;
            eprintln!("{} N=2^20 {r:?}: relative error {rel:.2e}", b.name());
            assert!(
                rel <= 1e-6,
                "{b:?} {r:?}: {got:e} vs {want:e} (rel {rel:e})"
            );
        }
        // Prefixes of other lengths, summation order changes with them.
        for m in [1000usize, 65_537, 300_001] {
            let exact: f64 = out[..m].iter().map(|v| *v as f64).sum();
            let got = f.loss(&xs[..m], &ts[..m], Reduction::Sum).unwrap() as f64;
            assert!(
                (got - exact).abs() <= 1e-6 * exact,
                "{b:?} N {m}: {got:e} vs {exact:e}"
            );
        }
    }
    let c = 4;
    let rows = 1 << 17;
    let z: Vec<f32> = (0..rows * c).map(|_| rng.range(-10.0, 10.0)).collect();
    let labels: Vec<u16> = (0..rows).map(|_| rng.below(c) as u16).collect();
    for b in backends() {
        let f = SoftmaxFocal::new().backend(b);
        let mut out = vec![0.0f32; rows];
        f.loss_per_row(&z, c, &labels, &mut out).unwrap();
        let exact: f64 = out.iter().map(|v| *v as f64).sum();
        let got = f.loss(&z, c, &labels, Reduction::Sum).unwrap() as f64;
        let rel = (got - exact).abs() / exact;
        eprintln!("{} softmax rows=2^17: relative error {rel:.2e}", b.name());
        assert!(rel <= 1e-6, "{b:?}: softmax Sum {got:e} vs {exact:e}");
    }
}
