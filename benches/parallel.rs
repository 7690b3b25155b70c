//! Feature `parallel`: the fused calls on one thread and on every core, side by side, with
//! the streaming floor (read the inputs, write the gradient, compute nothing) on one thread
//! and on every core. Best backend only (the one `Backend::detect` picks).
//!
//! `cargo bench --features parallel --bench parallel`
//! (`FOCAL_BENCH_QUICK=1`: shorter measurements; the same rows.)
//!
//! Groups: `parallel_sigmoid_fused` (γ = 2, 10 % positives) at 32 Ki, 64 Ki, 128 Ki (where
//! the size threshold sits), 1 Mi and 16 Mi elements; `parallel_softmax_fused` at
//! (16384, 80), (1024, 1000), (32, 32000) and (209715, 80) (16 Mi logits), and
//! channels-first as one image `[1, 19, 512 × 512]` (5 Mi logits, split inside the image)
//! and `[8, 19, 128 × 256]`. Row names:
//! `1-thread`, `N-threads` (N = the cores), `floor/1-thread`, `floor/N-threads` (the
//! sigmoid from 1 Mi up, the row-major softmax shapes), and for the sigmoid from 1 Mi up
//! `checked/1-thread`, `checked/N-threads` (targets checked beforehand with
//! `Targets::checked`, so the call reads them once). The rows above run inside
//! `pool.install`, where the caller is one of the pool's threads; `outside` calls from the
//! bench's own thread with rayon's global pool (as many threads as cores), as a program's
//! main thread or a framework's own threads do.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use focal_loss::{Reduction, SigmoidFocal, SoftmaxFocal, Targets};
use rayon::prelude::*;

#[path = "common/floor.rs"]
mod floor;

fn quick() -> bool {
    std::env::var_os("FOCAL_BENCH_QUICK").is_some()
}

/// Deterministic values in [0, 1).
fn stream(seed: u64) -> impl FnMut() -> f32 {
    let mut s = seed;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32
    }
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

/// The streaming floor: [`floor::sigmoid`] (`out[i] = x[i] - t[i]`, and a sum of `t`, in 16
/// lanes so that it vectorises) on 64 Ki chunks spread over the current pool (one chunk at a
/// time on one thread). Until 2026-12-04 this loop was its own copy over `chunks(16)`, which
/// did not vectorise: on Zen 4 it ran 1.6-1.7 G/s in cache, a third of the vectorised loop,
/// so below 16 Mi it timed arithmetic, not memory.
fn floor(x: &[f32], t: &[f32], out: &mut [f32]) -> f32 {
    use floor::CHUNK;
    out.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK).zip(t.par_chunks(CHUNK)))
        .map(|(o, (x, t))| floor::sigmoid(x, t, o))
        .sum()
}

/// The softmax's streaming floor: [`floor::softmax`] (the logits copied to the gradient
/// buffer, the labelled logits summed) on blocks of whole rows of about 64 Ki logits spread
/// over the current pool.
fn floor_rows(z: &[f32], c: usize, labels: &[u32], out: &mut [f32]) -> f32 {
    let rows = floor::rows_per_chunk(c);
    out.par_chunks_mut(rows * c)
        .zip(z.par_chunks(rows * c).zip(labels.par_chunks(rows)))
        .map(|(o, (z, l))| floor::softmax(z, c, l, o))
        .sum()
}

fn bench_sigmoid(c: &mut Criterion) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut g = c.benchmark_group("parallel_sigmoid_fused");
    for n in [1 << 15, 1 << 16, 1 << 17, 1 << 20, 1 << 24] {
        let mut next = stream(7);
        let x: Vec<f32> = (0..n).map(|_| next() * 12.0 - 6.0).collect();
        let t: Vec<f32> = (0..n).map(|_| (next() < 0.1) as u8 as f32).collect();
        let mut out = vec![0.0f32; n];
        g.throughput(Throughput::Elements(n as u64));
        let f = SigmoidFocal::torchvision();
        g.bench_function(BenchmarkId::new("outside", n), |b| {
            b.iter(|| {
                f.loss_and_grad(black_box(&x), &t[..], Reduction::Mean, &mut out)
                    .unwrap()
            })
        });
        for threads in [1, cores] {
            let p = pool(threads);
            let name = format!("{threads}-thread{}", if threads > 1 { "s" } else { "" });
            g.bench_function(BenchmarkId::new(&name, n), |b| {
                p.install(|| {
                    b.iter(|| {
                        f.loss_and_grad(black_box(&x), &t[..], Reduction::Mean, &mut out)
                            .unwrap()
                    })
                })
            });
            if n >= 1 << 20 {
                // Targets checked once beforehand (`Targets::checked`, as a training step
                // whose forward and backward share them): the call then reads them once,
                // where the row above reads them twice, once for its check and once in its
                // pass (out of cache, a fifth of the bytes it moves).
                let checked = Targets::checked(&t).unwrap();
                g.bench_function(BenchmarkId::new(format!("checked/{name}"), n), |b| {
                    p.install(|| {
                        b.iter(|| {
                            f.loss_and_grad(black_box(&x), checked, Reduction::Mean, &mut out)
                                .unwrap()
                        })
                    })
                });
                g.bench_function(BenchmarkId::new(format!("floor/{name}"), n), |b| {
                    p.install(|| b.iter(|| floor(black_box(&x), &t, &mut out)))
                });
            }
        }
    }
    g.finish();
}

fn bench_softmax(c: &mut Criterion) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut g = c.benchmark_group("parallel_softmax_fused");
    // (rows, C, positions per image): 1 for row-major.
    for (rows, k, s) in [
        (16384, 80, 1),
        (1024, 1000, 1),
        (32, 32000, 1),
        (209_715, 80, 1),
        (512 * 512, 19, 512 * 512),
        (8 * 128 * 256, 19, 128 * 256),
    ] {
        let mut next = stream(11);
        let z: Vec<f32> = (0..rows * k).map(|_| next() * 8.0 - 4.0).collect();
        let labels: Vec<u32> = (0..rows)
            .map(|_| (next() * k as f32) as u32 % k as u32)
            .collect();
        let mut out = vec![0.0f32; rows * k];
        g.throughput(Throughput::Elements((rows * k) as u64));
        let f = SoftmaxFocal::mmcv();
        let cf = f.channels_first(s);
        let shape = if s == 1 {
            format!("{rows}x{k}")
        } else {
            format!("cf/{}x{k}x{s}", rows / s)
        };
        let call = |out: &mut [f32]| {
            if s == 1 {
                f.loss_and_grad(black_box(&z), k, &labels, Reduction::Mean, out)
            } else {
                cf.loss_and_grad(black_box(&z), k, &labels, Reduction::Mean, out)
            }
            .unwrap()
        };
        g.bench_function(BenchmarkId::new("outside", &shape), |b| {
            b.iter(|| call(&mut out))
        });
        for threads in [1, cores] {
            let p = pool(threads);
            let name = format!("{threads}-thread{}", if threads > 1 { "s" } else { "" });
            g.bench_function(BenchmarkId::new(&name, &shape), |b| {
                p.install(|| b.iter(|| call(&mut out)))
            });
            if s == 1 {
                g.bench_function(BenchmarkId::new(format!("floor/{name}"), &shape), |b| {
                    p.install(|| b.iter(|| floor_rows(black_box(&z), k, &labels, &mut out)))
                });
            }
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

criterion_group! {
    name = benches;
    config = config();
    targets = bench_sigmoid, bench_softmax
}
criterion_main!(benches);
