//! Inputs the fuzz targets (fuzz/) found, kept as tests.

use focal_loss::{Backend, SigmoidFocal, SigmoidForm};

fn backends() -> Vec<Backend> {
    Backend::ALL
        .into_iter()
        .filter(|b| b.is_available())
        .collect()
}

/// `softplus(x)` in f64.
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// Found by `fuzz/fuzz_targets/math.rs` (2026-12-01): form (B), gamma 0, a subnormal alpha
/// `5.18556e-39`, target `1e-7`, logit `-88.8`. The loss is
/// `α·t·softplus(-x) + (1-α)·(1-t)·softplus(x)` = `4.6e-44 + 2.72e-39`: the first term is
/// 33 smallest subnormals, the result 2.7205e-39 is subnormal, and every backend returns it
/// about 32 smallest subnormals too low when the weight `α·t` (5.2e-46) is rounded to f32
/// first, where it is 0, so the whole first term is lost. The README's bound, "results below
/// the normal range are compared in units of the smallest subnormal", allows `K = 6` (cond is
/// 0 at gamma 0). Fixed: form (B) multiplies each term by its alpha last,
/// `α·(t·softplus(-x))`.
#[test]
fn sigmoid_subnormal_alpha_weight() {
    let x = f32::from_bits(0xc2b1_999a); // -88.8
    let t = 1e-7f32;
    let alpha = 5.18556e-39f32;
    let want = {
        let (xd, td, ad) = (x as f64, t as f64, alpha as f64);
        ad * td * softplus(-xd) + (1.0 - ad) * (1.0 - td) * softplus(xd)
    };
    for b in backends() {
        let f = SigmoidFocal::new()
            .alpha(Some(alpha))
            .gamma(0.0)
            .form(SigmoidForm::PerTerm)
            .backend(b);
        let mut out = [0.0f32];
        f.loss_elementwise(&[x], &[t], &mut out).unwrap();
        let err_units = (out[0] as f64 - want).abs() / 2f64.powi(-149);
        assert!(
            err_units <= 6.0,
            "{}: loss {:e}, exact {want:e}: {err_units:.1} smallest subnormals off (bound 6)",
            b.name(),
            out[0]
        );
    }
}

/// The logits of the `softmax` fuzz target's finding (2026-12-01): C = 512 (the online
/// max-and-sum row strategy), two rows cycled from `[0, 1, -2, 3.90625, -0.30078125,
/// 11.71875, 0.01953125]`, then row 0 holds 1.4660e13 at class 0, NaN at class 1 and -204.8 at
/// class 277, row 1 holds +inf at class 2.
fn fuzzed_rows() -> Vec<f32> {
    let base = [
        0.0f32,
        1.0,
        -2.0,
        3.90625,
        -0.30078125,
        11.71875,
        0.01953125,
    ];
    let mut z: Vec<f32> = (0..1024).map(|i| base[i % base.len()]).collect();
    z[1] = f32::NAN;
    z[514] = f32::INFINITY;
    z[0] = f32::from_bits(1_431_658_496);
    z[277] = -26215.0 / 256.0 * 2.0;
    z
}

