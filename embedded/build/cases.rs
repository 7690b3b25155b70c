//! The bit-identity cases and their inputs, drawn deterministically on the host.
//!
//! Sigmoid: every method (and `Targets::checked`), every gamma of [`GAMMAS`], both forms,
//! every reduction, alpha `None`/0/0.25/0.75/1, lengths 0..=1100, hard and soft targets,
//! large |x| (±30, ±90, ±inf), subnormals, NaN logits and upstreams. Softmax: every method,
//! C from 1 to 600 (around the row strategies' changes at 17 and 512), `u8`/`u16`/`i32`/`i64`
//! labels, ignore indices, scalar and per-class alpha, rows with ties, -inf, +inf, NaN,
//! large and subnormal logits; the same for channels-first images and label smoothing, and
//! the chunk API of both kernels. And errors: each argument check, with the value it
//! reports.

use focal_loss::{Reduction, SigmoidForm};

use crate::case::{Case, LabelKind, Method, Span};
use crate::prng::Rng;

/// The gammas: each multiplication special case and the general path.
const GAMMAS: [f32; 7] = [0.0, 1.0, 2.0, 2.5, 3.0, 4.0, 0.5];

const FORMS: [SigmoidForm; 2] = [SigmoidForm::ModulatedBce, SigmoidForm::PerTerm];

const REDUCTIONS: [Reduction; 4] = [
    Reduction::Sum,
    Reduction::Mean,
    Reduction::MeanValid,
    Reduction::Normalize(7.5),
];

const SIGMOID_METHODS: [Method; 6] = [
    Method::SigLoss,
    Method::SigLossElementwise,
    Method::SigGrad,
    Method::SigGradElementwise,
    Method::SigLossAndGrad,
    Method::SigLossAndGradInPlace,
];

const SOFTMAX_METHODS: [Method; 6] = [
    Method::SmLoss,
    Method::SmLossPerRow,
    Method::SmGrad,
    Method::SmGradPerRow,
    Method::SmLossAndGrad,
    Method::SmLossAndGradInPlace,
];

const LABEL_KINDS: [LabelKind; 4] = [
    LabelKind::U8,
    LabelKind::U16,
    LabelKind::I32,
    LabelKind::I64,
];

/// Logits that stress the math: large, infinite, subnormal, signed zeros, NaN.
const SPECIAL_LOGITS: [f32; 20] = [
    30.0,
    -30.0,
    90.0,
    -90.0,
    f32::INFINITY,
    f32::NEG_INFINITY,
    1e-40,
    -1e-45,
    0.0,
    -0.0,
    f32::NAN,
    17.0,
    -17.0,
    88.7,
    -103.9,
    3.4e38,
    -3.4e38,
    1e-30,
    0.5,
    -15.942385,
];

/// Targets at the edges of `[0, 1]` and in between.
const SPECIAL_TARGETS: [f32; 9] = [0.0, 1.0, 0.5, 1e-7, 0.99999994, 1e-40, -0.0, 0.25, 0.9];

/// The generated inputs and the cases that use them.
pub struct Set {
    pub f32: Vec<f32>,
    pub u8: Vec<u8>,
    pub u16: Vec<u16>,
    pub i32: Vec<i32>,
    pub i64: Vec<i64>,
    pub cases: Vec<Case>,
    rng: Rng,
}

/// A case with every field at a neutral value.
fn base(method: Method) -> Case {
    Case {
        method,
        x: Span::EMPTY,
        t: Span::EMPTY,
        up: Span::EMPTY,
        lab: Span::EMPTY,
        labels: LabelKind::U8,
        class_alpha: Span::EMPTY,
        c: 0,
        out_len: 0,
        gamma: 2.0,
        alpha: Some(0.25),
        per_class: false,
        form: SigmoidForm::ModulatedBce,
        reduction: Reduction::Mean,
        upstream: 1.0,
        ignore: None,
        checked: false,
        smoothing: None,
        spatial: 0,
    }
}

fn span(at: usize, len: usize) -> Span {
    Span {
        at: at as u32,
        len: len as u32,
    }
}

