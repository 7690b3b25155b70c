//! Softmax focal loss: rows of 1 to 2048 classes (biased towards the row strategies'
//! boundaries 1, 16, 17, 511, 512), labels of every `ClassIndex` type including each type's
//! extremes and values outside `0..C`, an ignore index (also one equal to a valid class),
//! per-class alpha, any gamma, label smoothing and reduction. Every method on every backend
//! this CPU has against `Backend::Scalar` (relative 1e-3, same NaN and infinity pattern: nothing cancels
//! in these values, see `focal_loss_fuzz::close`), and on each backend: fused == separate,
//! in place == out of place, the same labels as `i64` == as their own type, all bit for bit;
//! ignored rows give 0; errors identical across backends and methods; nothing written on
//! error.
#![no_main]

use arbitrary::Arbitrary;
use focal_loss::{Alpha, ClassIndex, FocalError, Reduction, SoftmaxFocal};
use focal_loss_fuzz::*;
use libfuzzer_sys::fuzz_target;

/// Class counts: the row strategies' boundaries (one lane per row up to 16, two passes up
/// to 511, online pass from 512), or any count up to 2048.
#[derive(Arbitrary, Debug)]
enum Classes {
    Boundary(u8),
    Any(u16),
}

const BOUNDARIES: [usize; 24] = [
    1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 32, 33, 64, 100, 510, 511, 512, 513, 1000, 2047,
    2048,
];

