//! Accuracy of the softmax focal loss (SPEC 2) on every available backend, forced explicitly,
//! against the f64 oracle in `common::oracle`, in both layouts: row-major, and the same rows
//! as channels-first positions (equal to row-major bit for bit on the scalar backend).
//!
//! Sweep: C in {1, 2, 3, 4, 5, 7, 15, 16, 17, 31, 80, 255, 1000}; rows of random logits at
//! scales 1..100, rows whose target is the arg-max by margins 0..100 (the `q = S_rest/(1+S_rest)`
//! path), ties, and rows holding ±0, subnormals, ±1e4, -inf, a single +inf, NaN; gamma in
//! {0, 0.25, 0.5, 1, 2, 2.5, 3, 5}; alpha None / Scalar(0.25) / PerClass (with 0 and 1
//! entries); `ignore_index` -100 rows. Checked outputs: `loss_per_row`, `grad_per_row`
//! (upstream 1), the gradient of the fused `loss_and_grad` (Sum) and its reduced loss.
//!
//! The bound (see `common::Bound` and `common::SoftCond`):
//! `|got - want| <= (K + c·cond)·max(ulp(want), ulp(m))` with
//! `cond = (1+γ)·(D + ln C) [+ |z_j - max z| for dL/dz_j]`, `D = |z_k - max z|` plus the
//! `exp`-weighted mean of `|z_j - max z|` over the other classes. Where the oracle is finite the
//! result is finite; a NaN logit makes exactly its row NaN; ignored rows give exactly 0.

mod common;

use common::*;
use focal_loss::{Alpha, Backend, Reduction, SoftmaxFocal};

const LOSS: Bound = SM_LOSS;
const GRAD: Bound = SM_GRAD;

const GAMMAS: [f32; 8] = [0.0, 0.25, 0.5, 1.0, 2.0, 2.5, 3.0, 5.0];

