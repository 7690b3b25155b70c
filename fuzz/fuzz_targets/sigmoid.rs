//! Sigmoid focal loss: every method on every backend this CPU has, against `Backend::Scalar`
//! (within the bound of `focal_loss_fuzz::close`, same NaN and infinity pattern), and the
//! exact invariants on each backend: fused == separate (`loss_and_grad`'s loss == `loss`,
//! its gradient == `grad` with upstream 1), in place == out of place, `Targets::checked` ==
//! plain targets, all bit for bit; errors identical across backends and methods, and nothing
//! written on error.
#![no_main]

use arbitrary::Arbitrary;
use focal_loss::{FocalError, Reduction, SigmoidFocal, SigmoidForm, Targets};
use focal_loss_fuzz::*;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    per_term: bool,
    alpha: AlphaVal,
    gamma: Gamma,
    red: Red,
    upstream: Upstream,
    /// Start of the slices within their allocations, in floats (mod 32).
    offset: u8,
    elems: Vec<(Logit, Target, Upstream)>,
}

/// Everything one backend returned, for one kind of targets (plain or checked).
#[derive(Debug)]
struct Run {
    loss: Result<f32, FocalError>,
    loss_el: (Result<(), FocalError>, Vec<f32>),
    grad_el: (Result<(), FocalError>, Vec<f32>),
    grad: (Result<(), FocalError>, Vec<f32>),
    grad1: (Result<(), FocalError>, Vec<f32>),
    fused: (Result<f32, FocalError>, Vec<f32>),
    in_place: (Result<f32, FocalError>, Vec<f32>),
}

fn unit(r: &Result<(), FocalError>) -> Result<f32, FocalError> {
    r.map(|()| 0.0)
}

fn run<'t>(
    f: &SigmoidFocal,
    x: &[f32],
    t: impl Into<Targets<'t>> + Copy,
    r: Reduction,
    up: f32,
    ups: &[f32],
    offset: usize,
) -> Run {
    let n = x.len();
    // Outputs at the same offset as the inputs: unaligned as they are.
    let out_buf = |_: ()| placed(&sentinels(n), offset);
    let mut le = out_buf(());
    let le_r = f.loss_elementwise(x, t, &mut le[offset..]);
    let mut ge = out_buf(());
    let ge_r = f.grad_elementwise(x, t, ups, &mut ge[offset..]);
    let mut g = out_buf(());
    let g_r = f.grad(x, t, r, up, &mut g[offset..]);
    let mut g1 = out_buf(());
    let g1_r = f.grad(x, t, r, 1.0, &mut g1[offset..]);
    let mut fg = out_buf(());
    let f_r = f.loss_and_grad(x, t, r, &mut fg[offset..]);
    let mut ip = placed(x, offset);
    let ip_r = f.loss_and_grad_in_place(&mut ip[offset..], t, r);
    let tail = |v: Vec<f32>| v[offset..].to_vec();
    Run {
        loss: f.loss(x, t, r),
        loss_el: (le_r, tail(le)),
        grad_el: (ge_r, tail(ge)),
        grad: (g_r, tail(g)),
        grad1: (g1_r, tail(g1)),
        fused: (f_r, tail(fg)),
        in_place: (ip_r, tail(ip)),
    }
}

