//! The chunk API ([`SigmoidChunks`], [`SoftmaxChunks`], [`Partial`]): a call cut into chunks
//! on block boundaries gives the single call's bits (loss and every gradient element), in any
//! order of joins, on every SIMD backend (the scalar backend, which sums a call in one pass:
//! the same gradient bits, the same loss bits for one chunk, else within 1e-6); cut
//! elsewhere, the loss is still within 1e-6; chunks run from several threads at once give the
//! same bits; and plans check what the single call checks.
//! The same for channels-first calls cut into images.

mod common;

use common::calls::{sigmoid_inputs, softmax_inputs};
use common::{Rng, backends, bits};
use focal_loss::{
    Alpha, Backend, FocalError, Partial, Reduction, SigmoidChunks, SigmoidFocal, SoftmaxChunks,
    SoftmaxFocal,
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

/// Scales each position's logits by 2^-4 to 2^27 and raises its label's by 0 to 40, so
/// that the losses span more than the 53 bits of the kernels' `f64` sums and a sum's
/// rounding depends on how it is grouped: chunks that computed other blocks than the single
/// call's would show it. Positions are `s` apart within an image of `c·s` logits (`s = 1`:
/// row-major).
fn spread(z: &mut [f32], labels: &[i64], c: usize, s: usize) {
    for (p, &k) in labels.iter().enumerate() {
        let (image, q) = (p / s, p % s);
        let scale = (2.0f32).powi((p * 7 % 32) as i32 - 4);
        for j in 0..c {
            z[image * c * s + j * s + q] *= scale;
        }
        if k >= 0 {
            z[image * c * s + k as usize * s + q] += (p * 37 % 41) as f32;
        }
    }
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

/// What the single call gave: the loss of `loss_and_grad` and of `loss`, the gradient of
/// `loss_and_grad` and of `grad` with upstream 2.
struct Single<'a> {
    loss: [f32; 2],
    grad: [&'a [f32]; 2],
}

/// Runs `plan` over the rows (positions) cut at `cut`, the chunks in reverse order for the
/// fused call, and checks the joined partials and every gradient element against `single`:
/// the same bits if `same`; the same exact sum as one chunk of everything too, which shows
/// that the chunks computed the single call's blocks, not only the same rounded loss.
#[allow(clippy::too_many_arguments)]
fn check_cuts(
    plan: &SoftmaxChunks<'_>,
    z: &[f32],
    labels: &[i64],
    c: usize,
    cut: &[usize],
    single: &Single<'_>,
    same: bool,
    ctx: &str,
) {
    let (mut g, mut g2) = (vec![0.0; z.len()], vec![0.0; z.len()]);
    let (mut all, mut sums) = (Partial::EMPTY, Partial::EMPTY);
    for w in cut.windows(2).rev() {
        let (a, e) = (w[0], w[1]);
        let (zs, ls) = (&z[a * c..e * c], &labels[a..e]);
        all = all.join(plan.loss_and_grad(zs, ls, &mut g[a * c..e * c]).unwrap());
        sums = plan.loss(zs, ls).unwrap().join(sums);
        plan.grad(zs, ls, 2.0, &mut g2[a * c..e * c]).unwrap();
    }
    if same {
        assert_eq!(sums, plan.loss(z, labels).unwrap(), "{ctx}");
    }
    close(same, plan.finish(all), single.loss[0], ctx);
    close(same, plan.finish(sums), single.loss[1], ctx);
    assert_eq!(bits(&g), bits(single.grad[0]), "{ctx}");
    assert_eq!(bits(&g2), bits(single.grad[1]), "{ctx}");
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
                    if same {
                        let s = sums.iter().fold(Partial::EMPTY, |a, &p| a.join(p));
                        assert_eq!(s, plan.loss(&x, &t[..]).unwrap(), "{ctx}");
                    }
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
        // (rows or images, C, S): row-major (`None`); channels-first images larger than a
        // block (cut into parts of an image inside a call), several images per block, and
        // `S = 1` (whose blocks are rows with label smoothing and whole one-position images
        // without).
        for (n, c, spatial) in [
            (0, 5, None),
            (1, 3, None),
            (2500, 80, None),
            (50, 1000, None),
            (3, 17000, None),
            (9000, 4, None),
            (3, 19, Some(2000)),
            (40, 5, Some(300)),
            (5, 80, Some(64)),
            (900, 40, Some(1)),
            (1, 3, Some(7)),
        ] {
            let s = spatial.unwrap_or(1);
            let (mut z, labels) = softmax_inputs((n * s) as u64 + 5, n * s, c);
            spread(&mut z, &labels, c, s);
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
                let cf = f.channels_first(s);
                let (mut g, mut g2) = (vec![0.0; z.len()], vec![0.0; z.len()]);
                let (plan, loss) = match spatial {
                    None => {
                        f.grad(&z, c, &labels, r, 2.0, &mut g2).unwrap();
                        let fused = f.loss_and_grad(&z, c, &labels, r, &mut g).unwrap();
                        let plan = f.chunks(c, &labels, r).unwrap();
                        (plan, [fused, f.loss(&z, c, &labels, r).unwrap()])
                    }
                    Some(_) => {
                        cf.grad(&z, c, &labels, r, 2.0, &mut g2).unwrap();
                        let fused = cf.loss_and_grad(&z, c, &labels, r, &mut g).unwrap();
                        let plan = cf.chunks(c, &labels, r).unwrap();
                        (plan, [fused, cf.loss(&z, c, &labels, r).unwrap()])
                    }
                };
                let single = Single {
                    loss,
                    grad: [&g, &g2],
                };
                let unit = plan.rows_per_chunk();
                assert_eq!(unit % s, 0, "whole images");
                for _ in 0..3 {
                    let cut: Vec<usize> = cuts(&mut rng, n, unit / s, true)
                        .into_iter()
                        .map(|i| i * s)
                        .collect();
                    let ctx = format!("{b:?} {n}x{c}x{spatial:?} {f:?} {r:?} cuts {cut:?}");
                    let same = b != Backend::Scalar || cut.len() == 2;
                    check_cuts(&plan, &z, &labels, c, &cut, &single, same, &ctx);
                }
            }
            // A chunk of part of an image is refused.
            if s > 1 {
                let plan =
                    SoftmaxFocal::torch()
                        .channels_first(s)
                        .chunks(c, &labels, Reduction::Sum);
                let part = plan.unwrap().loss(&z[..c], &labels[..1]);
                assert!(
                    matches!(part, Err(FocalError::InvalidSpatial { .. })),
                    "{part:?}"
                );
            }
        }
    }
}