/// How a sigmoid case's data is drawn.
#[derive(Clone, Copy)]
enum Profile {
    /// Logits in [-8, 8], hard targets.
    Hard,
    /// Logits in [-8, 8] (some scaled to ±40), a quarter of the targets soft.
    Mixed,
    /// Every element drawn from the special logits and targets.
    Special,
}

impl Set {
    fn floats(&mut self, v: &[f32]) -> Span {
        let at = self.f32.len();
        self.f32.extend_from_slice(v);
        span(at, v.len())
    }

    fn logits(&mut self, n: usize, p: Profile) -> Vec<f32> {
        (0..n)
            .map(|_| match p {
                Profile::Hard => self.rng.uniform(-8.0, 8.0),
                Profile::Mixed if self.rng.below(8) == 0 => self.rng.uniform(-40.0, 40.0),
                Profile::Mixed => self.rng.uniform(-8.0, 8.0),
                Profile::Special if self.rng.below(3) == 0 => self.rng.uniform(-8.0, 8.0),
                Profile::Special => {
                    SPECIAL_LOGITS[self.rng.below(SPECIAL_LOGITS.len() as u32) as usize]
                }
            })
            .collect()
    }

    fn targets(&mut self, n: usize, p: Profile) -> Vec<f32> {
        (0..n)
            .map(|_| match p {
                Profile::Hard => self.rng.below(2) as f32,
                Profile::Mixed if self.rng.below(4) == 0 => self.rng.unit(),
                Profile::Mixed => self.rng.below(2) as f32,
                Profile::Special => {
                    SPECIAL_TARGETS[self.rng.below(SPECIAL_TARGETS.len() as u32) as usize]
                }
            })
            .collect()
    }

