//! Criterion benchmarks: every available backend side by side, a naive scalar baseline (the
//! loop a user would write with libm and `1 - p`) and a streaming floor (reads the same
//! inputs, writes the same outputs, computes nothing) for every kernel and size.
//! `sigmoid_fused_checked_gamma2` is the fused call given `Targets::checked` (checked once,
//! before the timed loop), the SIMD backends at 64 Ki and 16 Mi.
//!
//! `cargo bench` runs everything (about 11 minutes); `FOCAL_BENCH_QUICK=1 cargo bench` runs
//! the N = 64 Ki sigmoid and (16384, 80) softmax cases with short measurements.
//! Throughput is in elements (sigmoid: N; softmax: rows·C). `softmax_channels_first_fused`
//! puts the channels-first kernel beside transposing around the row-major one;
//! `sigmoid_fused_by_gamma` and `softmax_fused_by_gamma_and_smoothing` the `γ` without an
//! instantiation of their own and label smoothing (they run in the quick mode too).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use focal_loss::{Backend, Reduction, SigmoidFocal, SoftmaxFocal, Targets};

#[path = "common/floor.rs"]
mod floor;

fn quick() -> bool {
    std::env::var_os("FOCAL_BENCH_QUICK").is_some()
}

/// Deterministic inputs: logits roughly in [-6, 6], about 10% positives.
fn inputs(n: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut s = seed;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32
    };
    let x = (0..n).map(|_| next() * 12.0 - 6.0).collect();
    let t = (0..n)
        .map(|_| if next() < 0.1 { 1.0 } else { 0.0 })
        .collect();
    (x, t)
}

fn backends() -> Vec<Backend> {
    Backend::ALL
        .into_iter()
        .filter(|b| b.is_available())
        .collect()
}

/// torchvision's formula written the obvious way: sigmoid, then logs of `p` and `1 - p`.
fn naive_sigmoid(x: &[f32], t: &[f32], grad: &mut [f32], want_grad: bool) -> f32 {
    let (alpha, n) = (0.25f32, x.len() as f32);
    let mut sum = 0.0f32;
    for i in 0..x.len() {
        let (x, t) = (x[i], t[i]);
        let p = 1.0 / (1.0 + libm::expf(-x));
        let ce = -(t * libm::logf(p) + (1.0 - t) * libm::logf(1.0 - p));
        let p_t = p * t + (1.0 - p) * (1.0 - t);
        let m = 1.0 - p_t;
        let a_t = alpha * t + (1.0 - alpha) * (1.0 - t);
        sum += a_t * m * m * ce;
        if want_grad {
            // d(1-p_t)/dx = (1 - 2t)·p·(1-p); dce/dx = p - t.
            let dm = (1.0 - 2.0 * t) * p * (1.0 - p);
            grad[i] = a_t * (2.0 * m * dm * ce + m * m * (p - t)) / n;
        }
    }
    sum / n
}

fn bench_sigmoid(c: &mut Criterion) {
    let sizes: &[usize] = if quick() {
        &[1 << 16]
    } else {
        &[1 << 10, 1 << 16, 1 << 20, 1 << 24]
    };
    for (kernel, gamma) in [
        ("fused", 2.0),
        ("forward", 2.0),
        ("backward", 2.0),
        ("fused", 2.5),
        ("fused_checked", 2.0),
    ] {
        if quick() && kernel != "fused" {
            continue;
        }
        let mut g = c.benchmark_group(format!("sigmoid_{kernel}_gamma{gamma}"));
        for &n in sizes {
            let wanted = match kernel {
                // Targets checked once, outside the timed loop: in and out of cache.
                "fused_checked" => n == 1 << 16 || n == 1 << 24,
                _ => gamma == 2.0 || n == 1 << 16,
            };
            if !wanted {
                continue;
            }
            let (x, t) = inputs(n, 7);
            let checked = Targets::checked(&t).unwrap();
            let mut out = vec![0.0f32; n];
            g.throughput(Throughput::Elements(n as u64));
            for b in backends() {
                if kernel == "fused_checked" && b == Backend::Scalar {
                    continue;
                }
                let f = SigmoidFocal::torchvision().gamma(gamma).backend(b);
                g.bench_function(BenchmarkId::new(b.name(), n), |bch| match kernel {
                    "fused" => bch.iter(|| {
                        f.loss_and_grad(black_box(&x), &t, Reduction::Mean, &mut out)
                            .unwrap()
                    }),
                    "fused_checked" => bch.iter(|| {
                        f.loss_and_grad(black_box(&x), checked, Reduction::Mean, &mut out)
                            .unwrap()
                    }),
                    "forward" => bch.iter(|| f.loss(black_box(&x), &t, Reduction::Mean).unwrap()),
                    _ => bch.iter(|| {
                        f.grad(black_box(&x), &t, Reduction::Mean, 1.0, &mut out)
                            .unwrap()
                    }),
                });
            }
            if gamma == 2.0 && kernel != "fused_checked" {
                let want_grad = kernel != "forward";
                g.bench_function(BenchmarkId::new("naive", n), |bch| {
                    bch.iter(|| naive_sigmoid(black_box(&x), &t, &mut out, want_grad))
                });
                g.bench_function(BenchmarkId::new("floor", n), |bch| {
                    bch.iter(|| floor::sigmoid(black_box(&x), &t, &mut out))
                });
            }
        }
        g.finish();
    }
}

