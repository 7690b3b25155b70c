//! Feature `parallel`: every method of both kernels gives the same bits on 1, 2, 3 and 7
//! threads (dedicated rayon pools) as on one thread, on every backend, for inputs of several
//! blocks; and called from a thread of no pool, which shares the work with rayon's global
//! pool (here 3 threads) and spins for every helper it asked for (`split::team`), also with
//! several such callers and tasks on the pool calling at once. (That the calls use the
//! threads is what the `parallel` bench group measures.)
//!
//! `cargo test --features parallel --test parallel`
#![cfg(feature = "parallel")]

mod common;

use common::backends;
use common::calls::{Bits, sigmoid_calls, softmax_calls};

/// Builds rayon's global pool with 3 threads (more than the two cores CI has, so that
/// helpers start late), once, before any test of this binary uses it.
fn global_pool() {
    static GLOBAL: std::sync::Once = std::sync::Once::new();
    GLOBAL.call_once(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build_global()
            .expect("nothing in this test binary starts the global pool before this");
    });
}

/// Runs `f` on a thread of no pool, with rayon's global pool at 3 threads, as a program's
/// own threads call the crate.
fn outside<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    global_pool();
    std::thread::scope(|s| {
        s.spawn(|| {
            assert!(rayon::current_thread_index().is_none());
            assert_eq!(rayon::current_num_threads(), 3);
            f()
        })
        .join()
        .unwrap()
    })
}

/// Runs `f` on a dedicated pool of `threads` threads, or with 0 from a thread of no pool
/// ([`outside`]).
fn pooled<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    if threads == 0 {
        return outside(f);
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

fn same(what: &str, threads: usize, want: &[Bits], got: &[Bits]) {
    assert_eq!(want.len(), got.len());
    for ((w_tag, w), (g_tag, g)) in want.iter().zip(got) {
        assert_eq!(w_tag, g_tag);
        if let Some(i) = w.iter().zip(g).position(|(a, b)| a != b) {
            panic!(
                "{what}: {w_tag}: {threads} threads differ from 1 at value {i}: {:e} vs {:e}",
                f32::from_bits(w[i]),
                f32::from_bits(g[i])
            );
        }
    }
}

#[test]
fn sigmoid_same_bits_for_any_thread_count() {
    for b in backends() {
        // 5 full blocks and a short one; and a length of exactly two blocks.
        for n in [5 * 16384 + 77, 2 * 16384] {
            let one = pooled(1, || sigmoid_calls(b, n));
            for threads in [2, 3, 7] {
                same(
                    "sigmoid",
                    threads,
                    &one,
                    &pooled(threads, || sigmoid_calls(b, n)),
                );
            }
            // From outside any pool (reported as 0 threads).
            same("sigmoid", 0, &one, &outside(|| sigmoid_calls(b, n)));
        }
    }
}

#[test]
fn softmax_same_bits_for_any_thread_count() {
    for b in backends() {
        let one = pooled(1, || softmax_calls(b));
        for threads in [2, 3, 7] {
            same(
                "softmax",
                threads,
                &one,
                &pooled(threads, || softmax_calls(b)),
            );
        }
        same("softmax", 0, &one, &outside(|| softmax_calls(b)));
    }
}

/// Many calls at once, as a server's request threads or a framework's workers make them:
/// four threads of no pool and two tasks on the pool's own threads (each caller sharing its
/// blocks with the pool's helpers, `split::team`) call every method of both kernels
/// together, on the pool's 3 threads. Helpers of one call then wait behind another's
/// blocks, and a caller may finish its blocks before its helpers start (a task on the pool
/// then runs its own queued helpers); each call must still return and write the bits of one
/// thread.
#[test]
fn concurrent_callers_get_the_bits_of_one_thread() {
    global_pool();
    let n = 3 * 16384 + 5;
    for b in backends() {
        let want = (
            pooled(1, || sigmoid_calls(b, n)),
            pooled(1, || softmax_calls(b)),
        );
        let want = &want;
        let check = move |who: &str| {
            same(who, 0, &want.0, &sigmoid_calls(b, n));
            same(who, 0, &want.1, &softmax_calls(b));
        };
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(move || {
                    assert!(rayon::current_thread_index().is_none());
                    check(&format!("{b:?}, a thread of no pool"));
                });
            }
            s.spawn(move || {
                rayon::scope(|pool| {
                    for _ in 0..2 {
                        pool.spawn(move |_| {
                            assert!(rayon::current_thread_index().is_some());
                            check(&format!("{b:?}, a task on the pool"));
                        });
                    }
                })
            });
        });
    }
}

