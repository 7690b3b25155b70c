//! Inputs past 2^31 elements, where an index or offset kept in 32 bits would wrap: the
//! sigmoid on 2^31 + 17 elements, the softmax on 2 200 003 rows of 1000 classes (2.2·10^9
//! logits) and a channels-first image of 3 classes and 2^29 + 7 positions (its class planes
//! 2^31 bytes apart, the last one beyond 2^32). Each full call, in place, against the same
//! data cut into pieces: the chunk API's pieces for the row-major calls (the same loss bits
//! on the SIMD backends, within 1e-6 on the scalar one, which sums a call in one pass; the
//! same gradient bits everywhere), and for the image, positions copied into small images of
//! their own (the same gradient bits, the loss within 1e-6 of the pieces' sum).
//!
//! Ignored by default: each test needs up to 18 GB of memory and takes about 10 minutes on 2 cores
//! (every backend). `cargo test --release --test huge -- --ignored --test-threads 1`
//! (2026-12-05, Intel Xeon VM: every backend passed).

mod common;

use common::calls::softmax_inputs;
use common::{Rng, backends};
use focal_loss::{Backend, Partial, Reduction, SigmoidFocal, SoftmaxFocal};

/// FNV-1a over the bits of `v`: one number per piece, so that the reference gradients need
/// not be kept beside the 8 GB being checked.
fn hash(v: &[f32]) -> u64 {
    v.iter().fold(0xcbf2_9ce4_8422_2325, |h, x| {
        (h ^ u64::from(x.to_bits())).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The loss `got` against the pieces' `want`: the same bits, or within 1e-6 on the scalar
/// backend.
fn same_loss(b: Backend, got: f32, want: f32, what: &str) {
    if b == Backend::Scalar {
        let rel = (f64::from(got) - f64::from(want)).abs() / f64::from(want).abs();
        assert!(rel <= 1e-6, "{b:?} {what}: {got:e} vs {want:e}");
    } else {
        assert_eq!(
            got.to_bits(),
            want.to_bits(),
            "{b:?} {what}: {got:e} vs {want:e}"
        );
    }
}

#[test]
#[ignore = "needs about 18 GB of memory and minutes"]
fn sigmoid_past_2_pow_31() {
    let n = (1usize << 31) + 17;
    // Made again for each backend: the logits, the targets and a copy would not fit in 24 GB.
    let inputs = || {
        let mut rng = Rng::new(1);
        let mut x: Vec<f32> = (0..n).map(|_| rng.range(-8.0, 8.0)).collect();
        let mut t: Vec<f32> = (0..n)
            .map(|i| {
                if i % 5 == 0 {
                    rng.target()
                } else {
                    (rng.below(100) == 0) as u8 as f32
                }
            })
            .collect();
        // The last elements, past 2^31: a large logit, -inf with target 0, one past 87.
        x[n - 1] = 40.0;
        (x[n - 2], t[n - 2]) = (f32::NEG_INFINITY, 0.0);
        x[(1 << 31) + 1] = 90.0;
        (x, t)
    };
    let piece = 1 << 24;
    let mut tmp = vec![0.0; piece];
    for b in backends() {
        let (mut x, t) = inputs();
        let f = SigmoidFocal::torchvision().gamma(2.5).backend(b);
        let plan = f.chunks(n, Reduction::Sum).unwrap();
        let (mut all, mut hashes) = (Partial::EMPTY, Vec::new());
        for (xs, ts) in x.chunks(piece).zip(t.chunks(piece)) {
            let g = &mut tmp[..xs.len()];
            all = all.join(plan.loss_and_grad(xs, ts, g).unwrap());
            hashes.push(hash(g));
        }
        let want = plan.finish(all);
        same_loss(b, f.loss(&x, &t, Reduction::Sum).unwrap(), want, "loss");
        let got = f
            .loss_and_grad_in_place(&mut x, &t, Reduction::Sum)
            .unwrap();
        same_loss(b, got, want, "loss_and_grad_in_place");
        let got: Vec<u64> = x.chunks(piece).map(hash).collect();
        assert!(got == hashes, "{b:?}: gradients");
    }
}

#[test]
#[ignore = "needs about 18 GB of memory and minutes"]
fn softmax_past_2_pow_31() {
    let (rows, c) = (2_200_003usize, 1000);
    let (z, labels) = softmax_inputs(2, rows, c);
    for b in backends() {
        let f = SoftmaxFocal::torch().backend(b);
        let plan = f.chunks(c, &labels, Reduction::MeanValid).unwrap();
        let per = plan.rows_per_chunk() * 4096;
        let mut tmp = vec![0.0; per * c];
        let (mut all, mut hashes) = (Partial::EMPTY, Vec::new());
        for (zs, ls) in z.chunks(per * c).zip(labels.chunks(per)) {
            let g = &mut tmp[..zs.len()];
            all = all.join(plan.loss_and_grad(zs, ls, g).unwrap());
            hashes.push(hash(g));
        }
        let want = plan.finish(all);
        let mut g = z.clone();
        let got = f
            .loss_and_grad_in_place(&mut g, c, &labels, Reduction::MeanValid)
            .unwrap();
        same_loss(b, got, want, "loss_and_grad_in_place");
        let got: Vec<u64> = g.chunks(per * c).map(hash).collect();
        assert!(got == hashes, "{b:?}: gradients");
    }
}

#[test]
#[ignore = "needs about 18 GB of memory and minutes"]
fn channels_first_planes_past_2_pow_32_bytes() {
    let (c, s) = (3usize, (1usize << 29) + 7);
    let mut rng = Rng::new(3);
    let z: Vec<f32> = (0..c * s).map(|_| rng.range(-8.0, 8.0)).collect();
    let labels: Vec<u8> = (0..s).map(|_| rng.below(c) as u8).collect();
    let m = 1 << 22;
    let (mut small, mut tmp) = (vec![0.0; c * m], vec![0.0; c * m]);
    // Positions `s0..s0 + k` of every class plane of `z`, as a `[1, C, k]` image.
    let cut = |z: &[f32], s0: usize, k: usize, small: &mut [f32]| {
        for j in 0..c {
            small[j * k..(j + 1) * k].copy_from_slice(&z[j * s + s0..j * s + s0 + k]);
        }
    };
    for b in backends() {
        let f = SoftmaxFocal::mmcv().backend(b);
        let (mut sum, mut pieces) = (0.0f64, Vec::new());
        for s0 in (0..s).step_by(m) {
            let k = m.min(s - s0);
            cut(&z, s0, k, &mut small);
            let g = &mut tmp[..c * k];
            let ls = &labels[s0..s0 + k];
            let l = f
                .channels_first(k)
                .loss_and_grad(&small[..c * k], c, ls, Reduction::Sum, g);
            sum += f64::from(l.unwrap());
            pieces.push((s0, k, hash(g)));
        }
        let mut g = z.clone();
        let got = f
            .channels_first(s)
            .loss_and_grad_in_place(&mut g, c, &labels, Reduction::Sum)
            .unwrap();
        let rel = (f64::from(got) - sum).abs() / sum;
        assert!(rel <= 1e-6, "{b:?}: {got:e} vs the pieces' {sum:e}");
        for (s0, k, h) in pieces {
            cut(&g, s0, k, &mut small);
            assert_eq!(
                hash(&small[..c * k]),
                h,
                "{b:?}: positions {s0}..{}",
                s0 + k
            );
        }
    }
}