/// Invariants within one run: nothing written on error, the errors of the methods agree,
/// fused == separate and in place == out of place bit for bit.
fn check_run(run: &Run, x: &[f32], red_ok: bool, ctx: &str) {
    for (name, (res, out)) in [
        ("loss_elementwise", &run.loss_el),
        ("grad_elementwise", &run.grad_el),
        ("grad", &run.grad),
        ("grad(1)", &run.grad1),
    ] {
        if res.is_err() {
            assert!(untouched(out), "{ctx}: {name} wrote on error {res:?}");
        }
    }
    if run.fused.0.is_err() {
        assert!(
            untouched(&run.fused.1),
            "{ctx}: loss_and_grad wrote on error"
        );
    }
    if run.in_place.0.is_err() {
        assert!(
            run.in_place.1.len() == x.len()
                && run
                    .in_place
                    .1
                    .iter()
                    .zip(x)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{ctx}: loss_and_grad_in_place changed the logits on error"
        );
    }
    // The elementwise methods check the same things.
    assert!(
        same_result(&unit(&run.loss_el.0), &unit(&run.grad_el.0)),
        "{ctx}: loss_elementwise {:?} vs grad_elementwise {:?}",
        run.loss_el.0,
        run.grad_el.0
    );
    // The reduced methods check the same things (the normaliser too).
    let reduced = [
        run.loss,
        unit(&run.grad.0),
        unit(&run.grad1.0),
        run.fused.0,
        run.in_place.0,
    ];
    for r in &reduced {
        assert_eq!(
            r.is_ok(),
            run.fused.0.is_ok(),
            "{ctx}: reduced methods disagree: {reduced:?}"
        );
        if let (Err(a), Err(b)) = (r, &run.fused.0) {
            assert!(same_err(a, b), "{ctx}: reduced errors {reduced:?}");
        }
    }
    // With a valid reduction, reduced and elementwise methods fail alike.
    if red_ok {
        assert_eq!(
            run.loss_el.0.is_ok(),
            run.fused.0.is_ok(),
            "{ctx}: elementwise {:?} vs reduced {:?}",
            run.loss_el.0,
            run.fused.0
        );
        if let (Err(a), Err(b)) = (&run.loss_el.0, &run.fused.0) {
            assert!(same_err(a, b), "{ctx}: {a:?} vs {b:?}");
        }
    }
    // Fused == separate, in place == out of place, bit for bit.
    if let (Ok(l), Ok(fl)) = (run.loss, run.fused.0) {
        assert!(same_bits(l, fl), "{ctx}: loss {l:e} != fused loss {fl:e}");
    }
    if run.fused.0.is_ok() {
        assert_eq!(
            first_diff(&run.fused.1, &run.grad1.1),
            None,
            "{ctx}: fused gradient != grad(upstream 1)"
        );
        assert!(
            same_result(&run.fused.0, &run.in_place.0),
            "{ctx}: in-place loss {:?} != fused {:?}",
            run.in_place.0,
            run.fused.0
        );
        assert_eq!(
            first_diff(&run.fused.1, &run.in_place.1),
            None,
            "{ctx}: in-place gradient != fused gradient"
        );
    }
}

/// Two runs give the same bits (plain targets against `Targets::checked`).
fn same_run(a: &Run, b: &Run, ctx: &str) {
    let pairs = [
        (
            unit(&a.loss_el.0),
            &a.loss_el.1,
            unit(&b.loss_el.0),
            &b.loss_el.1,
        ),
        (
            unit(&a.grad_el.0),
            &a.grad_el.1,
            unit(&b.grad_el.0),
            &b.grad_el.1,
        ),
        (unit(&a.grad.0), &a.grad.1, unit(&b.grad.0), &b.grad.1),
        (unit(&a.grad1.0), &a.grad1.1, unit(&b.grad1.0), &b.grad1.1),
        (a.fused.0, &a.fused.1, b.fused.0, &b.fused.1),
        (a.in_place.0, &a.in_place.1, b.in_place.0, &b.in_place.1),
    ];
    assert!(
        same_result(&a.loss, &b.loss),
        "{ctx}: loss {:?} vs {:?}",
        a.loss,
        b.loss
    );
    for (i, (ra, va, rb, vb)) in pairs.iter().enumerate() {
        assert!(same_result(ra, rb), "{ctx}: method {i}: {ra:?} vs {rb:?}");
        assert_eq!(
            first_diff(va, vb),
            None,
            "{ctx}: method {i}: outputs differ"
        );
    }
}