/// Fixed: `Scalar::mul_pow2` wraps instead of overflowing.
///
/// Found by `fuzz/fuzz_targets/softmax.rs`: the scalar backend's softmax panicked with
/// "attempt to add with overflow" at src/simd/scalar.rs:97 (`Scalar::mul_pow2`,
/// `n.0 as i32 + 127`) in any build with overflow checks (`cargo test`, and a dependent
/// crate's debug build, which compiles this crate with them); in a release build the sum
/// wraps and the (NaN) result happens to be right.
///
/// Smallest case: one row `[1e13, NaN, 0]`, label 0, any C >= 3 (every row strategy; a NaN
/// that is the row's last element does not trigger it, nor 1e5 instead of 1e13). Cause, in
/// `scalar_row_max` (src/kernel/softmax.rs): `Scalar::max`/`min` return the second operand
/// when one is NaN, so after `[1e13, NaN]` the running max is NaN and the next element `0`
/// replaces it: max = min = 0, the 1e13 and the NaN are both lost, and `normal`
/// (`max - min <= 87`) is true although the comment there says it is false for NaN. The
/// row then takes `exp_normal_nonpos`, which has no clamp, on `z - max = 1e13`, and
/// `mul_pow2` gets `n = 1.4e13 as i32 = i32::MAX`.
#[test]
fn softmax_nan_after_the_max_overflows_scalar_exp() {
    use focal_loss::{Alpha, Reduction, SoftmaxFocal};
    for b in backends() {
        let f = SoftmaxFocal::new()
            .gamma(2.0)
            .alpha(Alpha::Scalar(0.25))
            .ignore_index(Some(-100))
            .backend(b);
        for c in [3usize, 16, 17, 511, 512, 600] {
            let mut z = vec![0.0f32; c];
            z[0] = 1e13;
            z[1] = f32::NAN;
            let mut row = [0.0f32];
            f.loss_per_row(&z, c, &[0u32], &mut row).unwrap();
            assert!(
                row[0].is_nan(),
                "{} C={c}: a NaN row gives {}",
                b.name(),
                row[0]
            );
            let mut g = vec![0.0f32; c];
            f.loss_and_grad(&z, c, &[0u32], Reduction::Sum, &mut g)
                .unwrap();
            assert!(
                g.iter().all(|v| v.is_nan()),
                "{} C={c}: gradient {g:?}",
                b.name()
            );
        }
        let z = fuzzed_rows();
        let mut rows = [0.0f32; 2];
        f.loss_per_row(&z, 512, &[0i64, 0], &mut rows).unwrap();
        // Row 0 holds a NaN: NaN. Row 1 has +inf at class 2 and label 0: a wrong saturated
        // prediction, +inf.
        assert!(rows[0].is_nan(), "{}: row 0 {}", b.name(), rows[0]);
        assert_eq!(rows[1], f32::INFINITY, "{}: row 1", b.name());
    }
}

/// Fixed: the long-row statistics add the tie count, less one, to the sum, not the tie count
/// first (which swallowed a subnormal sum in the f64 lanes).
///
/// Found by `fuzz/fuzz_targets/softmax.rs` (2026-12-01, C = 1345, gamma 0, row
/// `[2.35e-38, -102.918 × 1344]`, label 0: portable `-0.0`, scalar `1.883e-42`). Smallest
/// clear case: rows of C >= 512 (the online max-and-sum strategy), logits `[0, -90, ..., -90]`,
/// label 0, gamma 0. Every other class contributes `exp(-90) = 8.19e-40`, a subnormal; their
/// sum `(C - 1)·8.19e-40` is normal (1.1e-36 at C = 1345), and so are the loss
/// `log1p(S_rest)` and the label's gradient `-S_rest/(1 + S_rest)`. The scalar backend gets
/// them right; portable, AVX2 and AVX-512 return loss `-0.0`, gradient `-0.0` for the label
/// and `0.0` (not 8.19e-40) for every other class: on the long-row path the SIMD backends
/// drop exponentials below the normal range, while the README promises subnormals without
/// flush-to-zero and bounds the error by a few ulp. Rows of 100 classes (the two-pass
/// strategy) are right on every backend.
#[test]
fn softmax_long_rows_keep_subnormal_exponentials() {
    use focal_loss::SoftmaxFocal;
    for c in [512usize, 600, 1345] {
        let mut z = vec![-90.0f32; c];
        z[0] = 0.0;
        let s_rest = (c - 1) as f64 * (-90.0f64).exp();
        let want_loss = s_rest.ln_1p();
        let want_label_grad = -s_rest / (1.0 + s_rest);
        let want_other_grad = (-90.0f64).exp() / (1.0 + s_rest);
        for b in backends() {
            let f = SoftmaxFocal::new().gamma(0.0).backend(b);
            let mut loss = [0.0f32];
            f.loss_per_row(&z, c, &[0u16], &mut loss).unwrap();
            let mut g = vec![0.0f32; c];
            f.grad_per_row(&z, c, &[0u16], &[1.0], &mut g).unwrap();
            let rel = |got: f32, want: f64| ((got as f64 - want) / want).abs();
            assert!(
                rel(loss[0], want_loss) < 1e-5,
                "{} C={c}: loss {:e}, exact {want_loss:e}",
                b.name(),
                loss[0]
            );
            assert!(
                rel(g[0], want_label_grad) < 1e-5,
                "{} C={c}: label gradient {:e}, exact {want_label_grad:e}",
                b.name(),
                g[0]
            );
            // A subnormal result: within 2 smallest subnormals.
            assert!(
                (g[1] as f64 - want_other_grad).abs() <= 2.0 * 2f64.powi(-149),
                "{} C={c}: other gradient {:e}, exact {want_other_grad:e}",
                b.name(),
                g[1]
            );
        }
    }
}