/// The exact sums behind a reduced loss (the chunk API's [`Partial`] of the whole input:
/// `loss` and `loss_and_grad` of a sigmoid of `n` elements, γ = `gamma`, and of `rows` softmax
/// rows of 80 classes) and the gradients, on pools of 1 and `threads` threads (0: from a
/// thread of no pool), on every backend: each pool's must equal one thread's.
fn same_sums_on_every_pool(n: usize, rows: usize, seed: u64, gamma: f32, threads: &[usize]) {
    use common::calls::{sigmoid_inputs, softmax_inputs};
    use focal_loss::{Partial, Reduction, SigmoidFocal, SoftmaxFocal};
    let (x, t) = sigmoid_inputs(seed, n);
    let (z, labels) = softmax_inputs(seed + 1, rows, 80);
    for b in backends() {
        let f = SigmoidFocal::new().gamma(gamma).backend(b);
        let s = SoftmaxFocal::torch().backend(b);
        let sums = |threads: usize| -> (Vec<Partial>, Vec<u32>) {
            let run = || {
                let plan = f.chunks(n, Reduction::Sum).unwrap();
                let mut g = vec![0.0; n];
                let splan = s.chunks(80, &labels, Reduction::Sum).unwrap();
                let mut gz = vec![0.0; z.len()];
                let p = vec![
                    plan.loss(&x, &t[..]).unwrap(),
                    plan.loss_and_grad(&x, &t[..], &mut g).unwrap(),
                    splan.loss(&z, &labels).unwrap(),
                    splan.loss_and_grad(&z, &labels, &mut gz).unwrap(),
                ];
                (p, g.iter().chain(&gz).map(|v| v.to_bits()).collect())
            };
            pooled(threads, run)
        };
        let one = sums(1);
        for &threads in threads {
            let got = sums(threads);
            assert_eq!(one.0, got.0, "{b:?}, {threads} threads (0: outside a pool)");
            assert!(one.1 == got.1, "{b:?}, {threads} threads: gradients differ");
        }
    }
}

/// The exact sum behind a reduced loss, the same on every pool: a check that sees every bit
/// of the sum, where the rounded loss would hide most differences in how blocks were summed.
#[test]
fn exact_sums_are_the_same_for_any_thread_count() {
    same_sums_on_every_pool(9 * 16384 + 3, 4000, 5, 2.5, &[2, 3, 7, 0]);
}

/// Long calls: a participant claims runs of consecutive blocks (`blocks / (P·16)` a claim,
/// `split::team::exact`), which the calls above, of at most a few dozen blocks, never reach.
/// 101 sigmoid blocks (a run of 3 blocks on 2 threads, 2 on 3) and 75 blocks of softmax rows
/// (2 on 2 threads): the exact sums and the gradients of every pool equal one thread's.
/// (Skipped under ThreadSanitizer, `.ci/run`: the same claims as above, at 30x the size.)
#[test]
fn long_calls_in_runs_of_blocks_give_the_same_bits() {
    same_sums_on_every_pool(100 * 16384 + 3, 30_000, 8, 2.0, &[2, 3, 0]);
}

/// Unchecked targets are checked block by block on the pool (see `split::first_index`): the
/// error still names the first bad target, whichever block a thread reached first, and the
/// output is not written. Bad targets in several blocks, the first one placed in the first,
/// a middle and the last block, and a NaN.
#[test]
fn the_first_bad_target_is_reported_on_any_pool() {
    use common::calls::sigmoid_inputs;
    use focal_loss::{FocalError, Reduction, SigmoidFocal, Targets};
    let n = 7 * 16384 + 5;
    let (x, t0) = sigmoid_inputs(8, n);
    for b in backends() {
        let f = SigmoidFocal::new().backend(b);
        for (first, bad) in [(3, 1.5), (3 * 16384 + 100, f32::NAN), (n - 1, -0.25)] {
            let mut t = t0.clone();
            // Later bad targets, in blocks a second thread may reach first.
            for &i in &[n - 1, 6 * 16384, 5 * 16384 + 7, 4 * 16384 - 1] {
                if i > first {
                    t[i] = 2.0;
                }
            }
            t[first] = bad;
            let want = |e: FocalError| match e {
                FocalError::TargetOutOfRange { index, value } => {
                    assert_eq!(index, first, "{b:?}");
                    assert_eq!(value.to_bits(), bad.to_bits(), "{b:?}");
                }
                e => panic!("{b:?}: {e:?}"),
            };
            for threads in [1, 2, 3, 7] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let mut g = vec![-1.0f32; n];
                pool.install(|| {
                    want(
                        f.loss_and_grad(&x, &t, Reduction::Mean, &mut g)
                            .unwrap_err(),
                    );
                    want(Targets::checked(&t).unwrap_err());
                });
                assert!(g.iter().all(|&v| v == -1.0), "{b:?}: output written");
            }
            let mut g = vec![-1.0f32; n];
            outside(|| {
                want(
                    f.loss_and_grad(&x, &t, Reduction::Mean, &mut g)
                        .unwrap_err(),
                );
                want(Targets::checked(&t).unwrap_err());
            });
            assert!(g.iter().all(|&v| v == -1.0), "{b:?}: output written");
        }
    }
}
