//! Accuracy of the sigmoid focal loss (SPEC 1) on every available backend, forced explicitly,
//! against the f64 oracle in `common::oracle`.
//!
//! Sweep: logits on a grid over [-100, 100], random logits at several scales, signed zeros,
//! subnormals, the edges of the f32 exponential, ±1e4, ±1e30, ±f32::MAX, ±inf and NaN; hard
//! and soft targets (down to 1e-30 from 0 and 6e-8 from 1); alpha None / 0.25 / 0 / 1; gamma in
//! {0, 0.25, 0.5, 1, 2, 2.5, 3, 3.96, 5}; both forms. Checked outputs: `loss_elementwise`, `grad_elementwise` (upstream 1), the gradient
//! of the fused `loss_and_grad` (Sum) and its reduced loss.
//!
//! The bound (see `common::Bound`): `|got - want| <= (K + c·cond)·max(ulp(want), ulp(m))`,
//! with `m` the larger side of the difference the gradient is (`|want|` for the loss) and
//! `cond = γ·(1 + |ln(1 - p_t)|)` (form A) or `γ·(1 + max(|ln p|, |ln q|))` over the terms
//! present (form B), about `γ·|x|` on the saturated side. Where the oracle is finite the
//! result must be finite; ±inf logits must give the limits (correct saturated: loss 0,
//! gradient 0; wrong: loss +inf, finite gradient); a NaN logit gives NaN for that element
//! only. Run with `--nocapture` to see the worst measured errors per backend.

mod common;

use common::*;
use focal_loss::{Backend, Reduction, SigmoidFocal, SigmoidForm};

const LOSS: Bound = SIG_LOSS;
const GRAD: Bound = SIG_GRAD;

const GAMMAS: [f32; 9] = [0.0, 0.25, 0.5, 1.0, 2.0, 2.5, 3.0, 3.96, 5.0];
const ALPHAS: [Option<f32>; 4] = [None, Some(0.25), Some(0.0), Some(1.0)];
const TARGETS: [f32; 14] = [
    0.0,
    1.0,
    // Below 1e-7 with huge logits, form (A)'s `u^γ` underflowed before its product with
    // the huge `ce` (audit finding: 0 for 3.4e-32 at x = -f32::MAX, t = 1e-20, γ = 2.5).
    1e-30,
    1e-20,
    1e-9,
    1e-7,
    1e-3,
    0.1,
    0.25,
    0.5,
    0.75,
    0.9,
    0.999,
    1.0 - 6e-8, // the largest f32 below 1
];

struct Inputs {
    xs: Vec<f32>,
    ts: Vec<f32>,
}

fn inputs() -> Inputs {
    let mut rng = Rng::new(0x5151_0001);
    let logits = sigmoid_sweep_logits(&mut rng, 700, 300);
    let mut xs = Vec::new();
    let mut ts = Vec::new();
    for &t in &TARGETS {
        for &x in &logits {
            xs.push(x);
            ts.push(t);
        }
    }
    // Random soft targets too.
    for &x in &logits {
        xs.push(x);
        ts.push(rng.unit() as f32);
    }
    Inputs { xs, ts }
}

