//! Runs one [`Case`] and encodes everything it produced as `u32` words: the result (value
//! bits, or the error and its fields) and every word of the output buffer.
//!
//! The host build script runs it with `Some(Backend::Scalar)` to get the expected words, the
//! firmware with `None` (the backend a firmware author gets); the same code on both sides.

use focal_loss::{Alpha, Backend, ClassIndex, FocalError, SigmoidFocal, SoftmaxFocal, Targets};

use crate::case::{Case, LabelKind, Method, Pools};

/// Words that encode a call's result; the output buffer's words follow them.
pub const RESULT_WORDS: usize = 6;

/// What an output buffer holds before the call (a NaN payload no kernel produces), so that
/// "nothing written on error" is compared too. The in-place methods start from the logits.
pub const SENTINEL: u32 = 0x7FA5_A5A5;

/// A call's value: a reduced loss, or nothing.
type Outcome = Result<Option<f32>, FocalError>;

/// Runs `case` on `backend` (`None`: the default choice), with `out[..case.out_len]` as its
/// output buffer, and returns the encoded result.
pub fn run(case: &Case, p: &Pools, backend: Option<Backend>, out: &mut [f32]) -> [u32; 6] {
    let out = &mut out[..case.out_len as usize];
    match case.method {
        Method::SigLossAndGradInPlace | Method::SmLossAndGradInPlace => {
            out.copy_from_slice(case.x.of(p.f32))
        }
        _ => out.fill(f32::from_bits(SENTINEL)),
    }
    encode(match case.method {
        Method::SmLoss
        | Method::SmLossPerRow
        | Method::SmGrad
        | Method::SmGradPerRow
        | Method::SmLossAndGrad
        | Method::SmLossAndGradInPlace
        | Method::SmChunks => match case.labels {
            LabelKind::U8 => softmax(case, p, case.lab.of(p.u8), backend, out),
            LabelKind::U16 => softmax(case, p, case.lab.of(p.u16), backend, out),
            LabelKind::I32 => softmax(case, p, case.lab.of(p.i32), backend, out),
            LabelKind::I64 => softmax(case, p, case.lab.of(p.i64), backend, out),
        },
        _ => sigmoid(case, p, backend, out),
    })
}

fn sigmoid(case: &Case, p: &Pools, backend: Option<Backend>, out: &mut [f32]) -> Outcome {
    let mut f = SigmoidFocal::new()
        .alpha(case.alpha)
        .gamma(case.gamma)
        .form(case.form);
    if let Some(b) = backend {
        f = f.backend(b);
    }
    let (x, t, up) = (case.x.of(p.f32), case.t.of(p.f32), case.up.of(p.f32));
    if case.method == Method::TargetsChecked {
        return Targets::checked(t).map(|_| None);
    }
    let r = case.reduction;
    if case.method == Method::SigChunks {
        // Two chunks, the first of a third of the elements.
        let plan = f.chunks(x.len(), r)?;
        let cut = x.len() / 3;
        let ((x1, x2), (t1, t2)) = (x.split_at(cut), t.split_at(cut.min(t.len())));
        let (g1, g2) = out.split_at_mut(cut.min(out.len()));
        let (a, b) = if case.checked {
            (
                plan.loss_and_grad(x1, Targets::checked(t1)?, g1)?,
                plan.loss_and_grad(x2, Targets::checked(t2)?, g2)?,
            )
        } else {
            (
                plan.loss_and_grad(x1, t1, g1)?,
                plan.loss_and_grad(x2, t2, g2)?,
            )
        };
        return Ok(Some(plan.finish(b.join(a))));
    }
    let t = if case.checked {
        Targets::checked(t)?
    } else {
        Targets::from(t)
    };
    match case.method {
        Method::SigLoss => f.loss(x, t, r).map(Some),
        Method::SigLossElementwise => f.loss_elementwise(x, t, out).map(|_| None),
        Method::SigGrad => f.grad(x, t, r, case.upstream, out).map(|_| None),
        Method::SigGradElementwise => f.grad_elementwise(x, t, up, out).map(|_| None),
        Method::SigLossAndGrad => f.loss_and_grad(x, t, r, out).map(Some),
        _ => f.loss_and_grad_in_place(out, t, r).map(Some),
    }
}