    fn upstream(&mut self, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| match self.rng.below(40) {
                0 => 0.0,
                1 => f32::NAN,
                2 => 1e30,
                _ => self.rng.uniform(-2.0, 2.0),
            })
            .collect()
    }

    /// A sigmoid case of `n` elements: fills its spans and output length for `method`.
    fn sigmoid(&mut self, mut c: Case, n: usize, p: Profile) -> Case {
        let x = self.logits(n, p);
        let t = self.targets(n, p);
        c.x = self.floats(&x);
        c.t = self.floats(&t);
        if c.method == Method::SigGradElementwise {
            let up = self.upstream(n);
            c.up = self.floats(&up);
        }
        c.out_len = match c.method {
            Method::SigLoss | Method::TargetsChecked => 0,
            _ => n as u32,
        };
        c
    }

    /// `rows` labels of kind `kind` for `C` classes; some rows get the ignore index.
    fn labels(&mut self, kind: LabelKind, rows: usize, c: usize, ignore: Option<i64>) -> Span {
        let max = match kind {
            LabelKind::U8 => c.min(256),
            LabelKind::U16 => c.min(65536),
            _ => c,
        };
        let v: Vec<i64> = (0..rows)
            .map(|_| match ignore {
                Some(i) if self.rng.below(5) == 0 => i,
                _ => i64::from(self.rng.below(max as u32)),
            })
            .collect();
        self.label_values(kind, &v)
    }

    /// Stores label values (each must fit `kind`).
    fn label_values(&mut self, kind: LabelKind, v: &[i64]) -> Span {
        match kind {
            LabelKind::U8 => {
                let at = self.u8.len();
                self.u8.extend(v.iter().map(|&l| u8::try_from(l).unwrap()));
                span(at, v.len())
            }
            LabelKind::U16 => {
                let at = self.u16.len();
                self.u16
                    .extend(v.iter().map(|&l| u16::try_from(l).unwrap()));
                span(at, v.len())
            }
            LabelKind::I32 => {
                let at = self.i32.len();
                self.i32
                    .extend(v.iter().map(|&l| i32::try_from(l).unwrap()));
                span(at, v.len())
            }
            LabelKind::I64 => {
                let at = self.i64.len();
                self.i64.extend_from_slice(v);
                span(at, v.len())
            }
        }
    }

    /// `rows × C` logits; every third row (from the second) a special pattern.
    fn softmax_logits(&mut self, rows: usize, c: usize) -> Vec<f32> {
        let mut z = Vec::with_capacity(rows * c);
        for r in 0..rows {
            let scale = [1.0, 5.0, 30.0][self.rng.below(3) as usize];
            let mut row: Vec<f32> = (0..c).map(|_| self.rng.uniform(-scale, scale)).collect();
            if r % 3 == 1 {
                let j = self.rng.below(c as u32) as usize;
                match self.rng.below(8) {
                    0 => {
                        let v = row[0];
                        row.fill(v) // every class tied
                    }
                    1 => row[j] = row.iter().cloned().fold(f32::MIN, f32::max), // tied maximum
                    2 => row
                        .iter_mut()
                        .step_by(2)
                        .for_each(|v| *v = f32::NEG_INFINITY),
                    3 => row[j] = f32::NAN,
                    4 => row[j] = f32::INFINITY,
                    5 => row.iter_mut().for_each(|v| *v *= 3.0), // up to ±90
                    6 => row.iter_mut().step_by(2).for_each(|v| *v = 1e-40),
                    _ => row[j] = [90.0, -90.0, 30.0, -30.0][j % 4],
                }
            }
            z.extend_from_slice(&row);
        }
        z
    }

    /// Rewrites the logits of softmax case `c` (`images·sp` rows of `C` classes) as
    /// channels-first images `[images, C, sp]`: row `i·sp + s` becomes position `s` of
    /// image `i`, its classes `sp` apart.
    fn transpose_to_channels_first(&mut self, c: &Case, images: usize, sp: usize) {
        let classes = c.c as usize;
        let at = c.x.at as usize;
        let rows: Vec<f32> = self.f32[at..at + c.x.len as usize].to_vec();
        for i in 0..images {
            for s in 0..sp {
                for j in 0..classes {
                    self.f32[at + (i * classes + j) * sp + s] = rows[(i * sp + s) * classes + j];
                }
            }
        }
    }

    /// A softmax case: fills logits, labels, per-class alpha, upstream and output length.
    fn softmax(&mut self, mut c: Case, rows: usize, classes: usize) -> Case {
        let z = self.softmax_logits(rows, classes);
        c.x = self.floats(&z);
        c.c = classes as u32;
        c.lab = self.labels(c.labels, rows, classes, c.ignore);
        if c.per_class {
            let a: Vec<f32> = (0..classes).map(|_| self.rng.unit()).collect();
            c.class_alpha = self.floats(&a);
        }
        if c.method == Method::SmGradPerRow {
            let up = self.upstream(rows);
            c.up = self.floats(&up);
        }
        c.out_len = match c.method {
            Method::SmLoss => 0,
            Method::SmLossPerRow => rows as u32,
            _ => (rows * classes) as u32,
        };
        c
    }
}

/// Every case, with its inputs.
pub fn generate() -> Set {
    let mut s = Set {
        f32: Vec::new(),
        u8: Vec::new(),
        u16: Vec::new(),
        i32: Vec::new(),
        i64: Vec::new(),
        cases: Vec::new(),
        rng: Rng::new(0x13_F0CA1),
    };
    sigmoid_cases(&mut s);
    softmax_cases(&mut s);
    layout_cases(&mut s);
    sigmoid_errors(&mut s);
    softmax_errors(&mut s);
    s
}

