//! Stack high-water of every public method of both kernels (and `Targets::checked`), by
//! painting (see `paint`): for each method the worst over a few shapes, γ values (the
//! multiplication special cases and the general path), both sigmoid forms, logits that take
//! the guarded path (beyond ±87, infinite), per-class α, label types, C up to 600 and a row of
//! span that is not normal; the channels-first layout method by method; label smoothing
//! (either layout, most of its methods) and the chunk API of both kernels each as the worst
//! of their methods.
//!
//! First validates the method on a closure of known stack use (`paint::known_256`) and an
//! empty closure: the known one must read exactly 256 bytes more than the empty one (whose
//! few bytes are the closure call's own, included in every figure: an upper bound; up to 8
//! more in an unoptimised build, whose figures this binary gives too). Prints
//! `stack <method> <bytes>` and `validate ...` lines; exits 1 if a validation fails, a call
//! fails, or a depth reaches the painted window.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m as _;
use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use focal_loss::{Alpha, ClassIndex, Reduction, SigmoidFocal, SigmoidForm, SoftmaxFocal, Targets};
use focal_loss_embedded::paint::{WINDOW, high_water, high_water_fresh, known_256};
use focal_loss_embedded::{batch, prng::Rng};

focal_loss_embedded::semihosting_panic!();

const N: usize = 4096;
const MAX_Z: usize = 4 * 600;
const METHODS: usize = 23;

/// The worst depth seen per method, and whether everything ran as expected.
struct Worst {
    names: [&'static str; METHODS],
    bytes: [usize; METHODS],
    ok: bool,
}

impl Worst {
    /// Measures `f` as method `m` and keeps the larger depth.
    fn measure(&mut self, m: usize, mut f: impl FnMut() -> bool) {
        let mut fine = true;
        let (bytes, agreed) = high_water(&mut || fine &= f());
        self.record(m, bytes, agreed, fine);
    }

    /// As [`measure`](Self::measure), for an in-place method: `f` runs on `buf`, a fresh
    /// copy of `input` in each painted run (the method overwrites its input).
    fn measure_in_place(
        &mut self,
        m: usize,
        buf: &mut [f32],
        input: &[f32],
        mut f: impl FnMut(&mut [f32]) -> bool,
    ) {
        let mut fine = true;
        let (bytes, agreed) = high_water_fresh(buf, input, &mut |b| fine &= f(b));
        self.record(m, bytes, agreed, fine);
    }

