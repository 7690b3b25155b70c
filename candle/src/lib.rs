#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::borrow::Cow;

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, CustomOp3, Error, Result, Shape, Tensor};

pub use focal_loss::{Alpha, FocalError, Reduction, SigmoidFocal, SigmoidForm, SoftmaxFocal};

/// Where the class axis of softmax logits is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Layout {
    /// Logits `[d0, ..., dk, C]`, labels `[d0, ..., dk]` (`[rows, C]` and `[rows]` for a
    /// classifier): the crate's row-major methods over `d0·...·dk` rows.
    #[default]
    ClassesLast,
    /// Logits `[N, C, d1, ..., dk]` (dense heads), labels `[N, d1, ..., dk]`: the crate's
    /// [`SoftmaxFocal::channels_first`] with `S = d1·...·dk` positions per image (`S = 1` for
    /// rank 2), no transpose.
    ChannelsFirst,
}

/// The [`FocalError`] inside an error that this crate returned, if it came from the
/// `focal-loss` crate (rather than from a dtype, shape or device check).
pub fn focal_error(e: &Error) -> Option<&FocalError> {
    match e {
        Error::WrappedContext { wrapped, .. } => wrapped.downcast_ref::<FocalError>(),
        Error::Context { inner, .. } | Error::WithBacktrace { inner, .. } => focal_error(inner),
        _ => None,
    }
}

fn wrap(op: &'static str) -> impl Fn(FocalError) -> Error {
    move |e| Error::WrappedContext {
        wrapped: Box::new(e),
        context: op.to_string(),
    }
}

/// The elements of `v` that layout `l` describes, in row-major order: borrowed when they are
/// contiguous, else copied once.
fn elements<'a, T: Copy>(
    v: &'a [T],
    l: &candle_core::Layout,
    op: &'static str,
) -> Result<Cow<'a, [T]>> {
    let bad = || {
        Error::Msg(format!(
            "{op}: layout {l:?} exceeds its storage of {}",
            v.len()
        ))
    };
    if let Some((start, end)) = l.contiguous_offsets() {
        return v.get(start..end).map(Cow::Borrowed).ok_or_else(bad);
    }
    let dims = l.dims();
    let stride = l.stride();
    let n = l.shape().elem_count();
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return Ok(Cow::Owned(out));
    }
    // An odometer over the dimensions: `at` is the storage offset of index `idx`.
    let mut idx = vec![0usize; dims.len()];
    let mut at = l.start_offset();
    loop {
        out.push(*v.get(at).ok_or_else(bad)?);
        let mut d = dims.len();
        loop {
            if d == 0 {
                return Ok(Cow::Owned(out));
            }
            d -= 1;
            idx[d] += 1;
            at += stride[d];
            if idx[d] < dims[d] {
                break;
            }
            at -= stride[d] * dims[d];
            idx[d] = 0;
        }
    }
}

fn f32s<'a>(
    s: &'a CpuStorage,
    l: &candle_core::Layout,
    op: &'static str,
) -> Result<Cow<'a, [f32]>> {
    match s {
        CpuStorage::F32(v) => elements(v, l, op),
        other => Err(Error::UnsupportedDTypeForOp(other.dtype(), op)),
    }
}

/// The upstream gradient of a scalar loss.
fn upstream(s: &CpuStorage, l: &candle_core::Layout, op: &'static str) -> Result<f32> {
    match *f32s(s, l, op)? {
        [u] => Ok(u),
        _ => Err(Error::Msg(format!(
            "{op}: the incoming gradient has shape {:?}, not a scalar",
            l.shape()
        ))),
    }
}

fn same_shape(a: &candle_core::Layout, b: &candle_core::Layout, op: &'static str) -> Result<()> {
    if a.shape() == b.shape() {
        Ok(())
    } else {
        Err(Error::ShapeMismatchBinaryOp {
            lhs: a.shape().clone(),
            rhs: b.shape().clone(),
            op,
        })
    }
}

const SIGMOID: &str = "focal-loss sigmoid";
const SIGMOID_GRAD: &str = "focal-loss sigmoid backward";
const SOFTMAX: &str = "focal-loss softmax";
const SOFTMAX_GRAD: &str = "focal-loss softmax backward";

/// The sigmoid focal loss as a candle [`CustomOp2`] on `(logits, targets)`: both `f32`, of one
/// shape; the result is a scalar `f32`. Backward: the gradient with respect to the logits
/// (none for the targets). [`sigmoid_focal_loss`] applies it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SigmoidFocalOp {
    focal: SigmoidFocal,
    reduction: Reduction,
}

impl SigmoidFocalOp {
    /// The op computing `focal` reduced by `reduction` ([`Reduction::MeanValid`] is
    /// [`Reduction::Mean`] here).
    pub const fn new(focal: SigmoidFocal, reduction: Reduction) -> Self {
        SigmoidFocalOp { focal, reduction }
    }
}