fn sigmoid_cases(s: &mut Set) {
    const LENS: [usize; 9] = [0, 1, 2, 3, 17, 64, 100, 257, 33];
    const ALPHAS: [Option<f32>; 5] = [Some(0.25), None, Some(0.0), Some(1.0), Some(0.75)];
    const UPSTREAMS: [f32; 4] = [1.0, 0.5, -2.0, 3.0e-3];
    let profiles = [Profile::Hard, Profile::Mixed, Profile::Special];
    let mut k = 0;
    for gamma in GAMMAS {
        for form in FORMS {
            for method in SIGMOID_METHODS {
                let mut c = base(method);
                c.gamma = gamma;
                c.form = form;
                c.alpha = ALPHAS[k % 5];
                c.reduction = REDUCTIONS[k % 4];
                c.upstream = UPSTREAMS[k % 4];
                c.checked = k % 3 == 0;
                let c = s.sigmoid(c, LENS[k % LENS.len()], profiles[k % 3]);
                s.cases.push(c);
                k += 1;
            }
            // Every element special, for the fused and the elementwise passes.
            for method in [Method::SigLossAndGrad, Method::SigGradElementwise] {
                let mut c = base(method);
                c.gamma = gamma;
                c.form = form;
                c.alpha = ALPHAS[k % 5];
                let c = s.sigmoid(c, 64, Profile::Special);
                s.cases.push(c);
                k += 1;
            }
        }
    }
    // Longer runs, across any internal blocking of the kernels.
    for (n, gamma, method) in [
        (1100, 2.0, Method::SigLossAndGrad),
        (1031, 2.5, Method::SigLoss),
        (1024, 0.5, Method::SigLossAndGradInPlace),
    ] {
        let mut c = base(method);
        c.gamma = gamma;
        let c = s.sigmoid(c, n, Profile::Mixed);
        s.cases.push(c);
    }
    // Targets::checked accepting.
    let c = s.sigmoid(base(Method::TargetsChecked), 17, Profile::Special);
    s.cases.push(c);
}

fn softmax_cases(s: &mut Set) {
    const CLASSES: [usize; 24] = [
        1, 2, 3, 4, 5, 7, 8, 9, 10, 15, 16, 17, 18, 31, 32, 33, 64, 100, 256, 257, 511, 512, 513,
        600,
    ];
    let mut k = 0usize;
    for classes in CLASSES {
        let rows = (1024 / classes).clamp(2, 9);
        for method in SOFTMAX_METHODS {
            let mut c = base(method);
            c.labels = LABEL_KINDS[k % 4];
            c.gamma = GAMMAS[k % 7];
            c.reduction = REDUCTIONS[k % 4];
            c.upstream = [1.0, -0.5, 2.0][k % 3];
            (c.alpha, c.per_class) = match k % 4 {
                0 => (None, false),
                1 => (Some(0.25), false),
                2 => (None, true),
                _ => (Some(1.0), false),
            };
            c.ignore = match (k % 3, c.labels) {
                (0, _) => None,
                (1, LabelKind::I32 | LabelKind::I64) => Some(-100),
                _ => Some((classes as i64 - 1).min(255)),
            };
            let c = s.softmax(c, rows, classes);
            s.cases.push(c);
            k += 1;
        }
    }
    // Zero rows; every row ignored with MeanValid; a longer batch of 10 classes.
    let mut c = base(Method::SmLossAndGrad);
    c.alpha = None;
    let c = s.softmax(c, 0, 3);
    s.cases.push(c);
    for method in [Method::SmLossAndGrad, Method::SmLoss] {
        let mut c = base(method);
        (c.alpha, c.labels, c.ignore, c.reduction) =
            (None, LabelKind::I64, Some(-100), Reduction::MeanValid);
        let mut c = s.softmax(c, 4, 5);
        c.lab = s.label_values(LabelKind::I64, &[-100; 4]);
        s.cases.push(c);
    }
    let mut c = base(Method::SmLossAndGrad);
    (c.alpha, c.gamma) = (None, 2.0);
    let c = s.softmax(c, 100, 10);
    s.cases.push(c);
}