fn sweep(cs: &[usize]) {
    let mut meters = Vec::new();
    let bks = backends();
    // worst needed K per backend, loss and grad, for the 2x-scalar comparison
    let mut needed = vec![(0.0f64, 0.0f64); bks.len()];
    let mut per_backend: Vec<(Meter, Meter, Meter)> = bks
        .iter()
        .map(|b| {
            let tag = format!("softmax C{cs:?} {}", b.name());
            (
                Meter::new(format!("{tag} loss"), LOSS),
                Meter::new(format!("{tag} grad"), GRAD),
                Meter::new(format!("{tag} fused grad"), GRAD),
            )
        })
        .collect();
    let mut red_fail = Vec::new();
    for &c in cs {
        let b = batch(c, 0xC1A55);
        let rows = b.labels.len();
        let pc = class_alpha(c, 99 + c as u64);
        let alphas = [Alpha::None, Alpha::Scalar(0.25), Alpha::PerClass(&pc)];
        let ones = vec![1.0f32; rows];
        // rows without NaN/inf, for the reduced loss
        let (fin_rows, z_fin, l_fin) = b.finite_rows();
        let mut want_l = vec![Eval::ZERO; rows];
        let mut want_g = vec![Eval::ZERO; rows * c];
        let mut conds = vec![SoftCond::new(&[0.0], 0, 0.0); rows];
        for alpha in alphas {
            let oalpha = match alpha {
                Alpha::None => OAlpha::None,
                Alpha::Scalar(a) => OAlpha::Scalar(a as f64),
                Alpha::PerClass(v) => OAlpha::PerClass(v),
            };
            for gamma in GAMMAS {
                for r in 0..rows {
                    let zr = &b.z[r * c..(r + 1) * c];
                    let g = &mut want_g[r * c..(r + 1) * c];
                    if b.labels[r] == IGNORE {
                        want_l[r] = Eval::ZERO;
                        g.fill(Eval::ZERO);
                        continue;
                    }
                    let k = b.labels[r] as usize;
                    want_l[r] = softmax_focal_row(zr, k, oalpha.for_class(k), gamma as f64, g);
                    conds[r] = SoftCond::new(zr, k, gamma);
                }
                for (bi, &backend) in bks.iter().enumerate() {
                    let f = SoftmaxFocal::new()
                        .alpha(alpha)
                        .gamma(gamma)
                        .ignore_index(Some(IGNORE))
                        .backend(backend);
                    let mut out = vec![0.0f32; rows];
                    let mut grad = vec![0.0f32; rows * c];
                    let mut fused = vec![0.0f32; rows * c];
                    f.loss_per_row(&b.z, c, &b.labels, &mut out).unwrap();
                    f.grad_per_row(&b.z, c, &b.labels, &ones, &mut grad)
                        .unwrap();
                    f.loss_and_grad(&b.z, c, &b.labels, Reduction::Sum, &mut fused)
                        .unwrap();
                    // The same rows as channels-first `[N, C, S]` positions (N = 2 when the
                    // rows split evenly): the results, transposed back, must equal the
                    // row-major ones bit for bit (a NaN's sign and payload aside) on the
                    // scalar backend and meet the same bound on every backend.
                    let spatial = if rows.is_multiple_of(2) {
                        rows / 2
                    } else {
                        rows
                    };
                    let zt = to_channels_first(&b.z, c, spatial);
                    let cf = f.channels_first(spatial);
                    let mut out_cf = vec![0.0f32; rows];
                    let mut grad_cf = vec![0.0f32; rows * c];
                    let mut fused_cf = vec![0.0f32; rows * c];
                    cf.loss_per_position(&zt, c, &b.labels, &mut out_cf)
                        .unwrap();
                    cf.grad_per_position(&zt, c, &b.labels, &ones, &mut grad_cf)
                        .unwrap();
                    let sum_cf = cf
                        .loss_and_grad(&zt, c, &b.labels, Reduction::Sum, &mut fused_cf)
                        .unwrap();
                    let grad_cf = from_channels_first(&grad_cf, c, spatial);
                    let fused_cf = from_channels_first(&fused_cf, c, spatial);
                    if backend == Backend::Scalar {
                        let ctx = || format!("C {c} alpha {alpha:?} gamma {gamma} S {spatial}");
                        assert_eq!(
                            bits_nan_eq(&out_cf),
                            bits_nan_eq(&out),
                            "channels-first loss, {}",
                            ctx()
                        );
                        assert_eq!(
                            bits_nan_eq(&grad_cf),
                            bits_nan_eq(&grad),
                            "channels-first grad, {}",
                            ctx()
                        );
                        assert_eq!(
                            bits_nan_eq(&fused_cf),
                            bits_nan_eq(&fused),
                            "channels-first fused, {}",
                            ctx()
                        );
                        let sum = f.loss(&b.z, c, &b.labels, Reduction::Sum).unwrap();
                        assert_eq!(
                            bits_nan_eq(&[sum_cf]),
                            bits_nan_eq(&[sum]),
                            "channels-first sum, {}",
                            ctx()
                        );
                    }
                    let (ml, mg, mf) = &mut per_backend[bi];
                    for (out, grad, fused) in
                        [(&out, &grad, &fused), (&out_cf, &grad_cf, &fused_cf)]
                    {
                        for r in 0..rows {
                            let zr = &b.z[r * c..(r + 1) * c];
                            let label = b.labels[r];
                            let ctx = || {
                                let shown: Vec<f32> = zr.iter().copied().take(8).collect();
                                format!(
                                    "C {c} alpha {alpha:?} gamma {gamma} label {label} row {r} z[..8] {shown:?}"
                                )
                            };
                            if label == IGNORE {
                                let zero = out[r] == 0.0
                                    && grad[r * c..(r + 1) * c].iter().all(|v| *v == 0.0)
                                    && fused[r * c..(r + 1) * c].iter().all(|v| *v == 0.0);
                                assert!(
                                    zero,
                                    "{}: ignored row not zero: {}",
                                    backend.name(),
                                    ctx()
                                );
                                continue;
                            }
                            let cond = conds[r];
                            ml.check(out[r], want_l[r], cond.loss(), ctx);
                            for j in 0..c {
                                let ctxj = || format!("{} class {j}", ctx());
                                mg.check(
                                    grad[r * c + j],
                                    want_g[r * c + j],
                                    cond.elem(zr[j]),
                                    ctxj,
                                );
                                mf.check(
                                    fused[r * c + j],
                                    want_g[r * c + j],
                                    cond.elem(zr[j]),
                                    ctxj,
                                );
                            }
                        }
                    }
                    // Reduced loss over the finite rows.
                    let got = f.loss(&z_fin, c, &l_fin, Reduction::Sum).unwrap();
                    let (mut want, mut tol, mut abs) = (0.0f64, 0.0f64, 0.0f64);
                    for &r in &fin_rows {
                        let w = want_l[r];
                        want += w.value;
                        abs += w.value.abs();
                        tol += LOSS.tol(w, conds[r].loss());
                    }
                    tol += 1e-6 * abs + ulp32(want);
                    if !within(got as f64, want, tol) {
                        red_fail.push(format!(
                            "{} C {c} alpha {alpha:?} gamma {gamma}: Sum over {} rows got {got:e} want {want:e} tol {tol:e}",
                            backend.name(),
                            fin_rows.len()
                        ));
                    }
                }
            }
        }
    }
    for (bi, (ml, mg, mf)) in per_backend.into_iter().enumerate() {
        needed[bi] = (ml.needed_k, mg.needed_k.max(mf.needed_k));
        meters.extend([ml, mg, mf]);
    }
    finish_all(&meters);
    assert!(red_fail.is_empty(), "reduced loss: {red_fail:#?}");
    let si = bks.iter().position(|b| *b == Backend::Scalar).unwrap();
    for (bi, b) in bks.iter().enumerate() {
        // SPEC 6: the SIMD backends are not more than about 2x the scalar worst error.
        assert!(
            needed[bi].0 <= 2.0 * needed[si].0.max(1.0) + 0.5
                && needed[bi].1 <= 2.0 * needed[si].1.max(1.0) + 0.5,
            "{}: needed K (loss {:.2}, grad {:.2}) more than 2x the scalar backend's ({:.2}, {:.2})",
            b.name(),
            needed[bi].0,
            needed[bi].1,
            needed[si].0,
            needed[si].1
        );
    }
}