impl CustomOp2 for SigmoidFocalOp {
    fn name(&self) -> &'static str {
        SIGMOID
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &candle_core::Layout,
        s2: &CpuStorage,
        l2: &candle_core::Layout,
    ) -> Result<(CpuStorage, Shape)> {
        same_shape(l1, l2, SIGMOID)?;
        let logits = f32s(s1, l1, SIGMOID)?;
        let targets = f32s(s2, l2, SIGMOID)?;
        let loss = self
            .focal
            .loss(&logits, &*targets, self.reduction)
            .map_err(wrap(SIGMOID))?;
        Ok((CpuStorage::F32(vec![loss]), Shape::from(())))
    }

    fn bwd(
        &self,
        logits: &Tensor,
        targets: &Tensor,
        _loss: &Tensor,
        grad_loss: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let g = logits.apply_op3_no_bwd(targets, grad_loss, &SigmoidFocalGrad(*self))?;
        Ok((Some(g), None))
    }
}

/// The backward pass as an op of its own: candle hands it the three storages (logits,
/// targets, incoming gradient) already locked for reading.
struct SigmoidFocalGrad(SigmoidFocalOp);

impl CustomOp3 for SigmoidFocalGrad {
    fn name(&self) -> &'static str {
        SIGMOID_GRAD
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &candle_core::Layout,
        s2: &CpuStorage,
        l2: &candle_core::Layout,
        s3: &CpuStorage,
        l3: &candle_core::Layout,
    ) -> Result<(CpuStorage, Shape)> {
        same_shape(l1, l2, SIGMOID_GRAD)?;
        let logits = f32s(s1, l1, SIGMOID_GRAD)?;
        let targets = f32s(s2, l2, SIGMOID_GRAD)?;
        let up = upstream(s3, l3, SIGMOID_GRAD)?;
        let mut grad = vec![0.0f32; logits.len()];
        let SigmoidFocalOp { focal, reduction } = self.0;
        focal
            .grad(&logits, &*targets, reduction, up, &mut grad)
            .map_err(wrap(SIGMOID_GRAD))?;
        Ok((CpuStorage::F32(grad), l1.shape().clone()))
    }
}

/// The sigmoid focal loss of `logits` against `targets` (both `f32`, same shape, on the CPU),
/// reduced to a scalar. Differentiable with respect to the logits when they track gradients
/// (a [`candle_core::Var`] or computed from one).
///
/// `SigmoidFocal::new().alpha(None).gamma(0.0)` is binary cross-entropy with logits.
pub fn sigmoid_focal_loss(
    logits: &Tensor,
    targets: &Tensor,
    focal: &SigmoidFocal,
    reduction: Reduction,
) -> Result<Tensor> {
    let op = SigmoidFocalOp::new(*focal, reduction);
    if logits.track_op() {
        logits.apply_op2(targets, op)
    } else {
        logits.apply_op2_no_bwd(targets, &op)
    }
}

/// The softmax focal loss as a candle [`CustomOp2`] on `(logits, labels)`: `f32` logits, integer
/// labels (see [`Layout`] for the shapes); the result is a scalar `f32`. Backward: the gradient
/// with respect to the logits. [`softmax_focal_loss`] applies it.
///
/// [`Tensor::apply_op2`] (which keeps the op for the backward pass) needs `'a = 'static`: a
/// per-class alpha must then be a `&'static [f32]` (a `static` array, or `Vec::leak` of one
/// made once). [`Tensor::apply_op2_no_bwd`] takes any lifetime.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SoftmaxFocalOp<'a> {
    focal: SoftmaxFocal<'a>,
    reduction: Reduction,
    layout: Layout,
}

impl<'a> SoftmaxFocalOp<'a> {
    /// The op computing `focal` over logits in `layout`, reduced by `reduction` over rows
    /// (positions, for channels-first).
    pub const fn new(focal: SoftmaxFocal<'a>, reduction: Reduction, layout: Layout) -> Self {
        SoftmaxFocalOp {
            focal,
            reduction,
            layout,
        }
    }

    /// `(C, S)`: the number of classes and the positions per image (1 for
    /// [`Layout::ClassesLast`]), after checking that the labels have the logits' shape less
    /// the class axis.
    fn classes(&self, logits: &Shape, labels: &Shape, op: &'static str) -> Result<(usize, usize)> {
        let d = logits.dims();
        let axis = match self.layout {
            Layout::ClassesLast => d.len().checked_sub(1),
            Layout::ChannelsFirst => (d.len() >= 2).then_some(1),
        };
        let expected = axis.map(|a| [&d[..a], &d[a + 1..]].concat());
        match (axis, expected) {
            (Some(a), Some(e)) if e == labels.dims() => {
                let spatial = match self.layout {
                    Layout::ClassesLast => 1,
                    // An empty tensor has no positions; S = 1 then divides their count (0),
                    // where the crate refuses S = 0.
                    Layout::ChannelsFirst => d[2..].iter().product::<usize>().max(1),
                };
                Ok((d[a], spatial))
            }
            // The shape the labels must have: the logits' without the class axis (one-hot
            // targets, with the logits' own shape, are the likely mistake).
            (Some(_), Some(e)) => Err(Error::UnexpectedShape {
                msg: format!(
                    "{op}: labels (one class index per row) for logits of shape {logits:?}, \
                     {:?}",
                    self.layout
                ),
                expected: Shape::from(e),
                got: labels.clone(),
            }),
            _ => Err(Error::UnexpectedNumberOfDims {
                expected: match self.layout {
                    Layout::ClassesLast => 1,
                    Layout::ChannelsFirst => 2,
                },
                got: d.len(),
                shape: logits.clone(),
            }),
        }
    }
}

