//! The expected output of the C ABI test (`tests/c/test_capi.c`), computed through the Rust
//! API on the same data: `cargo run --release --example reference -- scalar|auto`.
//!
//! Prints the same `name: value` lines as the C program, in the same order: every result as
//! the hex bits of its floats ("nan" for any NaN), every library error as its fields, and the
//! `platform.` lines (struct layouts from `offset_of!`, the backends this CPU has). The data
//! generator, configurations and error cases mirror the C file's tables; the C side's own
//! checks (`# ...` lines) have no counterpart here.

use core::mem::{offset_of, size_of};
use std::fmt::Write;

use focal_loss::capi::*;
use focal_loss::compat::torchblocks::{BinaryFocalLoss, FocalLoss};
use focal_loss::{
    Alpha, Backend, ClassIndex, FocalError, Partial, Reduction, SigmoidChunks, SigmoidFocal,
    SigmoidForm, SoftmaxChunks, SoftmaxFocal, Targets,
};

const N: usize = 37;
const ROWS: usize = 13;
const C: usize = 5;
const NL: usize = ROWS * C;
const IGN: [usize; 2] = [5, 11];
const CLASS_ALPHA: [f32; C] = [0.1, 0.2, 0.3, 0.25, 1.0];

struct Rng(u32);
impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 8) as f32 * (1.0 / 16777216.0)
    }
    fn logit(&mut self) -> f32 {
        self.unit() * 16.0 - 8.0
    }
}

struct Data {
    sx: [f32; N],
    st: [f32; N],
    sup: [f32; N],
    probs: [f32; N],
    zx: [f32; NL],
    zup: [f32; ROWS],
    lab: [i64; ROWS],
}

fn data() -> Data {
    let mut r = Rng(0x1234_5678);
    let mut d = Data {
        sx: [0.0; N],
        st: [0.0; N],
        sup: [0.0; N],
        probs: [0.0; N],
        zx: [0.0; NL],
        zup: [0.0; ROWS],
        lab: [0; ROWS],
    };
    for i in 0..N {
        d.sx[i] = r.logit();
        d.st[i] = match i % 3 {
            0 => 1.0,
            1 => 0.0,
            _ => r.unit(),
        };
        d.sup[i] = r.unit() * 2.0 - 0.5;
        d.probs[i] = r.unit();
    }
    d.sx[6] = f32::INFINITY;
    d.sx[7] = f32::NEG_INFINITY;
    d.sx[9] = 30.0;
    d.sx[10] = -30.0;
    d.sx[13] = 20.0;
    d.sx[14] = 1e-40;
    d.sx[15] = -0.0;
    d.probs[4] = 0.0;
    d.probs[5] = 1.0;
    for v in d.zx.iter_mut() {
        *v = r.logit();
    }
    d.zx[2 * C + 1] = f32::NEG_INFINITY;
    d.zx[3 * C + 4] = 40.0;
    d.zx[4 * C..5 * C].fill(0.0);
    for i in 0..ROWS {
        d.lab[i] = i64::from(r.next() % C as u32);
        d.zup[i] = r.unit() * 2.0 - 0.5;
    }
    d
}

fn hex(v: f32) -> String {
    if v.is_nan() {
        "nan".into()
    } else {
        format!("{:08x}", v.to_bits())
    }
}

fn hexs(v: &[f32]) -> String {
    v.iter().fold(String::new(), |mut s, &x| {
        write!(s, " {}", hex(x)).unwrap();
        s
    })
}

const REDS: [(&str, Reduction); 4] = [
    ("sum", Reduction::Sum),
    ("mean", Reduction::Mean),
    ("meanvalid", Reduction::MeanValid),
    ("norm", Reduction::Normalize(7.5)),
];