#[test]
fn small_c_matches_oracle_on_every_backend() {
    sweep(&[1, 2, 3, 4, 5, 7]);
}

#[test]
fn medium_c_matches_oracle_on_every_backend() {
    sweep(&[15, 16, 17, 31, 80]);
}

#[test]
fn large_c_matches_oracle_on_every_backend() {
    sweep(&[255, 1000]);
}

/// A NaN logit makes exactly its row NaN; neighbouring rows are bit-for-bit unchanged.
#[test]
fn nan_logit_poisons_only_its_row() {
    for c in [1usize, 3, 8, 16, 17] {
        let mut rng = Rng::new(c as u64);
        let rows = 9;
        let z: Vec<f32> = (0..rows * c).map(|_| rng.logit()).collect();
        let labels: Vec<u32> = (0..rows).map(|_| rng.below(c) as u32).collect();
        for backend in backends() {
            let f = SoftmaxFocal::new()
                .alpha(Alpha::Scalar(0.5))
                .backend(backend);
            let mut l0 = vec![0.0f32; rows];
            let mut g0 = vec![0.0f32; rows * c];
            f.loss_per_row(&z, c, &labels, &mut l0).unwrap();
            f.grad_per_row(&z, c, &labels, &vec![1.0; rows], &mut g0)
                .unwrap();
            for pos in [0, c / 2, rows * c / 2, rows * c - 1] {
                let mut zn = z.clone();
                zn[pos] = f32::NAN;
                let bad = pos / c;
                let mut l = vec![0.0f32; rows];
                let mut g = vec![0.0f32; rows * c];
                f.loss_per_row(&zn, c, &labels, &mut l).unwrap();
                f.grad_per_row(&zn, c, &labels, &vec![1.0; rows], &mut g)
                    .unwrap();
                for r in 0..rows {
                    let gr = &g[r * c..(r + 1) * c];
                    if r == bad {
                        assert!(
                            l[r].is_nan() && gr.iter().all(|v| v.is_nan()),
                            "{} C {c}: NaN at {pos}: row {r} loss {} grads {gr:?}",
                            backend.name(),
                            l[r]
                        );
                    } else {
                        assert_eq!(
                            l[r].to_bits(),
                            l0[r].to_bits(),
                            "{} C {c} row {r}",
                            backend.name()
                        );
                        assert_eq!(
                            bits(gr),
                            bits(&g0[r * c..(r + 1) * c]),
                            "{} C {c} row {r}",
                            backend.name()
                        );
                    }
                }
            }
        }
    }
}

/// ±inf logits give the limits: the target at +inf is a correct saturated prediction (0, 0);
/// another class at +inf or the target at -inf is a wrong one (+inf loss, finite gradient).
#[test]
fn infinite_logits_give_the_limits() {
    for backend in backends() {
        for gamma in GAMMAS {
            let f = SoftmaxFocal::new()
                .alpha(Alpha::Scalar(0.25))
                .gamma(gamma)
                .backend(backend);
            let z = [
                f32::INFINITY,
                0.0,
                -1.0, // target 0 at +inf
                f32::INFINITY,
                0.0,
                -1.0, // target 1, class 0 at +inf
                f32::NEG_INFINITY,
                0.0,
                0.0, // target 0 at -inf
                1.0,
                f32::NEG_INFINITY,
                f32::NEG_INFINITY, // target 0, the rest -inf
            ];
            let labels = [0u8, 1, 0, 0];
            let mut l = [0.0f32; 4];
            let mut g = [0.0f32; 12];
            f.loss_per_row(&z, 3, &labels, &mut l).unwrap();
            f.grad_per_row(&z, 3, &labels, &[1.0; 4], &mut g).unwrap();
            let ctx = format!("{} gamma {gamma}", backend.name());
            assert_eq!(l, [0.0, f32::INFINITY, f32::INFINITY, 0.0], "{ctx}: losses");
            assert_eq!(
                &g[0..3],
                &[0.0, 0.0, 0.0],
                "{ctx}: grads of the correct row"
            );
            // exact limits from exact operations; 1 ulp allowed
            let near = |got: &[f32], want: &[f32]| {
                got.iter().zip(want).all(|(a, b)| ulp_dist(*a, *b) <= 1)
            };
            assert!(
                near(&g[3..6], &[0.25, -0.25, 0.0]),
                "{ctx}: grads, class 0 at +inf: {:?}",
                &g[3..6]
            );
            assert!(
                near(&g[6..9], &[-0.25, 0.125, 0.125]),
                "{ctx}: grads, target at -inf: {:?}",
                &g[6..9]
            );
            assert_eq!(&g[9..12], &[0.0, 0.0, 0.0], "{ctx}: grads, others at -inf");
        }
    }
}