/// Fixed: at an infinite logit, a soft target near 0 or 1 made `ce` infinite while `u^γ`
/// underflowed to 0, and the loss was `0·inf = NaN` instead of its limit +inf.
///
/// Found by `fuzz/fuzz_targets/api.rs` (2026-12-01): `loss_elementwise`, form (A), γ = 2,
/// AVX-512, `x = -inf`, `t = 3.74e-43`.
#[test]
fn sigmoid_infinite_logit_tiny_soft_target_is_inf_not_nan() {
    let tiny = 3.74e-43f32;
    for b in backends() {
        let f = SigmoidFocal::new().gamma(2.0).backend(b);
        let x = [f32::NEG_INFINITY, f32::INFINITY, f32::NEG_INFINITY, 0.5];
        let t = [tiny, 1.0 - 6e-8, 1.0, tiny];
        let mut out = [0.0f32; 4];
        f.loss_elementwise(&x, &t, &mut out).unwrap();
        assert_eq!(out[0], f32::INFINITY, "{}: {out:?}", b.name());
        assert_eq!(out[1], f32::INFINITY, "{}: {out:?}", b.name());
        assert_eq!(out[2], f32::INFINITY, "{}: {out:?}", b.name());
        assert!(out[3].is_finite(), "{}: {out:?}", b.name());
        let mut g = [0.0f32; 4];
        f.grad_elementwise(&x, &t, &[1.0; 4], &mut g).unwrap();
        assert!(g.iter().all(|v| v.is_finite()), "{}: {g:?}", b.name());
    }
}

/// Found by `fuzz/fuzz_targets/api.rs` (2026-12-01): a softmax row of finite logits from
/// `f32::MIN` to `f32::MAX` (C = 16, the label at `f32::MIN`, alpha 0.25, gamma 2). The loss,
/// `α·q^γ·(max - z_k + ln(1 + S_rest))` = 0.25·6.8e38 = 1.7e38, is finite in f32, but
/// `z_k - max` overflowed to -inf and every backend returned +inf. Now computed halved where
/// that subtraction overflows. Both layouts, every backend.
#[test]
fn softmax_row_wider_than_f32_max() {
    use focal_loss::{Alpha, Reduction, SoftmaxFocal};
    let row: [f32; 16] = [
        -1e-45,
        1e-40,
        f32::MAX,
        f32::MIN,
        87.0,
        -87.0,
        88.8,
        -88.8,
        104.0,
        -104.0,
        1e4,
        -1e4,
        1e30,
        -1e30,
        16.635532,
        -16.635532,
    ];
    // max - z_k = 2·f32::MAX; S_rest and q are those of a row dominated by one logit.
    let want = 0.25 * 2.0 * f32::MAX as f64;
    for b in backends() {
        for alpha in [0.25f32, 0.5] {
            let f = SoftmaxFocal::new()
                .alpha(Alpha::Scalar(alpha))
                .gamma(2.0)
                .backend(b);
            let want = want * (alpha as f64 / 0.25);
            let mut out = [0.0f32; 1];
            f.loss_per_row(&row, 16, &[3u8], &mut out).unwrap();
            let rel = (out[0] as f64 - want).abs() / want;
            assert!(
                rel < 1e-6,
                "{} alpha {alpha}: loss {:e}, want {want:e}",
                b.name(),
                out[0]
            );
            let cf = f
                .channels_first(1)
                .loss(&row, 16, &[3u8], Reduction::Sum)
                .unwrap();
            assert_eq!(
                cf.to_bits(),
                out[0].to_bits(),
                "{}: channels-first",
                b.name()
            );
        }
        // alpha 1: the loss itself is above f32::MAX, and +inf is its rounding.
        let f = SoftmaxFocal::new().gamma(2.0).backend(b);
        let l = f.loss(&row, 16, &[3u8], Reduction::Sum).unwrap();
        assert_eq!(l, f32::INFINITY, "{}", b.name());
    }
}