fn sweep(form: SigmoidForm) {
    let inp = inputs();
    let n = inp.xs.len();
    let finite_idx: Vec<usize> = (0..n).filter(|&i| inp.xs[i].abs() <= 1e4).collect();
    let xs_fin: Vec<f32> = finite_idx.iter().map(|&i| inp.xs[i]).collect();
    let ts_fin: Vec<f32> = finite_idx.iter().map(|&i| inp.ts[i]).collect();
    let ones = vec![1.0f32; n];
    let mut all_meters = Vec::new();
    let mut scalar_needed = (0.0, 0.0);
    for backend in backends() {
        let tag = format!("sigmoid {form:?} {}", backend.name());
        let mut m_loss = Meter::new(format!("{tag} loss"), LOSS);
        let mut m_grad = Meter::new(format!("{tag} grad"), GRAD);
        let mut m_fused = Meter::new(format!("{tag} fused grad"), GRAD);
        let mut red_fail = Vec::new();
        let mut out = vec![0.0f32; n];
        let mut grad = vec![0.0f32; n];
        let mut fused = vec![0.0f32; n];
        let mut want_l = vec![Eval::ZERO; n];
        let mut want_g = vec![Eval::ZERO; n];
        for alpha in ALPHAS {
            for gamma in GAMMAS {
                let f = SigmoidFocal::new()
                    .alpha(alpha)
                    .gamma(gamma)
                    .form(form)
                    .backend(backend);
                let prm = sig_params(alpha, gamma, form);
                for i in 0..n {
                    (want_l[i], want_g[i]) = sigmoid_focal(inp.xs[i], inp.ts[i], &prm);
                }
                f.loss_elementwise(&inp.xs, &inp.ts, &mut out).unwrap();
                f.grad_elementwise(&inp.xs, &inp.ts, &ones, &mut grad)
                    .unwrap();
                let total = f
                    .loss_and_grad(&inp.xs, &inp.ts, Reduction::Sum, &mut fused)
                    .unwrap();
                assert!(
                    total.is_nan(),
                    "{tag} alpha {alpha:?} gamma {gamma}: Sum over a slice with a NaN logit must be NaN, got {total}"
                );
                for i in 0..n {
                    let (x, t) = (inp.xs[i], inp.ts[i]);
                    let cond = sigmoid_cond(x, t, gamma, form);
                    let ctx = || format!("alpha {alpha:?} gamma {gamma} x {x:e} t {t:e}");
                    m_loss.check(out[i], want_l[i], cond, ctx);
                    m_grad.check(grad[i], want_g[i], cond, ctx);
                    m_fused.check(fused[i], want_g[i], cond, ctx);
                }
                // The reduced loss over the finite logits: within the sum of the element
                // bounds plus the summation allowance of SPEC 3 (1e-6 relative).
                let got = f.loss(&xs_fin, &ts_fin, Reduction::Sum).unwrap();
                let (mut want, mut tol, mut abs) = (0.0f64, 0.0f64, 0.0f64);
                for &i in &finite_idx {
                    let w = want_l[i];
                    want += w.value;
                    abs += w.value.abs();
                    tol += LOSS.tol(w, sigmoid_cond(inp.xs[i], inp.ts[i], gamma, form));
                }
                tol += 1e-6 * abs + ulp32(want);
                if !within(got as f64, want, tol) {
                    red_fail.push(format!(
                        "alpha {alpha:?} gamma {gamma}: Sum over {} finite logits got {got:e} want {want:e} tol {tol:e}",
                        xs_fin.len()
                    ));
                }
            }
        }
        assert!(red_fail.is_empty(), "{tag} reduced loss: {red_fail:#?}");
        if backend == Backend::Scalar {
            scalar_needed = (m_loss.needed_k, m_grad.needed_k.max(m_fused.needed_k));
        } else {
            // SPEC 6: the SIMD backends are not more than about 2x the scalar worst error.
            let (l, g) = (m_loss.needed_k, m_grad.needed_k.max(m_fused.needed_k));
            assert!(
                l <= 2.0 * scalar_needed.0.max(1.0) + 0.5
                    && g <= 2.0 * scalar_needed.1.max(1.0) + 0.5,
                "{tag}: worst error (K needed: loss {l:.2}, grad {g:.2}) more than 2x the scalar backend's ({:.2}, {:.2})",
                scalar_needed.0,
                scalar_needed.1
            );
        }
        all_meters.extend([m_loss, m_grad, m_fused]);
    }
    finish_all(&all_meters);
}

#[test]
fn modulated_bce_matches_oracle_on_every_backend() {
    sweep(SigmoidForm::ModulatedBce);
}