fn softmax<L: ClassIndex>(
    case: &Case,
    p: &Pools,
    labels: &[L],
    backend: Option<Backend>,
    out: &mut [f32],
) -> Outcome {
    let alpha = match case.alpha {
        _ if case.per_class => Alpha::PerClass(case.class_alpha.of(p.f32)),
        Some(a) => Alpha::Scalar(a),
        None => Alpha::None,
    };
    let mut f = SoftmaxFocal::new()
        .alpha(alpha)
        .gamma(case.gamma)
        .ignore_index(case.ignore);
    if let Some(b) = backend {
        f = f.backend(b);
    }
    if let Some(e) = case.smoothing {
        f = f.label_smoothing(e);
    }
    let (z, c, up, r) = (
        case.x.of(p.f32),
        case.c as usize,
        case.up.of(p.f32),
        case.reduction,
    );
    if case.method == Method::SmChunks {
        return softmax_chunks(case, f, z, labels, out);
    }
    if case.spatial > 0 {
        let f = f.channels_first(case.spatial as usize);
        return match case.method {
            Method::SmLoss => f.loss(z, c, labels, r).map(Some),
            Method::SmLossPerRow => f.loss_per_position(z, c, labels, out).map(|_| None),
            Method::SmGrad => f.grad(z, c, labels, r, case.upstream, out).map(|_| None),
            Method::SmGradPerRow => f.grad_per_position(z, c, labels, up, out).map(|_| None),
            Method::SmLossAndGrad => f.loss_and_grad(z, c, labels, r, out).map(Some),
            _ => f.loss_and_grad_in_place(out, c, labels, r).map(Some),
        };
    }
    match case.method {
        Method::SmLoss => f.loss(z, c, labels, r).map(Some),
        Method::SmLossPerRow => f.loss_per_row(z, c, labels, out).map(|_| None),
        Method::SmGrad => f.grad(z, c, labels, r, case.upstream, out).map(|_| None),
        Method::SmGradPerRow => f.grad_per_row(z, c, labels, up, out).map(|_| None),
        Method::SmLossAndGrad => f.loss_and_grad(z, c, labels, r, out).map(Some),
        _ => f.loss_and_grad_in_place(out, c, labels, r).map(Some),
    }
}

/// The softmax chunk API: two chunks of rows (channels-first: of whole images), the first
/// about half, each `loss_and_grad` into its part of `out`, joined and finished.
fn softmax_chunks<L: ClassIndex>(
    case: &Case,
    f: SoftmaxFocal<'_>,
    z: &[f32],
    labels: &[L],
    out: &mut [f32],
) -> Outcome {
    let (c, r, sp) = (case.c as usize, case.reduction, case.spatial as usize);
    let plan = if sp > 0 {
        f.channels_first(sp).chunks(c, labels, r)?
    } else {
        f.chunks(c, labels, r)?
    };
    let unit = sp.max(1);
    let cut = (labels.len() / unit / 2 * unit).min(labels.len());
    let (l1, l2) = labels.split_at(cut);
    let at = (cut * c).min(z.len());
    let (z1, z2) = z.split_at(at);
    let (g1, g2) = out.split_at_mut(at.min(out.len()));
    let a = plan.loss_and_grad(z1, l1, g1)?;
    let b = plan.loss_and_grad(z2, l2, g2)?;
    Ok(Some(plan.finish(a.join(b))))
}

/// FNV-1a of a string: the `what` of a length error as one word.
fn name_word(s: &str) -> u32 {
    s.bytes().fold(0x811C_9DC5, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The result as words: `[1, bits]` for a value, `[2]` for `Ok(())`, `[16 + variant,
/// fields...]` for an error (sizes and indices as `u32`, floats as bits, the label as two
/// halves of its low 64 bits).
fn encode(r: Outcome) -> [u32; 6] {
    let e = match r {
        Ok(Some(v)) => return [1, v.to_bits(), 0, 0, 0, 0],
        Ok(None) => return [2, 0, 0, 0, 0, 0],
        Err(e) => e,
    };
    let w = |n: usize| n as u32;
    match e {
        FocalError::LengthMismatch {
            what,
            expected,
            found,
        } => [16, name_word(what), w(expected), w(found), 0, 0],
        FocalError::InvalidNumClasses { num_classes, len } => [17, w(num_classes), w(len), 0, 0, 0],
        FocalError::InvalidAlpha { value } => [18, value.to_bits(), 0, 0, 0, 0],
        FocalError::ClassAlphaLength { expected, found } => [19, w(expected), w(found), 0, 0, 0],
        FocalError::InvalidClassAlpha { index, value } => [20, w(index), value.to_bits(), 0, 0, 0],
        FocalError::InvalidGamma { value } => [21, value.to_bits(), 0, 0, 0, 0],
        FocalError::InvalidNormalizer { value } => [22, value.to_bits(), 0, 0, 0, 0],
        FocalError::InvalidEpsilon { value } => [23, value.to_bits(), 0, 0, 0, 0],
        FocalError::LabelOutOfRange {
            index,
            label,
            num_classes,
        } => [
            24,
            w(index),
            label as u32,
            (label >> 32) as u32,
            w(num_classes),
            0,
        ],
        FocalError::TargetOutOfRange { index, value } => [25, w(index), value.to_bits(), 0, 0, 0],
        FocalError::ProbabilityOutOfRange { index, value } => {
            [26, w(index), value.to_bits(), 0, 0, 0]
        }
        FocalError::BackendUnavailable { backend } => [27, backend as u32, 0, 0, 0, 0],
        _ => [31, 0, 0, 0, 0, 0],
    }
}
