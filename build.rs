//! Declares `focal_portable`: the targets where `wide::f32x4` is real SIMD (SSE2 on x86_64,
//! NEON on aarch64, simd128 on wasm32), so the `Portable` backend exists. One definition
//! instead of the same `cfg(any(..))` at every use.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(focal_portable)");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let has = |f: &str| features.split(',').any(|x| x == f);
    let portable = match arch.as_str() {
        "x86_64" => true,
        "aarch64" => has("neon"),
        "wasm32" => has("simd128"),
        _ => false,
    };
    if portable {
        println!("cargo::rustc-cfg=focal_portable");
    }
}