/// mmcv's softmax focal loss the obvious way: softmax, then `ln p` and `1 - p`.
fn naive_softmax(z: &[f32], c: usize, labels: &[u32], grad: &mut [f32], want_grad: bool) -> f32 {
    let (alpha, rows) = (0.25f32, labels.len() as f32);
    let mut sum = 0.0;
    for (r, &k) in labels.iter().enumerate() {
        let row = &z[r * c..(r + 1) * c];
        let m = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let s: f32 = row.iter().map(|&v| libm::expf(v - m)).sum();
        let p = libm::expf(row[k as usize] - m) / s;
        let q = 1.0 - p;
        let lp = libm::logf(p);
        sum += -alpha * q * q * lp;
        if want_grad {
            // dL/dp, then through the softmax Jacobian.
            let dp = -alpha * (-2.0 * q * lp + q * q / p);
            let g = &mut grad[r * c..(r + 1) * c];
            for (j, (gj, &v)) in g.iter_mut().zip(row).enumerate() {
                let pj = libm::expf(v - m) / s;
                let delta = if j == k as usize { 1.0 } else { 0.0 };
                *gj = dp * p * (delta - pj) / rows;
            }
        }
    }
    sum / rows
}

fn bench_softmax(c: &mut Criterion) {
    let shapes: &[(usize, usize)] = if quick() {
        &[(16384, 80)]
    } else {
        &[
            (65536, 4),
            (16384, 10),
            (16384, 80),
            (1024, 1000),
            (32, 32000),
        ]
    };
    for kernel in ["fused", "forward", "backward"] {
        if quick() && kernel != "fused" {
            continue;
        }
        let mut g = c.benchmark_group(format!("softmax_{kernel}"));
        for &(rows, classes) in shapes {
            let n = rows * classes;
            let (z, _) = inputs(n, 11);
            let labels: Vec<u32> = (0..rows).map(|r| ((r * 7919) % classes) as u32).collect();
            let mut out = vec![0.0f32; n];
            let id = format!("{rows}x{classes}");
            g.throughput(Throughput::Elements(n as u64));
            for b in backends() {
                let f = SoftmaxFocal::mmcv().backend(b);
                g.bench_function(BenchmarkId::new(b.name(), &id), |bch| match kernel {
                    "fused" => bch.iter(|| {
                        f.loss_and_grad(black_box(&z), classes, &labels, Reduction::Mean, &mut out)
                            .unwrap()
                    }),
                    "forward" => bch.iter(|| {
                        f.loss(black_box(&z), classes, &labels, Reduction::Mean)
                            .unwrap()
                    }),
                    _ => bch.iter(|| {
                        f.grad(
                            black_box(&z),
                            classes,
                            &labels,
                            Reduction::Mean,
                            1.0,
                            &mut out,
                        )
                        .unwrap()
                    }),
                });
            }
            let want_grad = kernel != "forward";
            g.bench_function(BenchmarkId::new("naive", &id), |bch| {
                bch.iter(|| naive_softmax(black_box(&z), classes, &labels, &mut out, want_grad))
            });
            g.bench_function(BenchmarkId::new("floor", &id), |bch| {
                bch.iter(|| floor::softmax(black_box(&z), classes, &labels, &mut out))
            });
        }
        g.finish();
    }
}