impl Classes {
    fn get(&self) -> usize {
        match *self {
            Classes::Boundary(i) => BOUNDARIES[usize::from(i) % BOUNDARIES.len()],
            Classes::Any(v) => 1 + usize::from(v) % 2048,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum SmAlpha {
    None,
    Scalar(AlphaVal),
    /// One value per class, cycled from these (no value = 1).
    PerClass(Vec<AlphaVal>),
    /// A per-class vector of the wrong length (C + 1 or C - 1).
    WrongLength(bool),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Ignore {
    None,
    Torch,
    /// A valid class (v mod C).
    Class(u16),
    Raw(i64),
    Max,
    Min,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Label {
    Class(u16),
    Class2(u16),
    Ignored,
    TypeMax,
    TypeMin,
    MinusOne,
    NumClasses,
    Raw(i64),
}

#[derive(Arbitrary, Debug)]
struct Input {
    classes: Classes,
    rows: u8,
    gamma: Gamma,
    alpha: SmAlpha,
    ignore: Ignore,
    red: Red,
    upstream: Upstream,
    label_type: u8,
    offset: u8,
    /// Logits: these values cycled over the whole matrix (none: all 0) ...
    base: Vec<Logit>,
    /// ... then these set at `pos mod len`.
    specials: Vec<(u16, Logit)>,
    /// Labels cycled over the rows (none: class 0).
    labels: Vec<Label>,
    /// Per-row upstream gradients, cycled (none: 1).
    ups: Vec<Upstream>,
    /// Label smoothing (the first variant, none, when the input runs out).
    smoothing: Smoothing,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Smoothing {
    Zero,
    /// `v / 65535`, in `[0, 1]`.
    Frac(u16),
    /// Any bits (mostly invalid: errors must agree across backends).
    Bits(u32),
}

impl Smoothing {
    fn get(self) -> f32 {
        match self {
            Smoothing::Zero => 0.0,
            Smoothing::Frac(v) => f32::from(v) / 65535.0,
            Smoothing::Bits(b) => f32::from_bits(b),
        }
    }
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

#[derive(Debug)]
struct Run {
    loss: Result<f32, FocalError>,
    per_row: (Result<(), FocalError>, Vec<f32>),
    grad: (Result<(), FocalError>, Vec<f32>),
    grad1: (Result<(), FocalError>, Vec<f32>),
    grad_row: (Result<(), FocalError>, Vec<f32>),
    fused: (Result<f32, FocalError>, Vec<f32>),
    in_place: (Result<f32, FocalError>, Vec<f32>),
}

fn unit(r: &Result<(), FocalError>) -> Result<f32, FocalError> {
    r.map(|()| 0.0)
}

#[allow(clippy::too_many_arguments)]
fn run<L: ClassIndex>(
    f: &SoftmaxFocal<'_>,
    z: &[f32],
    c: usize,
    labels: &[L],
    r: Reduction,
    up: f32,
    ups: &[f32],
    offset: usize,
) -> Run {
    let (n, rows) = (z.len(), labels.len());
    let buf = |len: usize| placed(&sentinels(len), offset);
    let tail = |v: Vec<f32>| v[offset..].to_vec();
    let mut pr = buf(rows);
    let pr_r = f.loss_per_row(z, c, labels, &mut pr[offset..]);
    let mut g = buf(n);
    let g_r = f.grad(z, c, labels, r, up, &mut g[offset..]);
    let mut g1 = buf(n);
    let g1_r = f.grad(z, c, labels, r, 1.0, &mut g1[offset..]);
    let mut gr = buf(n);
    let gr_r = f.grad_per_row(z, c, labels, ups, &mut gr[offset..]);
    let mut fg = buf(n);
    let f_r = f.loss_and_grad(z, c, labels, r, &mut fg[offset..]);
    let mut ip = placed(z, offset);
    let ip_r = f.loss_and_grad_in_place(&mut ip[offset..], c, labels, r);
    Run {
        loss: f.loss(z, c, labels, r),
        per_row: (pr_r, tail(pr)),
        grad: (g_r, tail(g)),
        grad1: (g1_r, tail(g1)),
        grad_row: (gr_r, tail(gr)),
        fused: (f_r, tail(fg)),
        in_place: (ip_r, tail(ip)),
    }
}

fn check_run(run: &Run, z: &[f32], ctx: &str) {
    for (name, (res, out)) in [
        ("loss_per_row", &run.per_row),
        ("grad", &run.grad),
        ("grad(1)", &run.grad1),
        ("grad_per_row", &run.grad_row),
    ] {
        if res.is_err() {
            assert!(untouched(out), "{ctx}: {name} wrote on error {res:?}");
        }
    }
    if run.fused.0.is_err() {
        assert!(
            untouched(&run.fused.1),
            "{ctx}: loss_and_grad wrote on error"
        );
    }
    if run.in_place.0.is_err() {
        assert!(
            run.in_place.1.len() == z.len()
                && run
                    .in_place
                    .1
                    .iter()
                    .zip(z)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{ctx}: loss_and_grad_in_place changed the logits on error"
        );
    }
    let reduced = [
        run.loss,
        unit(&run.grad.0),
        unit(&run.grad1.0),
        run.fused.0,
        run.in_place.0,
    ];
    for r in &reduced {
        assert!(
            r.is_ok() == run.fused.0.is_ok()
                && match (r, &run.fused.0) {
                    (Err(a), Err(b)) => same_err(a, b),
                    _ => true,
                },
            "{ctx}: reduced methods disagree: {reduced:?}"
        );
    }
    if let (Ok(l), Ok(fl)) = (run.loss, run.fused.0) {
        assert!(same_bits(l, fl), "{ctx}: loss {l:e} != fused loss {fl:e}");
    }
    if run.fused.0.is_ok() {
        assert_eq!(
            first_diff(&run.fused.1, &run.grad1.1),
            None,
            "{ctx}: fused gradient != grad(upstream 1)"
        );
        assert!(
            same_result(&run.fused.0, &run.in_place.0),
            "{ctx}: in-place loss {:?} != fused {:?}",
            run.in_place.0,
            run.fused.0
        );
        assert_eq!(
            first_diff(&run.fused.1, &run.in_place.1),
            None,
            "{ctx}: in-place gradient != fused gradient"
        );
    }
}

fn same_run(a: &Run, b: &Run, ctx: &str) {
    assert!(
        same_result(&a.loss, &b.loss),
        "{ctx}: loss {:?} vs {:?}",
        a.loss,
        b.loss
    );
    let pairs = [
        (
            unit(&a.per_row.0),
            &a.per_row.1,
            unit(&b.per_row.0),
            &b.per_row.1,
        ),
        (unit(&a.grad.0), &a.grad.1, unit(&b.grad.0), &b.grad.1),
        (unit(&a.grad1.0), &a.grad1.1, unit(&b.grad1.0), &b.grad1.1),
        (
            unit(&a.grad_row.0),
            &a.grad_row.1,
            unit(&b.grad_row.0),
            &b.grad_row.1,
        ),
        (a.fused.0, &a.fused.1, b.fused.0, &b.fused.1),
        (a.in_place.0, &a.in_place.1, b.in_place.0, &b.in_place.1),
    ];
    for (i, (ra, va, rb, vb)) in pairs.iter().enumerate() {
        assert!(same_result(ra, rb), "{ctx}: method {i}: {ra:?} vs {rb:?}");
        assert_eq!(
            first_diff(va, vb),
            None,
            "{ctx}: method {i}: outputs differ"
        );
    }
}

fn label_value<L: Lab>(l: Label, c: usize, ignore: Option<i64>) -> L {
    let v: i128 = match l {
        Label::Class(v) | Label::Class2(v) => (usize::from(v) % c) as i128,
        Label::Ignored => ignore.map_or(0, i128::from),
        Label::TypeMax => return L::MAX,
        Label::TypeMin => return L::MIN,
        Label::MinusOne => -1,
        Label::NumClasses => c as i128,
        Label::Raw(v) => i128::from(v),
    };
    L::from_i128(v).unwrap_or(if v < 0 { L::MIN } else { L::MAX })
}

fn fuzz<L: Lab>(input: &Input) {
    let c = input.classes.get();
    let rows = usize::from(input.rows).min(4096 / c);
    let n = rows * c;
    let offset = usize::from(input.offset % 32);
    let mut zs: Vec<f32> = if input.base.is_empty() {
        vec![0.0; n]
    } else {
        (0..n)
            .map(|i| input.base[i % input.base.len()].get())
            .collect()
    };
    if n > 0 {
        for &(pos, v) in &input.specials {
            zs[usize::from(pos) % n] = v.get();
        }
    }
    let ignore = match input.ignore {
        Ignore::None => None,
        Ignore::Torch => Some(-100),
        Ignore::Class(v) => Some((usize::from(v) % c) as i64),
        Ignore::Raw(v) => Some(v),
        Ignore::Max => Some(i64::MAX),
        Ignore::Min => Some(i64::MIN),
    };
    let labels: Vec<L> = (0..rows)
        .map(|r| match input.labels.get(r % input.labels.len().max(1)) {
            Some(&l) => label_value::<L>(l, c, ignore),
            None => label_value::<L>(Label::Class(0), c, ignore),
        })
        .collect();
    let ups: Vec<f32> = (0..rows)
        .map(|r| {
            input
                .ups
                .get(r % input.ups.len().max(1))
                .map_or(1.0, |u| u.get())
        })
        .collect();
    let class_alpha: Vec<f32> = match &input.alpha {
        SmAlpha::PerClass(v) => (0..c)
            .map(|k| {
                v.get(k % v.len().max(1))
                    .map_or(1.0, |a| a.get().unwrap_or(1.0))
            })
            .collect(),
        SmAlpha::WrongLength(longer) => vec![0.5; if *longer { c + 1 } else { c - 1 }],
        _ => Vec::new(),
    };
    let alpha = match &input.alpha {
        SmAlpha::None => Alpha::None,
        SmAlpha::Scalar(a) => a.get().map_or(Alpha::None, Alpha::Scalar),
        SmAlpha::PerClass(_) | SmAlpha::WrongLength(_) => Alpha::PerClass(&class_alpha),
    };
    let (gamma, red, up) = (input.gamma.get(), input.red.get(), input.upstream.get());
    let zb = placed(&zs, offset);
    let z = &zb[offset..];
    let smoothing = input.smoothing.get();
    let base = SoftmaxFocal::new()
        .alpha(alpha)
        .gamma(gamma)
        .ignore_index(ignore)
        .label_smoothing(smoothing);
    // With label smoothing a gradient is a difference of terms (the target's, and
    // `p_j·Σu - u_j`, each at most about `1 + γ` times the scale): compare relative to that.
    let smooth_mag = if smoothing > 0.0 {
        3.0 * (1.0 + f64::from(gamma))
    } else {
        0.0
    };
    let wide: Option<Vec<i64>> = labels
        .iter()
        .map(|l| i64::try_from(l.wide()).ok())
        .collect();

    let mut runs = Vec::new();
    for b in backends() {
        let f = base.backend(b);
        let ctx = format!(
            "{} {} C={c} rows={rows} off={offset}",
            b.name(),
            std::any::type_name::<L>()
        );
        let r = run(&f, z, c, &labels, red, up, &ups, offset);
        check_run(&r, z, &ctx);
        if let Some(w) = &wide {
            let r64 = run(&f, z, c, w, red, up, &ups, offset);
            same_run(&r, &r64, &format!("{ctx} labels as i64"));
        }
        // Ignored rows: loss 0 and a zero gradient.
        if r.per_row.0.is_ok() {
            for (row, l) in labels.iter().enumerate() {
                if ignore.is_some_and(|i| i128::from(i) == l.wide()) {
                    assert_eq!(
                        r.per_row.1[row].to_bits(),
                        0,
                        "{ctx}: ignored row {row} loss"
                    );
                    assert!(
                        r.grad_row.1[row * c..(row + 1) * c]
                            .iter()
                            .all(|&g| g == 0.0),
                        "{ctx}: ignored row {row} gradient"
                    );
                }
            }
        }
        runs.push((b, r));
    }

    let (_, s) = &runs[0];
    let valid = labels
        .iter()
        .filter(|l| !ignore.is_some_and(|i| i128::from(i) == l.wide()))
        .count();
    let div = match red {
        Reduction::Sum => 1.0,
        Reduction::Mean => rows as f32,
        Reduction::MeanValid => valid as f32,
        Reduction::Normalize(d) => d,
    };
    let inv = if div == 0.0 { 0.0 } else { 1.0 / div as f64 };
    for (b, o) in &runs[1..] {
        let ctx = format!(
            "{} vs scalar {} C={c} rows={rows} off={offset} gamma={gamma:e} eps={smoothing:e} alpha={:?} red={red:?}",
            b.name(),
            std::any::type_name::<L>(),
            match alpha {
                Alpha::PerClass(v) => format!("PerClass({:?}...)", &v[..v.len().min(8)]),
                a => format!("{a:?}"),
            }
        );
        let results = [
            ("loss", s.loss, o.loss),
            ("loss_per_row", unit(&s.per_row.0), unit(&o.per_row.0)),
            ("grad", unit(&s.grad.0), unit(&o.grad.0)),
            ("grad_per_row", unit(&s.grad_row.0), unit(&o.grad_row.0)),
            ("loss_and_grad", s.fused.0, o.fused.0),
            ("in_place", s.in_place.0, o.in_place.0),
        ];
        for (name, a, bb) in results {
            assert!(
                match (&a, &bb) {
                    (Err(e1), Err(e2)) => same_err(e1, e2),
                    (Ok(_), Ok(_)) => true,
                    _ => false,
                },
                "{ctx}: {name}: scalar {a:?}, other {bb:?}"
            );
        }
        for (name, want, got) in [
            ("loss", s.loss, o.loss),
            ("fused loss", s.fused.0, o.fused.0),
        ] {
            if let (Ok(w), Ok(g)) = (want, got) {
                assert!(
                    close(g, w, 0.0, rows as f64 * inv),
                    "{ctx}: {name} {g:e} vs scalar {w:e}"
                );
            }
        }
        // Rows and alpha vectors in messages: their first 8 values.
        let row_of = |i: usize| (i / c, &zs[i / c * c..(i / c * c + c.min(8))]);
        if s.per_row.0.is_ok() {
            for r in 0..rows {
                let (w, g) = (s.per_row.1[r], o.per_row.1[r]);
                assert!(
                    close(g, w, 0.0, 1.0),
                    "{ctx}: loss_per_row[{r}] {g:e} vs scalar {w:e}; label {:?} row {:?}",
                    labels[r],
                    &zs[r * c..r * c + c.min(8)]
                );
            }
        }
        let cf = if div == 0.0 {
            0.0
        } else {
            up as f64 / div as f64
        };
        let (red_ok, row_ok) = (s.grad.0.is_ok(), s.grad_row.0.is_ok());
        for i in 0..n {
            let (r, row) = row_of(i);
            for (name, ok, w, g, scale) in [
                ("grad", red_ok, s.grad.1[i], o.grad.1[i], cf),
                ("loss_and_grad", red_ok, s.fused.1[i], o.fused.1[i], inv),
                (
                    "grad_per_row",
                    row_ok,
                    s.grad_row.1[i],
                    o.grad_row.1[i],
                    ups[r] as f64,
                ),
            ] {
                if ok {
                    assert!(
                        close(g, w, smooth_mag * scale.abs(), scale),
                        "{ctx}: {name}[{i}] (row {r}, class {}) {g:e} vs scalar {w:e}; label {:?} row {row:?}",
                        i % c,
                        labels[r]
                    );
                }
            }
        }
    }
}

fuzz_target!(|input: Input| {
    match input.label_type % 7 {
        0 => fuzz::<u8>(&input),
        1 => fuzz::<u16>(&input),
        2 => fuzz::<u32>(&input),
        3 => fuzz::<u64>(&input),
        4 => fuzz::<usize>(&input),
        5 => fuzz::<i32>(&input),
        _ => fuzz::<i64>(&input),
    }
});