/// Found by `fuzz/fuzz_targets/api.rs` (2026-12-01): the sigmoid with `gamma = f32::MAX`
/// (valid: finite and `>= 0`) gave a NaN gradient at `x = 0, t = 0`: `u^γ` is 0 there but
/// the gradient's `2γ` overflowed and `0·inf` is NaN. The limit is 0 (and at `|x|` above 104 on
/// the wrong side, where `u` is exactly 1, the BCE gradient). Every backend, both forms.
#[test]
fn sigmoid_gamma_f32_max_gradient_is_finite() {
    let x = [0.0f32, 3.0, -3.0, 0.5, 200.0, -200.0, 1e-3];
    let t = [0.0f32, 1.0, 0.0, 0.3, 0.0, 1.0, 1.0];
    for b in backends() {
        for form in [SigmoidForm::ModulatedBce, SigmoidForm::PerTerm] {
            for gamma in [f32::MAX, 1e38, 1e31] {
                let f = SigmoidFocal::new().gamma(gamma).form(form).backend(b);
                let mut g = [0.0f32; 7];
                let loss = f
                    .loss_and_grad(&x, &t, focal_loss::Reduction::Mean, &mut g)
                    .unwrap();
                let ctx = format!("{} {form:?} gamma {gamma:e}", b.name());
                assert!(loss.is_finite() && loss >= 0.0, "{ctx}: loss {loss}");
                assert!(g.iter().all(|v| v.is_finite()), "{ctx}: grad {g:?}");
                // u^γ = 0 wherever u < 1: loss and gradient 0 but for the saturated wrong
                // logits (x = 200 with t = 0, x = -200 with t = 1), where u = 1.
                for i in [0, 1, 2, 3, 6] {
                    assert_eq!(g[i], 0.0, "{ctx}: grad[{i}] = {}", g[i]);
                }
            }
        }
    }
}

/// softmax target: label smoothing with an infinite upstream. The gradient's smoothing part
/// `p_j·Σu - u_j` is 0 up to rounding on a row of equal logits; scaled after the
/// subtraction it gave `-inf` on the scalar backend and NaN on AVX2 (the sign of a rounding
/// error times infinity). Now both sides are scaled first: every backend gives the same
/// NaN/infinity pattern.
#[test]
fn softmax_smoothing_infinite_upstream_same_pattern_on_every_backend() {
    use focal_loss::{Reduction, SoftmaxFocal};
    let z = [0.0f32; 15];
    let labels = [0u16, 0, 0];
    let class_of = |v: f32| {
        if v.is_nan() {
            "NaN"
        } else if v.is_infinite() {
            if v > 0.0 { "+inf" } else { "-inf" }
        } else {
            "finite"
        }
    };
    // The fuzz input: gamma 57344/65535·5, smoothing of bits 0x1000_0000, upstream -inf.
    let gamma = 57344.0f32 / 65535.0 * 5.0;
    for up in [f32::NEG_INFINITY, f32::INFINITY] {
        let mut patterns = Vec::new();
        for b in backends() {
            let f = SoftmaxFocal::new()
                .gamma(gamma)
                .label_smoothing(f32::from_bits(0x1000_0000))
                .backend(b);
            let mut g = [0.0f32; 15];
            f.grad(&z, 5, &labels, Reduction::Sum, up, &mut g).unwrap();
            patterns.push(g.map(class_of));
        }
        for p in &patterns[1..] {
            assert_eq!(p, &patterns[0], "upstream {up}");
        }
    }
}

/// api target: label smoothing on a row of finite logits `f32::MAX` apart. Every class's
/// term is near `f32::MAX`; summed before their weight `ε/C` was applied they overflowed,
/// and the loss was `+inf` while its value is finite. Every backend, both layouts.
#[test]
fn softmax_smoothing_terms_near_f32_max_sum_finite() {
    use focal_loss::SoftmaxFocal;
    let c = 16;
    let mut z = vec![0.0f32; c];
    z[3] = f32::MAX;
    for eps in [2.81305e-40f32, 1e-3, 0.5] {
        // -ln p_j = MAX for the 15 classes at 0 (ln(1 + S_rest) = 0 in f32), 0 for class 3;
        // the target (class 0) adds (1 - ε)·MAX.
        let want =
            (1.0 - eps as f64) * f32::MAX as f64 + eps as f64 / 16.0 * 15.0 * f32::MAX as f64;
        for b in backends() {
            let f = SoftmaxFocal::new()
                .gamma(0.0)
                .label_smoothing(eps)
                .backend(b);
            let mut per = [0.0f32; 1];
            f.loss_per_row(&z, c, &[0u8], &mut per).unwrap();
            let mut per_cf = [0.0f32; 1];
            f.channels_first(1)
                .loss_per_position(&z, c, &[0u8], &mut per_cf)
                .unwrap();
            for got in [per[0], per_cf[0]] {
                assert!(
                    got.is_finite() && ((got as f64 - want) / want).abs() < 1e-6,
                    "{} eps {eps}: {got:e} vs {want:e}",
                    b.name()
                );
            }
        }
    }
}