    /// Keeps `bytes` as method `m`'s depth if it is the larger; `fine`: every call succeeded.
    fn record(&mut self, m: usize, bytes: usize, agreed: bool, fine: bool) {
        self.ok &= fine && bytes < WINDOW;
        if !agreed {
            hprintln!("note: the two patterns disagreed for {}", self.names[m]);
        }
        self.bytes[m] = self.bytes[m].max(bytes);
    }
}

/// Every sigmoid method on `n` elements with `gamma` and `form`.
fn sigmoid(w: &mut Worst, x: &[f32], t: &[f32], out: &mut [f32], gamma: f32, form: SigmoidForm) {
    let f = SigmoidFocal::new()
        .alpha(black_box(Some(0.25)))
        .gamma(black_box(gamma))
        .form(black_box(form));
    let r = black_box(Reduction::Mean);
    let n = x.len();
    let up = black_box(&t[..n]);
    w.measure(0, || f.loss(x, t, r).is_ok());
    w.measure(1, || f.loss_elementwise(x, t, out).is_ok());
    w.measure(2, || f.grad(x, t, r, 1.0, out).is_ok());
    w.measure(3, || f.grad_elementwise(x, t, up, out).is_ok());
    w.measure(4, || f.loss_and_grad(x, t, r, out).is_ok());
    w.measure_in_place(5, out, x, |x| f.loss_and_grad_in_place(x, t, r).is_ok());
    w.measure(6, || Targets::checked(t).is_ok());
    let checked = Targets::checked(t).unwrap();
    w.measure(4, || f.loss_and_grad(x, checked, r, out).is_ok());
    sigmoid_chunks(w, x, t, out, f);
}

/// Every softmax method on `z` (`classes` per row) with labels of type `L`.
fn softmax<L: ClassIndex>(
    w: &mut Worst,
    z: &[f32],
    classes: usize,
    labels: &[L],
    out: &mut [f32],
    f: SoftmaxFocal,
) {
    let r = black_box(Reduction::MeanValid);
    let rows = labels.len();
    let up = [0.5f32; 4];
    let up = black_box(&up[..rows]);
    w.measure(7, || f.loss(z, classes, labels, r).is_ok());
    w.measure(8, || {
        f.loss_per_row(z, classes, labels, &mut out[..rows]).is_ok()
    });
    w.measure(9, || f.grad(z, classes, labels, r, 1.0, out).is_ok());
    w.measure(10, || f.grad_per_row(z, classes, labels, up, out).is_ok());
    w.measure(11, || f.loss_and_grad(z, classes, labels, r, out).is_ok());
    w.measure_in_place(12, out, z, |z| {
        f.loss_and_grad_in_place(z, classes, labels, r).is_ok()
    });
    // The same rows as one image of `rows` positions, `[1, C, rows]`.
    let cf = f.channels_first(black_box(rows));
    w.measure(13, || cf.loss(z, classes, labels, r).is_ok());
    w.measure(14, || {
        cf.loss_per_position(z, classes, labels, &mut out[..rows])
            .is_ok()
    });
    w.measure(15, || cf.grad(z, classes, labels, r, 1.0, out).is_ok());
    w.measure(16, || {
        cf.grad_per_position(z, classes, labels, up, out).is_ok()
    });
    w.measure(17, || cf.loss_and_grad(z, classes, labels, r, out).is_ok());
    w.measure_in_place(18, out, z, |z| {
        cf.loss_and_grad_in_place(z, classes, labels, r).is_ok()
    });
    // Label smoothing, either layout: the worst of its reduced, per-row (per-position) and
    // fused methods, in place too (the rest share their kernel and modes).
    let s = f.label_smoothing(black_box(0.1));
    let scf = s.channels_first(black_box(rows));
    w.measure(19, || s.loss(z, classes, labels, r).is_ok());
    w.measure(19, || s.grad_per_row(z, classes, labels, up, out).is_ok());
    w.measure(19, || s.loss_and_grad(z, classes, labels, r, out).is_ok());
    w.measure_in_place(19, out, z, |z| {
        s.loss_and_grad_in_place(z, classes, labels, r).is_ok()
    });
    w.measure(20, || scf.loss(z, classes, labels, r).is_ok());
    w.measure(20, || {
        scf.grad_per_position(z, classes, labels, up, out).is_ok()
    });
    w.measure(20, || scf.loss_and_grad(z, classes, labels, r, out).is_ok());
    // The chunk API, both layouts, smoothed too: the plan, then each chunk method.
    for (smoothing, layout_cf) in [(0.0, false), (0.0, true), (0.1, false), (0.1, true)] {
        let sf = f.label_smoothing(black_box(smoothing));
        let plan = || {
            if layout_cf {
                sf.channels_first(rows).chunks(classes, labels, r)
            } else {
                sf.chunks(classes, labels, r)
            }
        };
        w.measure(22, || plan().is_ok());
        let Ok(plan) = plan() else {
            w.ok = false;
            return;
        };
        w.measure(22, || plan.loss(z, labels).is_ok());
        w.measure(22, || plan.loss_and_grad(z, labels, out).is_ok());
        w.measure(22, || plan.grad(z, labels, 1.0, out).is_ok());
    }
}

/// The sigmoid chunk API on `x`, `t`: the plan, then each chunk method.
fn sigmoid_chunks(w: &mut Worst, x: &[f32], t: &[f32], out: &mut [f32], f: SigmoidFocal) {
    let r = black_box(Reduction::Mean);
    w.measure(21, || f.chunks(x.len(), r).is_ok());
    let Ok(plan) = f.chunks(x.len(), r) else {
        w.ok = false;
        return;
    };
    w.measure(21, || plan.loss(x, t).is_ok());
    w.measure(21, || plan.loss_and_grad(x, t, out).is_ok());
    w.measure(21, || plan.grad(x, t, 1.0, out).is_ok());
}

#[entry]
fn main() -> ! {
    let mut ok = true;
    let (known, _) = high_water(&mut || known_256());
    let (empty, _) = high_water(&mut || ());
    hprintln!("validate known_256 measured {}", known);
    hprintln!("validate empty_closure measured {}", empty);
    // The closure call itself may push a few bytes: the known use must show on top of it.
    // (Unoptimised, `known_256`'s closure keeps a frame of its own: up to 8 bytes more.)
    let slack = if cfg!(debug_assertions) { 8 } else { 0 };
    ok &= (256 + empty..=256 + empty + slack).contains(&known) && empty <= 16;

    let mut w = Worst {
        names: [
            "SigmoidFocal::loss",
            "SigmoidFocal::loss_elementwise",
            "SigmoidFocal::grad",
            "SigmoidFocal::grad_elementwise",
            "SigmoidFocal::loss_and_grad",
            "SigmoidFocal::loss_and_grad_in_place",
            "Targets::checked",
            "SoftmaxFocal::loss",
            "SoftmaxFocal::loss_per_row",
            "SoftmaxFocal::grad",
            "SoftmaxFocal::grad_per_row",
            "SoftmaxFocal::loss_and_grad",
            "SoftmaxFocal::loss_and_grad_in_place",
            "ChannelsFirst::loss",
            "ChannelsFirst::loss_per_position",
            "ChannelsFirst::grad",
            "ChannelsFirst::grad_per_position",
            "ChannelsFirst::loss_and_grad",
            "ChannelsFirst::loss_and_grad_in_place",
            "SoftmaxFocal::label_smoothing(methods)",
            "ChannelsFirst::label_smoothing(methods)",
            "SigmoidChunks(methods)",
            "SoftmaxChunks(methods,both_layouts)",
        ],
        bytes: [0; METHODS],
        ok: true,
    };

    let (mut x, mut t, mut out) = ([0.0f32; N], [0.0f32; N], [0.0f32; N]);
    batch::detection(&mut x, &mut t, 7);
    for (n, gamma, form) in [
        (1, 2.0, SigmoidForm::ModulatedBce),
        (17, 2.5, SigmoidForm::PerTerm),
        (100, 0.5, SigmoidForm::ModulatedBce),
        (N, 2.0, SigmoidForm::PerTerm),
        (N, 3.7, SigmoidForm::ModulatedBce),
    ] {
        sigmoid(&mut w, &x[..n], &t[..n], &mut out[..n], gamma, form);
    }
    // The rare path: logits beyond ±87 and infinite ones take the guarded evaluation, out of
    // line, whose frame lies beneath the loop's (the first logit of each call is one).
    for (i, v) in x.iter_mut().step_by(5).enumerate() {
        *v = [100.0, -1.0e30, f32::INFINITY, f32::NEG_INFINITY][i % 4];
    }
    for (n, gamma, form) in [
        (1, 2.0, SigmoidForm::ModulatedBce),
        (100, 2.5, SigmoidForm::PerTerm),
        (N, 3.7, SigmoidForm::ModulatedBce),
    ] {
        sigmoid(&mut w, &x[..n], &t[..n], &mut out[..n], gamma, form);
    }

    let mut rng = Rng::new(11);
    let mut z = [0.0f32; MAX_Z];
    let mut gz = [0.0f32; MAX_Z];
    let class_alpha = [0.25f32; 600];
    for (rows, classes, gamma, per_class) in [
        (4, 3, 2.0, false),
        (4, 10, 2.5, true),
        (3, 17, 2.0, false),
        (2, 512, 1.5, true),
        (4, 600, 2.0, false),
        (4, 600, 0.7, true),
    ] {
        let len = rows * classes;
        z[..len]
            .iter_mut()
            .for_each(|v| *v = rng.uniform(-5.0, 5.0));
        // Rows of more than 3 classes: the last of them of a span that is not normal (one
        // logit 200 below its maximum), which takes the guarded arms of the scalar loops.
        if classes > 3 {
            z[len - classes] = -200.0;
        }
        let alpha = if per_class {
            Alpha::PerClass(&class_alpha[..classes])
        } else {
            Alpha::Scalar(0.25)
        };
        let f = SoftmaxFocal::new()
            .alpha(black_box(alpha))
            .gamma(black_box(gamma))
            .ignore_index(black_box(Some(-100)));
        let mut l = [0i64; 4];
        l.iter_mut()
            .for_each(|v| *v = i64::from(rng.below(classes as u32)));
        l[1] = -100;
        let (zs, gs) = (&z[..len], &mut gz[..len]);
        softmax(&mut w, zs, classes, &l[..rows], gs, f);
        let l8 = l.map(|v| v.clamp(0, 255) as u8);
        softmax(&mut w, zs, classes, &l8[..rows], gs, f);
        let l16 = l.map(|v| v.max(0) as u16);
        softmax(&mut w, zs, classes, &l16[..rows], gs, f);
        let l32 = l.map(|v| v as i32);
        softmax(&mut w, zs, classes, &l32[..rows], gs, f);
    }

    for (name, bytes) in w.names.iter().zip(w.bytes) {
        hprintln!("stack {} {}", name, bytes);
    }
    ok &= w.ok;
    if !w.ok {
        hprintln!("stack: a call failed or reached the painted window");
    }
    focal_loss_embedded::exit(ok)
}
