//! Bad input: every `FocalError` variant, triggered through each public function that can
//! produce it, on every backend.
//!
//! Output buffers are pre-filled with a NaN sentinel carrying a payload (compared by bits),
//! and the in-place functions' logits are compared by bits: on any error nothing may be
//! written. `index()` must name the first offending element/row/class and `Display` must
//! mention it. The validation order (parameters, then lengths and `num_classes`, then data)
//! is checked with inputs that are wrong in two ways at once. Labels of every `ClassIndex`
//! type, negative labels, `ignore_index` -100 with signed and unsigned labels, `u64::MAX`.
//! Forcing a backend the CPU lacks returns `BackendUnavailable`; `is_available` agrees with
//! `std::is_x86_feature_detected!`.

mod common;

use common::*;
use focal_loss::compat::torchblocks::{BinaryFocalLoss, FocalLoss};
use focal_loss::{
    Alpha, Backend, ClassIndex, FocalError, Reduction, SigmoidFocal, SoftmaxFocal, Targets,
};

/// Compares errors by their Debug text (so NaN payloads compare equal to themselves).
fn same(a: &FocalError, b: &FocalError) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

/// One call's outcome, by function name.
type Outcome = (&'static str, Result<(), FocalError>);

/// Calls every sigmoid entry point with buffers of the given lengths pre-filled with the
/// sentinel; on error, asserts that nothing was written (in-place: the logits unchanged).
/// `with_reduction` tells which functions take `r`.
fn sigmoid_calls<'t>(
    f: &SigmoidFocal,
    xs: &[f32],
    ts: impl Into<Targets<'t>>,
    r: Reduction,
    out_len: usize,
    up_len: usize,
) -> Vec<(Outcome, bool)> {
    let ts: Targets = ts.into();
    let mut v = Vec::new();
    let check = |name: &'static str, res: Result<(), FocalError>, buf: &[f32]| {
        if res.is_err() {
            assert!(
                untouched(buf),
                "{name}: wrote to its output buffer before failing with {res:?}"
            );
        }
        (name, res)
    };
    let mut out = vec![sentinel(); out_len];
    let res = f.loss(xs, ts, r).map(|_| ());
    v.push(((("loss"), res), true));
    let res = f.loss_elementwise(xs, ts, &mut out);
    v.push((check("loss_elementwise", res, &out), false));
    let mut out = vec![sentinel(); out_len];
    let res = f.grad(xs, ts, r, 1.0, &mut out);
    v.push((check("grad", res, &out), true));
    let mut out = vec![sentinel(); out_len];
    let up = vec![1.0f32; up_len];
    let res = f.grad_elementwise(xs, ts, &up, &mut out);
    v.push((check("grad_elementwise", res, &out), false));
    let mut out = vec![sentinel(); out_len];
    let res = f.loss_and_grad(xs, ts, r, &mut out).map(|_| ());
    v.push((check("loss_and_grad", res, &out), true));
    let mut x2 = xs.to_vec();
    let res = f.loss_and_grad_in_place(&mut x2, ts, r).map(|_| ());
    if res.is_err() {
        assert_eq!(
            bits(&x2),
            bits(xs),
            "loss_and_grad_in_place: logits changed before failing"
        );
    }
    v.push((("loss_and_grad_in_place", res), true));
    v
}

/// Same for softmax; `out_len` is the gradient length, `rows_len` the per-row output and
/// upstream length.
#[allow(clippy::too_many_arguments)]
fn softmax_calls<L: ClassIndex>(
    f: &SoftmaxFocal,
    z: &[f32],
    c: usize,
    labels: &[L],
    r: Reduction,
    out_len: usize,
    rows_len: usize,
) -> Vec<(Outcome, bool)> {
    let mut v = Vec::new();
    let check = |name: &'static str, res: Result<(), FocalError>, buf: &[f32]| {
        if res.is_err() {
            assert!(
                untouched(buf),
                "{name}: wrote to its output buffer before failing with {res:?}"
            );
        }
        (name, res)
    };
    v.push((("loss", f.loss(z, c, labels, r).map(|_| ())), true));
    let mut rows_out = vec![sentinel(); rows_len];
    let res = f.loss_per_row(z, c, labels, &mut rows_out);
    v.push((check("loss_per_row", res, &rows_out), false));
    let mut out = vec![sentinel(); out_len];
    let res = f.grad(z, c, labels, r, 1.0, &mut out);
    v.push((check("grad", res, &out), true));
    let mut out = vec![sentinel(); out_len];
    let up = vec![1.0f32; rows_len];
    let res = f.grad_per_row(z, c, labels, &up, &mut out);
    v.push((check("grad_per_row", res, &out), false));
    let mut out = vec![sentinel(); out_len];
    let res = f.loss_and_grad(z, c, labels, r, &mut out).map(|_| ());
    v.push((check("loss_and_grad", res, &out), true));
    let mut z2 = z.to_vec();
    let res = f.loss_and_grad_in_place(&mut z2, c, labels, r).map(|_| ());
    if res.is_err() {
        assert_eq!(
            bits(&z2),
            bits(z),
            "loss_and_grad_in_place: logits changed before failing"
        );
    }
    v.push((("loss_and_grad_in_place", res), true));
    v
}

/// Every listed call (those taking a reduction only, if `only_reduced`) fails with `want`.
fn expect_all(calls: &[(Outcome, bool)], want: &FocalError, only_reduced: bool, ctx: &str) {
    let mut n = 0;
    for ((name, res), reduced) in calls {
        if only_reduced && !reduced {
            continue;
        }
        n += 1;
        match res {
            Err(e) => assert!(same(e, want), "{ctx}: {name} gave {e:?}, want {want:?}"),
            Ok(()) => panic!("{ctx}: {name} succeeded, want {want:?}"),
        }
    }
    assert!(n > 0);
    check_index_and_display(want);
}

fn expect_ok(calls: &[(Outcome, bool)], ctx: &str) {
    for ((name, res), _) in calls {
        assert!(res.is_ok(), "{ctx}: {name} gave {res:?}");
    }
}

/// `index()` is the data index where there is one, and `Display` mentions it.
fn check_index_and_display(e: &FocalError) {
    let want = match *e {
        FocalError::InvalidClassAlpha { index, .. }
        | FocalError::LabelOutOfRange { index, .. }
        | FocalError::TargetOutOfRange { index, .. }
        | FocalError::ProbabilityOutOfRange { index, .. } => Some(index),
        _ => None,
    };
    assert_eq!(e.index(), want, "{e:?}: index()");
    let text = format!("{e}");
    assert!(!text.is_empty());
    if let Some(i) = want {
        assert!(
            text.contains(&i.to_string()),
            "Display of {e:?} does not mention index {i}: {text:?}"
        );
    }
    if let FocalError::LengthMismatch {
        expected, found, ..
    } = *e
    {
        assert!(
            text.contains(&expected.to_string()) && text.contains(&found.to_string()),
            "Display of {e:?}: {text:?}"
        );
    }
    // core::error::Error is implemented.
    let _: &dyn core::error::Error = e;
}

const N: usize = 37;

fn good_sigmoid() -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(1);
    (
        (0..N).map(|_| rng.logit()).collect(),
        (0..N).map(|_| rng.target()).collect(),
    )
}