fuzz_target!(|input: Input| {
    let n = input.elems.len();
    let offset = usize::from(input.offset % 32);
    let xs: Vec<f32> = input.elems.iter().map(|e| e.0.get()).collect();
    let ts: Vec<f32> = input.elems.iter().map(|e| e.1.get()).collect();
    let us: Vec<f32> = input.elems.iter().map(|e| e.2.get()).collect();
    let (xb, tb, ub) = (
        placed(&xs, offset),
        placed(&ts, offset),
        placed(&us, offset),
    );
    let (x, t, ups) = (&xb[offset..], &tb[offset..], &ub[offset..]);
    let (alpha, gamma, red, up) = (
        input.alpha.get(),
        input.gamma.get(),
        input.red.get(),
        input.upstream.get(),
    );
    let form = if input.per_term {
        SigmoidForm::PerTerm
    } else {
        SigmoidForm::ModulatedBce
    };
    let base = SigmoidFocal::new().alpha(alpha).gamma(gamma).form(form);
    let red_ok = match red {
        Reduction::Normalize(d) => d.is_finite() && d > 0.0,
        _ => true,
    };
    let checked = Targets::checked(t);

    let mut runs = Vec::new();
    for b in backends() {
        let f = base.backend(b);
        let ctx = format!("{} n={n} off={offset}", b.name());
        let plain = run(&f, x, t, red, up, ups, offset);
        check_run(&plain, x, red_ok, &ctx);
        match &checked {
            Ok(c) => {
                let again = run(&f, x, *c, red, up, ups, offset);
                check_run(&again, x, red_ok, &ctx);
                same_run(&plain, &again, &format!("{ctx} checked targets"));
            }
            Err(e) => {
                // A bad target: the elementwise calls report the same error, unless a
                // parameter error comes first.
                let params_ok = alpha.is_none_or(|a| (0.0..=1.0).contains(&a))
                    && gamma.is_finite()
                    && gamma >= 0.0;
                if params_ok {
                    match &plain.loss_el.0 {
                        Err(e2) => assert!(same_err(e, e2), "{ctx}: {e:?} vs {e2:?}"),
                        Ok(()) => panic!("{ctx}: Targets::checked {e:?} but the call is Ok"),
                    }
                }
            }
        }
        runs.push((b, plain));
    }

    // Every backend against the scalar one.
    let (_, s) = &runs[0];
    let div = match red {
        Reduction::Sum => 1.0,
        Reduction::Mean | Reduction::MeanValid => n as f32,
        Reduction::Normalize(d) => d,
    };
    let c = if div == 0.0 { 0.0 } else { up / div };
    let exact: Vec<SigmoidExact> = if s.loss_el.0.is_ok() {
        xs.iter()
            .zip(&ts)
            .map(|(&x, &t)| sigmoid_exact(x, t, alpha, gamma, input.per_term))
            .collect()
    } else {
        Vec::new()
    };
    for (b, o) in &runs[1..] {
        let ctx = format!("{} vs scalar, n={n} off={offset}", b.name());
        let results = [
            ("loss", s.loss, o.loss),
            ("loss_elementwise", unit(&s.loss_el.0), unit(&o.loss_el.0)),
            ("grad_elementwise", unit(&s.grad_el.0), unit(&o.grad_el.0)),
            ("grad", unit(&s.grad.0), unit(&o.grad.0)),
            ("loss_and_grad", s.fused.0, o.fused.0),
            ("in_place", s.in_place.0, o.in_place.0),
        ];
        for (name, a, bb) in results {
            match (a, bb) {
                (Err(e1), Err(e2)) => {
                    assert!(same_err(&e1, &e2), "{ctx}: {name}: {e1:?} vs {e2:?}")
                }
                (Ok(_), Ok(_)) => {}
                _ => panic!("{ctx}: {name}: scalar {a:?}, {} {bb:?}", b.name()),
            }
        }
        for (name, want, got) in [
            ("loss", s.loss, o.loss),
            ("fused loss", s.fused.0, o.fused.0),
        ] {
            if let (Ok(w), Ok(g)) = (want, got) {
                assert!(
                    close(
                        g,
                        w,
                        0.0,
                        n.max(1) as f64 / div.abs().max(f32::MIN_POSITIVE) as f64
                    ),
                    "{ctx}: {name} {g:e} vs scalar {w:e}"
                );
            }
        }
        if s.loss_el.0.is_ok() {
            for i in 0..n {
                let e = &exact[i];
                let pairs = [
                    (
                        "loss_elementwise",
                        s.loss_el.1[i],
                        o.loss_el.1[i],
                        e.loss.abs(),
                        1.0,
                    ),
                    (
                        "grad_elementwise",
                        s.grad_el.1[i],
                        o.grad_el.1[i],
                        e.grad_mag * (us[i] as f64).abs(),
                        us[i] as f64,
                    ),
                ];
                for (name, w, g, mag, scale) in pairs {
                    assert!(
                        close(g, w, mag, scale),
                        "{ctx}: {name}[{i}] x={:e} ({:#x}) t={:e} alpha={alpha:?} gamma={gamma:e} form={form:?}: {g:e} vs scalar {w:e} (exact {e:?})",
                        xs[i],
                        xs[i].to_bits(),
                        ts[i]
                    );
                }
            }
        }
        if s.grad.0.is_ok() {
            for i in 0..n {
                let e = &exact[i];
                let pairs = [
                    ("grad", s.grad.1[i], o.grad.1[i], c as f64),
                    (
                        "loss_and_grad",
                        s.fused.1[i],
                        o.fused.1[i],
                        if div == 0.0 { 0.0 } else { 1.0 / div as f64 },
                    ),
                ];
                for (name, w, g, scale) in pairs {
                    assert!(
                        close(g, w, e.grad_mag * scale.abs(), scale),
                        "{ctx}: {name}[{i}] x={:e} ({:#x}) t={:e} alpha={alpha:?} gamma={gamma:e} form={form:?} red={red:?}: {g:e} vs scalar {w:e} (exact {e:?})",
                        xs[i],
                        xs[i].to_bits(),
                        ts[i]
                    );
                }
            }
        }
    }
});
