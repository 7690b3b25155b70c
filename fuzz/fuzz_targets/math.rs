//! The crate's math (`exp`, `ln`, `log1p` and their variants) is private, so it is fuzzed
//! through the public kernels at single elements: each element's sigmoid focal loss and
//! gradient (`loss_elementwise`, `grad_elementwise` with upstream 1), both forms, hard and
//! soft targets, every backend, against the `f64` oracle of SPEC.md section 1
//! (`focal_loss_fuzz::sigmoid_exact`), within the README's accuracy bound
//! `(K + 3·cond)·max(ulp(want), ulp(m))`, K = 6 for the loss and 7 for the gradient, on the
//! domain the README states it for: any logit, gamma in [0, 5], alpha none or in [0, 1],
//! targets 0, 1 or in [1e-7, 1 - 1e-7]; alpha
//! 0 or at least 1e-6 (see below).
#![no_main]

use arbitrary::Arbitrary;
use focal_loss::{SigmoidFocal, SigmoidForm};
use focal_loss_fuzz::*;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    per_term: bool,
    alpha: AlphaVal,
    gamma: Gamma,
    elems: Vec<(Logit, Target)>,
}

/// A target of the documented domain: 0, 1, or in [1e-7, 1 - 1e-7].
fn documented(t: f32) -> f32 {
    if t == 0.0 || t == 1.0 || (1e-7..=1.0 - 1e-7).contains(&t) {
        t
    } else if t.is_nan() || t < 0.5 {
        1e-7
    } else {
        1.0 - 1e-7
    }
}

fuzz_target!(|input: Input| {
    // Alpha 0 or in [1e-6, 1]: a tinier alpha makes the weight `α·t` (rounded to f32 like
    // any input, README) subnormal or 0, and the loss loses up to the whole term; that case
    // is tests/fuzz_regressions.rs `sigmoid_subnormal_alpha_weight`.
    let alpha = input
        .alpha
        .get()
        .filter(|a| *a == 0.0 || (1e-6..=1.0).contains(a));
    let gamma = match input.gamma.get() {
        g if (0.0..=5.0).contains(&g) => g,
        _ => 2.0,
    };
    let form = if input.per_term {
        SigmoidForm::PerTerm
    } else {
        SigmoidForm::ModulatedBce
    };
    let x: Vec<f32> = input.elems.iter().map(|e| e.0.get()).collect();
    let t: Vec<f32> = input.elems.iter().map(|e| documented(e.1.get())).collect();
    let n = x.len();
    let f = SigmoidFocal::new().alpha(alpha).gamma(gamma).form(form);
    for b in backends() {
        let f = f.backend(b);
        let mut loss = sentinels(n);
        let mut grad = sentinels(n);
        f.loss_elementwise(&x, &t, &mut loss)
            .expect("valid parameters and targets");
        f.grad_elementwise(&x, &t, &vec![1.0; n], &mut grad)
            .expect("valid parameters and targets");
        for i in 0..n {
            let e = sigmoid_exact(x[i], t[i], alpha, gamma, input.per_term);
            let ctx = format!(
                "{} x={:e} ({:#010x}) t={:e} alpha={alpha:?} gamma={gamma:e} {form:?}",
                b.name(),
                x[i],
                x[i].to_bits(),
                t[i]
            );
            assert!(
                within_readme_bound(loss[i], e.loss, e.loss.abs(), 6.0, e.cond),
                "{ctx}: loss {:e}, exact {:e} (cond {:.2})",
                loss[i],
                e.loss,
                e.cond
            );
            assert!(
                within_readme_bound(grad[i], e.grad, e.grad_side, 7.0, e.cond),
                "{ctx}: gradient {:e}, exact {:e} (side {:e}, cond {:.2})",
                grad[i],
                e.grad,
                e.grad_side,
                e.cond
            );
        }
    }
});