#[test]
fn sigmoid_parameter_errors() {
    let (xs, ts) = good_sigmoid();
    for b in backends() {
        let base = SigmoidFocal::new().backend(b);
        for a in [-0.1f32, 1.5, f32::NAN, f32::INFINITY, -0.0 - 1e-7] {
            let calls = sigmoid_calls(&base.alpha(Some(a)), &xs, &ts, Reduction::Sum, N, N);
            expect_all(
                &calls,
                &FocalError::InvalidAlpha { value: a },
                false,
                &format!("{b:?} alpha {a}"),
            );
        }
        for g in [-1.0f32, -1e-30, f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let calls = sigmoid_calls(&base.gamma(g), &xs, &ts, Reduction::Sum, N, N);
            expect_all(
                &calls,
                &FocalError::InvalidGamma { value: g },
                false,
                &format!("{b:?} gamma {g}"),
            );
        }
        for d in [0.0f32, -0.0, -2.0, f32::NAN, f32::INFINITY] {
            let calls = sigmoid_calls(&base, &xs, &ts, Reduction::Normalize(d), N, N);
            expect_all(
                &calls,
                &FocalError::InvalidNormalizer { value: d },
                true,
                &format!("{b:?} normalizer {d}"),
            );
        }
        // Boundary values are valid.
        for f in [
            base.alpha(Some(0.0)),
            base.alpha(Some(1.0)),
            base.alpha(None),
            base.gamma(0.0),
        ] {
            expect_ok(
                &sigmoid_calls(&f, &xs, &ts, Reduction::Normalize(1e-30), N, N),
                &format!("{f:?}"),
            );
        }
    }
}

#[test]
fn sigmoid_length_and_target_errors() {
    let (xs, ts) = good_sigmoid();
    for b in backends() {
        let f = SigmoidFocal::new().backend(b);
        // targets shorter / longer
        for tl in [N - 1, N + 1, 0] {
            let ts2: Vec<f32> = (0..tl).map(|i| ts[i % N]).collect();
            let calls = sigmoid_calls(&f, &xs, &ts2, Reduction::Mean, N, N);
            for ((name, res), _) in &calls {
                match res {
                    Err(FocalError::LengthMismatch {
                        expected, found, ..
                    }) => {
                        assert_eq!((*expected, *found), (N, tl), "{b:?} {name}: targets length")
                    }
                    other => panic!("{b:?} {name}: targets of length {tl}: {other:?}"),
                }
            }
        }
        // output / gradient / upstream buffers of the wrong length
        for (out_len, up_len) in [(N - 1, N), (N + 3, N), (0, N), (N, N - 1), (N, N + 1)] {
            let calls = sigmoid_calls(&f, &xs, &ts, Reduction::Sum, out_len, up_len);
            for ((name, res), _) in &calls {
                let needs_out = !matches!(*name, "loss" | "loss_and_grad_in_place");
                let needs_up = *name == "grad_elementwise";
                let bad = (needs_out && out_len != N) || (needs_up && up_len != N);
                match res {
                    Err(FocalError::LengthMismatch {
                        expected,
                        found,
                        what,
                    }) => {
                        assert!(bad, "{b:?} {name}: unexpected {what} mismatch");
                        assert_eq!(*expected, N, "{b:?} {name}");
                        assert!(
                            (*found == out_len && out_len != N)
                                || (*found == up_len && up_len != N),
                            "{b:?} {name}: found {found}"
                        );
                        check_index_and_display(res.as_ref().unwrap_err());
                    }
                    Ok(()) => assert!(!bad, "{b:?} {name}: out {out_len} up {up_len} accepted"),
                    other => panic!("{b:?} {name}: {other:?}"),
                }
            }
        }
        // targets outside [0, 1] or NaN: the first offending index is reported
        for (pos, bad) in [
            (0usize, -0.5f32),
            (5, 1.0 + 1e-7),
            (17, f32::NAN),
            (N - 1, f32::INFINITY),
            (N - 1, -1e-45),
        ] {
            let mut ts2 = ts.clone();
            ts2[pos] = bad;
            if pos + 3 < N {
                ts2[pos + 3] = 2.0; // a later bad target must not be the one reported
            }
            let calls = sigmoid_calls(&f, &xs, &ts2, Reduction::Mean, N, N);
            expect_all(
                &calls,
                &FocalError::TargetOutOfRange {
                    index: pos,
                    value: bad,
                },
                false,
                &format!("{b:?} target {bad} at {pos}"),
            );
        }
        // NaN/inf logits are data, not errors; targets exactly 0 and 1 are valid
        let mut xs2 = xs.clone();
        xs2[3] = f32::NAN;
        xs2[4] = f32::NEG_INFINITY;
        let ts2: Vec<f32> = (0..N).map(|i| (i % 2) as f32).collect();
        expect_ok(
            &sigmoid_calls(&f, &xs2, &ts2, Reduction::Sum, N, N),
            "NaN logits",
        );
    }
}

