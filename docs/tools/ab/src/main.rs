//! Side by side: the crate at an older commit (`old`) against the working tree (`new`),
//! linked into one binary, every case timed in alternating rounds (seven loops of about
//! 2 ms each, the best of them), with the median and quartiles of the per-round ratios
//! new / old; every output of both is compared as bits. This cancels most of a VM's drift
//! between runs; identical code still moves by a few per cent with its layout. Both write
//! into one output buffer: until 2026-12-04 each had its own, and where the two fell in
//! memory moved identical code by 0.93-1.07x (the softmax at 80 to 32000 classes).
//!
//! ```sh
//! git worktree add target/ab-old <commit>
//! sed -i 's/^name = "focal-loss"$/name = "focal-loss-old"/' target/ab-old/Cargo.toml
//! cd docs/tools/ab && cargo build --release
//! taskset -c 1 target/release/focal-loss-ab 15            # every case; 15 rounds
//! taskset -c 1 target/release/focal-loss-ab 15 "avx2 sum"  # the cases whose name holds it
//! cargo build --release --features parallel               # both sides split over threads:
//! AB_THREADS=2 target/release/focal-loss-ab 15 "smaxl"     # every case in a pool of 2
//! ```
//!
//! Cases: the sigmoid at 64 Ki elements (`fused`, `sum`, `grad`, `loss` elementwise,
//! `gradup`; `/g25` at γ = 2.5, `/b` per-term, `/noalpha`, `/hard1` with 1 % positives and
//! hard targets, else 10 % positives and 20 % soft targets; `/l` at 16 Mi elements, out of
//! cache) and the fused softmax at 256 Ki
//! logits (`smax/C` row-major with PyTorch's preset, ignore index -100, at 32000 classes 32
//! rows as in the benchmark; `smaxm/C` with mmcv's, no ignore index (`smaxmb/C` at the
//! benchmark's 16384 rows); `smaxs/C` its loss alone (no gradient); `smaxl/C` as `smax/C`
//! at 16 Mi logits, out of cache; `scf/C/S`
//! channels-first, `scfl/C/S` at 16 Mi logits; `ls/C` and `lscf/C/S` mmcv's with label
//! smoothing ε = 0.1), on every backend the CPU has.
use std::hint::black_box;
use std::time::Instant;

macro_rules! kernels {
    ($m:ident) => {
        mod $m {
            use $m::{Backend, Reduction, SigmoidFocal, SigmoidForm, SoftmaxFocal};
            /// Softmax `case` ("smax/C", "smaxm/C" or "scf/C/S"), fused, with labels `l`.
            pub fn run_softmax(
                case: &str,
                b: &str,
                z: &[f32],
                l: &[i64],
                out: &mut [f32],
                hash: bool,
            ) -> u64 {
                let b = backend(b).unwrap();
                let p: Vec<usize> = case
                    .split('/')
                    .skip(1)
                    .map(|v| v.parse().unwrap())
                    .collect();
                // `smaxm`: mmcv's preset (no ignore index); `ls`: the same with label
                // smoothing ε = 0.1; else PyTorch's (-100).
                let s = if case.starts_with("smaxm") || case.starts_with("smaxs") {
                    SoftmaxFocal::mmcv()
                } else if case.starts_with("ls") {
                    SoftmaxFocal::mmcv().label_smoothing(0.1)
                } else {
                    SoftmaxFocal::torch()
                };
                let s = s.gamma(2.0).backend(b);
                if case.starts_with("smaxs") {
                    // The loss alone (no gradient).
                    return s.loss(z, p[0], l, Reduction::Mean).unwrap().to_bits() as u64;
                }
                let mut h = if p.len() > 1 {
                    s.channels_first(p[1])
                        .loss_and_grad(z, p[0], l, Reduction::Mean, out)
                } else {
                    s.loss_and_grad(z, p[0], l, Reduction::Mean, out)
                }
                .unwrap()
                .to_bits() as u64;
                if hash {
                    h = crate::hash(h, out);
                }
                h
            }
            pub fn backend(name: &str) -> Option<Backend> {
                Backend::ALL
                    .into_iter()
                    .find(|b| b.name() == name && b.is_available())
            }
            /// Runs `case` once; returns a hash of every output bit.
            pub fn run(
                case: &str,
                b: &str,
                x: &[f32],
                t: &[f32],
                up: &[f32],
                out: &mut [f32],
                hash: bool,
            ) -> u64 {
                let b = backend(b).unwrap();
                let mut f = SigmoidFocal::torchvision().backend(b);
                let parts: Vec<&str> = case.split('/').collect();
                for p in &parts[1..] {
                    if *p == "g25" {
                        f = f.gamma(2.5);
                    }
                    if *p == "b" {
                        f = f.form(SigmoidForm::PerTerm);
                    }
                    if *p == "noalpha" {
                        f = f.alpha(None);
                    }
                }
                let mut h = 0u64;
                match parts[0] {
                    "fused" => {
                        h = f
                            .loss_and_grad(x, t, Reduction::Mean, out)
                            .unwrap()
                            .to_bits() as u64;
                    }
                    "sum" => {
                        h = f.loss(x, t, Reduction::Mean).unwrap().to_bits() as u64;
                    }
                    "grad" => {
                        f.grad(x, t, Reduction::Mean, 1.0, out).unwrap();
                    }
                    "loss" => {
                        f.loss_elementwise(x, t, out).unwrap();
                    }
                    "gradup" => {
                        f.grad_elementwise(x, t, up, out).unwrap();
                    }
                    _ => panic!("{case}"),
                }
                if hash && parts[0] != "sum" {
                    h = crate::hash(h, out);
                }
                h
            }
        }
    };
}
kernels!(old);
kernels!(new);