/// The chunk API as it is meant to be used, from the caller's own threads: each thread
/// computes its chunks' partials and writes its part of the gradient, all at once (the
/// plans are shared by reference), and the joined partials give the single call's loss and
/// gradient bits. Chunks are taken from a shared counter, so which thread runs which chunk,
/// and the order of the joins, change from run to run. (Under ThreadSanitizer in CI.)
#[test]
#[cfg_attr(target_os = "wasi", ignore = "wasm32-wasip1 has no threads")]
fn chunks_on_the_callers_threads_give_the_single_calls_bits() {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    /// Runs `chunk(k, part)` for every chunk `k` of `unit` values of `g` (the last one
    /// shorter) on `threads` threads and joins the partials they return.
    fn on_threads(
        threads: usize,
        g: &mut [f32],
        unit: usize,
        chunk: &(dyn Fn(usize, &mut [f32]) -> Partial + Sync),
    ) -> Partial {
        let parts: Vec<Mutex<&mut [f32]>> = g.chunks_mut(unit).map(Mutex::new).collect();
        let (next, total) = (AtomicUsize::new(0), Mutex::new(Partial::EMPTY));
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    loop {
                        let k = next.fetch_add(1, Relaxed);
                        let Some(part) = parts.get(k) else { break };
                        let p = chunk(k, &mut part.lock().unwrap());
                        let mut t = total.lock().unwrap();
                        *t = t.join(p);
                    }
                });
            }
        });
        total.into_inner().unwrap()
    }
    for b in backends().into_iter().filter(|&b| b != Backend::Scalar) {
        let n = 6 * SigmoidChunks::CHUNK + 321;
        let (x, t) = sigmoid_inputs(21, n);
        let f = SigmoidFocal::new().gamma(2.5).backend(b);
        let mut want_g = vec![0.0; n];
        let want = f
            .loss_and_grad(&x, &t[..], Reduction::Sum, &mut want_g)
            .unwrap();
        let plan = f.chunks(n, Reduction::Sum).unwrap();
        let (rows, c) = (3000, 80);
        let (mut z, labels) = softmax_inputs(22, rows, c);
        spread(&mut z, &labels, c, 1);
        let sf = SoftmaxFocal::torch().backend(b);
        let mut want_gz = vec![0.0; z.len()];
        let want_z = sf
            .loss_and_grad(&z, c, &labels, Reduction::MeanValid, &mut want_gz)
            .unwrap();
        let splan = sf.chunks(c, &labels, Reduction::MeanValid).unwrap();
        let r = splan.rows_per_chunk();
        for threads in [2, 3, 5] {
            let mut g = vec![0.0; n];
            let u = SigmoidChunks::CHUNK;
            let all = on_threads(threads, &mut g, u, &|k, g| {
                let (a, e) = (k * u, k * u + g.len());
                plan.loss_and_grad(&x[a..e], &t[a..e], g).unwrap()
            });
            let ctx = format!("{b:?}, {threads} threads");
            assert_eq!(plan.finish(all).to_bits(), want.to_bits(), "{ctx}");
            assert_eq!(bits(&g), bits(&want_g), "{ctx}");
            let mut gz = vec![0.0; z.len()];
            let all = on_threads(threads, &mut gz, r * c, &|k, g| {
                let rows = k * r..k * r + g.len() / c;
                let zs = &z[rows.start * c..rows.end * c];
                splan.loss_and_grad(zs, &labels[rows], g).unwrap()
            });
            assert_eq!(splan.finish(all).to_bits(), want_z.to_bits(), "{ctx}");
            assert_eq!(bits(&gz), bits(&want_gz), "{ctx}");
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
    // Rows of so many classes that no slice holds the plan's logits: the labels' length is
    // the error, and a bad parameter still comes first.
    let c = usize::MAX / 2;
    assert_eq!(
        s.chunks(c, &[0u8; 3], Reduction::Mean).err(),
        Some(FocalError::LengthMismatch {
            what: "labels",
            expected: 0,
            found: 3
        })
    );
    // Classes such that the most rows a slice holds is about 2^21 (on 32- and 64-bit).
    let big = 1usize << (usize::BITS - 24);
    let most = isize::MAX as usize / 4 / big;
    assert_eq!(
        s.chunks(big, &vec![0u8; most + 1], Reduction::Sum).err(),
        Some(FocalError::LengthMismatch {
            what: "labels",
            expected: most,
            found: most + 1
        })
    );
    assert!(matches!(
        s.gamma(f32::NAN).chunks(c, &[0u8; 3], Reduction::Mean),
        Err(FocalError::InvalidGamma { .. })
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
