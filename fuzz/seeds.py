#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/<target>/ from edge cases (NaN, ±inf, subnormal and
huge logits, lengths 0, 1, 15, 16, 17, C = 1, 16, 17, 512, label extremes, bad targets).

The bytes follow `arbitrary` 1.x's derive format: integers little-endian, a `bool` is a
byte's low bit, an enum variant `k` of `n` is a u32 `v` with `(v * n) >> 32 == k`, an
`Option` a bool then the value, a `Vec` a `true` byte before each element and a `false` byte
after the last. `cargo +nightly fuzz fmt <target> <file>` prints a seed as decoded.
Run from fuzz/: `python3 seeds.py`."""
import os
import struct

def tag(k, n):
    return struct.pack('<I', ((2 * k + 1) << 32) // (2 * n))

def u8(v): return struct.pack('<B', v & 0xFF)
def u16(v): return struct.pack('<H', v & 0xFFFF)
def i16(v): return struct.pack('<h', v)
def u32(v): return struct.pack('<I', v & 0xFFFFFFFF)
def i64(v): return struct.pack('<q', v)
def f32bits(x): return struct.unpack('<I', struct.pack('<f', x))[0]
def boolean(b): return u8(1 if b else 0)

def vec(items):
    return b''.join(b'\x01' + it for it in items) + b'\x00'

# Logit: Bits(u32) | Small(i16) | Scaled(i16, u8) | Special(u8)
def logit_bits(x): return tag(0, 4) + u32(f32bits(x) if isinstance(x, float) else x)
def logit_small(v): return tag(1, 4) + i16(v)
def special(i): return tag(3, 4) + u8(i)
NAN, INF, NINF, ZERO, NZERO, MINPOS, NMINPOS, SUB, NSUB, SUB2, MAX, MIN = range(12)
# Target: Zero | One | NegZero | Frac(u16) | NearOne(u16) | NearZero(u8, u8) | Bits(u32)
def t_zero(): return tag(0, 7)
def t_one(): return tag(1, 7)
def t_frac(v): return tag(3, 7) + u16(v)
def t_bits(x): return tag(6, 7) + u32(f32bits(x) if isinstance(x, float) else x)
# Gamma: Int(u8) | Int2(u8) | Frac(u16) | Below1(u16) | Bits(u32)
def g_int(v): return tag(0, 5) + u8(v)
def g_frac(v): return tag(2, 5) + u16(v)
# AlphaVal: None | Quarter | Zero | One | Frac(u16) | Bits(u32)
def a_none(): return tag(0, 6)
def a_quarter(): return tag(1, 6)
def a_frac(v): return tag(4, 6) + u16(v)
# Red: Sum | Mean | MeanValid | Normalize(u16, u8) | NormalizeBits(u32)
def r_sum(): return tag(0, 5)
def r_mean(): return tag(1, 5)
def r_meanvalid(): return tag(2, 5)
def r_norm(v, e): return tag(3, 5) + u16(v) + u8(e)
# Upstream: One | Small(i16) | Zero(bool) | Special(u8)
def up_one(): return tag(0, 4)
def up_small(v): return tag(1, 4) + i16(v)
def up_special(i): return tag(3, 4) + u8(i)

def write(target, name, data):
    d = os.path.join('corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)

specials = [special(i) for i in range(24)]

# sigmoid: per_term, alpha, gamma, red, upstream, offset, elems: Vec<(Logit, Target, Upstream)> (last)
def sig(per_term, alpha, gamma, red, off, elems):
    return boolean(per_term) + alpha + gamma + red + up_small(-300) + u8(off) + vec(elems)

ups = [up_one(), up_small(77), up_special(0)]
for n in [0, 1, 15, 16, 17]:
    el = [specials[(i * 7) % 24] + (t_one() if i % 2 else t_zero()) + ups[i % 3] for i in range(n)]
    write('sigmoid', f'len{n}_specials', sig(n % 2 == 1, a_quarter(), g_int(2), r_mean(), n, el))
el = [logit_small(v) + t_frac(f) + up_one() for v, f in [(512, 30000), (-2000, 65535), (0, 1), (30000, 65534), (-30000, 12)]]
write('sigmoid', 'soft_general_gamma', sig(False, a_frac(40000), g_frac(30000), r_norm(900, 12), 3, el))
el = [logit_bits(x) + t_zero() + up_one() for x in [1e-45, -1e-45, 1e-40, -1e-40, 1.1754942e-38, 0.0]]
write('sigmoid', 'subnormal_logits', sig(True, a_none(), g_int(0), r_sum(), 1, el))
el = [logit_small(100) + t_one() + up_one() for _ in range(16)] + [logit_small(5) + t_bits(1.5) + up_one()]
write('sigmoid', 'bad_target_in_tail', sig(False, a_quarter(), g_int(2), r_sum(), 0, el))

# math: per_term, alpha, gamma, elems: Vec<(Logit, Target)> (last)
el = [specials[i] + (t_one() if i % 2 else t_frac(20000)) for i in range(24)]
write('math', 'specials', boolean(False) + a_quarter() + g_frac(52000) + vec(el))
write('math', 'specials_per_term', boolean(True) + a_frac(1000) + g_int(2) + vec(el))
el = [logit_small(v) + t_frac(f) for v, f in [(2560, 60000), (-2560, 5), (25600, 65535), (-25600, 0)]]
write('math', 'soft_below1', boolean(False) + a_none() + tag(3, 5) + u16(9000) + vec(el))

# softmax: classes, rows, gamma, alpha, ignore, red, upstream, label_type, offset,
#          base: Vec<Logit>, specials: Vec<(u16, Logit)>, labels: Vec<Label>, ups: Vec<Upstream> (last)
BOUND = [1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 32, 33, 64, 100, 510, 511, 512, 513, 1000, 2047, 2048]
def classes(c): return tag(0, 2) + u8(BOUND.index(c))
# SmAlpha: None | Scalar(AlphaVal) | PerClass(Vec<AlphaVal>) | WrongLength(bool)
def sa_scalar(a): return tag(1, 4) + a
def sa_per(vals): return tag(2, 4) + vec(vals)
# Ignore: None | Torch | Class(u16) | Raw(i64) | Max | Min
def ig_torch(): return tag(1, 6)
def ig_class(v): return tag(2, 6) + u16(v)
def ig_none(): return tag(0, 6)
# Label: Class(u16) | Class2(u16) | Ignored | TypeMax | TypeMin | MinusOne | NumClasses | Raw(i64)
def l_class(v): return tag(0, 8) + u16(v)
def l_ignored(): return tag(2, 8)
def l_max(): return tag(3, 8)
def l_min(): return tag(4, 8)
def l_m1(): return tag(5, 8)
def l_c(): return tag(6, 8)

# Smoothing: Zero | Frac(u16) (v / 65535) | Bits(u32)
def sm(c, rows, gamma, alpha, ignore, red, ltype, off, base, spec, labels, upsl, smoothing=b''):
    return (classes(c) + u8(rows) + gamma + alpha + ignore + red + up_small(128) + u8(ltype) + u8(off)
            + vec(base) + vec([u16(p) + l for p, l in spec]) + vec(labels) + vec(upsl) + smoothing)

base = [logit_small(v) for v in [0, 256, -512, 1000, -77, 3000, 5]]
for c, rows in [(1, 5), (16, 3), (17, 3), (512, 2)]:
    spec = [(1, specials[NAN]), (c + 2, specials[INF]), (2 * c, specials[NINF]), (3, specials[SUB])]
    labels = [l_class(1), l_ignored(), l_class(c - 1), l_max()]
    write('softmax', f'C{c}', sm(c, rows, g_int(2), sa_scalar(a_quarter()), ig_torch(), r_meanvalid(),
                                 6 if c != 16 else 0, c % 7, base, spec, labels, [up_one(), up_small(-256)]))
write('softmax', 'C5_rows_all_neg_inf_and_equal',
      sm(5, 3, g_frac(30000), sa_per([a_frac(10000), a_quarter()]), ig_class(2), r_mean(), 3, 1,
         [], [(i, specials[NINF]) for i in range(5)], [l_class(0), l_class(2), l_class(4)], []))
for c, rows in [(3, 9), (17, 3), (513, 2)]:
    spec = [(1, specials[NINF]), (c + 2, specials[INF]), (2 * c + 1, specials[NAN])]
    write('softmax', f'C{c}_smoothed', sm(c, rows, g_frac(40000), sa_per([a_frac(10000), a_quarter()]),
                                          ig_torch(), r_meanvalid(), 5, 3, base, spec,
                                          [l_class(1), l_ignored(), l_class(0)], [up_one()],
                                          smoothing=tag(1, 3) + u16(6554)))
write('softmax', 'C17_label_extremes_u64',
      sm(17, 4, g_int(0), sa_scalar(a_none()), ig_none(), r_sum(), 3, 0,
         base, [], [l_min(), l_max(), l_m1(), l_c()], []))

# api: method, per_term, alpha, gamma, red, upstream, checked_targets, backend, epsilon,
#      classes, count, ragged: Option<u8>, lens: [Len; 3], label_type, ignore, class_alpha: Option<(Len, Vec)>,
#      logits: Vec<Logit>, targets: Vec<Target>, labels: Vec<Label>, ups: Vec<Upstream> (last), offset? no:
# offset is the last field, so `ups` is a non-last Vec here.
def len_right(): return tag(0, 5)
def len_plus(d): return tag(3, 5) + u8(d)
def len_minus(d): return tag(4, 5) + u8(d)
# api Label: Small(u8) | Small2(u8) | Neg(i8) | TypeMax | TypeMin | Raw(i64)
def al_small(v): return tag(0, 6) + u8(v)
def al_max(): return tag(3, 6)
def al_neg(v): return tag(2, 6) + struct.pack('<b', v)
# api Ignore: None | Torch | Small(i8) | Raw(i64)
def aig_torch(): return tag(1, 4)
# api Layout: RowMajor | AllPositions | Small(u8) (S = 1 + v % 8) | Raw(u8)
# api smoothing: Option<Result<u8, u32>> (Ok(v): v / 255), after the layout
def api(method, backend, classes_, count, lens, label_type, logits, targets, labels, ragged=None,
        eps=tag(0, 3), checked=False, layout=b'', smoothing=b''):
    return (u8(method) + boolean(False) + a_quarter() + g_int(2) + r_mean() + up_one() + boolean(checked)
            + u8(backend) + eps + u8(classes_) + u8(count)
            + (boolean(True) + u8(ragged) if ragged is not None else boolean(False))
            + b''.join(lens) + u8(label_type) + aig_torch() + boolean(False)
            + vec(logits) + vec(targets) + vec(labels) + vec([up_one()]) + u8(3) + layout + smoothing)
right3 = [len_right()] * 3
for m in range(6):
    write('api', f'sigmoid_m{m}_n17', api(m, 4, 0, 17, right3, 0, [specials[i] for i in range(24)],
                                          [t_one(), t_zero(), t_frac(30000)], []))
write('api', 'sigmoid_target_bad_tail', api(4, 3, 0, 16, right3, 0, [logit_small(3)],
                                            [t_one()] * 15 + [t_bits(2.0)], []))
write('api', 'sigmoid_out_short', api(2, 2, 0, 15, [len_right(), len_minus(0), len_right()], 0,
                                      [logit_small(3)], [t_zero()], []))
for m in range(6, 12):
    write('api', f'softmax_m{m}_C16', api(m, m % 5, 16, 3, right3, m % 7, [specials[i] for i in range(24)],
                                          [], [al_small(3), al_neg(-100), al_small(15)]))
for m in range(6, 12):
    write('api', f'channels_first_m{m}_C5_S4', api(m, m % 5, 5, 8, right3, m % 7, [specials[i] for i in range(24)],
                                                   [], [al_small(3), al_neg(-100), al_small(4)],
                                                   layout=tag(2, 4) + u8(3)))
write('api', 'channels_first_all_positions', api(10, 0, 19, 17, right3, 0, [specials[i] for i in range(24)],
                                                 [], [al_small(18), al_small(0)], layout=tag(1, 4)))
write('api', 'channels_first_bad_spatial', api(6, 1, 3, 6, right3, 0, [logit_small(1)], [],
                                               [al_small(1)], layout=tag(3, 4) + u8(4)))
for m in (6, 10):
    write('api', f'smoothed_m{m}_C5', api(m, 0, 5, 8, right3, 6, [specials[i] for i in range(24)], [],
                                          [al_small(3), al_neg(-100), al_small(4)],
                                          layout=tag(1, 4), smoothing=boolean(True) + tag(0, 2) + u8(26)))
write('api', 'smoothed_bad', api(8, 0, 3, 2, right3, 0, [logit_small(1)], [], [al_small(1)],
                                 smoothing=boolean(True) + tag(1, 2) + u32(0x7fc00000)))
write('api', 'softmax_label_max_u64', api(8, 1, 3, 2, right3, 3, [logit_small(1)], [], [al_small(1), al_max()]))
write('api', 'softmax_ragged', api(6, 0, 5, 2, right3, 6, [logit_small(1)], [], [al_small(1)], ragged=2))
write('api', 'binary_grad_long', api(13, 0, 0, 5, [len_right(), len_plus(0), len_right()], 0,
                                     [], [t_frac(100), t_one()], []))
write('api', 'torchblocks_softmax', api(15, 0, 4, 3, right3, 0, [specials[i] for i in range(24)], [],
                                        [al_small(0), al_small(3), al_small(5)]))