/// `[N, C, S]` to `[N·S, C]` (or back with `back`): what a caller without a channels-first
/// kernel does around the row-major call.
fn transpose(src: &[f32], dst: &mut [f32], c: usize, s: usize, back: bool) {
    for (a, b) in src.chunks(c * s).zip(dst.chunks_mut(c * s)) {
        for j in 0..c {
            for p in 0..s {
                if back {
                    b[j * s + p] = a[p * c + j];
                } else {
                    b[p * c + j] = a[j * s + p];
                }
            }
        }
    }
}

/// Channels-first `[N, C, S]` logits (dense segmentation and detection heads), fused call:
/// the channels-first kernel, transposing around the row-major kernel (logits in, gradient
/// out), and the row-major kernel alone on the same number of rows and `C` (its data
/// already row-major), per backend.
fn bench_channels_first(c: &mut Criterion) {
    let shapes: &[(usize, usize, usize)] = if quick() {
        &[(16, 80, 4096)]
    } else {
        &[(8, 19, 128 * 256), (16, 80, 4096)]
    };
    let mut g = c.benchmark_group("softmax_channels_first_fused");
    for &(n, classes, s) in shapes {
        let len = n * classes * s;
        let (z, _) = inputs(len, 13);
        let labels: Vec<u32> = (0..n * s).map(|r| ((r * 7919) % classes) as u32).collect();
        let mut rows = vec![0.0f32; len];
        transpose(&z, &mut rows, classes, s, false);
        let (mut out, mut tmp) = (vec![0.0f32; len], vec![0.0f32; len]);
        let id = format!("{n}x{classes}x{s}");
        g.throughput(Throughput::Elements(len as u64));
        for b in backends() {
            let f = SoftmaxFocal::torch().backend(b);
            let cf = f.channels_first(s);
            g.bench_function(
                BenchmarkId::new(format!("{}/channels_first", b.name()), &id),
                |bch| {
                    bch.iter(|| {
                        cf.loss_and_grad(
                            black_box(&z),
                            classes,
                            &labels,
                            Reduction::MeanValid,
                            &mut out,
                        )
                        .unwrap()
                    })
                },
            );
            g.bench_function(
                BenchmarkId::new(format!("{}/transpose_row_major", b.name()), &id),
                |bch| {
                    bch.iter(|| {
                        transpose(black_box(&z), &mut tmp, classes, s, false);
                        let l = f
                            .loss_and_grad_in_place(
                                &mut tmp,
                                classes,
                                &labels,
                                Reduction::MeanValid,
                            )
                            .unwrap();
                        transpose(&tmp, &mut out, classes, s, true);
                        l
                    })
                },
            );
            g.bench_function(
                BenchmarkId::new(format!("{}/row_major", b.name()), &id),
                |bch| {
                    bch.iter(|| {
                        f.loss_and_grad(
                            black_box(&rows),
                            classes,
                            &labels,
                            Reduction::MeanValid,
                            &mut out,
                        )
                        .unwrap()
                    })
                },
            );
        }
    }
    g.finish();
}

fn config() -> Criterion {
    let (warm, measure) = if quick() { (0.3, 1.0) } else { (0.5, 2.0) };
    Criterion::default()
        .warm_up_time(Duration::from_secs_f64(warm))
        .measurement_time(Duration::from_secs_f64(measure))
        .sample_size(20)
        .configure_from_args()
}

