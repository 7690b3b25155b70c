//! The generated bit-identity cases (see `build/`): the case table, the input pools and the
//! words the host's `Backend::Scalar` produced for every case.

use focal_loss::{Reduction, SigmoidForm};

use crate::case::{Case, LabelKind, Method, Pools, Span};

include!(concat!(env!("OUT_DIR"), "/cases.rs"));

/// Bytes aligned for any of the pools' element types.
#[repr(C, align(8))]
struct Aligned<B: ?Sized>(B);

macro_rules! blob {
    ($file:literal) => {{
        static BLOB: &Aligned<[u8]> =
            &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/", $file)));
        &BLOB.0
    }};
}

/// Plain element types that every bit pattern is a valid value of.
trait Plain {}
impl Plain for f32 {}
impl Plain for u8 {}
impl Plain for u16 {}
impl Plain for u32 {}
impl Plain for i32 {}
impl Plain for i64 {}

/// A blob's bytes as the little-endian elements the build script wrote.
fn view<T: Plain>(bytes: &'static [u8]) -> &'static [T] {
    let len = bytes.len() / core::mem::size_of::<T>();
    assert!(bytes.as_ptr().align_offset(core::mem::align_of::<T>()) == 0);
    // SAFETY: the bytes are 8-aligned (checked above for T), live for 'static and are never
    // written; `len` elements of T fit in them; T is a plain number type (`Plain`), valid for
    // every bit pattern; the build script wrote them little-endian, as Cortex-M reads them.
    unsafe { core::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), len) }
}

/// The input pools the cases index.
pub fn pools() -> Pools<'static> {
    Pools {
        f32: view(blob!("f32.bin")),
        u8: view(blob!("u8.bin")),
        u16: view(blob!("u16.bin")),
        i32: view(blob!("i32.bin")),
        i64: view(blob!("i64.bin")),
    }
}

/// For each case in order: its result words, then its output buffer's words.
pub fn expected() -> &'static [u32] {
    view(blob!("expected.bin"))
}