/// The C program's error line for a library error, from the error's own fields; the codes
/// are restated here (not taken from the C layer), so a wrong mapping shows as a diff.
fn err_line(name: &str, e: FocalError) {
    // status, arg, code, value, index, expected, found, num_classes, label
    let z = (0, 0, 0, 0.0f32, 0usize, 0usize, 0usize, 0usize, 0i64);
    let (status, arg, code, value, index, expected, found, classes, label) = match e {
        FocalError::LengthMismatch {
            what,
            expected,
            found,
        } => {
            let arg = match what {
                "targets" => 3,
                "labels" => 5,
                "upstream" => 6,
                "grad" => 7,
                "out" => 8,
                _ => 0,
            };
            (1, arg, 0, 0.0, 0, expected, found, 0, 0)
        }
        FocalError::InvalidNumClasses { num_classes, len } => {
            (2, 2, 0, 0.0, 0, 0, len, num_classes, 0)
        }
        FocalError::InvalidAlpha { value } => (3, 1, 0, value, 0, 0, 0, 0, 0),
        FocalError::ClassAlphaLength { expected, found } => {
            (4, 10, 0, 0.0, 0, expected, found, 0, 0)
        }
        FocalError::InvalidClassAlpha { index, value } => (5, 10, 0, value, index, 0, 0, 0, 0),
        FocalError::InvalidGamma { value } => (6, 1, 0, value, 0, 0, 0, 0, 0),
        FocalError::InvalidNormalizer { value } => (7, 11, 0, value, 0, 0, 0, 0, 0),
        FocalError::InvalidEpsilon { value } => (8, 1, 0, value, 0, 0, 0, 0, 0),
        FocalError::LabelOutOfRange {
            index,
            label,
            num_classes,
        } => (9, 5, 0, 0.0, index, 0, 0, num_classes, label as i64),
        FocalError::TargetOutOfRange { index, value } => (10, 3, 0, value, index, 0, 0, 0, 0),
        FocalError::ProbabilityOutOfRange { index, value } => (11, 4, 0, value, index, 0, 0, 0, 0),
        FocalError::BackendUnavailable { backend } => {
            (12, 13, backend as i32 + 1, 0.0, 0, 0, 0, 0, 0)
        }
        _ => {
            eprintln!("an error variant the C test does not know: {e:?}");
            z
        }
    };
    println!(
        "err.{name}: status={status} arg={arg} code={code} value={} index={index} expected={expected} found={found} num_classes={classes} label={label}",
        hex(value)
    );
}

fn expect_err<T: std::fmt::Debug>(name: &str, r: Result<T, FocalError>) {
    err_line(name, r.expect_err(name));
}

fn layouts() {
    macro_rules! size {
        ($s:ident) => {
            println!(
                "platform.layout.{}.size: {}",
                stringify!($s),
                size_of::<$s>()
            )
        };
    }
    macro_rules! field {
        ($s:ident, $($f:ident),*) => {
            $(println!("platform.layout.{}.{}: {}", stringify!($s), stringify!($f), offset_of!($s, $f));)*
        };
    }
    size!(focal_sigmoid_params);
    field!(focal_sigmoid_params, alpha, has_alpha, gamma, form, backend);
    size!(focal_softmax_params);
    field!(
        focal_softmax_params,
        alpha_kind,
        alpha,
        class_alpha,
        class_alpha_len,
        gamma,
        has_ignore_index,
        ignore_index,
        backend
    );
    size!(focal_torchblocks_binary_params);
    field!(focal_torchblocks_binary_params, gamma, alpha, epsilon);
    size!(focal_torchblocks_softmax_params);
    field!(
        focal_torchblocks_softmax_params,
        alpha_kind,
        alpha,
        class_alpha,
        class_alpha_len,
        gamma,
        epsilon
    );
    size!(focal_error);
    field!(
        focal_error,
        status,
        arg,
        code,
        value,
        index,
        expected,
        found,
        num_classes,
        label
    );
    size!(focal_partial);
    field!(focal_partial, words);
    size!(focal_sigmoid_plan);
    field!(focal_sigmoid_plan, params, divisor);
    size!(focal_softmax_plan);
    field!(focal_softmax_plan, params, num_classes, divisor);
}