#[test]
fn sigmoid_validation_order() {
    let (xs, ts) = good_sigmoid();
    let mut bad_ts = ts.clone();
    bad_ts[2] = 7.0;
    let short_ts = &ts[..N - 1];
    for b in backends() {
        let f = SigmoidFocal::new().backend(b);
        let both = f.alpha(Some(2.0)).gamma(-1.0);
        expect_all(
            &sigmoid_calls(&both, &xs, &ts, Reduction::Normalize(-1.0), N, N),
            &FocalError::InvalidAlpha { value: 2.0 },
            false,
            "alpha before gamma and normalizer",
        );
        expect_all(
            &sigmoid_calls(
                &f.gamma(-1.0),
                &xs,
                short_ts,
                Reduction::Normalize(-1.0),
                N,
                N,
            ),
            &FocalError::InvalidGamma { value: -1.0 },
            false,
            "gamma before normalizer and lengths",
        );
        expect_all(
            &sigmoid_calls(&f, &xs, short_ts, Reduction::Normalize(0.0), N, N),
            &FocalError::InvalidNormalizer { value: 0.0 },
            true,
            "normalizer before lengths",
        );
        let calls = sigmoid_calls(&f, &xs, &bad_ts, Reduction::Sum, N + 1, N);
        for ((name, res), _) in &calls {
            let want_len = !matches!(*name, "loss" | "loss_and_grad_in_place");
            match res {
                Err(FocalError::LengthMismatch { .. }) => assert!(want_len, "{name}"),
                Err(e @ FocalError::TargetOutOfRange { index: 2, .. }) => assert!(
                    !want_len,
                    "{b:?} {name}: output buffer of length {} for {N} logits and a bad target at 2 gave {e:?}: lengths must be checked before data",
                    N + 1
                ),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}

fn good_softmax(c: usize, rows: usize) -> (Vec<f32>, Vec<i64>) {
    let mut rng = Rng::new(2 + c as u64);
    (
        (0..rows * c).map(|_| rng.logit()).collect(),
        (0..rows).map(|_| rng.below(c) as i64).collect(),
    )
}

#[test]
fn softmax_parameter_errors() {
    let (c, rows) = (5, 9);
    let (z, labels) = good_softmax(c, rows);
    let pc_ok = [0.0f32, 0.2, 0.5, 0.9, 1.0];
    for b in backends() {
        let base = SoftmaxFocal::new().backend(b);
        let call = |f: &SoftmaxFocal, r| softmax_calls(f, &z, c, &labels, r, rows * c, rows);
        for a in [-0.1f32, 1.0 + 1e-7, f32::NAN, f32::NEG_INFINITY] {
            expect_all(
                &call(&base.alpha(Alpha::Scalar(a)), Reduction::Sum),
                &FocalError::InvalidAlpha { value: a },
                false,
                &format!("{b:?} scalar alpha {a}"),
            );
        }
        for len in [0usize, 4, 6] {
            let pc = vec![0.5f32; len];
            expect_all(
                &call(&base.alpha(Alpha::PerClass(&pc)), Reduction::Sum),
                &FocalError::ClassAlphaLength {
                    expected: c,
                    found: len,
                },
                false,
                &format!("{b:?} per-class alpha of length {len}"),
            );
        }
        for (pos, bad) in [(0usize, -1.0f32), (2, f32::NAN), (4, 1.5)] {
            let mut pc = pc_ok;
            pc[pos] = bad;
            if pos + 1 < c {
                pc[pos + 1] = 3.0; // later bad entries are not reported
            }
            expect_all(
                &call(&base.alpha(Alpha::PerClass(&pc)), Reduction::Sum),
                &FocalError::InvalidClassAlpha {
                    index: pos,
                    value: bad,
                },
                false,
                &format!("{b:?} class alpha {bad} at {pos}"),
            );
        }
        for g in [-0.5f32, f32::NAN, f32::INFINITY] {
            expect_all(
                &call(&base.gamma(g), Reduction::Sum),
                &FocalError::InvalidGamma { value: g },
                false,
                &format!("{b:?} gamma {g}"),
            );
        }
        for d in [0.0f32, -1.0, f32::NAN, f32::NEG_INFINITY] {
            expect_all(
                &call(&base, Reduction::Normalize(d)),
                &FocalError::InvalidNormalizer { value: d },
                true,
                &format!("{b:?} normalizer {d}"),
            );
        }
        expect_ok(
            &call(&base.alpha(Alpha::PerClass(&pc_ok)), Reduction::MeanValid),
            "valid per-class alpha",
        );
    }
}

/// Each output or upstream slice of the wrong length is named, with the length it should
/// have, in argument order (`upstream` before `grad`): the sigmoid's methods, the softmax's in
/// both layouts and with label smoothing, and the chunk APIs' gradients.
#[test]
fn length_errors_name_the_slice_in_argument_order() {
    let mismatch = |what, expected, found| {
        Err(FocalError::LengthMismatch {
            what,
            expected,
            found,
        })
    };
    let (x, t) = good_sigmoid();
    for b in backends() {
        let f = SigmoidFocal::new().backend(b);
        let (mut short, mut long, mut full) = (vec![0.0f32; N - 1], vec![0.0; N + 1], vec![0.0; N]);
        let (ones, up_long) = (vec![1.0f32; N], vec![1.0f32; N + 1]);
        let r = Reduction::Mean;
        let cases = [
            (
                f.loss_elementwise(&x, &t, &mut short),
                mismatch("out", N, N - 1),
            ),
            (
                f.grad(&x, &t, r, 1.0, &mut long),
                mismatch("grad", N, N + 1),
            ),
            (
                f.loss_and_grad(&x, &t, r, &mut short).map(|_| ()),
                mismatch("grad", N, N - 1),
            ),
            // Both wrong: upstream first.
            (
                f.grad_elementwise(&x, &t, &up_long, &mut short),
                mismatch("upstream", N, N + 1),
            ),
            (
                f.grad_elementwise(&x, &t, &ones, &mut long),
                mismatch("grad", N, N + 1),
            ),
            (f.grad_elementwise(&x, &t, &ones, &mut full), Ok(())),
            (
                f.chunks(N, r)
                    .unwrap()
                    .loss_and_grad(&x, &t, &mut long)
                    .map(|_| ()),
                mismatch("grad", N, N + 1),
            ),
            (
                f.chunks(N, r).unwrap().grad(&x, &t, 1.0, &mut short),
                mismatch("grad", N, N - 1),
            ),
        ];
        for (i, (got, want)) in cases.into_iter().enumerate() {
            assert_eq!(got, want, "{b:?} sigmoid case {i}");
        }
    }

    let (c, rows) = (3, 4);
    let (z, labels) = good_softmax(c, rows);
    let n = rows * c;
    for b in backends() {
        for eps in [0.0f32, 0.1] {
            let f = SoftmaxFocal::new().label_smoothing(eps).backend(b);
            let cf = f.channels_first(2);
            let (mut short, mut long) = (vec![0.0f32; n - 1], vec![0.0f32; n + 1]);
            let (mut rows_short, up_long) = (vec![0.0f32; rows - 1], vec![1.0f32; rows + 1]);
            let ones = vec![1.0f32; rows];
            let mut full = vec![0.0f32; n];
            let r = Reduction::Mean;
            let ctx = format!("{b:?} eps {eps}");
            let (out, grad, up) = ("out", "grad", "upstream");
            let cases = [
                (
                    f.loss_per_row(&z, c, &labels, &mut rows_short),
                    mismatch(out, rows, rows - 1),
                ),
                (
                    cf.loss_per_position(&z, c, &labels, &mut rows_short),
                    mismatch(out, rows, rows - 1),
                ),
                (
                    f.grad(&z, c, &labels, r, 1.0, &mut long),
                    mismatch(grad, n, n + 1),
                ),
                (
                    cf.loss_and_grad(&z, c, &labels, r, &mut short).map(|_| ()),
                    mismatch(grad, n, n - 1),
                ),
                // Both wrong: upstream first.
                (
                    f.grad_per_row(&z, c, &labels, &up_long, &mut short),
                    mismatch(up, rows, rows + 1),
                ),
                (
                    cf.grad_per_position(&z, c, &labels, &up_long, &mut long),
                    mismatch(up, rows, rows + 1),
                ),
                (
                    f.grad_per_row(&z, c, &labels, &ones, &mut long),
                    mismatch(grad, n, n + 1),
                ),
                // A per-row slice of the right length is no gradient's.
                (f.grad_per_row(&z, c, &labels, &ones, &mut full), Ok(())),
            ];
            for (i, (got, want)) in cases.into_iter().enumerate() {
                assert_eq!(got, want, "{ctx} case {i}");
            }
            let plan = f.chunks(c, &labels, r).unwrap();
            assert!(plan.loss(&z, &labels).is_ok(), "{ctx}");
            assert_eq!(
                plan.loss_and_grad(&z, &labels, &mut short).map(|_| ()),
                mismatch("grad", n, n - 1),
                "{ctx}"
            );
        }
    }
}

#[test]
fn softmax_shape_and_label_errors() {
    let (c, rows) = (4, 10);
    let (z, labels) = good_softmax(c, rows);
    for b in backends() {
        let f = SoftmaxFocal::new().backend(b);
        // num_classes 0 or not dividing the logits
        for bad_c in [0usize, 3, 7, rows * c + 1] {
            let calls = softmax_calls(&f, &z, bad_c, &labels, Reduction::Sum, rows * c, rows);
            expect_all(
                &calls,
                &FocalError::InvalidNumClasses {
                    num_classes: bad_c,
                    len: rows * c,
                },
                false,
                &format!("{b:?} C {bad_c}"),
            );
        }
        // labels of the wrong length
        for ll in [rows - 1, rows + 1, 0] {
            let l2: Vec<i64> = (0..ll).map(|i| labels[i % rows]).collect();
            let calls = softmax_calls(&f, &z, c, &l2, Reduction::Sum, rows * c, rows);
            for ((name, res), _) in &calls {
                match res {
                    Err(FocalError::LengthMismatch {
                        expected, found, ..
                    }) => {
                        assert_eq!((*expected, *found), (rows, ll), "{b:?} {name}")
                    }
                    other => panic!("{b:?} {name}: labels of length {ll}: {other:?}"),
                }
            }
        }
        // per-row output / gradient / upstream of the wrong length
        for (out_len, rows_len) in [
            (rows * c - 1, rows),
            (rows * c + 1, rows),
            (rows * c, rows - 1),
            (rows * c, rows + 1),
        ] {
            let calls = softmax_calls(&f, &z, c, &labels, Reduction::Sum, out_len, rows_len);
            for ((name, res), _) in &calls {
                let needs_out = matches!(*name, "grad" | "grad_per_row" | "loss_and_grad");
                let needs_rows = matches!(*name, "loss_per_row" | "grad_per_row");
                let bad = (needs_out && out_len != rows * c) || (needs_rows && rows_len != rows);
                match res {
                    Err(FocalError::LengthMismatch {
                        expected, found, ..
                    }) => {
                        assert!(bad, "{b:?} {name}: unexpected mismatch");
                        assert!(
                            (*expected, *found) == (rows * c, out_len)
                                || (*expected, *found) == (rows, rows_len),
                            "{b:?} {name}: expected {expected} found {found}"
                        );
                    }
                    Ok(()) => assert!(!bad, "{b:?} {name}: accepted out {out_len} rows {rows_len}"),
                    other => panic!("{b:?} {name}: {other:?}"),
                }
            }
        }
        // labels out of range: the first offending row, the label widened to i128
        for (pos, bad) in [(0usize, 4i64), (3, -1), (9, i64::MIN), (5, -100)] {
            let mut l2 = labels.clone();
            l2[pos] = bad;
            if pos + 1 < rows {
                l2[pos + 1] = 99;
            }
            let calls = softmax_calls(&f, &z, c, &l2, Reduction::Sum, rows * c, rows);
            expect_all(
                &calls,
                &FocalError::LabelOutOfRange {
                    index: pos,
                    label: bad as i128,
                    num_classes: c,
                },
                false,
                &format!("{b:?} label {bad} at row {pos}"),
            );
        }
    }
}

#[test]
fn softmax_validation_order() {
    let (c, rows) = (4, 6);
    let (z, mut labels) = good_softmax(c, rows);
    labels[1] = 17;
    for b in backends() {
        let f = SoftmaxFocal::new().backend(b);
        // (where ClassAlphaLength falls, with the alpha parameters or with the shapes it is
        // compared to, is left open by the contract and not checked)
        let pc = [0.5f32, 1.5, 0.5, 0.5];
        expect_all(
            &softmax_calls(
                &f.alpha(Alpha::PerClass(&pc)).gamma(-1.0),
                &z,
                3,
                &labels,
                Reduction::Sum,
                1,
                1,
            ),
            &FocalError::InvalidClassAlpha {
                index: 1,
                value: 1.5,
            },
            false,
            "alpha before gamma and shapes",
        );
        expect_all(
            &softmax_calls(
                &f.alpha(Alpha::Scalar(-2.0)).gamma(-1.0),
                &z,
                3,
                &labels,
                Reduction::Sum,
                1,
                1,
            ),
            &FocalError::InvalidAlpha { value: -2.0 },
            false,
            "scalar alpha before gamma and shapes",
        );
        expect_all(
            &softmax_calls(
                &f.gamma(f32::NAN),
                &z,
                3,
                &labels,
                Reduction::Normalize(0.0),
                1,
                1,
            ),
            &FocalError::InvalidGamma { value: f32::NAN },
            false,
            "gamma before normalizer and shapes",
        );
        expect_all(
            &softmax_calls(&f, &z, 0, &labels, Reduction::Normalize(-3.0), 1, 1),
            &FocalError::InvalidNormalizer { value: -3.0 },
            true,
            "normalizer before shapes",
        );
        expect_all(
            &softmax_calls(&f, &z, 5, &labels, Reduction::Sum, rows * c, rows),
            &FocalError::InvalidNumClasses {
                num_classes: 5,
                len: rows * c,
            },
            false,
            "num_classes before labels",
        );
        let calls = softmax_calls(&f, &z, c, &labels, Reduction::Sum, rows * c + 1, rows);
        for ((name, res), _) in &calls {
            let want_len = matches!(*name, "grad" | "grad_per_row" | "loss_and_grad");
            match res {
                Err(FocalError::LengthMismatch { .. }) => assert!(want_len, "{name}"),
                Err(FocalError::LabelOutOfRange { index: 1, .. }) => {
                    assert!(!want_len, "{name}: lengths before labels")
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}

/// Every label type; negative labels; the ignore index matches signed labels only when equal
/// as integers (-100 never matches an unsigned label); u64::MAX is reported exactly.
#[test]
fn label_types_and_ignore_index() {
    let c = 200;
    let rows = 3;
    let mut rng = Rng::new(3);
    let z: Vec<f32> = (0..rows * c).map(|_| rng.range(-3.0, 3.0)).collect();
    for b in backends() {
        let f = SoftmaxFocal::new().backend(b);
        let fi = f.ignore_index(Some(-100));
        let ok = |r: Result<f32, FocalError>| r.map(|_| ());
        assert!(ok(f.loss(&z, c, &[1u8, 199, 0], Reduction::Sum)).is_ok());
        assert!(ok(f.loss(&z, c, &[1u16, 199, 0], Reduction::Sum)).is_ok());
        assert!(ok(f.loss(&z, c, &[1u32, 199, 0], Reduction::Sum)).is_ok());
        assert!(ok(f.loss(&z, c, &[1u64, 199, 0], Reduction::Sum)).is_ok());
        assert!(ok(f.loss(&z, c, &[1usize, 199, 0], Reduction::Sum)).is_ok());
        assert!(ok(f.loss(&z, c, &[1i32, 199, 0], Reduction::Sum)).is_ok());
        assert!(ok(f.loss(&z, c, &[1i64, 199, 0], Reduction::Sum)).is_ok());
        let err = |r: Result<f32, FocalError>| r.unwrap_err();
        let lor = |index, label: i128| FocalError::LabelOutOfRange {
            index,
            label,
            num_classes: c,
        };
        for (got, want) in [
            (
                err(f.loss(&z, c, &[0u8, 200, 255], Reduction::Sum)),
                lor(1, 200),
            ),
            (
                err(f.loss(&z, c, &[0u16, 1, 65535], Reduction::Sum)),
                lor(2, 65535),
            ),
            (
                err(f.loss(&z, c, &[u32::MAX, 1, 2], Reduction::Sum)),
                lor(0, u32::MAX as i128),
            ),
            (
                err(f.loss(&z, c, &[0u64, u64::MAX, 2], Reduction::Sum)),
                lor(1, u64::MAX as i128),
            ),
            (
                err(f.loss(&z, c, &[0usize, 1, usize::MAX], Reduction::Sum)),
                lor(2, usize::MAX as i128),
            ),
            (
                err(f.loss(&z, c, &[0i32, -1, 2], Reduction::Sum)),
                lor(1, -1),
            ),
            (
                err(f.loss(&z, c, &[i32::MIN, 1, 2], Reduction::Sum)),
                lor(0, i32::MIN as i128),
            ),
            (
                err(f.loss(&z, c, &[0i64, 1, -100], Reduction::Sum)),
                lor(2, -100),
            ),
            (
                err(f.loss(&z, c, &[0i64, i64::MAX, 2], Reduction::Sum)),
                lor(1, i64::MAX as i128),
            ),
            // with ignore_index -100: -100 is ignored, other negatives are still errors
            (
                err(fi.loss(&z, c, &[-100i64, -99, 2], Reduction::Sum)),
                lor(1, -99),
            ),
            (
                err(fi.loss(&z, c, &[-100i32, 1, -101], Reduction::Sum)),
                lor(2, -101),
            ),
            // -100 does not match any unsigned label: u64 2^64-100 is out of range
            (
                err(fi.loss(&z, c, &[0u64, 1, u64::MAX - 99], Reduction::Sum)),
                lor(2, (u64::MAX - 99) as i128),
            ),
        ] {
            assert!(same(&got, &want), "{b:?}: {got:?}, want {want:?}");
            check_index_and_display(&got);
        }
        // -100 ignored with signed labels: the row contributes nothing.
        let l_ign = fi.loss(&z, c, &[-100i64, 5, 7], Reduction::Sum).unwrap();
        let l_two = f.loss(&z[c..], c, &[5i64, 7], Reduction::Sum).unwrap();
        assert_eq!(l_ign.to_bits(), l_two.to_bits(), "{b:?}: ignored row");
        let l_ign32 = fi.loss(&z, c, &[-100i32, 5, 7], Reduction::Sum).unwrap();
        assert_eq!(
            l_ign32.to_bits(),
            l_two.to_bits(),
            "{b:?}: ignored row, i32"
        );
        // u8 label 156 (the byte of -100) is a class, not the ignore index.
        let l_u8 = fi.loss(&z, c, &[156u8, 5, 7], Reduction::Sum).unwrap();
        let l_i64 = f.loss(&z, c, &[156i64, 5, 7], Reduction::Sum).unwrap();
        assert_eq!(
            l_u8.to_bits(),
            l_i64.to_bits(),
            "{b:?}: u8 156 is class 156"
        );
        assert!(l_u8 > l_two, "{b:?}: the u8 row counts");
        // ... and with C <= 156 it is out of range, not ignored.
        let got = err(fi.loss(&z[..100 * 3], 100, &[1u8, 156, 2], Reduction::Sum));
        let want = FocalError::LabelOutOfRange {
            index: 1,
            label: 156,
            num_classes: 100,
        };
        assert!(same(&got, &want), "{b:?}: {got:?}");
        // An in-range ignore index ignores that class.
        let f0 = f.ignore_index(Some(0));
        let l0 = f0.loss(&z, c, &[0u32, 5, 7], Reduction::Sum).unwrap();
        assert_eq!(l0.to_bits(), l_two.to_bits(), "{b:?}: ignore_index 0");
    }
}

#[test]
fn backend_availability() {
    for b in Backend::ALL {
        let f = SigmoidFocal::new().backend(b);
        let (xs, ts) = good_sigmoid();
        if b.is_available() {
            assert!(f.loss(&xs, &ts, Reduction::Sum).is_ok(), "{b:?}");
            continue;
        }
        // A backend this CPU lacks: refused by every function, nothing written.
        let want = FocalError::BackendUnavailable { backend: b };
        expect_all(
            &sigmoid_calls(&f, &xs, &ts, Reduction::Sum, N, N),
            &want,
            false,
            &format!("{b:?}"),
        );
        let (z, labels) = good_softmax(3, 4);
        let s = SoftmaxFocal::new().backend(b);
        expect_all(
            &softmax_calls(&s, &z, 3, &labels, Reduction::Sum, 12, 4),
            &want,
            false,
            &format!("{b:?}"),
        );
        // parameters are checked before the backend, lengths after it
        expect_all(
            &sigmoid_calls(&f.gamma(-1.0), &xs, &ts, Reduction::Sum, N, N),
            &FocalError::InvalidGamma { value: -1.0 },
            false,
            "gamma before backend",
        );
        expect_all(
            &sigmoid_calls(&f, &xs, &ts[1..], Reduction::Sum, N, N),
            &want,
            false,
            "backend before lengths",
        );
    }
    assert!(Backend::Scalar.is_available());
    assert!(
        Backend::detect().is_available(),
        "detect() picks an available backend"
    );
    let mut names: Vec<&str> = Backend::ALL.iter().map(|b| b.name()).collect();
    names.sort_unstable();
    assert_eq!(names, ["avx2", "avx512", "portable", "scalar"]);
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
        let avx512 = std::is_x86_feature_detected!("avx512f");
        eprintln!(
            "available: {:?}; cpu avx2+fma {avx2}, avx512f {avx512}",
            Backend::ALL
                .iter()
                .filter(|b| b.is_available())
                .collect::<Vec<_>>()
        );
        // A backend is never offered on a CPU without its instructions ...
        if Backend::Avx2.is_available() {
            assert!(avx2, "Avx2 available without avx2+fma");
        }
        if Backend::Avx512.is_available() {
            assert!(avx512, "Avx512 available without avx512f");
        }
        // ... and is offered where the CPU has them (the full AVX-512 set of current CPUs,
        // a superset of what the kernels may need), as is the portable backend.
        let avx512_full = avx512
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512dq")
            && std::is_x86_feature_detected!("avx512vl");
        assert_eq!(
            Backend::Avx2.is_available(),
            avx2,
            "Avx2.is_available() vs cpu"
        );
        if avx512_full {
            assert!(
                Backend::Avx512.is_available(),
                "cpu has AVX-512 F/BW/DQ/VL but Avx512 is not available"
            );
        }
        assert!(
            Backend::Portable.is_available(),
            "the portable backend runs everywhere"
        );
    }
}

#[test]
fn torchblocks_errors() {
    let n = 11;
    let mut rng = Rng::new(4);
    let probs: Vec<f32> = (0..n).map(|_| rng.unit() as f32).collect();
    let ts: Vec<f32> = (0..n).map(|_| rng.target()).collect();
    let run_b =
        |m: &BinaryFocalLoss, p: &[f32], t: &[f32], glen: usize| -> Vec<Result<(), FocalError>> {
            let mut g = vec![sentinel(); glen];
            let r1 = m.loss(p, t).map(|_| ());
            let r2 = m.loss_and_grad(p, t, &mut g).map(|_| ());
            if r2.is_err() {
                assert!(untouched(&g), "BinaryFocalLoss wrote before failing");
            }
            vec![r1, r2]
        };
    let d = BinaryFocalLoss::default();
    let cases: Vec<(BinaryFocalLoss, Vec<f32>, Vec<f32>, FocalError)> = vec![
        (
            BinaryFocalLoss { alpha: 1.5, ..d },
            probs.clone(),
            ts.clone(),
            FocalError::InvalidAlpha { value: 1.5 },
        ),
        (
            BinaryFocalLoss { gamma: -1.0, ..d },
            probs.clone(),
            ts.clone(),
            FocalError::InvalidGamma { value: -1.0 },
        ),
        (
            BinaryFocalLoss {
                epsilon: -1e-9,
                ..d
            },
            probs.clone(),
            ts.clone(),
            FocalError::InvalidEpsilon { value: -1e-9 },
        ),
        (
            BinaryFocalLoss {
                epsilon: f32::INFINITY,
                ..d
            },
            probs.clone(),
            ts.clone(),
            FocalError::InvalidEpsilon {
                value: f32::INFINITY,
            },
        ),
        (
            d,
            probs.clone(),
            ts[..n - 1].to_vec(),
            FocalError::LengthMismatch {
                what: "",
                expected: n,
                found: n - 1,
            },
        ),
        (
            d,
            {
                let mut p = probs.clone();
                p[4] = 1.5;
                p[6] = -1.0;
                p
            },
            ts.clone(),
            FocalError::ProbabilityOutOfRange {
                index: 4,
                value: 1.5,
            },
        ),
        (
            d,
            {
                let mut p = probs.clone();
                p[0] = f32::NAN;
                p
            },
            ts.clone(),
            FocalError::ProbabilityOutOfRange {
                index: 0,
                value: f32::NAN,
            },
        ),
        (
            d,
            probs.clone(),
            {
                let mut t = ts.clone();
                t[9] = -0.25;
                t
            },
            FocalError::TargetOutOfRange {
                index: 9,
                value: -0.25,
            },
        ),
    ];
    for (m, p, t, want) in &cases {
        for r in run_b(m, p, t, n) {
            let e = r.expect_err("must fail");
            match (want, &e) {
                (
                    FocalError::LengthMismatch {
                        expected, found, ..
                    },
                    FocalError::LengthMismatch {
                        expected: e2,
                        found: f2,
                        ..
                    },
                ) => {
                    assert_eq!((expected, found), (e2, f2))
                }
                _ => assert!(same(&e, want), "{m:?}: {e:?}, want {want:?}"),
            }
            check_index_and_display(&e);
        }
    }
    // gradient buffer of the wrong length
    let mut g = vec![sentinel(); n + 1];
    assert!(matches!(
        d.loss_and_grad(&probs, &ts, &mut g),
        Err(FocalError::LengthMismatch { expected, found, .. }) if expected == n && found == n + 1
    ));
    assert!(untouched(&g));
    // probabilities exactly 0 and 1 are valid
    assert!(
        d.loss(&[0.0, 1.0, 0.0, 1.0], &[0.0, 1.0, 1.0, 0.0])
            .unwrap()
            .is_finite()
    );

    // FocalLoss (softmax on logits)
    let (c, rows) = (4, 6);
    let (z, labels) = good_softmax(c, rows);
    let fd = FocalLoss::default();
    let run_f = |m: &FocalLoss,
                 z: &[f32],
                 c: usize,
                 l: &[i64],
                 glen: usize|
     -> Vec<Result<(), FocalError>> {
        let mut g = vec![sentinel(); glen];
        let r1 = m.loss(z, c, l).map(|_| ());
        let r2 = m.loss_and_grad(z, c, l, &mut g).map(|_| ());
        if r2.is_err() {
            assert!(untouched(&g), "FocalLoss wrote before failing");
        }
        vec![r1, r2]
    };
    let pc_short = [0.5f32; 3];
    let pc_bad = [0.5f32, 0.5, f32::NAN, 0.5];
    let mut l_bad = labels.clone();
    l_bad[2] = 4;
    let mut l_neg = labels.clone();
    l_neg[0] = -1;
    let cases: Vec<(FocalLoss, usize, Vec<i64>, FocalError)> = vec![
        (
            FocalLoss {
                alpha: Alpha::Scalar(-0.5),
                ..fd
            },
            c,
            labels.clone(),
            FocalError::InvalidAlpha { value: -0.5 },
        ),
        (
            FocalLoss {
                alpha: Alpha::PerClass(&pc_short),
                ..fd
            },
            c,
            labels.clone(),
            FocalError::ClassAlphaLength {
                expected: c,
                found: 3,
            },
        ),
        (
            FocalLoss {
                alpha: Alpha::PerClass(&pc_bad),
                ..fd
            },
            c,
            labels.clone(),
            FocalError::InvalidClassAlpha {
                index: 2,
                value: f32::NAN,
            },
        ),
        (
            FocalLoss {
                gamma: f32::NAN,
                ..fd
            },
            c,
            labels.clone(),
            FocalError::InvalidGamma { value: f32::NAN },
        ),
        (
            FocalLoss {
                epsilon: f32::NAN,
                ..fd
            },
            c,
            labels.clone(),
            FocalError::InvalidEpsilon { value: f32::NAN },
        ),
        (
            fd,
            5,
            labels.clone(),
            FocalError::InvalidNumClasses {
                num_classes: 5,
                len: rows * c,
            },
        ),
        (
            fd,
            0,
            labels.clone(),
            FocalError::InvalidNumClasses {
                num_classes: 0,
                len: rows * c,
            },
        ),
        (
            fd,
            c,
            l_bad,
            FocalError::LabelOutOfRange {
                index: 2,
                label: 4,
                num_classes: c,
            },
        ),
        (
            fd,
            c,
            l_neg,
            FocalError::LabelOutOfRange {
                index: 0,
                label: -1,
                num_classes: c,
            },
        ),
    ];
    for (m, cc, l, want) in &cases {
        for r in run_f(m, &z, *cc, l, rows * c) {
            let e = r.expect_err("must fail");
            assert!(same(&e, want), "{m:?}: {e:?}, want {want:?}");
            check_index_and_display(&e);
        }
    }
    for r in run_f(&fd, &z, c, &labels[1..], rows * c) {
        assert!(
            matches!(r, Err(FocalError::LengthMismatch { expected, found, .. }) if expected == rows && found == rows - 1)
        );
    }
    let mut g = vec![sentinel(); rows * c - 1];
    assert!(matches!(
        fd.loss_and_grad(&z, c, &labels, &mut g),
        Err(FocalError::LengthMismatch { .. })
    ));
    assert!(untouched(&g));
}

/// Asserts that the fused call and the reduced loss on targets `t` fail with the target
/// error at `pos` (`bad` is the value put there, for the message). They check the targets
/// differently: the fused call before its pass, the loss (which writes nothing) within it.
fn expect_target_error_at(f: &SigmoidFocal, xs: &[f32], t: &[f32], pos: usize, bad: f32) {
    let mut out = vec![0.0f32; xs.len()];
    let fused = f
        .loss_and_grad(xs, t, Reduction::Mean, &mut out)
        .map(|_| ());
    let loss = f.loss(xs, t, Reduction::Sum).map(|_| ());
    for res in [fused, loss] {
        match res {
            Err(FocalError::TargetOutOfRange { index, .. }) => {
                assert_eq!(index, pos, "{f:?}: bad target {bad} at {pos}")
            }
            other => panic!("{f:?}: bad target {bad} at {pos}: {other:?}"),
        }
    }
}

/// Asserts that `-0.0` (a valid target: it equals 0) at each of `at` in `ts` is accepted.
fn expect_negative_zero_accepted(f: &SigmoidFocal, xs: &[f32], ts: &[f32], at: &[usize]) {
    let mut t = ts.to_vec();
    for &i in at {
        t[i] = -0.0;
    }
    let mut out = vec![0.0f32; xs.len()];
    assert!(
        f.loss_and_grad(xs, &t, Reduction::Mean, &mut out).is_ok(),
        "{f:?}"
    );
    assert!(f.loss(xs, &t, Reduction::Sum).is_ok(), "{f:?}");
}

/// The reduced loss checks its targets within its pass and reads a NaN sum as a sign to look:
/// NaN logits with valid targets (`-0.0` among them) are a NaN loss, not an error; with a bad
/// target as well, the error names it, wherever the NaN logit is.
#[test]
fn loss_with_nan_logits_and_targets() {
    const LEN: usize = 700;
    let ts: Vec<f32> = (0..LEN)
        .map(|i| if i % 3 == 0 { -0.0 } else { 1.0 })
        .collect();
    for b in backends() {
        let f = SigmoidFocal::new().backend(b);
        for nan_at in [0, 63, 64, 650, LEN - 1] {
            let mut xs = vec![0.5f32; LEN];
            xs[nan_at] = f32::NAN;
            let loss = f.loss(&xs, &ts, Reduction::Mean).unwrap();
            assert!(loss.is_nan(), "{b:?}: NaN logit at {nan_at} gave {loss}");
            for bad_at in [0, 5, 64, 641, LEN - 1] {
                let mut t = ts.clone();
                t[bad_at] = 1.25;
                match f.loss(&xs, &t, Reduction::Mean) {
                    Err(FocalError::TargetOutOfRange { index, .. }) => {
                        assert_eq!(index, bad_at, "{b:?}, NaN logit at {nan_at}")
                    }
                    other => panic!("{b:?}: bad target at {bad_at}: {other:?}"),
                }
            }
        }
        let xs = vec![0.5f32; LEN];
        assert!(f.loss(&xs, &ts, Reduction::Mean).unwrap().is_finite());
    }
}

/// The target check reads several vectors per branch: a bad target at any position of a
/// long slice (every lane of several blocks, the partial vectors and the tail), alone or
/// followed by another bad one, is the one reported, on every backend.
#[test]
fn target_error_index_at_every_position() {
    const LEN: usize = 300;
    let xs = vec![0.5f32; LEN];
    let ts: Vec<f32> = (0..LEN).map(|i| (i % 7) as f32 / 6.0).collect();
    for b in backends() {
        let f = SigmoidFocal::new().backend(b);
        for pos in 0..LEN {
            let above_one = f32::from_bits(1.0f32.to_bits() + 1);
            for bad in [
                f32::NAN,
                -f32::NAN,
                -0.0 - 1e-45,
                1.5,
                above_one,
                f32::NEG_INFINITY,
            ] {
                let mut t = ts.clone();
                t[pos] = bad;
                if pos + 40 < LEN {
                    t[pos + 40] = 2.0;
                }
                expect_target_error_at(&f, &xs, &t, pos, bad);
            }
        }
        // In a full block or in the tail.
        expect_negative_zero_accepted(&f, &xs, &ts, &[0, 5, 77, 150, LEN - 1]);
    }
}

/// Long slices go through the check that reads several regions side by side: a bad target at
/// any position (in any region or in what is left over after them) is the one reported, also
/// when a later bad target sits in a region that is read first, on every backend.
#[test]
fn target_error_index_in_long_slices() {
    // 3 blocks in each of 8 regions for AVX-512 (blocks of 64), more for narrower lanes, and a
    // remainder that is not a whole number of vectors.
    const LEN: usize = 8 * 64 * 3 + 101;
    let xs = vec![0.5f32; LEN];
    let ts: Vec<f32> = (0..LEN).map(|i| (i % 5) as f32 / 4.0).collect();
    let above_one = f32::from_bits(1.0f32.to_bits() + 1);
    let bads = [f32::NAN, -1e-45, above_one, f32::INFINITY, -2.0];
    for b in backends() {
        let f = SigmoidFocal::new().backend(b);
        for pos in 0..LEN {
            let bad = bads[pos % bads.len()];
            let mut t = ts.clone();
            t[pos] = bad;
            let later = pos + (LEN - pos) / 2;
            if later > pos {
                t[later] = f32::NAN;
            }
            expect_target_error_at(&f, &xs, &t, pos, bad);
        }
        let zeros: Vec<usize> = (0..LEN).step_by(97).collect();
        expect_negative_zero_accepted(&f, &xs, &ts, &zeros);
    }
}

/// `Targets::checked` reports the first bad target as a call would, and a checked
/// `Targets` still goes through the parameter and length checks, on every backend.
#[test]
fn checked_targets() {
    let (xs, ts) = good_sigmoid();
    let above_one = f32::from_bits(1.0f32.to_bits() + 1);
    for (pos, bad) in [(0, f32::NAN), (3, 1.5), (N / 2, above_one), (N - 1, -1e-45)] {
        let mut t = ts.clone();
        t[pos] = bad;
        if pos + 1 < N {
            t[pos + 1] = 2.0;
        }
        let got = Targets::checked(&t).unwrap_err();
        let call = SigmoidFocal::new()
            .loss(&xs, &t, Reduction::Sum)
            .unwrap_err();
        assert!(same(&got, &call), "{got:?} vs {call:?}");
        assert_eq!(got.index(), Some(pos));
    }
    let mut t = ts.clone();
    t[5] = -0.0;
    assert!(Targets::checked(&t).is_ok());
    assert!(Targets::checked(&[]).is_ok());

    let checked = Targets::checked(&ts).unwrap();
    assert!(checked.is_checked() && checked.values() == &ts[..]);
    assert!(!Targets::from(&ts).is_checked());
    let short = Targets::checked(&ts[1..]).unwrap();
    for b in backends() {
        let f = SigmoidFocal::new().backend(b);
        expect_ok(
            &sigmoid_calls(&f, &xs, checked, Reduction::Mean, N, N),
            "checked",
        );
        let want = FocalError::LengthMismatch {
            what: "targets",
            expected: N,
            found: N - 1,
        };
        let calls = sigmoid_calls(&f, &xs, short, Reduction::Mean, N, N);
        expect_all(&calls, &want, false, "checked, short");
        let want = FocalError::LengthMismatch {
            what: "grad",
            expected: N,
            found: N - 1,
        };
        let calls = sigmoid_calls(&f, &xs, checked, Reduction::Mean, N - 1, N);
        for ((name, res), _) in &calls {
            if matches!(*name, "grad" | "loss_and_grad") {
                assert!(same(res.as_ref().unwrap_err(), &want), "{name}: {res:?}");
            }
        }
        let want = FocalError::InvalidGamma { value: -1.0 };
        let calls = sigmoid_calls(&f.gamma(-1.0), &xs, short, Reduction::Mean, N, N);
        expect_all(&calls, &want, false, "checked, bad gamma");
    }
}

/// The TorchBlocks modules check the gradient buffer's length with the other shapes, before
/// the data: a bad probability or label with a wrong-length buffer is a length error.
#[test]
fn torchblocks_grad_length_before_data() {
    let bin = BinaryFocalLoss::default();
    let (probs, ts) = (vec![0.5f32, 1.5, 0.25], vec![1.0f32, 0.0, 1.0]);
    let mut g = vec![0.0f32; 2];
    assert!(matches!(
        bin.loss_and_grad(&probs, &ts, &mut g),
        Err(FocalError::LengthMismatch {
            expected: 3,
            found: 2,
            ..
        })
    ));
    let soft = FocalLoss::default();
    let (z, labels) = (vec![0.0f32; 6], vec![1u32, 7]);
    let mut g = vec![0.0f32; 5];
    assert!(matches!(
        soft.loss_and_grad(&z, 3, &labels, &mut g),
        Err(FocalError::LengthMismatch {
            expected: 6,
            found: 5,
            ..
        })
    ));
}

/// Labels are checked a chunk at a time, by each backend's own copy of the loop: the first
/// bad label must be reported wherever it lies (every position of a slice longer than
/// several chunks, with a second bad label after it), for every label type, on every
/// backend; and a class count above a type's range makes every value of that type a class.
#[test]
fn label_error_index_in_long_slices() {
    fn first_bad<L: ClassIndex + Copy>(b: Backend, labels: &[L], c: usize) -> Option<usize> {
        let z = vec![0.5f32; labels.len() * c];
        match SoftmaxFocal::new().backend(b).ignore_index(Some(3)).loss(
            &z,
            c,
            labels,
            Reduction::Sum,
        ) {
            Ok(_) => None,
            Err(FocalError::LabelOutOfRange { index, .. }) => Some(index),
            Err(e) => panic!("{e}"),
        }
    }
    /// `labels` as type `L`, the bad value 9 as `bad` (the other bad value, 200, as is).
    fn retype<L: ClassIndex + Copy>(labels: &[u16], bad: L, of: impl Fn(u16) -> L) -> Vec<L> {
        labels
            .iter()
            .map(|&v| if v == 9 { bad } else { of(v) })
            .collect()
    }
    let n = 300;
    let base: Vec<u16> = (0..n).map(|i| (i % 7) as u16).collect();
    for b in backends() {
        for pos in 0..n {
            let mut l16 = base.clone();
            l16[pos] = 9;
            if pos + 40 < n {
                l16[pos + 40] = 200;
            }
            let want = Some(pos);
            assert_eq!(first_bad(b, &l16, 8), want, "{b:?} u16 at {pos}");
            let l8 = retype(&l16, 9u8, |v| v as u8);
            assert_eq!(first_bad(b, &l8, 8), want, "{b:?} u8 at {pos}");
            let l32 = retype(&l16, u32::MAX, u32::from);
            assert_eq!(first_bad(b, &l32, 8), want, "{b:?} u32 at {pos}");
            let lu64 = retype(&l16, u64::MAX, u64::from);
            assert_eq!(first_bad(b, &lu64, 8), want, "{b:?} u64 at {pos}");
            let lusize = retype(&l16, 8usize, usize::from);
            assert_eq!(first_bad(b, &lusize, 8), want, "{b:?} usize at {pos}");
            let li32 = retype(&l16, i32::MIN, i32::from);
            assert_eq!(first_bad(b, &li32, 8), want, "{b:?} i32 at {pos}");
            let l64 = retype(&l16, -5i64, i64::from);
            assert_eq!(first_bad(b, &l64, 8), want, "{b:?} i64 at {pos}");
        }
        assert_eq!(first_bad(b, &base, 8), None);
        // The rows counted over several chunks: MeanValid divides by the rows not ignored.
        let z: Vec<f32> = (0..n * 8).map(|i| (i % 13) as f32 * 0.3).collect();
        let f = SoftmaxFocal::new().backend(b).ignore_index(Some(3));
        let sum = f.loss(&z, 8, &base, Reduction::Sum).unwrap() as f64;
        let mean = f.loss(&z, 8, &base, Reduction::MeanValid).unwrap() as f64;
        let valid = base.iter().filter(|&&v| v != 3).count() as f64;
        assert!(
            (mean - sum / valid).abs() <= 1e-6 * mean,
            "{b:?}: {mean} vs {sum}/{valid}"
        );
        let all_u8: Vec<u8> = (0..=255).collect();
        assert_eq!(
            first_bad(b, &all_u8, 300),
            None,
            "{b:?}: C above the u8 range"
        );
        assert_eq!(first_bad(b, &all_u8, 255), Some(255), "{b:?}: C = 255");
    }
}

/// Slices shorter than the scalar backend's blocks of 8 (and one block and a value) are
/// checked value by value: every bad value at every position is reported there, and every
/// valid one (`-0.0`, the smallest subnormal, 1) accepted, on every backend.
#[test]
fn target_check_of_short_slices() {
    let above_one = f32::from_bits(1.0f32.to_bits() + 1);
    let bads = [
        f32::NAN,
        -f32::NAN,
        -1e-45,
        -1.0,
        above_one,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MAX,
    ];
    for b in backends() {
        let f = SigmoidFocal::new().backend(b);
        for n in 1..=9 {
            let xs = vec![0.5f32; n];
            let ts: Vec<f32> = (0..n).map(|i| [-0.0, 1e-45, 1.0, 0.5][i % 4]).collect();
            let mut out = vec![0.0f32; n];
            assert!(f.loss_and_grad(&xs, &ts, Reduction::Sum, &mut out).is_ok());
            assert!(f.loss(&xs, &ts, Reduction::Sum).is_ok());
            for pos in 0..n {
                for bad in bads {
                    let mut t = ts.clone();
                    t[pos] = bad;
                    expect_target_error_at(&f, &xs, &t, pos, bad);
                }
            }
        }
    }
}

/// An empty sigmoid call: every reduced method returns `+0.0` (bits) for every reduction
/// and writes nothing, while its parameters and shapes are still checked first.
#[test]
fn empty_sigmoid_calls() {
    for b in backends() {
        let f = SigmoidFocal::new().backend(b);
        for r in REDUCTIONS {
            let mut g: [f32; 0] = [];
            let zero = 0.0f32.to_bits();
            assert_eq!(f.loss(&[], &[], r).unwrap().to_bits(), zero, "{b:?} {r:?}");
            assert_eq!(
                f.loss_and_grad(&[], &[], r, &mut g).unwrap().to_bits(),
                zero,
                "{b:?} {r:?}"
            );
            assert_eq!(
                f.loss_and_grad_in_place(&mut [], &[], r).unwrap().to_bits(),
                zero,
                "{b:?} {r:?}"
            );
            assert!(f.grad(&[], &[], r, 2.0, &mut g).is_ok(), "{b:?} {r:?}");
            // Checks still run before the empty call returns.
            assert!(matches!(
                f.gamma(f32::NAN).loss_and_grad(&[], &[], r, &mut g),
                Err(FocalError::InvalidGamma { .. })
            ));
            assert!(matches!(
                f.loss_and_grad(&[], &[0.5], r, &mut g),
                Err(FocalError::LengthMismatch { .. })
            ));
        }
        assert!(matches!(
            f.loss(&[], &[], Reduction::Normalize(0.0)),
            Err(FocalError::InvalidNormalizer { .. })
        ));
    }
}