/// `h` with every bit of `out` mixed in.
fn hash(mut h: u64, out: &[f32]) -> u64 {
    for v in out {
        h = h.rotate_left(5) ^ u64::from(v.to_bits());
        h = h.wrapping_mul(0x9E3779B97F4A7C15);
    }
    h
}

fn inputs(n: usize, seed: u64, hard1: bool) -> (Vec<f32>, Vec<f32>) {
    let mut s = seed;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32
    };
    let x: Vec<f32> = (0..n).map(|_| next() * 12.0 - 6.0).collect();
    let t = (0..n)
        .map(|_| {
            let u = next();
            if hard1 {
                if u < 0.01 {
                    1.0
                } else {
                    0.0
                }
            } else if u < 0.1 {
                1.0
            } else if u < 0.3 {
                next()
            } else {
                0.0
            }
        })
        .collect();
    (x, t)
}

fn time(f: &mut dyn FnMut()) -> f64 {
    // best of 7 loops of ~2 ms
    let mut best = f64::MAX;
    let t0 = Instant::now();
    f();
    let one = t0.elapsed().as_secs_f64().max(1e-7);
    let reps = ((2e-3 / one) as usize).max(1);
    for _ in 0..7 {
        let t0 = Instant::now();
        for _ in 0..reps {
            f();
        }
        best = best.min(t0.elapsed().as_secs_f64() / reps as f64);
    }
    best
}

