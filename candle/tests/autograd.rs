//! The candle ops against (a) the crate's own results on the same, flattened data — the op's
//! forward is the crate's `loss` and its backward the crate's `grad`, and candle only adds the
//! gradient to a zero accumulator, so the bits must be equal — and (b) the same formula written
//! with candle ops and differentiated by candle's autograd, within a relative 1e-4 (the two
//! round differently: the crate works in log-space with its own `exp`/`ln`, candle composes
//! `sigmoid`, `log`, `powf`, ... element by element).

use candle_core::{DType, Device, Error, IndexOp, Result, Tensor, Var};
use focal_loss_candle::{
    Alpha, FocalError, Layout, Reduction, SigmoidFocal, SoftmaxFocal, focal_error,
    sigmoid_focal_loss, softmax_focal_loss,
};

const CPU: Device = Device::Cpu;

/// Deterministic values in `[lo, hi)` (a 64-bit LCG; the tests need no statistics).
fn uniform(n: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            lo + (hi - lo) * ((s >> 40) as f32 / (1u64 << 24) as f32)
        })
        .collect()
}

fn flat(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

/// Equal as numbers (`-0 == +0`: candle's accumulator `0 + g` turns a `-0` gradient into `+0`).
fn assert_same(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g == w,
            "{what}[{i}]: {g:e} (bits {:#x}) != {w:e} (bits {:#x})",
            g.to_bits(),
            w.to_bits()
        );
    }
}

/// Relative `tol` of the larger magnitude, with an absolute floor of `tol` times the largest
/// magnitude of `want` (gradients that are 0 up to rounding).
fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(0.0f32, |m, w| m.max(w.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        assert!(
            err <= tol * g.abs().max(w.abs()) + tol * 1e-2 * scale,
            "{what}[{i}]: {g:e} vs {w:e} (|diff| {err:e})"
        );
    }
}

/// The reduction applied with candle ops to per-element (per-row) losses, `count` being the
/// divisor of `Mean`/`MeanValid`.
fn reduce(per: &Tensor, r: Reduction, count: f64) -> Result<Tensor> {
    let sum = per.sum_all()?;
    match r {
        Reduction::Sum => Ok(sum),
        Reduction::Mean | Reduction::MeanValid => sum.affine(1.0 / count, 0.0),
        Reduction::Normalize(d) => sum.affine(1.0 / f64::from(d), 0.0),
    }
}

