//! Arbitrary parameters and shapes to every public method (channels-first and TorchBlocks modules
//! included): no panic; `Ok` exactly when an independent predicate written from SPEC.md section 5 and
//! the README's check order calls the input valid, and then the error is exactly the one it
//! predicts (variant, first offending index, value); on `Err` every output buffer, and the
//! logits of the in-place methods, keep their sentinel bits; on `Ok` the value rules of
//! docs/failure-contract.md hold (NaN only from a NaN input, infinities only from infinite
//! logits, ignored rows 0).
#![no_main]

use arbitrary::Arbitrary;
use focal_loss::compat::torchblocks::{BinaryFocalLoss, FocalLoss};
use focal_loss::{
    Alpha, Backend, ClassIndex, FocalError, Reduction, SigmoidFocal, SigmoidForm, SoftmaxFocal,
    Targets,
};
use focal_loss_fuzz::*;
use libfuzzer_sys::fuzz_target;

/// A length: the right one, or off by a little.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Len {
    Right,
    Right2,
    Right3,
    Plus(u8),
    Minus(u8),
}

impl Len {
    fn get(self, right: usize) -> usize {
        match self {
            Len::Right | Len::Right2 | Len::Right3 => right,
            Len::Plus(d) => right + 1 + usize::from(d % 4),
            Len::Minus(d) => right.saturating_sub(1 + usize::from(d % 4)),
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Eps {
    Default,
    Zero,
    Bits(u32),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Ignore {
    None,
    Torch,
    Small(i8),
    Raw(i64),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Label {
    Small(u8),
    Small2(u8),
    Neg(i8),
    TypeMax,
    TypeMin,
    Raw(i64),
}

#[derive(Arbitrary, Debug)]
struct Input {
    method: u8,
    per_term: bool,
    alpha: AlphaVal,
    gamma: Gamma,
    red: Red,
    upstream: Upstream,
    checked_targets: bool,
    backend: u8,
    epsilon: Eps,
    /// 0 to 40 classes (0 is invalid).
    classes: u8,
    /// Rows (softmax) or elements (sigmoid): 0 to 63.
    count: u8,
    /// Logits that do not fill the rows: `C` does not divide their number.
    ragged: Option<u8>,
    lens: [Len; 3],
    label_type: u8,
    ignore: Ignore,
    class_alpha: Option<(Len, Vec<AlphaVal>)>,
    logits: Vec<Logit>,
    targets: Vec<Target>,
    labels: Vec<Label>,
    ups: Vec<Upstream>,
    offset: u8,
    /// The softmax layout (the first variant, row-major, when the input runs out).
    layout: Layout,
    /// Softmax label smoothing: none, `v / 255`, or any bits.
    smoothing: Option<Result<u8, u32>>,
}

/// Row-major `[rows × C]` or channels-first `[N, C, S]` with one of these `S`.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Layout {
    RowMajor,
    /// `S` = every position (`N = 1`; 0 when there are no rows).
    AllPositions,
    /// `S` from 1 to 8: may or may not divide the positions.
    Small(u8),
    /// `S` from 0 to 255.
    Raw(u8),
    /// Images of more than a block's 32768 logits (`C·S` above it, `S` up to 255 more), which
    /// the SIMD backends cut into parts of an image: with at most 63 positions, a valid shape
    /// here is an empty tensor (the out-of-bounds write fixed in 81792c2).
    Large(u8),
}

impl Layout {
    fn spatial(self, positions: usize, c: usize) -> Option<usize> {
        match self {
            Layout::RowMajor => None,
            Layout::AllPositions => Some(positions),
            Layout::Small(s) => Some(1 + usize::from(s % 8)),
            Layout::Raw(s) => Some(usize::from(s)),
            Layout::Large(s) => Some(32768 / c.max(1) + 1 + usize::from(s)),
        }
    }
}

/// Channels-first `[N, C, S]` values (`N·S` positions) in row-major order `[N·S × C]`.
fn to_rows(v: &[f32], c: usize, s: usize) -> Vec<f32> {
    let positions = v.len() / c;
    (0..positions * c)
        .map(|i| {
            let (p, j) = (i / c, i % c);
            v[(p / s) * c * s + j * s + p % s]
        })
        .collect()
}

fn cycle<T: Copy, U>(v: &[T], n: usize, dflt: U, f: impl Fn(T) -> U) -> Vec<U>
where
    U: Copy,
{
    (0..n)
        .map(|i| {
            if v.is_empty() {
                dflt
            } else {
                f(v[i % v.len()])
            }
        })
        .collect()
}

fn in_unit(v: f32) -> bool {
    (0.0..=1.0).contains(&v)
}

/// The first value outside `[0, 1]` (NaN included).
fn first_outside(v: &[f32]) -> Option<(usize, f32)> {
    v.iter().position(|&x| !in_unit(x)).map(|i| (i, v[i]))
}

fn check_same(got: &Result<f32, FocalError>, want: &Result<(), FocalError>, ctx: &str) {
    match (got, want) {
        (Ok(_), Ok(())) => {}
        (Err(g), Err(w)) => assert!(same_err(g, w), "{ctx}: got {g:?}, want {w:?}"),
        _ => panic!("{ctx}: got {got:?}, want {want:?}"),
    }
}

/// The checks a sigmoid call makes, in the documented order: parameters (alpha, gamma,
/// normaliser, backend), shapes (targets, then each output in argument order), data.
// The independent predicate mirrors the method's own arguments one by one.
#[allow(clippy::too_many_arguments)]
fn sigmoid_expect(
    alpha: Option<f32>,
    gamma: f32,
    red: Option<Reduction>,
    backend: Option<Backend>,
    n: usize,
    targets: &[f32],
    checked: bool,
    outs: &[(&'static str, usize)],
) -> Result<(), FocalError> {
    if let Some(a) = alpha
        && !in_unit(a)
    {
        return Err(FocalError::InvalidAlpha { value: a });
    }
    if !(gamma.is_finite() && gamma >= 0.0) {
        return Err(FocalError::InvalidGamma { value: gamma });
    }
    if let Some(Reduction::Normalize(d)) = red
        && !(d.is_finite() && d > 0.0)
    {
        return Err(FocalError::InvalidNormalizer { value: d });
    }
    if let Some(b) = backend
        && !b.is_available()
    {
        return Err(FocalError::BackendUnavailable { backend: b });
    }
    for &(what, len) in [("targets", targets.len())].iter().chain(outs) {
        if len != n {
            return Err(FocalError::LengthMismatch {
                what,
                expected: n,
                found: len,
            });
        }
    }
    if !checked && let Some((index, value)) = first_outside(targets) {
        return Err(FocalError::TargetOutOfRange { index, value });
    }
    Ok(())
}

/// The checks a softmax call makes: alpha values, gamma, normaliser, backend; `C`, labels
/// length, per-class alpha length, `S` (channels-first), outputs; labels.
#[allow(clippy::too_many_arguments)]
fn softmax_expect(
    alpha: &Alpha<'_>,
    gamma: f32,
    smoothing: f32,
    epsilon: Option<f32>,
    red: Option<Reduction>,
    backend: Option<Backend>,
    len: usize,
    c: usize,
    labels: &[i128],
    ignore: Option<i64>,
    spatial: Option<usize>,
    outs: &[(&'static str, usize, usize)],
) -> Result<(), FocalError> {
    match *alpha {
        Alpha::None => {}
        Alpha::Scalar(a) => {
            if !in_unit(a) {
                return Err(FocalError::InvalidAlpha { value: a });
            }
        }
        Alpha::PerClass(v) => {
            if let Some((index, value)) = first_outside(v) {
                return Err(FocalError::InvalidClassAlpha { index, value });
            }
        }
    }
    if !(gamma.is_finite() && gamma >= 0.0) {
        return Err(FocalError::InvalidGamma { value: gamma });
    }
    if !(0.0..=1.0).contains(&smoothing) {
        return Err(FocalError::InvalidLabelSmoothing { value: smoothing });
    }
    if let Some(e) = epsilon
        && !(e.is_finite() && e >= 0.0)
    {
        return Err(FocalError::InvalidEpsilon { value: e });
    }
    if let Some(Reduction::Normalize(d)) = red
        && !(d.is_finite() && d > 0.0)
    {
        return Err(FocalError::InvalidNormalizer { value: d });
    }
    if let Some(b) = backend
        && !b.is_available()
    {
        return Err(FocalError::BackendUnavailable { backend: b });
    }
    if c == 0 || !len.is_multiple_of(c) {
        return Err(FocalError::InvalidNumClasses {
            num_classes: c,
            len,
        });
    }
    let rows = len / c;
    if labels.len() != rows {
        return Err(FocalError::LengthMismatch {
            what: "labels",
            expected: rows,
            found: labels.len(),
        });
    }
    if let Alpha::PerClass(v) = alpha
        && v.len() != c
    {
        return Err(FocalError::ClassAlphaLength {
            expected: c,
            found: v.len(),
        });
    }
    if let Some(s) = spatial
        && (s == 0 || !rows.is_multiple_of(s))
    {
        return Err(FocalError::InvalidSpatial {
            spatial: s,
            positions: rows,
        });
    }
    for &(what, expected, found) in outs {
        if expected != found {
            return Err(FocalError::LengthMismatch {
                what,
                expected,
                found,
            });
        }
    }
    for (index, &l) in labels.iter().enumerate() {
        let ignored = ignore.is_some_and(|i| i128::from(i) == l);
        if !ignored && !(0..c as i128).contains(&l) {
            return Err(FocalError::LabelOutOfRange {
                index,
                label: l,
                num_classes: c,
            });
        }
    }
    Ok(())
}

/// A label type, with what the target needs to build labels of it.
trait Lab: ClassIndex + std::fmt::Debug {
    const MIN: Self;
    const MAX: Self;
    fn from_i128(v: i128) -> Option<Self>;
    fn wide(self) -> i128;
}

macro_rules! lab {
    ($($t:ty),*) => {$(
        impl Lab for $t {
            const MIN: Self = <$t>::MIN;
            const MAX: Self = <$t>::MAX;
            fn from_i128(v: i128) -> Option<Self> {
                <$t>::try_from(v).ok()
            }
            fn wide(self) -> i128 {
                self as i128
            }
        }
    )*};
}
lab!(u8, u16, u32, u64, usize, i32, i64);

fn label_value<L: Lab>(l: Label) -> L {
    let v = match l {
        Label::Small(v) | Label::Small2(v) => i128::from(v % 48),
        Label::Neg(v) => i128::from(v),
        Label::TypeMax => return L::MAX,
        Label::TypeMin => return L::MIN,
        Label::Raw(v) => i128::from(v),
    };
    L::from_i128(v).unwrap_or(if v < 0 { L::MIN } else { L::MAX })
}

/// Value rules for a sigmoid result that is `Ok` (docs/failure-contract.md): a loss is NaN
/// exactly when its logit is, otherwise `>= 0`, `+inf` only for an infinite logit, 0 at a
/// correct saturated logit; a gradient is NaN when its logit is NaN, finite when the logit
/// is not NaN and the scale is finite (and small enough not to overflow), 0 at a correct
/// saturated logit.
fn sigmoid_loss_rules(x: &[f32], t: &[f32], loss: &[f32], ctx: &str) {
    for i in 0..x.len() {
        let (x, t, l) = (x[i], t[i], loss[i]);
        if x.is_nan() {
            assert!(l.is_nan(), "{ctx}: loss[{i}] = {l} at a NaN logit");
            continue;
        }
        assert!(
            l >= 0.0 && (l.is_finite() || x.is_infinite()),
            "{ctx}: loss[{i}] = {l:e} at x = {x:e}, t = {t:e}"
        );
        if (x == f32::INFINITY && t == 1.0) || (x == f32::NEG_INFINITY && t == 0.0) {
            assert_eq!(l, 0.0, "{ctx}: loss[{i}] at a correct saturated logit");
        }
    }
}

fn sigmoid_grad_rules(x: &[f32], t: &[f32], g: &[f32], scale: &[f32], gamma: f32, ctx: &str) {
    for i in 0..x.len() {
        let (x, t, g, s) = (x[i], t[i], g[i], scale[i]);
        if x.is_nan() {
            assert!(g.is_nan(), "{ctx}: grad[{i}] = {g} at a NaN logit");
            continue;
        }
        // |dL/dx| <= γ + 1 (README: r <= 1, ...), so a scale this small cannot overflow.
        if s.is_finite() && s.abs() * (gamma + 2.0) < 1e37 {
            assert!(
                g.is_finite(),
                "{ctx}: grad[{i}] = {g:e} at x = {x:e}, t = {t:e}, scale {s:e}"
            );
        }
        if (x == f32::INFINITY && t == 1.0) || (x == f32::NEG_INFINITY && t == 0.0) {
            assert!(
                s.is_nan() || s.is_infinite() || g == 0.0,
                "{ctx}: grad[{i}] = {g:e} at a correct saturated logit"
            );
        }
    }
}

fn sigmoid(input: &Input, backend: Option<Backend>) {
    let n = usize::from(input.count % 64);
    let offset = usize::from(input.offset % 32);
    let xs = cycle(&input.logits, n, 0.0, Logit::get);
    let tl = input.lens[0].get(n);
    let ts = cycle(&input.targets, tl, 0.0, Target::get);
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
    let mut f = SigmoidFocal::new().alpha(alpha).gamma(gamma).form(form);
    if let Some(b) = backend {
        f = f.backend(b);
    }
    let (xb, tb) = (placed(&xs, offset), placed(&ts, offset));
    let (x, t) = (&xb[offset..], &tb[offset..]);
    let ol = input.lens[1].get(n);
    let ul = input.lens[2].get(n);
    let ups = cycle(&input.ups, ul, 1.0, Upstream::get);
    let mut out = placed(&sentinels(ol), offset);
    let out = &mut out[offset..];
    let checked = if input.checked_targets {
        let c = Targets::checked(t);
        let want = first_outside(t).map_or(Ok(()), |(index, value)| {
            Err(FocalError::TargetOutOfRange { index, value })
        });
        check_same(&c.map(|_| 0.0), &want, "Targets::checked");
        c.ok()
    } else {
        None
    };
    let tt: Targets<'_> = checked.unwrap_or_else(|| t.into());
    let is_checked = checked.is_some();
    let ctx = format!(
        "sigmoid method {} n={n} backend={backend:?}",
        input.method % 6
    );
    let div = match red {
        Reduction::Sum => 1.0,
        Reduction::Mean | Reduction::MeanValid => n as f32,
        Reduction::Normalize(d) => d,
    };
    let cf = if div == 0.0 { 0.0 } else { up / div };
    let c1 = if div == 0.0 { 0.0 } else { 1.0 / div };
    let exp = |r: Option<Reduction>, outs: &[(&'static str, usize)]| {
        sigmoid_expect(alpha, gamma, r, backend, n, tt.values(), is_checked, outs)
    };
    match input.method % 6 {
        0 => {
            let got = f.loss(x, tt, red);
            check_same(&got, &exp(Some(red), &[]), &ctx);
            if let Ok(l) = got {
                if x.iter().any(|v| v.is_nan()) {
                    assert!(l.is_nan(), "{ctx}: loss {l} with a NaN logit");
                } else {
                    assert!(l >= 0.0 || (n == 0 && l == 0.0), "{ctx}: loss {l}");
                }
            }
        }
        1 => {
            let got = f.loss_elementwise(x, tt, out).map(|()| 0.0);
            check_same(&got, &exp(None, &[("out", ol)]), &ctx);
            if got.is_ok() {
                sigmoid_loss_rules(x, tt.values(), out, &ctx);
            }
        }
        2 => {
            let got = f.grad(x, tt, red, up, out).map(|()| 0.0);
            check_same(&got, &exp(Some(red), &[("grad", ol)]), &ctx);
            if got.is_ok() {
                sigmoid_grad_rules(x, tt.values(), out, &vec![cf; n], gamma, &ctx);
            }
        }
        3 => {
            let got = f.grad_elementwise(x, tt, &ups, out).map(|()| 0.0);
            check_same(&got, &exp(None, &[("upstream", ul), ("grad", ol)]), &ctx);
            if got.is_ok() {
                sigmoid_grad_rules(x, tt.values(), out, &ups, gamma, &ctx);
            }
        }
        4 => {
            let got = f.loss_and_grad(x, tt, red, out);
            check_same(&got, &exp(Some(red), &[("grad", ol)]), &ctx);
            if got.is_ok() {
                sigmoid_grad_rules(x, tt.values(), out, &vec![c1; n], gamma, &ctx);
            }
        }
        _ => {
            let mut zb = placed(x, offset);
            let z = &mut zb[offset..];
            let got = f.loss_and_grad_in_place(z, tt, red);
            check_same(&got, &exp(Some(red), &[]), &ctx);
            match got {
                Ok(_) => sigmoid_grad_rules(x, tt.values(), z, &vec![c1; n], gamma, &ctx),
                Err(_) => assert!(
                    z.iter().zip(x).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{ctx}: logits changed on error"
                ),
            }
            return;
        }
    }
    if !matches!(input.method % 6, 0) {
        let err = match input.method % 6 {
            1 => exp(None, &[("out", ol)]),
            3 => exp(None, &[("upstream", ul), ("grad", ol)]),
            _ => exp(Some(red), &[("grad", ol)]),
        };
        if err.is_err() {
            assert!(untouched(out), "{ctx}: output written on error {err:?}");
        }
    }
}

fn softmax<L: Lab>(input: &Input, backend: Option<Backend>) {
    let c = usize::from(input.classes % 41);
    let rows = usize::from(input.count % 64);
    let len = rows * c.max(1) + input.ragged.map_or(0, |r| usize::from(r % 5));
    // The rows the library sees (the ragged logits may happen to fill whole rows).
    let rows = if c != 0 && len.is_multiple_of(c) {
        len / c
    } else {
        rows
    };
    let offset = usize::from(input.offset % 32);
    let zs = cycle(&input.logits, len, 0.0, Logit::get);
    let zb = placed(&zs, offset);
    let z = &zb[offset..];
    let nl = input.lens[0].get(rows);
    let labels: Vec<L> = cycle(
        &input.labels,
        nl,
        L::from_i128(0).unwrap(),
        label_value::<L>,
    );
    let wide: Vec<i128> = labels.iter().map(|l| l.wide()).collect();
    let ignore = match input.ignore {
        Ignore::None => None,
        Ignore::Torch => Some(-100),
        Ignore::Small(v) => Some(i64::from(v)),
        Ignore::Raw(v) => Some(v),
    };
    let class_alpha: Vec<f32> = match &input.class_alpha {
        Some((l, v)) => cycle(v, l.get(c), 0.5, |a| a.get().unwrap_or(1.0)),
        None => Vec::new(),
    };
    let alpha = match (&input.class_alpha, input.alpha.get()) {
        (Some(_), _) => Alpha::PerClass(&class_alpha),
        (None, Some(a)) => Alpha::Scalar(a),
        (None, None) => Alpha::None,
    };
    let (gamma, red, up) = (input.gamma.get(), input.red.get(), input.upstream.get());
    let ol = input.lens[1].get(if input.method % 6 == 1 { rows } else { len });
    let ul = input.lens[2].get(rows);
    let ups = cycle(&input.ups, ul, 1.0, Upstream::get);
    let mut outb = placed(&sentinels(ol), offset);
    let out = &mut outb[offset..];
    let smoothing = match input.smoothing {
        None => 0.0,
        Some(Ok(v)) => f32::from(v) / 255.0,
        Some(Err(b)) => f32::from_bits(b),
    };
    let mut f = SoftmaxFocal::new()
        .alpha(alpha)
        .gamma(gamma)
        .ignore_index(ignore)
        .label_smoothing(smoothing);
    if let Some(b) = backend {
        f = f.backend(b);
    }
    let method = input.method % 6;
    let spatial = input.layout.spatial(rows, c);
    let ctx = format!(
        "softmax method {method} C={c} len={len} S={spatial:?} eps={smoothing:e} {} backend={backend:?}",
        std::any::type_name::<L>()
    );
    let exp = |r: Option<Reduction>, outs: &[(&'static str, usize, usize)]| {
        softmax_expect(
            &alpha, gamma, smoothing, None, r, backend, len, c, &wide, ignore, spatial, outs,
        )
    };
    let cf = f.channels_first(spatial.unwrap_or(1));
    let cfm = spatial.is_some();
    // Channels-first values in the row-major order the rules below read (valid shapes only).
    let rows_of = |v: &[f32]| match spatial {
        Some(s) if c > 0 => to_rows(v, c, s),
        _ => v.to_vec(),
    };
    let (want, got) = match method {
        0 => (
            exp(Some(red), &[]),
            if cfm {
                cf.loss(z, c, &labels, red)
            } else {
                f.loss(z, c, &labels, red)
            },
        ),
        1 => (
            exp(None, &[("out", rows, ol)]),
            if cfm {
                cf.loss_per_position(z, c, &labels, out)
            } else {
                f.loss_per_row(z, c, &labels, out)
            }
            .map(|()| 0.0),
        ),
        2 => (
            exp(Some(red), &[("grad", len, ol)]),
            if cfm {
                cf.grad(z, c, &labels, red, up, out)
            } else {
                f.grad(z, c, &labels, red, up, out)
            }
            .map(|()| 0.0),
        ),
        3 => (
            exp(None, &[("upstream", rows, ul), ("grad", len, ol)]),
            if cfm {
                cf.grad_per_position(z, c, &labels, &ups, out)
            } else {
                f.grad_per_row(z, c, &labels, &ups, out)
            }
            .map(|()| 0.0),
        ),
        4 => (
            exp(Some(red), &[("grad", len, ol)]),
            if cfm {
                cf.loss_and_grad(z, c, &labels, red, out)
            } else {
                f.loss_and_grad(z, c, &labels, red, out)
            },
        ),
        _ => {
            let mut ib = placed(z, offset);
            let zi = &mut ib[offset..];
            let got = if cfm {
                cf.loss_and_grad_in_place(zi, c, &labels, red)
            } else {
                f.loss_and_grad_in_place(zi, c, &labels, red)
            };
            check_same(&got, &exp(Some(red), &[]), &ctx);
            if got.is_err() {
                assert!(
                    zi.iter().zip(z).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{ctx}: logits changed on error"
                );
            } else {
                softmax_grad_rules(&rows_of(z), c, &wide, ignore, &rows_of(zi), &ctx);
            }
            return;
        }
    };
    check_same(&got, &want, &ctx);
    match got {
        Err(_) => assert!(untouched(out), "{ctx}: output written on error"),
        Ok(v) => {
            let z = &rows_of(z)[..];
            let is_ignored = |l: i128| ignore.is_some_and(|i| i128::from(i) == l);
            let row_nan = |r: usize| z[r * c..(r + 1) * c].iter().any(|v| v.is_nan());
            match method {
                0 | 4 => {
                    let any_nan = (0..rows).any(|r| !is_ignored(wide[r]) && row_nan(r));
                    if any_nan && !v.is_nan() {
                        // A NaN sum divided by a zero divisor is reported as 0.
                        assert!(v == 0.0, "{ctx}: loss {v} with a NaN row");
                    }
                    assert!(v.is_nan() || v >= 0.0, "{ctx}: loss {v}");
                    if method == 4 {
                        softmax_grad_rules(z, c, &wide, ignore, &rows_of(out), &ctx);
                    }
                }
                1 => {
                    for r in 0..rows {
                        let l = out[r];
                        if is_ignored(wide[r]) {
                            assert_eq!(l.to_bits(), 0, "{ctx}: ignored row {r} loss {l}");
                        } else if row_nan(r) {
                            assert!(l.is_nan(), "{ctx}: row {r} with a NaN: loss {l}");
                        } else {
                            assert!(l.is_nan() || l >= 0.0, "{ctx}: row {r} loss {l}");
                            let row = &z[r * c..(r + 1) * c];
                            // A row wider than f32::MAX may have a loss above it: +inf is
                            // then its rounding (narrower rows: the loss is at most about
                            // max - min + ln C, finite).
                            let (lo, hi) = row.iter().fold((f64::MAX, f64::MIN), |(a, b), &v| {
                                (a.min(f64::from(v)), b.max(f64::from(v)))
                            });
                            if row.iter().all(|v| v.is_finite()) && hi - lo <= f64::from(f32::MAX) {
                                assert!(l.is_finite(), "{ctx}: row {r} finite, loss {l}");
                            }
                        }
                    }
                }
                _ => softmax_grad_rules(z, c, &wide, ignore, &rows_of(out), &ctx),
            }
        }
    }
}

/// Gradient rules: an ignored row's gradient is 0 (or NaN/0 times a non-finite scale), a
/// row with a NaN logit gives NaN for every class, a finite row gives finite values (with a
/// finite, modest scale; at most `1 + γ`-ish per class).
fn softmax_grad_rules(
    z: &[f32],
    c: usize,
    labels: &[i128],
    ignore: Option<i64>,
    g: &[f32],
    ctx: &str,
) {
    for (r, &l) in labels.iter().enumerate() {
        let (row, grow) = (&z[r * c..(r + 1) * c], &g[r * c..(r + 1) * c]);
        if ignore.is_some_and(|i| i128::from(i) == l) {
            continue;
        }
        if row.iter().any(|v| v.is_nan()) {
            assert!(
                grow.iter().all(|v| v.is_nan()) || grow.iter().all(|&v| v == 0.0),
                "{ctx}: row {r} with a NaN logit: gradient {grow:?}"
            );
        }
    }
}

fuzz_target!(|input: Input| {
    let backend = match input.backend % 5 {
        0 => None,
        b => Some(Backend::ALL[usize::from(b) - 1]),
    };
    match input.method % 16 {
        0..=5 => sigmoid(&input, backend),
        6..=11 => match input.label_type % 7 {
            0 => softmax::<u8>(&input, backend),
            1 => softmax::<u16>(&input, backend),
            2 => softmax::<u32>(&input, backend),
            3 => softmax::<u64>(&input, backend),
            4 => softmax::<usize>(&input, backend),
            5 => softmax::<i32>(&input, backend),
            _ => softmax::<i64>(&input, backend),
        },
        12 | 13 => binary(&input),
        _ => match input.label_type % 3 {
            0 => torchblocks_softmax::<u8>(&input),
            1 => torchblocks_softmax::<u64>(&input),
            _ => torchblocks_softmax::<i32>(&input),
        },
    }
});

fn epsilon(input: &Input) -> f32 {
    match input.epsilon {
        Eps::Default => 1e-9,
        Eps::Zero => 0.0,
        Eps::Bits(b) => f32::from_bits(b),
    }
}

/// TorchBlocks `BinaryFocalLoss`: alpha, gamma, epsilon; targets length, grad length;
/// probabilities, then targets.
fn binary(input: &Input) {
    let n = usize::from(input.count % 64);
    let probs = cycle(&input.targets, n, 0.5, Target::get);
    let tl = input.lens[0].get(n);
    let ts = cycle(&input.targets, tl, 0.0, |t| Target::get(t).clamp(0.0, 1.0));
    let ts: Vec<f32> = ts
        .iter()
        .enumerate()
        .map(|(i, &t)| match input.logits.get(i) {
            Some(Logit::Bits(b)) => f32::from_bits(*b),
            _ => t,
        })
        .collect();
    let m = BinaryFocalLoss {
        gamma: input.gamma.get(),
        alpha: input.alpha.get().unwrap_or(0.25),
        epsilon: epsilon(input),
    };
    let gl = input.lens[1].get(n);
    let mut g = sentinels(gl);
    let with_grad = input.method % 2 == 1;
    let want = (|| {
        if !in_unit(m.alpha) {
            return Err(FocalError::InvalidAlpha { value: m.alpha });
        }
        if !(m.gamma.is_finite() && m.gamma >= 0.0) {
            return Err(FocalError::InvalidGamma { value: m.gamma });
        }
        if !(m.epsilon.is_finite() && m.epsilon >= 0.0) {
            return Err(FocalError::InvalidEpsilon { value: m.epsilon });
        }
        let mut lens = vec![("targets", tl)];
        if with_grad {
            lens.push(("grad", gl));
        }
        for (what, found) in lens {
            if found != n {
                return Err(FocalError::LengthMismatch {
                    what,
                    expected: n,
                    found,
                });
            }
        }
        if let Some((index, value)) = first_outside(&probs) {
            return Err(FocalError::ProbabilityOutOfRange { index, value });
        }
        if let Some((index, value)) = first_outside(&ts) {
            return Err(FocalError::TargetOutOfRange { index, value });
        }
        Ok(())
    })();
    let got = if with_grad {
        m.loss_and_grad(&probs, &ts, &mut g)
    } else {
        m.loss(&probs, &ts)
    };
    let ctx = format!("BinaryFocalLoss grad={with_grad} n={n} {m:?}");
    check_same(&got, &want, &ctx);
    // No value rules: with epsilon > 0, `ln(1 - p + ε)` is positive at p = 0, so the
    // module's loss can be negative; that is its formula, not this crate's.
    if got.is_err() {
        assert!(untouched(&g), "{ctx}: grad written on error");
    }
}

/// TorchBlocks softmax `FocalLoss`: alpha values, gamma, epsilon; `C`, labels length,
/// per-class alpha length, grad length; labels (no ignore index: class 0 is a valid label,
/// ignored by the loss).
fn torchblocks_softmax<L: Lab>(input: &Input) {
    let c = usize::from(input.classes % 41);
    let rows = usize::from(input.count % 64);
    let len = rows * c.max(1) + input.ragged.map_or(0, |r| usize::from(r % 5));
    let rows = if c != 0 && len.is_multiple_of(c) {
        len / c
    } else {
        rows
    };
    let zs = cycle(&input.logits, len, 0.0, Logit::get);
    let nl = input.lens[0].get(rows);
    let labels: Vec<L> = cycle(
        &input.labels,
        nl,
        L::from_i128(0).unwrap(),
        label_value::<L>,
    );
    let wide: Vec<i128> = labels.iter().map(|l| l.wide()).collect();
    let class_alpha: Vec<f32> = match &input.class_alpha {
        Some((l, v)) => cycle(v, l.get(c), 0.5, |a| a.get().unwrap_or(1.0)),
        None => Vec::new(),
    };
    let alpha = match (&input.class_alpha, input.alpha.get()) {
        (Some(_), _) => Alpha::PerClass(&class_alpha),
        (None, Some(a)) => Alpha::Scalar(a),
        (None, None) => Alpha::None,
    };
    let m = FocalLoss {
        gamma: input.gamma.get(),
        alpha,
        epsilon: epsilon(input),
    };
    let with_grad = input.method % 2 == 1;
    let gl = input.lens[1].get(len);
    let mut g = sentinels(gl);
    let outs: &[(&'static str, usize, usize)] = if with_grad { &[("grad", len, gl)] } else { &[] };
    let want = softmax_expect(
        &alpha,
        m.gamma,
        0.0,
        Some(m.epsilon),
        None,
        None,
        len,
        c,
        &wide,
        None,
        None,
        outs,
    );
    let got = if with_grad {
        m.loss_and_grad(&zs, c, &labels, &mut g)
    } else {
        m.loss(&zs, c, &labels)
    };
    let ctx = format!("torchblocks FocalLoss grad={with_grad} C={c} len={len}");
    check_same(&got, &want, &ctx);
    if got.is_err() {
        assert!(untouched(&g), "{ctx}: grad written on error");
    }
}
