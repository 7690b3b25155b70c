//! The sigmoid kernel's short path for hard targets (a group of vectors whose targets are all
//! exactly 0 or 1 and whose logits all have `|x| <= 87`) gives the bits of the general path,
//! on every backend, for both forms, every kind of `γ` (0, 2, run-time integers and
//! half-integers, `exp(γ·ln u)`), with and without alpha (also 0, 1 and -0, which keeps the
//! general path), in every mode.
//!
//! The general path is what a slice of one element runs (it is all tail), so each element of
//! a long slice, most of whose groups take the short path, is compared with the same element
//! alone. Inputs: hard targets (mostly zeros, some `-0.0`), groups with one soft target
//! (general path) among them, and logits with signed zeros, subnormals, NaN and a few
//! `|x| > 87` and infinities (which send their group to the general path).
//!
//! Sums: the loss of `x = -87, t = 0` is exactly 0 for `γ >= 1`, as is that of
//! `x = -1e30, t = 0`; swapping one for the other in a group moves that group between the
//! two paths and must leave the reduced loss's bits alone.

mod common;

use common::*;
use focal_loss::{Backend, Reduction, SigmoidFocal, SigmoidForm};

const GAMMAS: [f32; 9] = [0.0, 0.5, 0.7, 1.0, 2.0, 2.5, 3.0, 4.5, 5.0];
const ALPHAS: [Option<f32>; 5] = [Some(0.25), None, Some(0.0), Some(1.0), Some(-0.0)];

fn configs(b: Backend) -> Vec<SigmoidFocal> {
    let mut v = Vec::new();
    for form in [SigmoidForm::ModulatedBce, SigmoidForm::PerTerm] {
        for gamma in GAMMAS {
            for alpha in ALPHAS {
                v.push(
                    SigmoidFocal::new()
                        .alpha(alpha)
                        .gamma(gamma)
                        .form(form)
                        .backend(b),
                );
            }
        }
    }
    v
}

/// Logits in `[-40, 40]` with rare special values; hard targets (about 10 % ones, some
/// `-0.0`), and when `soft_every` is `Some(k)` one soft target in every k-th block of 64.
fn inputs(seed: u64, n: usize, soft_every: Option<usize>) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let specials = [
        0.0f32,
        -0.0,
        1e-40,
        -1e-40,
        f32::NAN,
        87.0,
        -87.0,
        87.5,
        -90.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ];
    let x = (0..n)
        .map(|_| match rng.below(200) {
            0 => rng.pick(&specials),
            1..=20 => rng.range(-1.0, 1.0),
            _ => rng.range(-40.0, 40.0),
        })
        .collect();
    let mut t: Vec<f32> = (0..n)
        .map(|_| match rng.below(20) {
            0 | 1 => 1.0,
            2 => -0.0,
            _ => 0.0,
        })
        .collect();
    if let Some(k) = soft_every {
        for block in (0..n / 64).step_by(k) {
            let i = block * 64 + rng.below(64);
            t[i] = rng.pick(&[0.5, 1e-7, 1.0 - 6e-8, 0.3]);
        }
    }
    (x, t)
}

/// Equal bits, every NaN counting as one value.
fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn check(what: &str, f: &SigmoidFocal, i: usize, x: f32, t: f32, whole: f32, alone: f32) {
    assert!(
        same(whole, alone),
        "{what} {f:?}: element {i} (x {x:?}, t {t:?}): {whole:?} in the slice, {alone:?} alone"
    );
}

#[test]
fn elementwise_outputs_match_the_general_path() {
    // The third input is long enough for runs of the short path longer than the general
    // path's stretch between its looks for hard targets (16 groups, up to 1024 logits).
    for (seed, soft, n) in [
        (1, None, 64 * 23 + 13),
        (2, Some(3), 64 * 23 + 13),
        (5, Some(37), 64 * 100 + 13),
    ] {
        let (x, t) = inputs(seed, n, soft);
        let up: Vec<f32> = (0..n).map(|i| [1.0, -0.5, 3.25][i % 3]).collect();
        for b in backends() {
            for f in configs(b) {
                let mut loss = vec![0.0; n];
                let mut grad = vec![0.0; n];
                let mut grad_up = vec![0.0; n];
                let mut fused = vec![0.0; n];
                f.loss_elementwise(&x, &t, &mut loss).unwrap();
                f.grad(&x, &t, Reduction::Normalize(3.0), 1.5, &mut grad)
                    .unwrap();
                f.grad_elementwise(&x, &t, &up, &mut grad_up).unwrap();
                f.loss_and_grad(&x, &t, Reduction::Sum, &mut fused).unwrap();
                let mut in_place = x.clone();
                f.loss_and_grad_in_place(&mut in_place, &t, Reduction::Sum)
                    .unwrap();
                for i in 0..n {
                    let (xi, ti) = ([x[i]], [t[i]]);
                    let mut o = [0.0];
                    f.loss_elementwise(&xi, &ti, &mut o).unwrap();
                    check("loss_elementwise", &f, i, x[i], t[i], loss[i], o[0]);
                    f.grad(&xi, &ti, Reduction::Normalize(3.0), 1.5, &mut o)
                        .unwrap();
                    check("grad", &f, i, x[i], t[i], grad[i], o[0]);
                    f.grad_elementwise(&xi, &ti, &up[i..i + 1], &mut o).unwrap();
                    check("grad_elementwise", &f, i, x[i], t[i], grad_up[i], o[0]);
                    f.loss_and_grad(&xi, &ti, Reduction::Sum, &mut o).unwrap();
                    check("loss_and_grad", &f, i, x[i], t[i], fused[i], o[0]);
                    check("in place", &f, i, x[i], t[i], in_place[i], o[0]);
                }
            }
        }
    }
}

#[test]
fn sums_match_the_general_path() {
    let n = 64 * 40 + 7;
    for (seed, soft) in [(3, None), (4, Some(5))] {
        let (mut x, t0) = inputs(seed, n, soft);
        // No logit that sends a group to the general path by itself.
        for v in &mut x {
            if v.is_nan() || v.abs() > 87.0 {
                *v = 3.0;
            }
        }
        let mut t = t0.clone();
        let mut rng = Rng::new(seed + 100);
        // One element per block of 64 that can move its group between the paths.
        let spots: Vec<usize> = (0..n / 64).map(|k| k * 64 + rng.below(64)).collect();
        for &i in &spots {
            t[i] = 0.0;
        }
        for b in backends() {
            for f in configs(b) {
                let zero = |v: f32| f.loss(&[v], &[0.0], Reduction::Sum).unwrap();
                if zero(-87.0).to_bits() != 0 || zero(-1e30).to_bits() != 0 {
                    continue; // γ < 1: not exactly 0
                }
                let mut short = x.clone();
                let mut general = x.clone();
                for (k, &i) in spots.iter().enumerate() {
                    short[i] = -87.0;
                    // Every other group to the general path.
                    general[i] = if k % 2 == 0 { -1e30 } else { -87.0 };
                }
                let mut g = vec![0.0; n];
                let sums = |v: &[f32], g: &mut [f32]| {
                    (
                        f.loss(v, &t, Reduction::Sum).unwrap(),
                        f.loss_and_grad(v, &t, Reduction::Sum, g).unwrap(),
                    )
                };
                let (a, b2) = sums(&short, &mut g);
                let (c, d) = sums(&general, &mut g);
                assert!(
                    same(a, c) && same(b2, d),
                    "{f:?}: sums {a:?} {b2:?} (short path) against {c:?} {d:?} (general)"
                );
            }
        }
    }
}