/// The fused calls at `γ` = 1, 3 and 4 (run-time integer powers inside the general
/// instantiation, beside the `γ = 2` one for scale), sigmoid at 64 Ki and softmax at
/// (16384, 80), and the softmax with label smoothing ε = 0.1 against ε = 0 in both layouts.
fn bench_gamma_and_smoothing(c: &mut Criterion) {
    let n = 1 << 16;
    let (x, t) = inputs(n, 7);
    let mut out = vec![0.0f32; n];
    let mut g = c.benchmark_group("sigmoid_fused_by_gamma");
    g.throughput(Throughput::Elements(n as u64));
    for gamma in [1.0f32, 2.0, 3.0, 4.0] {
        for b in backends() {
            let f = SigmoidFocal::torchvision().gamma(gamma).backend(b);
            g.bench_function(BenchmarkId::new(b.name(), format!("gamma{gamma}")), |bch| {
                bch.iter(|| {
                    f.loss_and_grad(black_box(&x), &t, Reduction::Mean, &mut out)
                        .unwrap()
                })
            });
        }
    }
    g.finish();
    let (rows, classes) = (16384, 80);
    let len = rows * classes;
    let (z, _) = inputs(len, 11);
    let labels: Vec<u32> = (0..rows).map(|r| ((r * 7919) % classes) as u32).collect();
    let mut out = vec![0.0f32; len];
    let mut g = c.benchmark_group("softmax_fused_by_gamma_and_smoothing");
    g.throughput(Throughput::Elements(len as u64));
    for (gamma, eps) in [
        (1.0f32, 0.0f32),
        (2.0, 0.0),
        (3.0, 0.0),
        (4.0, 0.0),
        (2.0, 0.1),
    ] {
        for b in backends() {
            let f = SoftmaxFocal::mmcv()
                .gamma(gamma)
                .label_smoothing(eps)
                .backend(b);
            let id = format!("gamma{gamma}_eps{eps}");
            g.bench_function(
                BenchmarkId::new(format!("{}/row_major", b.name()), &id),
                |bch| {
                    bch.iter(|| {
                        f.loss_and_grad(black_box(&z), classes, &labels, Reduction::Mean, &mut out)
                            .unwrap()
                    })
                },
            );
            if gamma == 2.0 {
                // The same logits read as [16, 80, 1024].
                let cf = f.channels_first(1024);
                g.bench_function(
                    BenchmarkId::new(format!("{}/channels_first", b.name()), &id),
                    |bch| {
                        bch.iter(|| {
                            cf.loss_and_grad(
                                black_box(&z),
                                classes,
                                &labels,
                                Reduction::Mean,
                                &mut out,
                            )
                            .unwrap()
                        })
                    },
                );
            }
        }
    }
    g.finish();
}

/// Dense detection's input for the sigmoid loss: logits as [`inputs`], hard targets with
/// about 1 % positives (`hard1pct`), and the same logits with soft targets uniform in
/// `[0, 1]` (`soft`), fused `γ = 2` at 64 Ki (and 1 Mi outside the quick mode), both forms
/// (torchvision's and mmcv's presets), every backend, and the naive loop (torchvision's form).
fn bench_detection(c: &mut Criterion) {
    let sizes: &[usize] = if quick() {
        &[1 << 16]
    } else {
        &[1 << 16, 1 << 20]
    };
    let mut g = c.benchmark_group("sigmoid_fused_detection");
    for &n in sizes {
        let (x, _) = inputs(n, 7);
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32
        };
        let hard: Vec<f32> = (0..n)
            .map(|_| if next() < 0.01 { 1.0 } else { 0.0 })
            .collect();
        let soft: Vec<f32> = (0..n).map(|_| next()).collect();
        let mut out = vec![0.0f32; n];
        g.throughput(Throughput::Elements(n as u64));
        for (name, t) in [("hard1pct", &hard), ("soft", &soft)] {
            for (form, preset) in [
                ("modulated_bce", SigmoidFocal::torchvision()),
                ("per_term", SigmoidFocal::mmcv()),
            ] {
                for b in backends() {
                    let f = preset.backend(b);
                    let id = format!("{form}/{name}/{}", b.name());
                    g.bench_function(BenchmarkId::new(id, n), |bch| {
                        bch.iter(|| {
                            f.loss_and_grad(black_box(&x), t, Reduction::Mean, &mut out)
                                .unwrap()
                        })
                    });
                }
            }
            g.bench_function(BenchmarkId::new(format!("naive/{name}"), n), |bch| {
                bch.iter(|| naive_sigmoid(black_box(&x), t, &mut out, true))
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_sigmoid, bench_softmax, bench_channels_first, bench_gamma_and_smoothing,
        bench_detection
}
criterion_main!(benches);