fn sigmoid(d: &Data, backend: Option<Backend>) {
    let cfgs: [(&str, Option<f32>, f32, SigmoidForm); 7] = [
        ("tv", Some(0.25), 2.0, SigmoidForm::ModulatedBce),
        ("optax", None, 2.0, SigmoidForm::ModulatedBce),
        ("mmcv", Some(0.25), 2.0, SigmoidForm::PerTerm),
        ("g0", Some(0.5), 0.0, SigmoidForm::ModulatedBce),
        ("g1pt", None, 1.0, SigmoidForm::PerTerm),
        ("g25", Some(0.75), 2.5, SigmoidForm::ModulatedBce),
        ("g05pt", Some(0.4), 0.5, SigmoidForm::PerTerm),
    ];
    let (x, t) = (&d.sx, &d.st);
    let checked = Targets::checked(t).unwrap();
    for (nm, alpha, gamma, form) in cfgs {
        let mut f = SigmoidFocal::new().alpha(alpha).gamma(gamma).form(form);
        if let Some(b) = backend {
            f = f.backend(b);
        }
        for (rn, r) in REDS {
            println!("sigmoid.{nm}.loss.{rn}: {}", hex(f.loss(x, t, r).unwrap()));
        }
        let l = f.loss(x, checked, Reduction::Mean).unwrap();
        println!("sigmoid.{nm}.loss_checked.mean: {}", hex(l));
        let mut g = [0.0; N];
        f.loss_elementwise(x, t, &mut g).unwrap();
        println!("sigmoid.{nm}.loss_elementwise:{}", hexs(&g));
        for (rn, r) in REDS {
            f.grad(x, t, r, 0.75, &mut g).unwrap();
            println!("sigmoid.{nm}.grad.{rn}:{}", hexs(&g));
        }
        f.grad_elementwise(x, checked, &d.sup, &mut g).unwrap();
        println!("sigmoid.{nm}.grad_elementwise:{}", hexs(&g));
        for (rn, r) in REDS {
            let l = f.loss_and_grad(x, t, r, &mut g).unwrap();
            println!("sigmoid.{nm}.loss_and_grad.{rn}: {}{}", hex(l), hexs(&g));
            if rn == "mean" {
                let mut x2 = *x;
                let l2 = f.loss_and_grad_in_place(&mut x2, checked, r).unwrap();
                println!("sigmoid.{nm}.in_place.{rn}: {}{}", hex(l2), hexs(&x2));
            }
        }
    }
    let mut xn = *x;
    xn[3] = f32::NAN;
    let mut g = [0.0; N];
    let mut f = SigmoidFocal::torchvision();
    if let Some(b) = backend {
        f = f.backend(b);
    }
    f.loss_elementwise(&xn, t, &mut g).unwrap();
    println!("sigmoid.nan.loss_elementwise:{}", hexs(&g));
}

/// The labels as type `L`, ignored rows (if `ignore`) set to `ign`.
fn labels<L: ClassIndex>(d: &Data, ignore: bool, ign: L, conv: fn(i64) -> L) -> Vec<L> {
    (0..ROWS)
        .map(|i| {
            if ignore && IGN.contains(&i) {
                ign
            } else {
                conv(d.lab[i])
            }
        })
        .collect()
}

