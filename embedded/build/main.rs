//! Build script (runs on the host).
//!
//! 1. Links the firmware binaries with cortex-m-rt's `link.x` and this crate's `memory.x`.
//! 2. Generates the bit-identity cases of the `check` binary ([`cases`]), runs each of them
//!    on the host with focal-loss's `Backend::Scalar` (focal-loss is a build-dependency too),
//!    and writes into `OUT_DIR`: the input pools (`*.bin`, little-endian), the case table
//!    (`cases.rs`) and the expected words of every case (`expected.bin`).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::{env, fs};

use focal_loss::{Backend, Reduction, SigmoidForm};

#[path = "../src/case.rs"]
mod case;
mod cases;
#[path = "../src/exec.rs"]
mod exec;
#[path = "../src/prng.rs"]
mod prng;

use case::{Case, Pools};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    fs::copy("memory.x", out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    for f in [
        "memory.x",
        "build",
        "src/case.rs",
        "src/exec.rs",
        "src/prng.rs",
    ] {
        println!("cargo:rerun-if-changed={f}");
    }

    let set = cases::generate();
    let pools = Pools {
        f32: &set.f32,
        u8: &set.u8,
        u16: &set.u16,
        i32: &set.i32,
        i64: &set.i64,
    };
    let longest = set.cases.iter().map(|c| c.out_len).max().unwrap_or(0);
    let mut scratch = vec![0.0f32; longest as usize];
    let mut expected: Vec<u32> = Vec::new();
    for c in &set.cases {
        let result = exec::run(c, &pools, Some(Backend::Scalar), &mut scratch);
        expected.extend_from_slice(&result[..exec::RESULT_WORDS]);
        let written = &scratch[..c.out_len as usize];
        expected.extend(written.iter().map(|v| v.to_bits()));
    }

    write_pool(&out, "f32.bin", set.f32.iter().map(|v| v.to_le_bytes()));
    write_pool(&out, "u8.bin", set.u8.iter().map(|v| v.to_le_bytes()));
    write_pool(&out, "u16.bin", set.u16.iter().map(|v| v.to_le_bytes()));
    write_pool(&out, "i32.bin", set.i32.iter().map(|v| v.to_le_bytes()));
    write_pool(&out, "i64.bin", set.i64.iter().map(|v| v.to_le_bytes()));
    write_pool(
        &out,
        "expected.bin",
        expected.iter().map(|v| v.to_le_bytes()),
    );

    let mut table = String::new();
    writeln!(table, "/// Scratch elements the longest output needs.").unwrap();
    writeln!(table, "pub const LONGEST_OUTPUT: usize = {longest};").unwrap();
    writeln!(table, "/// The cases, in the order of `expected.bin`.").unwrap();
    writeln!(table, "pub static CASES: [Case; {}] = [", set.cases.len()).unwrap();
    for c in &set.cases {
        writeln!(table, "    {},", literal(c)).unwrap();
    }
    writeln!(table, "];").unwrap();
    fs::write(out.join("cases.rs"), table).unwrap();
}

/// Writes the little-endian bytes of a pool's elements.
fn write_pool<const N: usize>(dir: &std::path::Path, name: &str, v: impl Iterator<Item = [u8; N]>) {
    fs::write(dir.join(name), v.flatten().collect::<Vec<u8>>()).unwrap();
}

/// An `f32` as a Rust expression with its exact bits.
fn bits(v: f32) -> String {
    format!("f32::from_bits({:#010x})", v.to_bits())
}

/// A case as a Rust `Case { .. }` expression.
fn literal(c: &Case) -> String {
    let alpha = match c.alpha {
        Some(a) => format!("Some({})", bits(a)),
        None => "None".into(),
    };
    let form = match c.form {
        SigmoidForm::ModulatedBce => "SigmoidForm::ModulatedBce",
        SigmoidForm::PerTerm => "SigmoidForm::PerTerm",
    };
    let reduction = match c.reduction {
        Reduction::Sum => "Reduction::Sum".into(),
        Reduction::Mean => "Reduction::Mean".into(),
        Reduction::MeanValid => "Reduction::MeanValid".into(),
        Reduction::Normalize(d) => format!("Reduction::Normalize({})", bits(d)),
    };
    let smoothing = match c.smoothing {
        Some(e) => format!("Some({})", bits(e)),
        None => "None".into(),
    };
    format!(
        "Case {{ method: Method::{:?}, x: {:?}, t: {:?}, up: {:?}, lab: {:?}, \
         labels: LabelKind::{:?}, class_alpha: {:?}, c: {}, out_len: {}, gamma: {}, \
         alpha: {alpha}, per_class: {}, form: {form}, reduction: {reduction}, upstream: {}, \
         ignore: {:?}, checked: {}, smoothing: {smoothing}, spatial: {} }}",
        c.method,
        c.x,
        c.t,
        c.up,
        c.lab,
        c.labels,
        c.class_alpha,
        c.c,
        c.out_len,
        bits(c.gamma),
        c.per_class,
        bits(c.upstream),
        c.ignore,
        c.checked,
        c.spatial,
    )
}