#[test]
fn per_term_matches_oracle_on_every_backend() {
    sweep(SigmoidForm::PerTerm);
}

/// The limits at ±inf, spelled out (the sweep covers them too, this names the cases).
#[test]
fn infinite_logits_give_the_limits() {
    for backend in backends() {
        for form in [SigmoidForm::ModulatedBce, SigmoidForm::PerTerm] {
            for gamma in GAMMAS {
                let f = SigmoidFocal::new().gamma(gamma).form(form).backend(backend);
                // correct saturated predictions, then wrong ones
                let xs = [
                    f32::INFINITY,
                    f32::NEG_INFINITY,
                    f32::NEG_INFINITY,
                    f32::INFINITY,
                ];
                let ts = [1.0, 0.0, 1.0, 0.0];
                let mut l = [0.0f32; 4];
                let mut g = [0.0f32; 4];
                f.loss_elementwise(&xs, &ts, &mut l).unwrap();
                f.grad_elementwise(&xs, &ts, &[1.0; 4], &mut g).unwrap();
                let ctx = format!("{} {form:?} gamma {gamma}", backend.name());
                assert_eq!(&l[..2], &[0.0, 0.0], "{ctx}: correct saturated loss");
                assert_eq!(&g[..2], &[0.0, 0.0], "{ctx}: correct saturated grad");
                assert_eq!(
                    &l[2..],
                    &[f32::INFINITY, f32::INFINITY],
                    "{ctx}: wrong saturated loss"
                );
                // alpha 0.25: dL/dx -> -alpha at x = -inf with t = 1, +(1-alpha) at +inf, t = 0
                // (exact values from exact operations; 1 ulp allowed)
                assert!(
                    ulp_dist(g[2], -0.25) <= 1,
                    "{ctx}: grad at -inf, t=1: {}",
                    g[2]
                );
                assert!(
                    ulp_dist(g[3], 0.75) <= 1,
                    "{ctx}: grad at +inf, t=0: {}",
                    g[3]
                );
            }
        }
    }
}

/// A NaN logit poisons exactly its element; its neighbours (same SIMD vector) are unchanged.
#[test]
fn nan_logit_poisons_only_its_element() {
    let mut rng = Rng::new(7);
    let n = 67;
    let xs: Vec<f32> = (0..n).map(|_| rng.logit()).collect();
    let ts: Vec<f32> = (0..n).map(|_| rng.target()).collect();
    for backend in backends() {
        for form in [SigmoidForm::ModulatedBce, SigmoidForm::PerTerm] {
            let f = SigmoidFocal::new().form(form).backend(backend);
            let mut l0 = vec![0.0f32; n];
            let mut g0 = vec![0.0f32; n];
            f.loss_elementwise(&xs, &ts, &mut l0).unwrap();
            f.grad_elementwise(&xs, &ts, &vec![1.0; n], &mut g0)
                .unwrap();
            for pos in [0, 1, 7, 8, 15, 16, 17, 31, 32, 63, 66] {
                let mut xn = xs.clone();
                xn[pos] = f32::NAN;
                let mut l = vec![0.0f32; n];
                let mut g = vec![0.0f32; n];
                f.loss_elementwise(&xn, &ts, &mut l).unwrap();
                f.grad_elementwise(&xn, &ts, &vec![1.0; n], &mut g).unwrap();
                for i in 0..n {
                    if i == pos {
                        assert!(
                            l[i].is_nan() && g[i].is_nan(),
                            "{}: NaN at {pos}",
                            backend.name()
                        );
                    } else {
                        assert_eq!(
                            (l[i].to_bits(), g[i].to_bits()),
                            (l0[i].to_bits(), g0[i].to_bits()),
                            "{} {form:?}: NaN at {pos} changed element {i}",
                            backend.name()
                        );
                    }
                }
            }
        }
    }
}