fn softmax_width<L: ClassIndex>(
    d: &Data,
    backend: Option<Backend>,
    wn: &str,
    ign: i64,
    ign_l: L,
    conv: fn(i64) -> L,
    cfg: &(&str, Alpha<'static>, f32, bool),
) {
    let (cn, alpha, gamma, ignore) = *cfg;
    let lab = labels(d, ignore, ign_l, conv);
    let mut f = SoftmaxFocal::new()
        .alpha(alpha)
        .gamma(gamma)
        .ignore_index(ignore.then_some(ign));
    if let Some(b) = backend {
        f = f.backend(b);
    }
    let name = format!("{cn}.{wn}");
    let x = &d.zx;
    for (rn, r) in REDS {
        println!(
            "softmax.{name}.loss.{rn}: {}",
            hex(f.loss(x, C, &lab, r).unwrap())
        );
    }
    let mut per = [0.0; ROWS];
    f.loss_per_row(x, C, &lab, &mut per).unwrap();
    println!("softmax.{name}.loss_per_row:{}", hexs(&per));
    let mut g = [0.0; NL];
    for (rn, r) in REDS {
        f.grad(x, C, &lab, r, 0.5, &mut g).unwrap();
        println!("softmax.{name}.grad.{rn}:{}", hexs(&g));
    }
    f.grad_per_row(x, C, &lab, &d.zup, &mut g).unwrap();
    println!("softmax.{name}.grad_per_row:{}", hexs(&g));
    for (rn, r) in REDS {
        let l = f.loss_and_grad(x, C, &lab, r, &mut g).unwrap();
        println!("softmax.{name}.loss_and_grad.{rn}: {}{}", hex(l), hexs(&g));
        if rn == "meanvalid" {
            let mut x2 = *x;
            let l2 = f.loss_and_grad_in_place(&mut x2, C, &lab, r).unwrap();
            println!("softmax.{name}.in_place.{rn}: {}{}", hex(l2), hexs(&x2));
        }
    }
}

fn softmax(d: &Data, backend: Option<Backend>) {
    let cfgs: [(&str, Alpha<'static>, f32, bool); 5] = [
        ("none", Alpha::None, 2.0, false),
        ("mmcv", Alpha::Scalar(0.25), 2.0, false),
        ("pc", Alpha::PerClass(&CLASS_ALPHA), 2.0, true),
        ("g0", Alpha::Scalar(0.5), 0.0, true),
        ("g15pc", Alpha::PerClass(&CLASS_ALPHA), 1.5, true),
    ];
    for cfg in &cfgs {
        softmax_width(d, backend, "u8", 255, 255u8, |v| v as u8, cfg);
        softmax_width(d, backend, "u16", 65535, 65535u16, |v| v as u16, cfg);
        softmax_width(d, backend, "i32", -100, -100i32, |v| v as i32, cfg);
        softmax_width(d, backend, "i64", -100, -100i64, |v| v, cfg);
    }
    // Every row ignored, MeanValid.
    fn all<L: ClassIndex>(d: &Data, backend: Option<Backend>, wn: &str, ign: i64, l: L) {
        let mut f = SoftmaxFocal::new()
            .alpha(Alpha::PerClass(&CLASS_ALPHA))
            .ignore_index(Some(ign));
        if let Some(b) = backend {
            f = f.backend(b);
        }
        let mut g = [0.0; NL];
        let loss = f
            .loss_and_grad(&d.zx, C, &[l; ROWS], Reduction::MeanValid, &mut g)
            .unwrap();
        println!(
            "softmax.allign.{wn}.loss_and_grad.meanvalid: {}{}",
            hex(loss),
            hexs(&g)
        );
    }
    all(d, backend, "u8", 255, 255u8);
    all(d, backend, "u16", 65535, 65535u16);
    all(d, backend, "i32", -100, -100i32);
    all(d, backend, "i64", -100, -100i64);
}

fn torchblocks(d: &Data) {
    let bin = [
        ("default", BinaryFocalLoss::default()),
        (
            "custom",
            BinaryFocalLoss {
                gamma: 1.5,
                alpha: 0.6,
                epsilon: 1e-6,
            },
        ),
    ];
    for (bn, m) in bin {
        println!(
            "tb.binary.{bn}.loss: {}",
            hex(m.loss(&d.probs, &d.st).unwrap())
        );
        let mut g = [0.0; N];
        let l = m.loss_and_grad(&d.probs, &d.st, &mut g).unwrap();
        println!("tb.binary.{bn}.loss_and_grad: {}{}", hex(l), hexs(&g));
    }
    let cfgs: [(&str, Alpha<'static>, f32, f32); 3] = [
        ("default", Alpha::None, 2.0, 1e-9),
        ("scalar", Alpha::Scalar(0.25), 2.0, 1e-9),
        ("pc", Alpha::PerClass(&CLASS_ALPHA), 1.5, 1e-6),
    ];
    fn width<L: ClassIndex>(d: &Data, m: &FocalLoss<'_>, cn: &str, wn: &str, conv: fn(i64) -> L) {
        let lab: Vec<L> = d.lab.iter().map(|&v| conv(v)).collect();
        let l = m.loss(&d.zx, C, &lab).unwrap();
        println!("tb.softmax.{cn}.{wn}: loss {}", hex(l));
        let mut g = [0.0; NL];
        let l = m.loss_and_grad(&d.zx, C, &lab, &mut g).unwrap();
        println!("tb.softmax_lg.{cn}.{wn}: {}{}", hex(l), hexs(&g));
    }
    for (cn, alpha, gamma, epsilon) in cfgs {
        let m = FocalLoss {
            gamma,
            alpha,
            epsilon,
        };
        width(d, &m, cn, "u8", |v| v as u8);
        width(d, &m, cn, "u16", |v| v as u16);
        width(d, &m, cn, "i32", |v| v as i32);
        width(d, &m, cn, "i64", |v| v);
    }
}

/// 32-bit FNV-1a over the floats' bits, low byte first, as the C test hashes a long
/// gradient.
fn hash(v: &[f32]) -> String {
    let h = v
        .iter()
        .flat_map(|x| x.to_bits().to_le_bytes())
        .fold(2_166_136_261u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(16_777_619)
        });
    format!("{h:08x}")
}

/// The C test's chunk data: sigmoid logits and targets of 3 blocks and 5, and the labels of
/// softmax rows over the first logits (every 7th row from row 3 ignored).
struct Big {
    x: Vec<f32>,
    t: Vec<f32>,
    lab: Vec<Option<i64>>,
}

const BROWS: usize = 6551;

fn big() -> Big {
    let mut r = Rng(0x2545_f491);
    let n = 3 * SigmoidChunks::CHUNK + 5;
    let (mut x, mut t) = (vec![0.0; n], vec![0.0; n]);
    for i in 0..n {
        x[i] = r.logit();
        t[i] = match i % 3 {
            0 => 1.0,
            1 => 0.0,
            _ => r.unit(),
        };
    }
    let lab = (0..BROWS)
        .map(|i| {
            let v = i64::from(r.next() % C as u32);
            (i % 7 != 3).then_some(v)
        })
        .collect();
    Big { x, t, lab }
}

/// One call of `n` logits cut at logit `cut`, the second chunk run first: prints the
/// `loss_and_grad`, `loss` and `grad` lines of `name` and `rn` (the reduction). `lg`, `loss`
/// and `grad` run a plan's method on the first (`false`) or the second (`true`) chunk.
fn two_chunks(
    (name, rn): (&str, &str),
    (n, cut, upstream): (usize, usize, f32),
    lg: impl Fn(bool, &mut [f32]) -> Result<Partial, FocalError>,
    loss: impl Fn(bool) -> Result<Partial, FocalError>,
    grad: impl Fn(bool, f32, &mut [f32]) -> Result<(), FocalError>,
    finish: impl Fn(Partial) -> f32,
) {
    let mut g = vec![0.0; n];
    let (g0, g1) = g.split_at_mut(cut);
    let p1 = lg(true, g1).unwrap();
    let p0 = lg(false, g0).unwrap();
    let l = finish(p0.join(p1));
    println!("{name}.loss_and_grad.{rn}: {} {}", hex(l), hash(&g));
    let (p0, p1) = (loss(false).unwrap(), loss(true).unwrap());
    println!("{name}.loss.{rn}: {}", hex(finish(p1.join(p0))));
    let (g0, g1) = g.split_at_mut(cut);
    grad(true, upstream, g1).unwrap();
    grad(false, upstream, g0).unwrap();
    println!("{name}.grad.{rn}: {}", hash(&g));
}

/// One sigmoid call cut after two blocks.
fn sigmoid_chunks(b: &Big, f: SigmoidFocal, nm: &str, rn: &str, r: Reduction) {
    let (x, t, n) = (&b.x[..], &b.t[..], b.x.len());
    let cut = 2 * SigmoidChunks::CHUNK;
    let plan = f.chunks(n, r).unwrap();
    let at = |second: bool| if second { cut..n } else { 0..cut };
    two_chunks(
        (&format!("chunks.sigmoid.{nm}"), rn),
        (n, cut, 0.75),
        |s, g| plan.loss_and_grad(&x[at(s)], &t[at(s)], g),
        |s| plan.loss(&x[at(s)], &t[at(s)]),
        |s, u, g| plan.grad(&x[at(s)], &t[at(s)], u, g),
        |p| plan.finish(p),
    );
}

/// One softmax call (per-class alpha, ignored rows, MeanValid) cut after one chunk of rows.
fn softmax_chunks<L: ClassIndex>(
    b: &Big,
    backend: Option<Backend>,
    wn: &str,
    ign: i64,
    ign_l: L,
    conv: fn(i64) -> L,
) {
    let lab: Vec<L> = b.lab.iter().map(|v| v.map_or(ign_l, conv)).collect();
    let mut f = SoftmaxFocal::new()
        .alpha(Alpha::PerClass(&CLASS_ALPHA))
        .ignore_index(Some(ign));
    if let Some(bk) = backend {
        f = f.backend(bk);
    }
    let plan: SoftmaxChunks<'_> = f.chunks(C, &lab, Reduction::MeanValid).unwrap();
    let rows = plan.rows_per_chunk();
    if wn == "u8" {
        println!("chunks.softmax.rows_per_chunk: {rows}");
    }
    let x = &b.x[..BROWS * C];
    let at = |second: bool| if second { rows..BROWS } else { 0..rows };
    let xs = |s: bool| &x[at(s).start * C..at(s).end * C];
    two_chunks(
        (&format!("chunks.softmax.pc.{wn}"), "meanvalid"),
        (x.len(), rows * C, 0.5),
        |s, g| plan.loss_and_grad(xs(s), &lab[at(s)], g),
        |s| plan.loss(xs(s), &lab[at(s)]),
        |s, u, g| plan.grad(xs(s), &lab[at(s)], u, g),
        |p| plan.finish(p),
    );
}

fn chunks(backend: Option<Backend>) {
    let b = big();
    let with = |f: SigmoidFocal| match backend {
        Some(bk) => f.backend(bk),
        None => f,
    };
    let tv = with(SigmoidFocal::torchvision());
    sigmoid_chunks(&b, tv, "tv", "mean", Reduction::Mean);
    let g25 = with(SigmoidFocal::new().alpha(Some(0.75)).gamma(2.5));
    sigmoid_chunks(&b, g25, "g25", "sum", Reduction::Sum);
    softmax_chunks(&b, backend, "u8", 255, 255u8, |v| v as u8);
    softmax_chunks(&b, backend, "u16", 65535, 65535u16, |v| v as u16);
    softmax_chunks(&b, backend, "i32", -100, -100i32, |v| v as i32);
    softmax_chunks(&b, backend, "i64", -100, -100i64, |v| v);

    // The library's errors, as the C test's chunk_errors prints them.
    let (x, t) = (&b.x[..], &b.t[..]);
    let mut g = [0.0f32; 32];
    let plan = tv.chunks(N, Reduction::Mean).unwrap();
    expect_err("chunks.length.targets", plan.loss(&x[..10], &t[..9]));
    expect_err(
        "chunks.length.grad",
        plan.loss_and_grad(&x[..10], &t[..10], &mut g[..11]),
    );
    expect_err(
        "chunks.length.grad_only",
        plan.grad(&x[..10], &t[..10], 1.0, &mut g[..9]),
    );
    let mut lab: Vec<i64> = b.lab.iter().map(|v| v.unwrap_or(-100)).collect();
    let mut f = SoftmaxFocal::new()
        .alpha(Alpha::PerClass(&CLASS_ALPHA))
        .ignore_index(Some(-100));
    if let Some(bk) = backend {
        f = f.backend(bk);
    }
    let mplan = f.chunks(C, &lab, Reduction::MeanValid).unwrap();
    expect_err("chunks.length.labels", mplan.loss(&x[..4 * C], &lab[..3]));
    expect_err(
        "chunks.num_classes",
        mplan.loss_and_grad(&x[..4 * C + 1], &lab[..4], &mut g[..4 * C + 1]),
    );
    expect_err(
        "chunks.plan.gamma",
        tv.gamma(-1.0).chunks(N, Reduction::Mean),
    );
    expect_err(
        "chunks.plan.normalizer",
        tv.chunks(N, Reduction::Normalize(0.0)),
    );
    lab[9] = C as i64;
    expect_err("chunks.plan.label", f.chunks(C, &lab, Reduction::MeanValid));
    expect_err(
        "chunks.label",
        mplan.loss_and_grad(&x[7 * C..11 * C], &lab[7..11], &mut g[..4 * C]),
    );
}

fn errors(d: &Data, backend: Option<Backend>) {
    let with = |f: SigmoidFocal| match backend {
        Some(b) => f.backend(b),
        None => f,
    };
    let sp = with(SigmoidFocal::torchvision());
    let wm = |f: SoftmaxFocal<'static>| match backend {
        Some(b) => f.backend(b),
        None => f,
    };
    let mp = wm(SoftmaxFocal::mmcv());
    let (x, t) = (&d.sx, &d.st);
    let mut g = vec![0.0f32; NL + 8];
    let lab: Vec<i64> = d.lab.to_vec();
    let l8: Vec<u8> = lab.iter().map(|&v| v as u8).collect();
    let l16: Vec<u16> = lab.iter().map(|&v| v as u16).collect();
    let l32: Vec<i32> = lab.iter().map(|&v| v as i32).collect();

    expect_err("length.targets", sp.loss(x, &t[..N - 1], Reduction::Mean));
    expect_err(
        "length.upstream",
        sp.grad_elementwise(x, t, &d.sup[..N - 2], &mut g[..N]),
    );
    expect_err(
        "length.grad",
        sp.loss_and_grad(x, t, Reduction::Sum, &mut g[..N + 1]),
    );
    expect_err(
        "length.out",
        mp.loss_per_row(&d.zx, C, &l8, &mut g[..ROWS - 1]),
    );
    expect_err(
        "length.labels",
        mp.loss(&d.zx, C, &lab[..ROWS - 1], Reduction::Sum),
    );
    expect_err(
        "num_classes.zero",
        mp.grad(&d.zx, 0, &l32, Reduction::Sum, 1.0, &mut g[..NL]),
    );
    expect_err(
        "num_classes.four",
        mp.loss_and_grad(&d.zx, 4, &l16, Reduction::Sum, &mut g[..NL]),
    );
    expect_err(
        "alpha.big",
        sp.alpha(Some(1.5)).loss_elementwise(x, t, &mut g[..N]),
    );
    expect_err(
        "alpha.nan",
        sp.alpha(Some(f32::NAN)).loss(x, t, Reduction::Sum),
    );
    expect_err(
        "gamma.negative",
        sp.gamma(-1.0).grad(x, t, Reduction::Sum, 1.0, &mut g[..N]),
    );
    let mut xs = [1234.5f32; N];
    expect_err(
        "gamma.inf",
        sp.gamma(f32::INFINITY)
            .loss_and_grad_in_place(&mut xs, t, Reduction::Sum),
    );
    let ign8 = labels(d, true, 255u8, |v| v as u8);
    let pc = wm(SoftmaxFocal::new()
        .alpha(Alpha::PerClass(&CLASS_ALPHA))
        .ignore_index(Some(255)));
    expect_err(
        "class_alpha.length",
        pc.alpha(Alpha::PerClass(&CLASS_ALPHA[..C - 1]))
            .loss(&d.zx, C, &ign8, Reduction::Sum),
    );
    let mut bad = CLASS_ALPHA;
    bad[3] = -0.1;
    expect_err(
        "class_alpha.value",
        pc.alpha(Alpha::PerClass(&bad))
            .grad_per_row(&d.zx, C, &ign8, &d.zup, &mut g[..NL]),
    );
    expect_err("normalizer.zero", sp.loss(x, t, Reduction::Normalize(0.0)));
    let mut zs = [1234.5f32; NL];
    expect_err(
        "normalizer.negative",
        mp.loss_and_grad_in_place(&mut zs, C, &lab, Reduction::Normalize(-1.0)),
    );
    expect_err(
        "epsilon.binary",
        BinaryFocalLoss {
            epsilon: -1.0,
            ..Default::default()
        }
        .loss_and_grad(&d.probs, t, &mut g[..N]),
    );
    expect_err(
        "epsilon.softmax",
        FocalLoss {
            epsilon: f32::INFINITY,
            ..Default::default()
        }
        .loss(&d.zx, C, &l32),
    );
    let mut p = d.probs;
    p[3] = -0.5;
    expect_err("probability", BinaryFocalLoss::default().loss(&p, t));
    // Labels out of range at row 7, each width with its ignore index.
    fn label<L: ClassIndex>(
        d: &Data,
        backend: Option<Backend>,
        name: &str,
        ign: i64,
        ign_l: L,
        bad: L,
        conv: fn(i64) -> L,
    ) {
        let mut lab = labels(d, true, ign_l, conv);
        lab[7] = bad;
        let mut f = SoftmaxFocal::new()
            .alpha(Alpha::PerClass(&CLASS_ALPHA))
            .ignore_index(Some(ign));
        if let Some(b) = backend {
            f = f.backend(b);
        }
        let mut g = [0.0; NL];
        expect_err(
            name,
            f.loss_and_grad(&d.zx, C, &lab, Reduction::Sum, &mut g),
        );
    }
    label(d, backend, "label.u8", 255, 255u8, 254u8, |v| v as u8);
    label(d, backend, "label.u16", 65535, 65535u16, 300u16, |v| {
        v as u16
    });
    label(d, backend, "label.i32", -100, -100i32, -3i32, |v| v as i32);
    label(d, backend, "label.i64", -100, -100i64, 1i64 << 40, |v| v);
    let mut l32b = l32.clone();
    l32b[0] = 7;
    expect_err(
        "label.tb",
        FocalLoss {
            gamma: 0.0,
            alpha: Alpha::None,
            epsilon: 0.0,
        }
        .loss_and_grad(&d.zx, C, &l32b, &mut g[..NL]),
    );
    let mut tb = *t;
    tb[11] = 1.5;
    tb[20] = -0.25;
    expect_err("target.check", Targets::checked(&tb));
    expect_err("target.loss", sp.loss(x, &tb, Reduction::Mean));
    tb[11] = t[11];
    tb[20] = f32::NAN;
    expect_err(
        "target.nan",
        sp.grad_elementwise(x, &tb, &d.sup, &mut g[..N]),
    );
    expect_err(
        "target.tb",
        BinaryFocalLoss {
            gamma: 2.0,
            alpha: 0.25,
            epsilon: 0.0,
        }
        .loss(&d.probs, &tb),
    );
    for (name, b) in [
        ("scalar", Backend::Scalar),
        ("portable", Backend::Portable),
        ("avx2", Backend::Avx2),
        ("avx512", Backend::Avx512),
    ] {
        let avail = if b.is_available() {
            "available"
        } else {
            "unavailable"
        };
        println!("platform.backend.{name}: {avail}");
    }
    println!("platform.backend.detect: {}", Backend::detect() as i32 + 1);
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let backend = match mode.as_str() {
        "scalar" => Some(Backend::Scalar),
        "auto" => None,
        _ => {
            eprintln!("usage: reference scalar|auto");
            std::process::exit(2);
        }
    };
    let d = data();
    layouts();
    sigmoid(&d, backend);
    softmax(&d, backend);
    torchblocks(&d);
    chunks(backend);
    errors(&d, backend);
}