/// Runs `$body` with `$labels` bound to the labels as a slice of their own integer type.
macro_rules! with_labels {
    ($s:expr, $l:expr, $op:expr, |$labels:ident| $body:expr) => {
        match $s {
            CpuStorage::U8(v) => {
                let $labels = &*elements(v, $l, $op)?;
                $body
            }
            CpuStorage::U32(v) => {
                let $labels = &*elements(v, $l, $op)?;
                $body
            }
            CpuStorage::I32(v) => {
                let $labels = &*elements(v, $l, $op)?;
                $body
            }
            CpuStorage::I64(v) => {
                let $labels = &*elements(v, $l, $op)?;
                $body
            }
            CpuStorage::I16(v) => {
                let wide: Vec<i32> = elements(v, $l, $op)?
                    .iter()
                    .map(|&x| i32::from(x))
                    .collect();
                let $labels = &*wide;
                $body
            }
            other => Err(Error::UnsupportedDTypeForOp(other.dtype(), $op)),
        }
    };
}

impl CustomOp2 for SoftmaxFocalOp<'_> {
    fn name(&self) -> &'static str {
        SOFTMAX
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &candle_core::Layout,
        s2: &CpuStorage,
        l2: &candle_core::Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (c, spatial) = self.classes(l1.shape(), l2.shape(), SOFTMAX)?;
        let logits = f32s(s1, l1, SOFTMAX)?;
        let r = self.reduction;
        let loss = with_labels!(s2, l2, SOFTMAX, |labels| match self.layout {
            Layout::ClassesLast => self.focal.loss(&logits, c, labels, r),
            Layout::ChannelsFirst => self
                .focal
                .channels_first(spatial)
                .loss(&logits, c, labels, r),
        }
        .map_err(wrap(SOFTMAX)))?;
        Ok((CpuStorage::F32(vec![loss]), Shape::from(())))
    }

    fn bwd(
        &self,
        logits: &Tensor,
        labels: &Tensor,
        _loss: &Tensor,
        grad_loss: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let g = logits.apply_op3_no_bwd(labels, grad_loss, &SoftmaxFocalGrad(*self))?;
        Ok((Some(g), None))
    }
}

/// The softmax backward pass as an op of its own (see [`SigmoidFocalGrad`]).
struct SoftmaxFocalGrad<'a>(SoftmaxFocalOp<'a>);

impl CustomOp3 for SoftmaxFocalGrad<'_> {
    fn name(&self) -> &'static str {
        SOFTMAX_GRAD
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &candle_core::Layout,
        s2: &CpuStorage,
        l2: &candle_core::Layout,
        s3: &CpuStorage,
        l3: &candle_core::Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let op = &self.0;
        let (c, spatial) = op.classes(l1.shape(), l2.shape(), SOFTMAX_GRAD)?;
        let logits = f32s(s1, l1, SOFTMAX_GRAD)?;
        let up = upstream(s3, l3, SOFTMAX_GRAD)?;
        let mut grad = vec![0.0f32; logits.len()];
        let (r, g) = (op.reduction, &mut grad[..]);
        with_labels!(s2, l2, SOFTMAX_GRAD, |labels| match op.layout {
            Layout::ClassesLast => op.focal.grad(&logits, c, labels, r, up, g),
            Layout::ChannelsFirst => op
                .focal
                .channels_first(spatial)
                .grad(&logits, c, labels, r, up, g),
        }
        .map_err(wrap(SOFTMAX_GRAD)))?;
        Ok((CpuStorage::F32(grad), l1.shape().clone()))
    }
}

/// The softmax focal loss of `logits` (`f32`) against integer `labels` (`u8`, `u32`, `i16`,
/// `i32`, `i64`), both on the CPU, with the class axis where `layout` says, reduced to a
/// scalar over rows (positions). Differentiable with respect to the logits when they track
/// gradients. Labels equal to the focal value's ignore index count as ignored rows
/// ([`Reduction::MeanValid`] divides by the others).
///
/// `focal` is `'static` because the backward pass keeps the op: see [`SoftmaxFocalOp`] for a
/// borrowed per-class alpha.
pub fn softmax_focal_loss(
    logits: &Tensor,
    labels: &Tensor,
    focal: &SoftmaxFocal<'static>,
    reduction: Reduction,
    layout: Layout,
) -> Result<Tensor> {
    let op = SoftmaxFocalOp::new(*focal, reduction, layout);
    if logits.track_op() {
        logits.apply_op2(labels, op)
    } else {
        logits.apply_op2_no_bwd(labels, &op)
    }
}
