//! A row of more than 2^24 classes, past where a class index is exact in `f32`. The
//! channels-first layout and label smoothing hold one row per lane and find each lane's
//! class by comparing class indices in lanes; until the comparison went by spans of 2^24
//! classes, the target 2^24 matched 2^24 + 1 as well, and took its logit (a loss of 5.41
//! for 2.91, on every backend). Checked here, on every available backend, for targets on
//! both sides of that rounding, against an f64 evaluation and against the row-major call
//! (which indexes its classes and was right). The second test is the sibling found by an
//! audit: more than 2^24 tied maxima in a row, which those layouts counted in `f32` lanes.

mod common;

use common::backends;
use focal_loss::{Reduction, SoftmaxFocal};

const C: usize = (1 << 24) + 2;

/// mmcv's loss (α = 0.25, γ = 2) at class `k` of the row of the test (`C - 2` zeros, 5 at
/// 2^24, -5 at 2^24 + 1), in f64.
fn oracle(k: usize) -> f64 {
    let s = 1.0 + (C - 2) as f64 * (-5.0f64).exp() + (-10.0f64).exp();
    let zk = if k == 1 << 24 { 0.0 } else { -10.0 };
    let ln_p = zk - s.ln();
    -0.25 * (1.0 - ln_p.exp()).powi(2) * ln_p
}

// About 20 s on x86_64, where the scalar and portable kernels run too; 7 minutes under the
// CI's QEMU for aarch64.
#[test]
#[cfg_attr(
    not(target_arch = "x86_64"),
    ignore = "16.7 M classes: minutes under emulation; x86_64 runs every kernel"
)]
fn classes_past_two_to_the_24_are_told_apart() {
    let mut z = vec![0.0f32; C];
    // 2^24 + 1 rounds to 2^24 in f32: the two neighbours hold very different logits.
    z[1 << 24] = 5.0;
    z[(1 << 24) + 1] = -5.0;
    let (mut g_rm, mut g_cf, mut g_sm) = (vec![0.0f32; C], vec![0.0f32; C], vec![0.0f32; C]);
    for k in [1usize << 24, (1 << 24) + 1] {
        let want = oracle(k);
        let labels = [k as u32];
        for b in backends() {
            let f = SoftmaxFocal::mmcv().backend(b);
            let rm = f
                .loss_and_grad(&z, C, &labels, Reduction::Sum, &mut g_rm)
                .unwrap();
            // One image of one position: the channels-first layout of the same row.
            let cf = f
                .channels_first(1)
                .loss_and_grad(&z, C, &labels, Reduction::Sum, &mut g_cf)
                .unwrap();
            // Smoothing by 1e-6 moves the loss by about 1e-6 of itself.
            let sm = f
                .label_smoothing(1e-6)
                .loss_and_grad(&z, C, &labels, Reduction::Sum, &mut g_sm)
                .unwrap();
            let name = b.name();
            for (what, got, tol) in [("row-major", rm, 1e-6), ("channels-first", cf, 1e-6)]
                .into_iter()
                .chain([("smoothing", sm, 1e-5)])
            {
                let err = (got as f64 - want).abs() / want;
                assert!(
                    err <= tol,
                    "{name} {what}, class {k}: {got} for {want} ({err:e})"
                );
            }
            // The gradients at the target and its neighbours, against the row-major one.
            let scale = g_rm.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            for j in [(1 << 24) - 1, 1 << 24, (1 << 24) + 1] {
                for (what, g, tol) in [("channels-first", &g_cf, 1e-6), ("smoothing", &g_sm, 1e-5)]
                {
                    let err = (g[j] - g_rm[j]).abs() / scale;
                    assert!(
                        err <= tol,
                        "{name} {what} gradient {j}, class {k}: {} for {} ({err:e})",
                        g[j],
                        g_rm[j]
                    );
                }
            }
        }
    }
}

/// A row of 3·2^23 equal logits: every one of them is the row's maximum. Channels-first and
/// label smoothing counted those ties in `f32` lanes, which stop at 2^24 (2^24 + 1 rounds
/// back), so `S_rest` was 2^24 - 1 whatever the row's length: a loss of 4.1589 for 4.2602
/// on every backend (audit finding). Against f64 and the row-major call, every backend.
#[test]
#[cfg_attr(
    not(target_arch = "x86_64"),
    ignore = "25 M classes: minutes under emulation; x86_64 runs every kernel"
)]
fn more_than_two_to_the_24_tied_maxima_are_counted() {
    const TIED: usize = 3 << 23;
    let z = vec![0.0f32; TIED];
    // p = 1/C at the target: mmcv's α = 0.25, γ = 2.
    let p = 1.0 / TIED as f64;
    let want = -0.25 * (1.0 - p).powi(2) * p.ln();
    let (mut g_rm, mut g_cf, mut g_sm) =
        (vec![0.0f32; TIED], vec![0.0f32; TIED], vec![0.0f32; TIED]);
    let labels = [7u32];
    for b in backends() {
        let f = SoftmaxFocal::mmcv().backend(b);
        let rm = f
            .loss_and_grad(&z, TIED, &labels, Reduction::Sum, &mut g_rm)
            .unwrap();
        let cf = f
            .channels_first(1)
            .loss_and_grad(&z, TIED, &labels, Reduction::Sum, &mut g_cf)
            .unwrap();
        // ε = 1e-6 spreads a millionth of the target over the other classes: with every
        // `p_j` equal the loss stays within about 1e-6 of the unsmoothed one.
        let sm = f
            .label_smoothing(1e-6)
            .loss_and_grad(&z, TIED, &labels, Reduction::Sum, &mut g_sm)
            .unwrap();
        let name = b.name();
        for (what, got, tol) in [
            ("row-major", rm, 1e-6),
            ("channels-first", cf, 1e-6),
            ("smoothing", sm, 1e-5),
        ] {
            let err = (got as f64 - want).abs() / want;
            assert!(err <= tol, "{name} {what}: {got} for {want} ({err:e})");
        }
        for j in [0, 7, 1 << 24, TIED - 1] {
            for (what, g, tol) in [("channels-first", &g_cf, 1e-6), ("smoothing", &g_sm, 1e-5)] {
                let err = ((g[j] - g_rm[j]) / g_rm[j]).abs();
                assert!(
                    err <= tol,
                    "{name} {what} gradient {j}: {} for {} ({err:e})",
                    g[j],
                    g_rm[j]
                );
            }
        }
    }
}