/// Runs `old` and `new` (each given whether to hash its outputs; one call is `elements`
/// elements) in `rounds` alternating rounds and prints the median and quartiles of the
/// per-round ratios new / old, both median times per element and whether the bits agree.
fn compare(
    id: &str,
    elements: usize,
    rounds: usize,
    old: &mut dyn FnMut(bool) -> u64,
    new: &mut dyn FnMut(bool) -> u64,
) {
    let same = old(true) == new(true);
    let (mut ratios, mut to, mut tn) = (vec![], vec![], vec![]);
    for _ in 0..rounds {
        let a = time(&mut || {
            black_box(old(false));
        });
        let c = time(&mut || {
            black_box(new(false));
        });
        ratios.push(c / a);
        to.push(a);
        tn.push(c);
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let q = |v: &Vec<f64>, f: f64| v[((v.len() - 1) as f64 * f) as usize];
    let r = med(&mut ratios);
    println!(
        "{id:24} new/old {r:.3} (q {:.3}-{:.3})  old {:.3} ns/el  new {:.3} ns/el  bits {}",
        q(&ratios, 0.25),
        q(&ratios, 0.75),
        med(&mut to) * 1e9 / elements as f64,
        med(&mut tn) * 1e9 / elements as f64,
        if same { "same" } else { "DIFFER" }
    );
}

fn main() {
    #[cfg(feature = "parallel")]
    if let Ok(t) = std::env::var("AB_THREADS") {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(t.parse().expect("AB_THREADS: a number of threads"))
            .build()
            .unwrap();
        return pool.install(cases);
    }
    cases()
}

/// Runs the cases the arguments select.
fn cases() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args.get(1).map(|s| s.parse().unwrap()).unwrap_or(11);
    let filter = args.get(2).cloned().unwrap_or_default();
    let n = 1 << 16;
    let backends: Vec<&str> = ["avx512", "avx2", "portable", "scalar"]
        .into_iter()
        .filter(|b| new::backend(b).is_some())
        .collect();
    let scases = [
        "smax/4",
        "smax/10",
        "smaxm/4",
        "smaxm/10",
        "smaxmb/80",
        "smax/80",
        "smax/300",
        "smax/1000",
        "smax/2000",
        "smax/32000",
        "smaxs/80",
        "smaxs/1000",
        "smaxs/32000",
        "smaxl/4",
        "smaxl/10",
        "smaxl/80",
        "smaxl/300",
        "smaxl/1000",
        "smaxl/2000",
        "smaxl/32000",
        "scf/80/1024",
        "scf/19/4096",
        "scfl/80/4096",
        "scfl/19/65536",
        "ls/80",
        "lscf/80/1024",
    ];
    for &b in &backends {
        for case in scases {
            let id = format!("{b} {case}");
            if !id.contains(&filter) {
                continue;
            }
            let c: usize = case.split('/').nth(1).unwrap().parse().unwrap();
            // 32 rows of 32000 classes (the benchmark's shape, 4 MB: out of L2), else
            // 256 Ki logits, or:
            // `smaxl`, `scfl`: 16 Mi logits (64 MB, out of every cache).
            let len = if case.starts_with("smaxl") || case.starts_with("scfl") {
                1 << 24
            } else if case.starts_with("smaxmb") {
                // `smaxmb`: the criterion benchmark's 16384 rows (1.25 Mi logits at 80
                // classes: out of L2, in L3).
                16384 * c
            } else if c >= 32000 {
                32 * c
            } else {
                n * 4
            };
            let (z, _) = inputs(len, 9, false);
            let sp: usize = case
                .split('/')
                .nth(2)
                .map(|v| v.parse().unwrap())
                .unwrap_or(1);
            let rows = z.len() / c / sp * sp;
            let l: Vec<i64> = (0..rows).map(|i| ((i * 7919 + 13) % c) as i64).collect();
            let z = &z[..rows * c];
            // One output buffer for both: where a buffer falls in memory moved identical
            // code by up to 6 % at 32000 classes when each had its own.
            let o = std::cell::RefCell::new(vec![0.0f32; z.len()]);
            compare(
                &id,
                z.len(),
                rounds,
                &mut |h| old::run_softmax(case, b, black_box(z), &l, &mut o.borrow_mut(), h),
                &mut |h| new::run_softmax(case, b, black_box(z), &l, &mut o.borrow_mut(), h),
            );
        }
    }
    let cases = [
        "fused",
        "sum",
        "grad",
        "loss",
        "gradup",
        "fused/g25",
        "sum/g25",
        "grad/g25",
        "fused/b",
        "sum/b",
        "grad/b",
        "fused/noalpha",
        "fused/hard1",
        "grad/hard1",
        "sum/hard1",
        "loss/hard1",
        "gradup/hard1",
        "fused/b/hard1",
        "fused/noalpha/hard1",
        "fused/l",
        "fused/hard1/l",
    ];
    for &b in &backends {
        for case in cases {
            let id = format!("{b} {case}");
            if !id.contains(&filter) {
                continue;
            }
            // `/l`: 16 Mi elements (64 MB each of inputs, targets and gradient: out of cache).
            let n = if case.ends_with("/l") { 1 << 24 } else { n };
            let (x, t) = inputs(n + 3, 7, case.contains("hard1"));
            let up: Vec<f32> = x.iter().map(|v| v * 0.01 + 1.0).collect();
            let o = std::cell::RefCell::new(vec![0.0f32; n + 3]);
            compare(
                &id,
                n,
                rounds,
                &mut |h| old::run(case, b, black_box(&x), &t, &up, &mut o.borrow_mut(), h),
                &mut |h| new::run(case, b, black_box(&x), &t, &up, &mut o.borrow_mut(), h),
            );
        }
    }
}