/// Channels-first images (transposed rows, so that ties, infinities and NaN fall within a
/// position), label smoothing (either layout, `ε` from 1e-3 to 1 and an explicit 0), and
/// the chunk API of both kernels (smoothed and channels-first too), over every softmax
/// method, label type and the parameters' cycle of `softmax_cases`.
fn layout_cases(s: &mut Set) {
    const SHAPES: [(usize, usize, usize); 8] = [
        // (classes, images, positions per image)
        (1, 2, 3),
        (2, 3, 4),
        (3, 2, 5),
        (4, 1, 9),
        (10, 2, 8),
        (17, 1, 7),
        (33, 2, 2),
        (100, 1, 3),
    ];
    const SMOOTHING: [Option<f32>; 5] = [None, Some(0.1), Some(1.0), Some(1e-3), Some(0.0)];
    let mut k = 0usize;
    for (classes, images, sp) in SHAPES {
        let methods = SOFTMAX_METHODS.into_iter().chain([Method::SmChunks]);
        for (m, method) in methods.enumerate() {
            // Row-major and channels-first, each smoothed or not as the cycle goes.
            for spatial in [0, sp] {
                let mut c = base(method);
                c.labels = LABEL_KINDS[k % 4];
                c.gamma = GAMMAS[k % 7];
                c.reduction = REDUCTIONS[k % 4];
                c.upstream = [1.0, -0.5, 2.0][k % 3];
                (c.alpha, c.per_class) = match k % 3 {
                    0 => (None, false),
                    1 => (Some(0.25), false),
                    _ => (None, true),
                };
                c.ignore = match (k % 3, c.labels) {
                    (0, _) => None,
                    (1, LabelKind::I32 | LabelKind::I64) => Some(-100),
                    _ => Some((classes as i64 - 1).min(255)),
                };
                c.smoothing = SMOOTHING[(k + m) % 5];
                c.spatial = spatial as u32;
                let mut c = s.softmax(c, images * sp, classes);
                if spatial > 0 {
                    s.transpose_to_channels_first(&c, images, sp);
                }
                if c.method == Method::SmChunks {
                    c.out_len = (images * sp * classes) as u32;
                }
                s.cases.push(c);
                k += 1;
            }
        }
    }
    // The sigmoid chunk API: each profile, both forms, lengths across the blocks of eight.
    for (i, len) in [1usize, 9, 64, 100, 257].into_iter().enumerate() {
        let mut c = base(Method::SigChunks);
        c.gamma = GAMMAS[i % 7];
        c.form = FORMS[i % 2];
        c.reduction = REDUCTIONS[i % 4];
        c.checked = i % 2 == 1;
        let profile = [Profile::Hard, Profile::Mixed, Profile::Special][i % 3];
        let c = s.sigmoid(c, len, profile);
        s.cases.push(c);
    }
}

fn sigmoid_errors(s: &mut Set) {
    // Each method with a bad target at a few positions, plain and through Targets::checked.
    let bad = [(5, 1.5), (2, f32::NAN), (0, -0.25), (16, 1.0000001)];
    let mut k = 0;
    for method in SIGMOID_METHODS.into_iter().chain([Method::TargetsChecked]) {
        for checked in [false, true] {
            let (at, v) = bad[k % bad.len()];
            let mut c = base(method);
            c.checked = checked;
            let mut c = s.sigmoid(c, 17, Profile::Mixed);
            s.f32[(c.t.at as usize) + at] = v;
            if k % 2 == 0 {
                c.gamma = 2.5;
            }
            s.cases.push(c);
            k += 1;
        }
    }
    // Lengths: targets, then the output or upstream.
    for method in SIGMOID_METHODS {
        let mut c = s.sigmoid(base(method), 9, Profile::Hard);
        c.t.len -= 1;
        s.cases.push(c);
        if c.out_len > 0 && method != Method::SigLossAndGradInPlace {
            let mut c = s.sigmoid(base(method), 9, Profile::Hard);
            c.out_len -= 1;
            s.cases.push(c);
        }
    }
    let mut c = s.sigmoid(base(Method::SigGradElementwise), 9, Profile::Hard);
    c.up.len += 1;
    s.cases.push(c);
    // Parameters: gamma, alpha, normaliser; parameters are checked before shapes.
    let params: [(f32, Option<f32>, Reduction); 10] = [
        (-1.0, Some(0.25), Reduction::Mean),
        (f32::NAN, Some(0.25), Reduction::Mean),
        (f32::INFINITY, None, Reduction::Sum),
        (2.0, Some(1.5), Reduction::Mean),
        (2.0, Some(-0.1), Reduction::Mean),
        (2.0, Some(f32::NAN), Reduction::Mean),
        (2.0, None, Reduction::Normalize(0.0)),
        (2.0, None, Reduction::Normalize(-2.0)),
        (2.0, None, Reduction::Normalize(f32::NAN)),
        (2.0, None, Reduction::Normalize(f32::INFINITY)),
    ];
    for (i, (gamma, alpha, reduction)) in params.into_iter().enumerate() {
        let method = SIGMOID_METHODS[i % 6];
        let mut c = base(method);
        (c.gamma, c.alpha, c.reduction) = (gamma, alpha, reduction);
        let mut c = s.sigmoid(c, 5, Profile::Hard);
        if i % 3 == 0 {
            c.t.len -= 1;
        }
        s.cases.push(c);
    }
}

