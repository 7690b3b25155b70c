//! The chunk API ([`SigmoidChunks`], [`SoftmaxChunks`], [`Partial`]): a call cut into chunks
//! on block boundaries gives the single call's bits (loss and every gradient element), in any
//! order of joins, on every SIMD backend (the scalar backend, which sums a call in one pass:
//! the same gradient bits, the same loss bits for one chunk, else within 1e-6); cut
//! elsewhere, the loss is still within 1e-6; and plans check what the single call checks.

mod common;

use common::calls::{sigmoid_inputs, softmax_inputs};
use common::{Rng, backends, bits};
use focal_loss::{
    Alpha, Backend, FocalError, Partial, Reduction, SigmoidChunks, SigmoidFocal, SoftmaxFocal,
};

/// Random cut points: multiples of `unit` (aligned) or anywhere, always including 0 and `n`.
fn cuts(rng: &mut Rng, n: usize, unit: usize, aligned: bool) -> Vec<usize> {
    let mut v = vec![0, n];
    for _ in 0..rng.below(6) {
        let c = rng.below(n + 1);
        v.push(if aligned { c / unit * unit } else { c });
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// `got == want` as bits if `same`, else within 1e-6 relative (the same bits if not finite).
fn close(same: bool, got: f32, want: f32, ctx: &str) {
    if same || !want.is_finite() {
        assert_eq!(got.to_bits(), want.to_bits(), "{ctx}: {got} vs {want}");
    } else {
        assert!(
            (got - want).abs() <= 1e-6 * want.abs(),
            "{ctx}: {got} vs {want}"
        );
    }
}

#[test]
fn sigmoid_chunks_give_the_single_calls_bits() {
    let mut rng = Rng::new(11);
    for b in backends() {
        for n in [
            0,
            1,
            1000,
            SigmoidChunks::CHUNK,
            4 * SigmoidChunks::CHUNK + 123,
        ] {
            let (x, t) = sigmoid_inputs(n as u64, n);
            for (gamma, r) in [
                (2.0, Reduction::Mean),
                (2.5, Reduction::Sum),
                (0.0, Reduction::Normalize(7.0)),
            ] {
                let f = SigmoidFocal::new().gamma(gamma).backend(b);
                let plan = f.chunks(n, r).unwrap();
                let mut want_g = vec![0.0; n];
                let want = f.loss_and_grad(&x, &t[..], r, &mut want_g).unwrap();
                let mut want_g2 = vec![0.0; n];
                f.grad(&x, &t[..], r, 0.3, &mut want_g2).unwrap();
                for _ in 0..4 {
                    let cut = cuts(&mut rng, n, SigmoidChunks::CHUNK, true);
                    let (mut g, mut g2) = (vec![0.0; n], vec![0.0; n]);
                    let (mut fused, mut sums) = (Vec::new(), Vec::new());
                    for w in cut.windows(2) {
                        let (a, e) = (w[0], w[1]);
                        fused.push(
                            plan.loss_and_grad(&x[a..e], &t[a..e], &mut g[a..e])
                                .unwrap(),
                        );
                        sums.push(plan.loss(&x[a..e], &t[a..e]).unwrap());
                        plan.grad(&x[a..e], &t[a..e], 0.3, &mut g2[a..e]).unwrap();
                    }
                    let fwd = fused.iter().fold(Partial::EMPTY, |a, &p| a.join(p));
                    let rev = fused.iter().rev().fold(Partial::EMPTY, |a, &p| p.join(a));
                    assert_eq!(fwd, rev);
                    let ctx = format!("{b:?} n={n} γ={gamma} {r:?} cuts {cut:?}");
                    let same = b != Backend::Scalar || cut.len() == 2;
                    close(same, plan.finish(fwd), want, &ctx);
                    let s = sums.iter().fold(Partial::EMPTY, |a, &p| a.join(p));
                    close(same, plan.finish(s), f.loss(&x, &t[..], r).unwrap(), &ctx);
                    assert_eq!(bits(&g), bits(&want_g), "{ctx}");
                    assert_eq!(bits(&g2), bits(&want_g2), "{ctx}");
                    // Cut anywhere: the same loss up to rounding.
                    let cut = cuts(&mut rng, n, 1, false);
                    let any = cut.windows(2).fold(Partial::EMPTY, |a, w| {
                        a.join(plan.loss(&x[w[0]..w[1]], &t[w[0]..w[1]]).unwrap())
                    });
                    close(false, plan.finish(any), want, &ctx);
                }
            }
        }
    }
}

#[test]
fn softmax_chunks_give_the_single_calls_bits() {
    let mut rng = Rng::new(12);
    for b in backends() {
        for (rows, c) in [
            (0, 5),
            (1, 3),
            (2500, 80),
            (50, 1000),
            (3, 17000),
            (9000, 4),
        ] {
            let (z, labels) = softmax_inputs(rows as u64 + 5, rows, c);
            let w: Vec<f32> = (0..c).map(|j| 0.1 + (j % 9) as f32 / 10.0).collect();
            for (f, r) in [
                (SoftmaxFocal::torch(), Reduction::MeanValid),
                (
                    SoftmaxFocal::torch().gamma(2.5).alpha(Alpha::PerClass(&w)),
                    Reduction::Mean,
                ),
                (SoftmaxFocal::torch().label_smoothing(0.1), Reduction::Sum),
            ] {
                let f = f.backend(b);
                let plan = f.chunks(c, &labels, r).unwrap();
                let unit = plan.rows_per_chunk();
                let mut want_g = vec![0.0; z.len()];
                let want = f.loss_and_grad(&z, c, &labels, r, &mut want_g).unwrap();
                let mut want_g2 = vec![0.0; z.len()];
                f.grad(&z, c, &labels, r, 2.0, &mut want_g2).unwrap();
                for _ in 0..3 {
                    let cut = cuts(&mut rng, rows, unit, true);
                    let (mut g, mut g2) = (vec![0.0; z.len()], vec![0.0; z.len()]);
                    let (mut all, mut sums) = (Partial::EMPTY, Partial::EMPTY);
                    for w in cut.windows(2).rev() {
                        let (a, e) = (w[0], w[1]);
                        let (zs, ls) = (&z[a * c..e * c], &labels[a..e]);
                        all = all.join(plan.loss_and_grad(zs, ls, &mut g[a * c..e * c]).unwrap());
                        sums = plan.loss(zs, ls).unwrap().join(sums);
                        plan.grad(zs, ls, 2.0, &mut g2[a * c..e * c]).unwrap();
                    }
                    let ctx = format!("{b:?} {rows}x{c} {f:?} {r:?} cuts {cut:?}");
                    let same = b != Backend::Scalar || cut.len() == 2;
                    close(same, plan.finish(all), want, &ctx);
                    close(
                        same,
                        plan.finish(sums),
                        f.loss(&z, c, &labels, r).unwrap(),
                        &ctx,
                    );
                    assert_eq!(bits(&g), bits(&want_g), "{ctx}");
                    assert_eq!(bits(&g2), bits(&want_g2), "{ctx}");
                }
            }
        }
    }
}

#[test]
fn plans_check_what_the_call_checks() {
    let f = SigmoidFocal::new();
    assert!(matches!(
        f.gamma(-1.0).chunks(4, Reduction::Mean),
        Err(FocalError::InvalidGamma { .. })
    ));
    assert!(matches!(
        f.chunks(4, Reduction::Normalize(0.0)),
        Err(FocalError::InvalidNormalizer { .. })
    ));
    let plan = f.chunks(4, Reduction::Mean).unwrap();
    let mut g = [0.0; 3];
    assert!(matches!(
        plan.loss_and_grad(&[0.0; 4], &[0.0; 4][..], &mut g),
        Err(FocalError::LengthMismatch { what: "grad", .. })
    ));
    assert!(matches!(
        plan.loss(&[0.0; 2], &[0.5, 2.0][..]),
        Err(FocalError::TargetOutOfRange { index: 1, .. })
    ));
    let s = SoftmaxFocal::torch();
    assert!(matches!(
        s.chunks(3, &[0i64, 3], Reduction::Mean),
        Err(FocalError::LabelOutOfRange { index: 1, .. })
    ));
    let plan = s.chunks(3, &[0i64, -100], Reduction::MeanValid).unwrap();
    assert!(matches!(
        plan.loss(&[0.0; 5], &[0i64, 1]),
        Err(FocalError::InvalidNumClasses { .. })
    ));
    // MeanValid divides by the plan's valid rows (1 of 2), not the chunk's.
    let p = plan.loss(&[0.0, 0.0, 0.0], &[0i64]).unwrap();
    let whole = s
        .loss(&[0.0; 6], 3, &[0i64, -100], Reduction::MeanValid)
        .unwrap();
    assert_eq!(plan.finish(p), whole);
}