/// torchvision's `sigmoid_focal_loss` with candle ops: `α_t · (1 - p_t)^γ · BCE(x, t)`, BCE in
/// its stable form `max(x, 0) - x·t + ln(1 + e^{-|x|})`.
fn sigmoid_composed(
    x: &Tensor,
    t: &Tensor,
    alpha: f64,
    gamma: f64,
    r: Reduction,
) -> Result<Tensor> {
    let p = candle_nn::ops::sigmoid(x)?;
    let ce = ((x.relu()? - (x * t)?)? + (x.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
    let one_minus_t = t.affine(-1.0, 1.0)?;
    let p_t = ((&p * t)? + (p.affine(-1.0, 1.0)? * &one_minus_t)?)?;
    let modulator = p_t.affine(-1.0, 1.0)?.powf(gamma)?;
    let alpha_t = (t.affine(alpha, 0.0)? + one_minus_t.affine(1.0 - alpha, 0.0)?)?;
    let per = ((ce * modulator)? * alpha_t)?;
    reduce(&per, r, x.elem_count() as f64)
}

/// `-α · (1 - p_k)^γ · ln p_k` with candle ops for row-major `[rows, C]` logits; rows whose
/// label is `ignore` are masked out.
fn softmax_composed(
    x: &Tensor,
    labels: &[i64],
    alpha: f64,
    gamma: f64,
    ignore: Option<i64>,
    r: Reduction,
) -> Result<Tensor> {
    let keep: Vec<f32> = labels
        .iter()
        .map(|&l| if Some(l) == ignore { 0.0 } else { 1.0 })
        .collect();
    let index: Vec<u32> = labels
        .iter()
        .map(|&l| if Some(l) == ignore { 0 } else { l as u32 })
        .collect();
    let valid = keep.iter().sum::<f32>();
    let rows = labels.len();
    let index = Tensor::from_vec(index, (rows, 1), &CPU)?;
    let keep = Tensor::from_vec(keep, rows, &CPU)?;
    let logp = candle_nn::ops::log_softmax(x, 1)?
        .gather(&index, 1)?
        .squeeze(1)?;
    let q = logp.exp()?.affine(-1.0, 1.0)?;
    let per = ((q.powf(gamma)? * logp)?.affine(-alpha, 0.0)? * keep)?;
    let count = if r == Reduction::MeanValid {
        f64::from(valid)
    } else {
        rows as f64
    };
    reduce(&per, r, count)
}

fn loss_and_grad(loss: &Tensor, var: &Var) -> Result<(f32, Vec<f32>)> {
    let grads = loss.backward()?;
    let g = grads.get(var).expect("the variable has a gradient");
    Ok((loss.to_scalar::<f32>()?, flat(g)?))
}

#[test]
fn sigmoid_equals_crate_and_candle_composition() -> Result<()> {
    let shape = (4, 3, 5);
    let x = uniform(60, 1, -4.0, 4.0);
    // Hard targets, with a few soft ones (the modulated-BCE form is torchvision's for both).
    let mut t: Vec<f32> = uniform(60, 2, 0.0, 1.0)
        .iter()
        .map(|&u| if u < 0.3 { 1.0 } else { 0.0 })
        .collect();
    t[7] = 0.25;
    t[31] = 0.9;
    let targets = Tensor::from_vec(t.clone(), shape, &CPU)?;
    for (focal, alpha, gamma) in [
        (SigmoidFocal::torchvision(), 0.25, 2.0),
        (SigmoidFocal::new().alpha(Some(0.6)).gamma(1.5), 0.6, 1.5),
    ] {
        for r in [Reduction::Mean, Reduction::Sum, Reduction::Normalize(7.0)] {
            let var = Var::from_vec(x.clone(), shape, &CPU)?;
            let (loss, grad) =
                loss_and_grad(&sigmoid_focal_loss(&var, &targets, &focal, r)?, &var)?;

            // (a) the crate on the flat data: same bits.
            let want = focal.loss(&x, &t, r).unwrap();
            let mut want_grad = vec![0.0; 60];
            focal.grad(&x, &t, r, 1.0, &mut want_grad).unwrap();
            assert_same("loss", &[loss], &[want]);
            assert_same("grad", &grad, &want_grad);

            // (b) candle's composition, differentiated by candle.
            let var2 = Var::from_vec(x.clone(), shape, &CPU)?;
            let composed = sigmoid_composed(&var2, &targets, alpha, gamma, r)?;
            let (closs, cgrad) = loss_and_grad(&composed, &var2)?;
            assert_close("loss vs composition", &[loss], &[closs], 1e-4);
            assert_close("grad vs composition", &grad, &cgrad, 1e-4);
        }
    }
    Ok(())
}

#[test]
fn upstream_gradient_comes_from_the_graph() -> Result<()> {
    let x = uniform(12, 3, -3.0, 3.0);
    let t: Vec<f32> = (0..12).map(|i| (i % 3 == 0) as u8 as f32).collect();
    let var = Var::from_vec(x.clone(), (3, 4), &CPU)?;
    let targets = Tensor::from_vec(t.clone(), (3, 4), &CPU)?;
    let f = SigmoidFocal::torchvision();
    let loss = sigmoid_focal_loss(&var, &targets, &f, Reduction::Mean)?;
    let (_, grad) = loss_and_grad(&loss.affine(3.0, 1.0)?, &var)?;
    let mut want = vec![0.0; 12];
    f.grad(&x, &t, Reduction::Mean, 3.0, &mut want).unwrap();
    assert_same("grad of 3·loss + 1", &grad, &want);
    Ok(())
}

/// The softmax checks for row-major logits `x` (`[rows, C]`) and labels in all three label
/// dtypes.
fn check_softmax_rows(
    x: &[f32],
    c: usize,
    labels: &[i64],
    focal: SoftmaxFocal<'static>,
    (alpha, gamma, ignore): (f64, f64, Option<i64>),
) -> Result<()> {
    let rows = labels.len();
    let label_tensors = [
        Tensor::from_vec(labels.to_vec(), rows, &CPU)?,
        Tensor::from_vec(labels.to_vec(), rows, &CPU)?.to_dtype(DType::U32)?,
        Tensor::from_vec(labels.to_vec(), rows, &CPU)?.to_dtype(DType::U8)?,
    ];
    for r in [Reduction::MeanValid, Reduction::Mean, Reduction::Sum] {
        let want = focal.loss(x, c, labels, r).unwrap();
        let mut want_grad = vec![0.0; x.len()];
        focal.grad(x, c, labels, r, 1.0, &mut want_grad).unwrap();
        for lt in &label_tensors {
            if ignore.is_some() && lt.dtype() != DType::I64 {
                continue; // -100 is not a u8 or u32
            }
            let var = Var::from_vec(x.to_vec(), (rows, c), &CPU)?;
            let loss = softmax_focal_loss(&var, lt, &focal, r, Layout::ClassesLast)?;
            let (loss, grad) = loss_and_grad(&loss, &var)?;
            assert_same("loss", &[loss], &[want]);
            assert_same("grad", &grad, &want_grad);
        }
        let var = Var::from_vec(x.to_vec(), (rows, c), &CPU)?;
        let composed = softmax_composed(&var, labels, alpha, gamma, ignore, r)?;
        let (closs, cgrad) = loss_and_grad(&composed, &var)?;
        assert_close("loss vs composition", &[want], &[closs], 1e-4);
        assert_close("grad vs composition", &want_grad, &cgrad, 1e-4);
    }
    Ok(())
}

#[test]
fn softmax_row_major_equals_crate_and_candle_composition() -> Result<()> {
    let (rows, c) = (9, 5);
    let x = uniform(rows * c, 4, -3.0, 3.0);
    let labels: Vec<i64> = (0..rows as i64).map(|i| (i * 3) % c as i64).collect();
    check_softmax_rows(&x, c, &labels, SoftmaxFocal::mmcv(), (0.25, 2.0, None))?;
    check_softmax_rows(
        &x,
        c,
        &labels,
        SoftmaxFocal::new().gamma(0.7),
        (1.0, 0.7, None),
    )
}

#[test]
fn softmax_ignore_index_rows() -> Result<()> {
    let (rows, c) = (8, 4);
    let x = uniform(rows * c, 5, -2.0, 2.0);
    let labels = [1i64, -100, 3, 0, -100, 2, 2, -100];
    let focal = SoftmaxFocal::torch().alpha(Alpha::Scalar(0.5));
    check_softmax_rows(&x, c, &labels, focal, (0.5, 2.0, Some(-100)))?;

    // The ignored rows get exactly zero gradient, and MeanValid divides by the 5 others.
    let var = Var::from_vec(x.clone(), (rows, c), &CPU)?;
    let lt = Tensor::new(&labels, &CPU)?;
    let loss = softmax_focal_loss(&var, &lt, &focal, Reduction::MeanValid, Layout::ClassesLast)?;
    let (mean_valid, grad) = loss_and_grad(&loss, &var)?;
    for row in [1, 4, 7] {
        assert!(grad[row * c..(row + 1) * c].iter().all(|&g| g == 0.0));
    }
    let sum = softmax_focal_loss(&var, &lt, &focal, Reduction::Sum, Layout::ClassesLast)?;
    assert!((sum.to_scalar::<f32>()? / 5.0 - mean_valid).abs() <= 1e-6 * mean_valid);
    Ok(())
}

#[test]
fn softmax_channels_first_4d() -> Result<()> {
    let (n, c, h, w) = (2, 5, 3, 4);
    let x = uniform(n * c * h * w, 6, -3.0, 3.0);
    let labels: Vec<i64> = (0..(n * h * w) as i64)
        .map(|i| if i % 7 == 3 { -1 } else { (i * 2) % c as i64 })
        .collect();
    let focal = SoftmaxFocal::new()
        .alpha(Alpha::Scalar(0.25))
        .ignore_index(Some(-1));
    let cf = focal.channels_first(h * w);
    let lt = Tensor::from_vec(labels.clone(), (n, h, w), &CPU)?;
    for r in [Reduction::MeanValid, Reduction::Mean, Reduction::Sum] {
        let var = Var::from_vec(x.clone(), (n, c, h, w), &CPU)?;
        let loss = softmax_focal_loss(&var, &lt, &focal, r, Layout::ChannelsFirst)?;
        let (loss, grad) = loss_and_grad(&loss, &var)?;
        let want = cf.loss(&x, c, &labels, r).unwrap();
        let mut want_grad = vec![0.0; x.len()];
        cf.grad(&x, c, &labels, r, 1.0, &mut want_grad).unwrap();
        assert_same("loss", &[loss], &[want]);
        assert_same("grad", &grad, &want_grad);

        // candle: [N, C, H, W] → [N·H·W, C] by a permute, then the row-major composition;
        // autograd carries the gradient back through the permute.
        let var2 = Var::from_vec(x.clone(), (n, c, h, w), &CPU)?;
        let rows = var2.permute((0, 2, 3, 1))?.reshape((n * h * w, c))?;
        let composed = softmax_composed(&rows, &labels, 0.25, 2.0, Some(-1), r)?;
        let (closs, cgrad) = loss_and_grad(&composed, &var2)?;
        assert_close("loss vs composition", &[loss], &[closs], 1e-4);
        assert_close("grad vs composition", &grad, &cgrad, 1e-4);
    }
    Ok(())
}

#[test]
fn non_contiguous_inputs() -> Result<()> {
    // Sigmoid: logits are the transpose of a [5, 6] variable, targets a narrowed view.
    let base = Var::from_vec(uniform(30, 7, -3.0, 3.0), (5, 6), &CPU)?;
    let logits = base.t()?;
    assert!(!logits.is_contiguous());
    let wide_t = Tensor::from_vec(uniform(6 * 8, 8, 0.0, 1.0), (6, 8), &CPU)?
        .ge(0.7)?
        .to_dtype(DType::F32)?;
    let targets = wide_t.narrow(1, 2, 5)?;
    assert!(!targets.is_contiguous());
    let f = SigmoidFocal::torchvision();
    let (loss, grad) = loss_and_grad(
        &sigmoid_focal_loss(&logits, &targets, &f, Reduction::Mean)?,
        &base,
    )?;
    let (x, t) = (flat(&logits.contiguous()?)?, flat(&targets.contiguous()?)?);
    let mut g = vec![0.0; 30];
    let want = f.loss_and_grad(&x, &t, Reduction::Mean, &mut g).unwrap();
    assert_same("loss", &[loss], &[want]);
    // The op's gradient is in the logits' (transposed) order; candle maps it back to `base`.
    let g_base = flat(&Tensor::from_vec(g, (6, 5), &CPU)?.t()?.contiguous()?)?;
    assert_same("grad", &grad, &g_base);

    // Softmax: logits narrowed from [6, 8] to classes 1..6, labels a strided view (every other
    // element of a [12] tensor), and a broadcast (stride 0) sigmoid target.
    let base = Var::from_vec(uniform(48, 9, -2.0, 2.0), (6, 8), &CPU)?;
    let logits = base.narrow(1, 1, 5)?;
    assert!(!logits.is_contiguous());
    let all_labels = Tensor::new(&[0u32, 9, 4, 9, 2, 9, 1, 9, 3, 9, 4, 9], &CPU)?;
    let labels = all_labels.reshape((6, 2))?.i((.., 0))?;
    assert!(!labels.is_contiguous());
    let focal = SoftmaxFocal::mmcv();
    let loss = softmax_focal_loss(
        &logits,
        &labels,
        &focal,
        Reduction::Mean,
        Layout::ClassesLast,
    )?;
    let (loss, grad) = loss_and_grad(&loss, &base)?;
    let x = flat(&logits.contiguous()?)?;
    let l = labels.to_vec1::<u32>()?;
    let mut g = vec![0.0; 30];
    let want = focal
        .loss_and_grad(&x, 5, &l, Reduction::Mean, &mut g)
        .unwrap();
    // `loss_and_grad` and `loss` reduce the same kernel sums: the same bits.
    assert_same("loss", &[loss], &[want]);
    for row in 0..6 {
        assert_eq!(grad[row * 8], 0.0);
        assert_same(
            "grad row",
            &grad[row * 8 + 1..row * 8 + 6],
            &g[row * 5..row * 5 + 5],
        );
        assert_eq!(&grad[row * 8 + 6..row * 8 + 8], &[0.0, 0.0]);
    }

    let x = Var::from_vec(uniform(8, 10, -2.0, 2.0), (2, 4), &CPU)?;
    let t = Tensor::new(&[1.0f32, 0.0, 0.0, 1.0], &CPU)?.broadcast_as((2, 4))?;
    let (loss, _) = loss_and_grad(&sigmoid_focal_loss(&x, &t, &f, Reduction::Sum)?, &x)?;
    let t_flat = [1.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0];
    assert_same(
        "broadcast targets",
        &[loss],
        &[f.loss(&flat(&x)?, &t_flat, Reduction::Sum).unwrap()],
    );
    Ok(())
}

#[test]
fn no_backward_path_for_constant_inputs() -> Result<()> {
    // Plain tensors (no variable): `apply_op2_no_bwd`, nothing kept for a backward pass.
    let x = Tensor::new(&[[2.0f32, -1.0], [0.5, -3.0]], &CPU)?;
    let t = Tensor::new(&[[1.0f32, 0.0], [0.0, 1.0]], &CPU)?;
    let loss = sigmoid_focal_loss(&x, &t, &SigmoidFocal::torchvision(), Reduction::Mean)?;
    assert!(!loss.track_op());
    let want = SigmoidFocal::torchvision().loss(
        &[2.0, -1.0, 0.5, -3.0],
        &[1.0, 0.0, 0.0, 1.0],
        Reduction::Mean,
    );
    assert_eq!(loss.to_scalar::<f32>()?, want.unwrap());

    // A borrowed per-class alpha works through the op itself without backward.
    let weights = vec![0.2f32, 0.3, 0.5];
    let focal = SoftmaxFocal::new().alpha(Alpha::PerClass(&weights));
    let op = focal_loss_candle::SoftmaxFocalOp::new(focal, Reduction::Sum, Layout::ClassesLast);
    let z = Tensor::new(&[[1.0f32, 0.0, -1.0], [0.0, 1.0, 2.0]], &CPU)?;
    let labels = Tensor::new(&[2i64, 1], &CPU)?;
    let loss = z.apply_op2_no_bwd(&labels, &op)?;
    let want = focal.loss(
        &[1.0, 0.0, -1.0, 0.0, 1.0, 2.0],
        3,
        &[2i64, 1],
        Reduction::Sum,
    );
    assert_eq!(loss.to_scalar::<f32>()?, want.unwrap());
    Ok(())
}

/// candle-nn's own `binary_cross_entropy_with_logit` is `-(t·ln σ(x) + (1-t)·ln(1 - σ(x)))`:
/// at a logit of 200 with target 0, σ(x) rounds to 1 in f32, `ln(1 - 1)` is `-inf`, the loss
/// is `inf` and the gradient NaN (`-inf · 0` in the chain through σ). The same element through
/// this crate's BCE (`alpha(None).gamma(0.0)`) is 200 with gradient 1 (÷ 2, the mean). Already
/// at |x| ≈ 17 σ(x) rounds to 1, so this is not only an extreme-value case.
#[test]
fn candle_bce_composition_overflows_where_the_op_stays_finite() -> Result<()> {
    let x = [200.0f32, -3.0];
    let t = Tensor::new(&[0.0f32, 1.0], &CPU)?;

    let var = Var::new(&x, &CPU)?;
    let candle_loss = candle_nn::loss::binary_cross_entropy_with_logit(&var, &t)?;
    let (closs, cgrad) = loss_and_grad(&candle_loss, &var)?;
    assert!(closs.is_infinite(), "candle-nn BCE: {closs}");
    assert!(cgrad[0].is_nan(), "candle-nn BCE gradient: {cgrad:?}");

    let bce = SigmoidFocal::new().alpha(None).gamma(0.0);
    let var = Var::new(&x, &CPU)?;
    let (loss, grad) = loss_and_grad(&sigmoid_focal_loss(&var, &t, &bce, Reduction::Mean)?, &var)?;
    let want = (200.0 + (1.0f32 + 3.0f32.exp()).ln()) / 2.0;
    assert!((loss - want).abs() <= 1e-6 * want, "{loss} vs {want}");
    assert_eq!(grad[0], 0.5);
    assert!(grad[1].is_finite() && grad[1] < 0.0);

    // The focal loss written the popular naive way, `-α_t (1-p_t)^γ ln p_t`, fails the same way,
    // while the op (torchvision preset) gives 0.75·200 / 2 and a finite gradient.
    let var = Var::new(&x, &CPU)?;
    let p = candle_nn::ops::sigmoid(&var)?;
    let one_minus_t = t.affine(-1.0, 1.0)?;
    let p_t = ((&p * &t)? + (p.affine(-1.0, 1.0)? * &one_minus_t)?)?;
    let alpha_t = (t.affine(0.25, 0.0)? + one_minus_t.affine(0.75, 0.0)?)?;
    let naive = ((p_t.affine(-1.0, 1.0)?.sqr()? * p_t.log()?)? * alpha_t)?
        .neg()?
        .mean_all()?;
    let (nloss, ngrad) = loss_and_grad(&naive, &var)?;
    assert!(
        nloss.is_infinite() && ngrad[0].is_nan(),
        "naive focal: {nloss}, {ngrad:?}"
    );
    let var = Var::new(&x, &CPU)?;
    let f = SigmoidFocal::torchvision();
    let (loss, grad) = loss_and_grad(&sigmoid_focal_loss(&var, &t, &f, Reduction::Mean)?, &var)?;
    // 0.75·200 for the first element, about 0.69 for the second, halved.
    assert!(loss > 75.0 && loss < 75.5, "{loss}");
    assert!(grad.iter().all(|g| g.is_finite()), "{grad:?}");
    Ok(())
}

/// Softmax focal loss with γ = 0.5 (one of the focal-loss paper's settings) on a row that is
/// confidently right: `1 - p_k` rounds to 0 in f32, and the derivative of `q^0.5` at `q = 0`
/// is infinite. candle's composition (the `softmax_composed` formula above, fine on ordinary
/// inputs) then multiplies `inf` by 0 in the chain and the whole row's gradient is NaN; the
/// crate works in log-space (`q = 1 - p_k` computed from the other classes' share) and stays
/// finite, with the true, tiny, gradient.
#[test]
fn softmax_fractional_gamma_confident_row() -> Result<()> {
    let x = [30.0f32, 0.0, -2.0, 1.0, 0.5, -1.0];
    let labels = [0i64, 2];
    let var = Var::from_vec(x.to_vec(), (2, 3), &CPU)?;
    let composed = softmax_composed(&var, &labels, 1.0, 0.5, None, Reduction::Mean)?;
    let (closs, cgrad) = loss_and_grad(&composed, &var)?;
    assert!(closs.is_finite(), "the forward is fine: {closs}");
    assert!(
        cgrad[..3].iter().any(|g| !g.is_finite()),
        "candle composition: {cgrad:?}"
    );

    let focal = SoftmaxFocal::new().gamma(0.5);
    let var = Var::from_vec(x.to_vec(), (2, 3), &CPU)?;
    let lt = Tensor::new(&labels, &CPU)?;
    let loss = softmax_focal_loss(&var, &lt, &focal, Reduction::Mean, Layout::ClassesLast)?;
    let (loss, grad) = loss_and_grad(&loss, &var)?;
    assert!((loss - closs).abs() <= 1e-5 * closs, "{loss} vs {closs}");
    assert!(grad.iter().all(|g| g.is_finite()), "{grad:?}");
    assert!(grad[..3].iter().all(|g| g.abs() < 1e-6), "{grad:?}");
    assert_close("the other row", &grad[3..], &cgrad[3..], 1e-4);
    Ok(())
}

#[test]
fn errors_not_panics() -> Result<()> {
    let f = SigmoidFocal::torchvision();
    let x = Var::from_vec(vec![0.5f32, -1.0, 2.0, 0.0], (2, 2), &CPU)?;

    // A target outside [0, 1]: the crate's error, recoverable as a FocalError.
    let t = Tensor::new(&[[1.0f32, 0.0], [1.5, 0.0]], &CPU)?;
    let e = sigmoid_focal_loss(&x, &t, &f, Reduction::Mean).unwrap_err();
    assert!(
        matches!(
            focal_error(&e),
            Some(FocalError::TargetOutOfRange { index: 2, .. })
        ),
        "{e}"
    );

    // Wrong dtypes and shapes: candle's own errors.
    let t64 = Tensor::new(&[[1.0f64, 0.0], [1.0, 0.0]], &CPU)?;
    assert!(sigmoid_focal_loss(&x, &t64, &f, Reduction::Mean).is_err());
    let x64 = x.to_dtype(DType::F64)?;
    let t = Tensor::new(&[[1.0f32, 0.0], [1.0, 0.0]], &CPU)?;
    assert!(sigmoid_focal_loss(&x64, &t, &f, Reduction::Mean).is_err());
    let e = sigmoid_focal_loss(&x, &t.reshape(4)?, &f, Reduction::Mean).unwrap_err();
    assert!(
        focal_error(&e).is_none() && e.to_string().contains("shape mismatch"),
        "{e}"
    );
    let e = sigmoid_focal_loss(&x, &t, &f, Reduction::Normalize(0.0)).unwrap_err();
    assert!(
        matches!(focal_error(&e), Some(FocalError::InvalidNormalizer { .. })),
        "{e}"
    );
    let e = sigmoid_focal_loss(&x, &t, &f.gamma(-1.0), Reduction::Mean).unwrap_err();
    assert!(
        matches!(focal_error(&e), Some(FocalError::InvalidGamma { .. })),
        "{e}"
    );

    // Softmax: label out of range, float labels, wrong label shapes, rank too small.
    let s = SoftmaxFocal::new();
    let labels = Tensor::new(&[1u32, 2], &CPU)?;
    let e = softmax_focal_loss(&x, &labels, &s, Reduction::Mean, Layout::ClassesLast).unwrap_err();
    assert!(
        matches!(
            focal_error(&e),
            Some(FocalError::LabelOutOfRange {
                index: 1,
                label: 2,
                num_classes: 2
            })
        ),
        "{e}"
    );
    let e = softmax_focal_loss(
        &x,
        &labels.to_dtype(DType::F32)?,
        &s,
        Reduction::Mean,
        Layout::ClassesLast,
    )
    .unwrap_err();
    assert!(e.to_string().contains("unsupported dtype"), "{e}");
    // Labels of the wrong shape (one-hot targets among them): the error names the shape
    // they need, the logits' less the class axis.
    for wrong in [
        Tensor::new(&[1u32, 0, 1], &CPU)?,
        Tensor::new(&[[1u32, 0], [0, 1]], &CPU)?,
    ] {
        let e =
            softmax_focal_loss(&x, &wrong, &s, Reduction::Mean, Layout::ClassesLast).unwrap_err();
        assert!(
            matches!(&e, Error::UnexpectedShape { expected, .. } if expected.dims() == [2]),
            "{e}"
        );
    }
    let v = Tensor::new(&[1.0f32, 2.0], &CPU)?;
    let e = softmax_focal_loss(
        &v,
        &Tensor::new(&[1u32], &CPU)?,
        &s,
        Reduction::Mean,
        Layout::ChannelsFirst,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::UnexpectedNumberOfDims {
                expected: 2,
                got: 1,
                ..
            }
        ),
        "{e}"
    );
    // Scalar logits have no class axis.
    let e = softmax_focal_loss(
        &Tensor::new(1.0f32, &CPU)?,
        &Tensor::new(0u32, &CPU)?,
        &s,
        Reduction::Mean,
        Layout::ClassesLast,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::UnexpectedNumberOfDims {
                expected: 1,
                got: 0,
                ..
            }
        ),
        "{e}"
    );
    // A single row [C] with a scalar label is the rank-1 classes-last case.
    let one = softmax_focal_loss(
        &v,
        &Tensor::new(1u8, &CPU)?,
        &s,
        Reduction::Sum,
        Layout::ClassesLast,
    )?;
    assert_eq!(
        one.to_scalar::<f32>()?,
        s.loss(&[1.0, 2.0], 2, &[1u8], Reduction::Sum).unwrap()
    );
    // Empty inputs: loss 0.
    let empty = Tensor::zeros((2, 3, 0), DType::F32, &CPU)?;
    let no_labels = Tensor::zeros((2, 0), DType::I64, &CPU)?;
    let zero = softmax_focal_loss(
        &empty,
        &no_labels,
        &s,
        Reduction::Mean,
        Layout::ChannelsFirst,
    )?;
    assert_eq!(zero.to_scalar::<f32>()?, 0.0);
    Ok(())
}