fn softmax_errors(s: &mut Set) {
    let mut k = 0;
    let mut next = |c: Case| {
        let mut c = c;
        c.method = SOFTMAX_METHODS[k % 6];
        c.labels = LABEL_KINDS[k % 4];
        k += 1;
        c
    };
    // num_classes 0, and one that does not divide the logits.
    for (classes, drop) in [(0, 0), (3, 1), (4, 2)] {
        let mut c = s.softmax(next(base(Method::SmLoss)), 4, classes.max(1));
        c.c = classes as u32;
        c.x.len -= drop;
        s.cases.push(c);
    }
    // Labels, per-class alpha, output and upstream lengths.
    for (what, kind) in LABEL_KINDS.into_iter().enumerate() {
        for method in SOFTMAX_METHODS {
            let mut c = base(method);
            c.per_class = true;
            c.labels = kind;
            let mut c = s.softmax(c, 4, 6);
            match what {
                0 => c.lab.len -= 1,
                1 => c.class_alpha.len -= 1,
                2 if c.out_len > 0 && method != Method::SmLossAndGradInPlace => c.out_len += 1,
                3 if method == Method::SmGradPerRow => c.up.len -= 1,
                _ => continue,
            }
            s.cases.push(c);
        }
    }
    // Parameter values.
    for (i, (gamma, alpha, class_alpha, reduction)) in [
        (-0.5, None, None, Reduction::Mean),
        (f32::NAN, None, None, Reduction::Mean),
        (2.0, Some(1.25), None, Reduction::Mean),
        (2.0, None, Some((2, f32::NAN)), Reduction::Mean),
        (2.0, None, Some((0, -0.5)), Reduction::Sum),
        (2.0, None, None, Reduction::Normalize(0.0)),
        (2.0, None, None, Reduction::Normalize(f32::NEG_INFINITY)),
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = next(base(Method::SmLoss));
        (c.gamma, c.alpha, c.reduction) = (gamma, alpha, reduction);
        c.per_class = class_alpha.is_some();
        let mut c = s.softmax(c, 3, 5);
        if let Some((at, v)) = class_alpha {
            s.f32[c.class_alpha.at as usize + at] = v;
        }
        if i % 2 == 0 {
            c.lab.len -= 1; // the parameter error comes first
        }
        s.cases.push(c);
    }
    // Labels out of range, in each type, with and without an ignore index.
    let bad: [(LabelKind, i64, Option<i64>); 8] = [
        (LabelKind::U8, 10, None),
        (LabelKind::U8, 255, Some(255 - 1)),
        (LabelKind::U16, 600, Some(0)),
        (LabelKind::I32, -1, None),
        (LabelKind::I32, -100, Some(-99)),
        (LabelKind::I64, i64::MIN, Some(-100)),
        (LabelKind::I64, 10, Some(9)),
        (LabelKind::I64, -100, None),
    ];
    for (i, (kind, label, ignore)) in bad.into_iter().enumerate() {
        let mut c = base(SOFTMAX_METHODS[i % 6]);
        (c.labels, c.ignore) = (kind, ignore);
        let mut c = s.softmax(c, 6, 10);
        let mut v: Vec<i64> = (0..6).map(|r| r % 10).collect();
        v[(i % 5) + 1] = label;
        c.lab = s.label_values(kind, &v);
        if i % 3 == 0 && c.out_len > 0 && c.method != Method::SmLossAndGradInPlace {
            c.out_len -= 1; // a shape error comes before the labels
        }
        s.cases.push(c);
    }
}
