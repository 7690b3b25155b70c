/*
 * The C ABI test, shared by the host program (host_main.c) and the Cortex-M4F firmware
 * (firmware/fw_main.c). Plain C99 with no library calls: the platform gives one function,
 * plat_puts(line).
 *
 * Two kinds of output, one per line:
 *   "NAME: VALUE"    results of every function on fixed data (floats as 8 hex digits of their
 *                    bits, "nan" for any NaN), and the fields of every library error; the
 *                    script diffs them with capi/examples/reference.rs, which computes the
 *                    same cases through the Rust API. Lines starting "platform." depend on the
 *                    target (layouts, available backends) and are left out of the
 *                    host-versus-firmware comparison.
 *   "# ..."          the checks made here (status codes, error fields, NULL rules, nothing
 *                    written on error, in-place and label-width agreement): "# FAIL ..." for
 *                    each failure, and a final "# checks: P passed, F failed".
 */
#include <stddef.h>
#include <stdint.h>

#include "focal_loss.h"
#include "test_capi.h"

/* ---- output ---------------------------------------------------------------------------- */

static char line[4096];
static size_t len;
static unsigned passed, failed;

static void put_s(const char *s) {
    while (*s && len + 1 < sizeof line) line[len++] = *s++;
}

static void put_u(unsigned long long v) {
    char b[24];
    int n = 0;
    do {
        b[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && len + 1 < sizeof line) line[len++] = b[--n];
}

static void put_i(long long v) {
    if (v < 0) {
        put_s("-");
        put_u(0ull - (unsigned long long)v);
    } else {
        put_u((unsigned long long)v);
    }
}

static uint32_t bits(float f) {
    union {
        float f;
        uint32_t u;
    } c;
    c.f = f;
    return c.u;
}

static int is_nan(float f) { return f != f; }

static void put_x(uint32_t u) {
    static const char hex[] = "0123456789abcdef";
    int i;
    for (i = 7; i >= 0 && len + 1 < sizeof line; i--) line[len++] = hex[(u >> (4 * i)) & 15];
}

static void put_f(float f) {
    if (is_nan(f)) {
        put_s("nan");
        return;
    }
    put_x(bits(f));
}

static void start(const char *a, const char *b, const char *c, const char *d) {
    len = 0;
    put_s(a);
    if (b) { put_s("."); put_s(b); }
    if (c) { put_s("."); put_s(c); }
    if (d) { put_s("."); put_s(d); }
    put_s(":");
}

static void end(void) {
    line[len] = 0;
    plat_puts(line);
    len = 0;
}

static void put_fs(const float *v, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        put_s(" ");
        put_f(v[i]);
    }
}

static void check(int ok, const char *what, const char *detail) {
    if (ok) {
        passed++;
        return;
    }
    failed++;
    len = 0;
    put_s("# FAIL ");
    put_s(what);
    if (detail) { put_s(": "); put_s(detail); }
    end();
}

/* ---- data: the same generator as reference.rs, exact in f32 ----------------------------- */

static uint32_t rng;
static uint32_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}
static float unit(void) { return (float)(next() >> 8) * (1.0f / 16777216.0f); }
static float logit(void) { return unit() * 16.0f - 8.0f; }

#define N 37
#define ROWS 13
#define C 5
#define NL (ROWS * C)

static float sx[N], st[N], sup[N];         /* sigmoid logits, targets, upstream */
static float probs[N];                     /* TorchBlocks probabilities */
static float zx[NL], zup[ROWS];            /* softmax logits, per-row upstream */
static int64_t lab_plain[ROWS], lab_ign[ROWS];
static const float class_alpha[C] = {0.1f, 0.2f, 0.3f, 0.25f, 1.0f};
#define IGN_A 5
#define IGN_B 11

static void make_data(void) {
    size_t i;
    float inf = 1e30f * 1e30f;
    rng = 0x12345678u;
    for (i = 0; i < N; i++) {
        sx[i] = logit();
        st[i] = i % 3 == 0 ? 1.0f : i % 3 == 1 ? 0.0f : unit();
        sup[i] = unit() * 2.0f - 0.5f;
        probs[i] = unit();
    }
    sx[6] = inf;         /* target 1: a correct saturated prediction */
    sx[7] = -inf;        /* target 0: correct */
    sx[9] = 30.0f;       /* target 1 */
    sx[10] = -30.0f;     /* target 0 */
    sx[13] = 20.0f;      /* target 0: a confident wrong prediction */
    sx[14] = 1e-40f;     /* subnormal, soft target */
    sx[15] = -0.0f;
    probs[4] = 0.0f;
    probs[5] = 1.0f;
    for (i = 0; i < NL; i++) zx[i] = logit();
    zx[2 * C + 1] = -inf;
    zx[3 * C + 4] = 40.0f;
    for (i = 0; i < C; i++) zx[4 * C + i] = 0.0f;
    for (i = 0; i < ROWS; i++) {
        lab_plain[i] = (int64_t)(next() % C);
        lab_ign[i] = lab_plain[i];
        zup[i] = unit() * 2.0f - 0.5f;
    }
}

/* ---- configurations (the same tables as reference.rs) ---------------------------------- */

static int32_t backend; /* FOCAL_BACKEND_SCALAR or _AUTO, for every kernel call */

struct sig_cfg {
    const char *name;
    float alpha;
    int32_t has_alpha;
    float gamma;
    int32_t form;
};
static const struct sig_cfg sig_cfgs[] = {
    {"tv", 0.25f, 1, 2.0f, FOCAL_FORM_MODULATED_BCE},
    {"optax", 0.25f, 0, 2.0f, FOCAL_FORM_MODULATED_BCE},
    {"mmcv", 0.25f, 1, 2.0f, FOCAL_FORM_PER_TERM},
    {"g0", 0.5f, 1, 0.0f, FOCAL_FORM_MODULATED_BCE},
    {"g1pt", 0.0f, 0, 1.0f, FOCAL_FORM_PER_TERM},
    {"g25", 0.75f, 1, 2.5f, FOCAL_FORM_MODULATED_BCE},
    {"g05pt", 0.4f, 1, 0.5f, FOCAL_FORM_PER_TERM},
};

struct red {
    const char *name;
    int32_t code;
    float normalizer;
};
static const struct red reds[] = {
    {"sum", FOCAL_REDUCTION_SUM, 0.0f},
    {"mean", FOCAL_REDUCTION_MEAN, 0.0f},
    {"meanvalid", FOCAL_REDUCTION_MEAN_VALID, 0.0f},
    {"norm", FOCAL_REDUCTION_NORMALIZE, 7.5f},
};
#define NRED 4

struct smx_cfg {
    const char *name;
    int32_t alpha_kind;
    float alpha;
    float gamma;
    int ignore; /* labels with ignored rows, and has_ignore_index */
};
static const struct smx_cfg smx_cfgs[] = {
    {"none", FOCAL_ALPHA_NONE, 0.0f, 2.0f, 0},
    {"mmcv", FOCAL_ALPHA_SCALAR, 0.25f, 2.0f, 0},
    {"pc", FOCAL_ALPHA_PER_CLASS, 0.0f, 2.0f, 1},
    {"g0", FOCAL_ALPHA_SCALAR, 0.5f, 0.0f, 1},
    {"g15pc", FOCAL_ALPHA_PER_CLASS, 0.0f, 1.5f, 1},
};

struct tb_cfg {
    const char *name;
    int32_t alpha_kind;
    float alpha;
    float gamma;
    float epsilon;
};
static const struct tb_cfg tb_cfgs[] = {
    {"default", FOCAL_ALPHA_NONE, 1.0f, 2.0f, 1e-9f},
    {"scalar", FOCAL_ALPHA_SCALAR, 0.25f, 2.0f, 1e-9f},
    {"pc", FOCAL_ALPHA_PER_CLASS, 0.0f, 1.5f, 1e-6f},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static focal_sigmoid_params sig_params(const struct sig_cfg *c) {
    focal_sigmoid_params p = focal_sigmoid_params_default();
    p.alpha = c->alpha;
    p.has_alpha = c->has_alpha;
    p.gamma = c->gamma;
    p.form = c->form;
    p.backend = backend;
    return p;
}

/* ---- label widths ----------------------------------------------------------------------- */

enum width { W_U8, W_U16, W_I32, W_I64, NWIDTH };
static const char *const width_name[NWIDTH] = {"u8", "u16", "i32", "i64"};
static const int64_t width_ignore[NWIDTH] = {255, 65535, -100, -100};

static uint8_t l8[ROWS];
static uint16_t l16[ROWS];
static int32_t l32[ROWS];
static int64_t l64[ROWS];

/* The labels in every width; ignored rows get each width's ignore index. */
static void set_labels(const int64_t *src, int ignore) {
    size_t i;
    for (i = 0; i < ROWS; i++) {
        int ig = ignore && (i == IGN_A || i == IGN_B);
        l8[i] = ig ? (uint8_t)255 : (uint8_t)src[i];
        l16[i] = ig ? (uint16_t)65535 : (uint16_t)src[i];
        l32[i] = ig ? -100 : (int32_t)src[i];
        l64[i] = ig ? -100 : src[i];
    }
}

static focal_softmax_params smx_params(const struct smx_cfg *c, int w) {
    focal_softmax_params p = focal_softmax_params_default();
    p.alpha_kind = c->alpha_kind;
    p.alpha = c->alpha;
    p.class_alpha = class_alpha;
    p.class_alpha_len = C;
    p.gamma = c->gamma;
    p.has_ignore_index = c->ignore;
    p.ignore_index = width_ignore[w];
    p.backend = backend;
    return p;
}

/* One dispatcher per method over the label width (the C side of the per-width functions). */
#define LABELS(w) (w) == W_U8 ? (const void *)l8 : (w) == W_U16 ? (const void *)l16 \
    : (w) == W_I32 ? (const void *)l32 : (const void *)l64

static int32_t smx_loss(int w, const focal_softmax_params *p, const float *x, size_t n,
                        size_t nc, const void *lab, size_t nlab, int32_t r, float d, float *out,
                        focal_error *e) {
    switch (w) {
    case W_U8: return focal_softmax_loss_u8(p, x, n, nc, (const uint8_t *)lab, nlab, r, d, out, e);
    case W_U16: return focal_softmax_loss_u16(p, x, n, nc, (const uint16_t *)lab, nlab, r, d, out, e);
    case W_I32: return focal_softmax_loss_i32(p, x, n, nc, (const int32_t *)lab, nlab, r, d, out, e);
    default: return focal_softmax_loss_i64(p, x, n, nc, (const int64_t *)lab, nlab, r, d, out, e);
    }
}

static int32_t smx_loss_per_row(int w, const focal_softmax_params *p, const float *x, size_t n,
                                size_t nc, const void *lab, size_t nlab, float *out,
                                size_t nout, focal_error *e) {
    switch (w) {
    case W_U8: return focal_softmax_loss_per_row_u8(p, x, n, nc, (const uint8_t *)lab, nlab, out, nout, e);
    case W_U16: return focal_softmax_loss_per_row_u16(p, x, n, nc, (const uint16_t *)lab, nlab, out, nout, e);
    case W_I32: return focal_softmax_loss_per_row_i32(p, x, n, nc, (const int32_t *)lab, nlab, out, nout, e);
    default: return focal_softmax_loss_per_row_i64(p, x, n, nc, (const int64_t *)lab, nlab, out, nout, e);
    }
}

static int32_t smx_grad(int w, const focal_softmax_params *p, const float *x, size_t n,
                        size_t nc, const void *lab, size_t nlab, int32_t r, float d, float up,
                        float *g, size_t ng, focal_error *e) {
    switch (w) {
    case W_U8: return focal_softmax_grad_u8(p, x, n, nc, (const uint8_t *)lab, nlab, r, d, up, g, ng, e);
    case W_U16: return focal_softmax_grad_u16(p, x, n, nc, (const uint16_t *)lab, nlab, r, d, up, g, ng, e);
    case W_I32: return focal_softmax_grad_i32(p, x, n, nc, (const int32_t *)lab, nlab, r, d, up, g, ng, e);
    default: return focal_softmax_grad_i64(p, x, n, nc, (const int64_t *)lab, nlab, r, d, up, g, ng, e);
    }
}

static int32_t smx_grad_per_row(int w, const focal_softmax_params *p, const float *x, size_t n,
                                size_t nc, const void *lab, size_t nlab, const float *up,
                                size_t nup, float *g, size_t ng, focal_error *e) {
    switch (w) {
    case W_U8: return focal_softmax_grad_per_row_u8(p, x, n, nc, (const uint8_t *)lab, nlab, up, nup, g, ng, e);
    case W_U16: return focal_softmax_grad_per_row_u16(p, x, n, nc, (const uint16_t *)lab, nlab, up, nup, g, ng, e);
    case W_I32: return focal_softmax_grad_per_row_i32(p, x, n, nc, (const int32_t *)lab, nlab, up, nup, g, ng, e);
    default: return focal_softmax_grad_per_row_i64(p, x, n, nc, (const int64_t *)lab, nlab, up, nup, g, ng, e);
    }
}

static int32_t smx_lg(int w, const focal_softmax_params *p, const float *x, size_t n, size_t nc,
                      const void *lab, size_t nlab, int32_t r, float d, float *g, size_t ng,
                      float *out, focal_error *e) {
    switch (w) {
    case W_U8: return focal_softmax_loss_and_grad_u8(p, x, n, nc, (const uint8_t *)lab, nlab, r, d, g, ng, out, e);
    case W_U16: return focal_softmax_loss_and_grad_u16(p, x, n, nc, (const uint16_t *)lab, nlab, r, d, g, ng, out, e);
    case W_I32: return focal_softmax_loss_and_grad_i32(p, x, n, nc, (const int32_t *)lab, nlab, r, d, g, ng, out, e);
    default: return focal_softmax_loss_and_grad_i64(p, x, n, nc, (const int64_t *)lab, nlab, r, d, g, ng, out, e);
    }
}

static int32_t smx_in_place(int w, const focal_softmax_params *p, float *x, size_t n, size_t nc,
                            const void *lab, size_t nlab, int32_t r, float d, float *out,
                            focal_error *e) {
    switch (w) {
    case W_U8: return focal_softmax_loss_and_grad_in_place_u8(p, x, n, nc, (const uint8_t *)lab, nlab, r, d, out, e);
    case W_U16: return focal_softmax_loss_and_grad_in_place_u16(p, x, n, nc, (const uint16_t *)lab, nlab, r, d, out, e);
    case W_I32: return focal_softmax_loss_and_grad_in_place_i32(p, x, n, nc, (const int32_t *)lab, nlab, r, d, out, e);
    default: return focal_softmax_loss_and_grad_in_place_i64(p, x, n, nc, (const int64_t *)lab, nlab, r, d, out, e);
    }
}

static int32_t tb_loss(int w, const focal_torchblocks_softmax_params *p, const float *x,
                       size_t n, size_t nc, const void *lab, size_t nlab, float *out,
                       focal_error *e) {
    switch (w) {
    case W_U8: return focal_torchblocks_softmax_loss_u8(p, x, n, nc, (const uint8_t *)lab, nlab, out, e);
    case W_U16: return focal_torchblocks_softmax_loss_u16(p, x, n, nc, (const uint16_t *)lab, nlab, out, e);
    case W_I32: return focal_torchblocks_softmax_loss_i32(p, x, n, nc, (const int32_t *)lab, nlab, out, e);
    default: return focal_torchblocks_softmax_loss_i64(p, x, n, nc, (const int64_t *)lab, nlab, out, e);
    }
}

static int32_t tb_lg(int w, const focal_torchblocks_softmax_params *p, const float *x, size_t n,
                     size_t nc, const void *lab, size_t nlab, float *g, size_t ng, float *out,
                     focal_error *e) {
    switch (w) {
    case W_U8: return focal_torchblocks_softmax_loss_and_grad_u8(p, x, n, nc, (const uint8_t *)lab, nlab, g, ng, out, e);
    case W_U16: return focal_torchblocks_softmax_loss_and_grad_u16(p, x, n, nc, (const uint16_t *)lab, nlab, g, ng, out, e);
    case W_I32: return focal_torchblocks_softmax_loss_and_grad_i32(p, x, n, nc, (const int32_t *)lab, nlab, g, ng, out, e);
    default: return focal_torchblocks_softmax_loss_and_grad_i64(p, x, n, nc, (const int64_t *)lab, nlab, g, ng, out, e);
    }
}

/* ---- helpers for checks ------------------------------------------------------------------ */

#define SENTINEL 1234.5f
static float buf[NL + 8], out_loss;
static focal_error err;

static void fill(float *v, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) v[i] = SENTINEL;
}

static int untouched(const float *v, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        if (bits(v[i]) != bits(SENTINEL)) return 0;
    return 1;
}

static int same_bits(const float *a, const float *b, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        if (bits(a[i]) != bits(b[i]) && !(is_nan(a[i]) && is_nan(b[i]))) return 0;
    return 1;
}

static void ok_status(int32_t s, const char *what) {
    check(s == FOCAL_OK, what, focal_status_name(s));
    if (s == FOCAL_OK) check(err.status == FOCAL_OK && err.arg == 0 && err.index == 0, what, "err not cleared");
}

/* The error line compared with the Rust API's error: every field. */
static void err_line(const char *name) {
    start("err", name, 0, 0);
    put_s(" status="); put_i(err.status);
    put_s(" arg="); put_i(err.arg);
    put_s(" code="); put_i(err.code);
    put_s(" value="); put_f(err.value);
    put_s(" index="); put_u(err.index);
    put_s(" expected="); put_u(err.expected);
    put_s(" found="); put_u(err.found);
    put_s(" num_classes="); put_u(err.num_classes);
    put_s(" label="); put_i(err.label);
    end();
}

/* After a call that must fail: its status, err.status and err.arg, and nothing written to
   `out` (n floats filled with the sentinel before) or out_loss. */
static void expect_err(int32_t s, int32_t status, int32_t arg, const float *out, size_t n,
                       const char *what) {
    check(s == status, what, focal_status_name(s));
    check(err.status == status, what, "err.status");
    check(err.arg == arg, what, "err.arg");
    check(untouched(out, n), what, "an output was written");
    check(bits(out_loss) == bits(SENTINEL), what, "out_loss was written");
}

static void reset(void) {
    fill(buf, COUNT(buf));
    out_loss = SENTINEL;
    err.status = -1;
    err.arg = -1;
}

/* ---- sigmoid results ---------------------------------------------------------------------- */

static void sigmoid_results(void) {
    size_t c, r;
    float g[N], x2[N], l, l2;
    for (c = 0; c < COUNT(sig_cfgs); c++) {
        const char *nm = sig_cfgs[c].name;
        focal_sigmoid_params p = sig_params(&sig_cfgs[c]);
        for (r = 0; r < NRED; r++) {
            ok_status(focal_sigmoid_loss(&p, sx, N, st, N, 0, reds[r].code, reds[r].normalizer, &l, &err), "sigmoid loss");
            start("sigmoid", nm, "loss", reds[r].name); put_s(" "); put_f(l); end();
        }
        ok_status(focal_check_targets(st, N, &err), "check_targets");
        ok_status(focal_sigmoid_loss(&p, sx, N, st, N, 1, FOCAL_REDUCTION_MEAN, 0, &l, &err), "sigmoid loss checked");
        start("sigmoid", nm, "loss_checked", "mean"); put_s(" "); put_f(l); end();
        ok_status(focal_sigmoid_loss_elementwise(&p, sx, N, st, N, 0, g, N, &err), "elementwise");
        start("sigmoid", nm, "loss_elementwise", 0); put_fs(g, N); end();
        for (r = 0; r < NRED; r++) {
            ok_status(focal_sigmoid_grad(&p, sx, N, st, N, 0, reds[r].code, reds[r].normalizer, 0.75f, g, N, &err), "sigmoid grad");
            start("sigmoid", nm, "grad", reds[r].name); put_fs(g, N); end();
        }
        ok_status(focal_sigmoid_grad_elementwise(&p, sx, N, st, N, 1, sup, N, g, N, &err), "grad elementwise");
        start("sigmoid", nm, "grad_elementwise", 0); put_fs(g, N); end();
        for (r = 0; r < NRED; r++) {
            ok_status(focal_sigmoid_loss_and_grad(&p, sx, N, st, N, 0, reds[r].code, reds[r].normalizer, g, N, &l, &err), "sigmoid loss_and_grad");
            start("sigmoid", nm, "loss_and_grad", reds[r].name); put_s(" "); put_f(l); put_fs(g, N); end();
            {
                size_t i;
                for (i = 0; i < N; i++) x2[i] = sx[i];
            }
            ok_status(focal_sigmoid_loss_and_grad_in_place(&p, x2, N, st, N, 1, reds[r].code, reds[r].normalizer, &l2, &err), "sigmoid in place");
            check(bits(l2) == bits(l) && same_bits(x2, g, N), "sigmoid in place equals loss_and_grad", nm);
            if (r == 1) {
                start("sigmoid", nm, "in_place", reds[r].name); put_s(" "); put_f(l2); put_fs(x2, N); end();
            }
        }
    }
    /* A NaN logit: NaN for that element only. */
    {
        float x[N];
        size_t i;
        focal_sigmoid_params p = sig_params(&sig_cfgs[0]);
        for (i = 0; i < N; i++) x[i] = sx[i];
        x[3] = 0.0f / (x[0] - x[0]) ;
        ok_status(focal_sigmoid_loss_elementwise(&p, x, N, st, N, 0, g, N, &err), "nan elementwise");
        start("sigmoid", "nan", "loss_elementwise", 0); put_fs(g, N); end();
        check(is_nan(g[3]) && !is_nan(g[2]) && !is_nan(g[4]), "NaN logit stays in its element", 0);
    }
}

/* ---- softmax results --------------------------------------------------------------------- */

static void softmax_results(void) {
    size_t c, r;
    int w;
    float g[NL], x2[NL], per[ROWS], l, l2;
    static float first[NWIDTH][NL];
    for (c = 0; c < COUNT(smx_cfgs); c++) {
        const struct smx_cfg *k = &smx_cfgs[c];
        set_labels(lab_plain, k->ignore);
        for (w = 0; w < NWIDTH; w++) {
            const char *wn = width_name[w];
            const void *lab = LABELS(w);
            focal_softmax_params p = smx_params(k, w);
            char name[32];
            size_t i = 0;
            const char *a = k->name;
            while (*a && i < 20) name[i++] = *a++;
            name[i++] = '.';
            a = wn;
            while (*a) name[i++] = *a++;
            name[i] = 0;
            for (r = 0; r < NRED; r++) {
                ok_status(smx_loss(w, &p, zx, NL, C, lab, ROWS, reds[r].code, reds[r].normalizer, &l, &err), "softmax loss");
                start("softmax", name, "loss", reds[r].name); put_s(" "); put_f(l); end();
            }
            ok_status(smx_loss_per_row(w, &p, zx, NL, C, lab, ROWS, per, ROWS, &err), "per row");
            start("softmax", name, "loss_per_row", 0); put_fs(per, ROWS); end();
            for (r = 0; r < NRED; r++) {
                ok_status(smx_grad(w, &p, zx, NL, C, lab, ROWS, reds[r].code, reds[r].normalizer, 0.5f, g, NL, &err), "softmax grad");
                start("softmax", name, "grad", reds[r].name); put_fs(g, NL); end();
            }
            ok_status(smx_grad_per_row(w, &p, zx, NL, C, lab, ROWS, zup, ROWS, g, NL, &err), "grad per row");
            start("softmax", name, "grad_per_row", 0); put_fs(g, NL); end();
            for (r = 0; r < NRED; r++) {
                ok_status(smx_lg(w, &p, zx, NL, C, lab, ROWS, reds[r].code, reds[r].normalizer, g, NL, &l, &err), "softmax loss_and_grad");
                start("softmax", name, "loss_and_grad", reds[r].name); put_s(" "); put_f(l); put_fs(g, NL); end();
                for (i = 0; i < NL; i++) x2[i] = zx[i];
                ok_status(smx_in_place(w, &p, x2, NL, C, lab, ROWS, reds[r].code, reds[r].normalizer, &l2, &err), "softmax in place");
                check(bits(l2) == bits(l) && same_bits(x2, g, NL), "softmax in place equals loss_and_grad", name);
                if (r == 2) {
                    start("softmax", name, "in_place", reds[r].name); put_s(" "); put_f(l2); put_fs(x2, NL); end();
                }
            }
            for (i = 0; i < NL; i++) first[w][i] = g[i];
        }
        for (w = 1; w < NWIDTH; w++)
            check(same_bits(first[w], first[0], NL), "every label width gives the same bits", k->name);
    }
    /* Every row ignored, MEAN_VALID: loss 0 and gradient 0. */
    {
        int64_t all[ROWS];
        size_t i;
        for (i = 0; i < ROWS; i++) all[i] = 0;
        set_labels(all, 0);
        for (i = 0; i < ROWS; i++) { l8[i] = 255; l16[i] = 65535; l32[i] = -100; l64[i] = -100; }
        for (w = 0; w < NWIDTH; w++) {
            focal_softmax_params p = smx_params(&smx_cfgs[2], w);
            ok_status(smx_lg(w, &p, zx, NL, C, LABELS(w), ROWS, FOCAL_REDUCTION_MEAN_VALID, 0, g, NL, &l, &err), "all ignored");
            start("softmax", "allign", width_name[w], "loss_and_grad.meanvalid"); put_s(" "); put_f(l); put_fs(g, NL); end();
        }
    }
}

/* ---- TorchBlocks results ----------------------------------------------------------------- */

static void torchblocks_results(void) {
    float g[NL], l, l2;
    size_t c;
    int w;
    focal_torchblocks_binary_params bp[2];
    const char *bn[2] = {"default", "custom"};
    bp[0] = focal_torchblocks_binary_params_default();
    bp[1].gamma = 1.5f;
    bp[1].alpha = 0.6f;
    bp[1].epsilon = 1e-6f;
    for (c = 0; c < 2; c++) {
        ok_status(focal_torchblocks_binary_loss(&bp[c], probs, N, st, N, &l, &err), "tb binary loss");
        start("tb", "binary", bn[c], "loss"); put_s(" "); put_f(l); end();
        ok_status(focal_torchblocks_binary_loss_and_grad(&bp[c], probs, N, st, N, g, N, &l2, &err), "tb binary lg");
        start("tb", "binary", bn[c], "loss_and_grad"); put_s(" "); put_f(l2); put_fs(g, N); end();
        check(bits(l) == bits(l2), "tb binary loss equals loss_and_grad's", bn[c]);
    }
    set_labels(lab_plain, 0);
    for (c = 0; c < COUNT(tb_cfgs); c++) {
        focal_torchblocks_softmax_params p = focal_torchblocks_softmax_params_default();
        p.alpha_kind = tb_cfgs[c].alpha_kind;
        p.alpha = tb_cfgs[c].alpha;
        p.class_alpha = class_alpha;
        p.class_alpha_len = C;
        p.gamma = tb_cfgs[c].gamma;
        p.epsilon = tb_cfgs[c].epsilon;
        for (w = 0; w < NWIDTH; w++) {
            ok_status(tb_loss(w, &p, zx, NL, C, LABELS(w), ROWS, &l, &err), "tb softmax loss");
            start("tb", "softmax", tb_cfgs[c].name, width_name[w]); put_s(" loss "); put_f(l); end();
            ok_status(tb_lg(w, &p, zx, NL, C, LABELS(w), ROWS, g, NL, &l2, &err), "tb softmax lg");
            start("tb", "softmax_lg", tb_cfgs[c].name, width_name[w]); put_s(" "); put_f(l2); put_fs(g, NL); end();
        }
    }
}

/* ---- chunks: one call cut in two, the partials joined in both orders ---------------------- */

/* Sigmoid: three blocks and a tail, cut after two blocks. Softmax: the first SN logits as
   BROWS rows of C classes, cut after one chunk of rows (6544 for C = 5). Also on the
   firmware: about 0.85 MiB of the 4 MiB of RAM of the QEMU board. */
#define SN (3 * FOCAL_SIGMOID_CHUNK + 5)
#define SCUT (2 * FOCAL_SIGMOID_CHUNK)
#define BROWS 6551
#define BNL (BROWS * C)
static float bx[SN], bt[SN], bg[SN], bg2[SN];
static uint8_t b8[BROWS];
static uint16_t b16[BROWS];
static int32_t b32[BROWS];
static int64_t b64[BROWS];

/* The big labels of width w from row r on. */
static const void *blab(int w, size_t r) {
    switch (w) {
    case W_U8: return b8 + r;
    case W_U16: return b16 + r;
    case W_I32: return b32 + r;
    default: return b64 + r;
    }
}

/* 32-bit FNV-1a over the floats' bits, low byte first: a gradient too long for a line,
   compared with reference.rs. */
static uint32_t hash(const float *v, size_t n) {
    uint32_t h = 2166136261u;
    size_t i;
    int k;
    for (i = 0; i < n; i++)
        for (k = 0; k < 32; k += 8) h = (h ^ ((bits(v[i]) >> k) & 0xffu)) * 16777619u;
    return h;
}

static int32_t smx_chunks(int w, const focal_softmax_params *p, size_t nc, const void *lab,
                          size_t nlab, int32_t r, float d, focal_softmax_plan *out,
                          focal_error *e) {
    switch (w) {
    case W_U8: return focal_softmax_chunks_u8(p, nc, (const uint8_t *)lab, nlab, r, d, out, e);
    case W_U16: return focal_softmax_chunks_u16(p, nc, (const uint16_t *)lab, nlab, r, d, out, e);
    case W_I32: return focal_softmax_chunks_i32(p, nc, (const int32_t *)lab, nlab, r, d, out, e);
    default: return focal_softmax_chunks_i64(p, nc, (const int64_t *)lab, nlab, r, d, out, e);
    }
}

static int32_t smx_chunk_loss(int w, const focal_softmax_plan *p, const float *x, size_t n,
                              const void *lab, size_t nlab, focal_partial *out, focal_error *e) {
    switch (w) {
    case W_U8: return focal_softmax_chunk_loss_u8(p, x, n, (const uint8_t *)lab, nlab, out, e);
    case W_U16: return focal_softmax_chunk_loss_u16(p, x, n, (const uint16_t *)lab, nlab, out, e);
    case W_I32: return focal_softmax_chunk_loss_i32(p, x, n, (const int32_t *)lab, nlab, out, e);
    default: return focal_softmax_chunk_loss_i64(p, x, n, (const int64_t *)lab, nlab, out, e);
    }
}

static int32_t smx_chunk_lg(int w, const focal_softmax_plan *p, const float *x, size_t n,
                            const void *lab, size_t nlab, float *g, size_t ng,
                            focal_partial *out, focal_error *e) {
    switch (w) {
    case W_U8: return focal_softmax_chunk_loss_and_grad_u8(p, x, n, (const uint8_t *)lab, nlab, g, ng, out, e);
    case W_U16: return focal_softmax_chunk_loss_and_grad_u16(p, x, n, (const uint16_t *)lab, nlab, g, ng, out, e);
    case W_I32: return focal_softmax_chunk_loss_and_grad_i32(p, x, n, (const int32_t *)lab, nlab, g, ng, out, e);
    default: return focal_softmax_chunk_loss_and_grad_i64(p, x, n, (const int64_t *)lab, nlab, g, ng, out, e);
    }
}

static int32_t smx_chunk_grad(int w, const focal_softmax_plan *p, const float *x, size_t n,
                              const void *lab, size_t nlab, float up, float *g, size_t ng,
                              focal_error *e) {
    switch (w) {
    case W_U8: return focal_softmax_chunk_grad_u8(p, x, n, (const uint8_t *)lab, nlab, up, g, ng, e);
    case W_U16: return focal_softmax_chunk_grad_u16(p, x, n, (const uint16_t *)lab, nlab, up, g, ng, e);
    case W_I32: return focal_softmax_chunk_grad_i32(p, x, n, (const int32_t *)lab, nlab, up, g, ng, e);
    default: return focal_softmax_chunk_grad_i64(p, x, n, (const int64_t *)lab, nlab, up, g, ng, e);
    }
}

static int same_words(const focal_partial *a, const focal_partial *b) {
    size_t i;
    for (i = 0; i < COUNT(a->words); i++)
        if (a->words[i] != b->words[i]) return 0;
    return 1;
}

/* a joined with b, after checking that b joined with a is the same partial. */
static focal_partial join2(focal_partial a, focal_partial b, const char *what) {
    focal_partial ab = focal_partial_join(a, b), ba = focal_partial_join(b, a);
    check(same_words(&ab, &ba), what, "the order of the joins changed the partial");
    return ab;
}

/* A chunked loss against the single call's: the same bits on the SIMD backends and for one
   chunk; on the scalar backend, which sums a call in one pass, within 1e-6 relative. */
static void same_loss(float chunked, float single, int one_chunk, const char *what) {
    int32_t b = backend == FOCAL_BACKEND_AUTO ? focal_backend_detect() : backend;
    float d = chunked - single, m = single < 0 ? -single : single;
    if (b != FOCAL_BACKEND_SCALAR || one_chunk) {
        check(bits(chunked) == bits(single), what, "loss bits differ from the single call's");
    } else {
        check((d < 0 ? -d : d) <= 1e-6f * m, what, "loss beyond 1e-6 of the single call's");
    }
}

static void sigmoid_chunks(const struct sig_cfg *cfg, const struct red *rd) {
    focal_sigmoid_params p = sig_params(cfg);
    focal_sigmoid_plan plan;
    focal_partial a, b, all;
    float single, l;
    const size_t n2 = SN - SCUT;
    ok_status(focal_sigmoid_chunks(&p, SN, rd->code, rd->normalizer, &plan, &err), "sigmoid plan");

    ok_status(focal_sigmoid_loss_and_grad(&p, bx, SN, bt, SN, 0, rd->code, rd->normalizer, bg, SN, &single, &err), "sigmoid single lg");
    fill(bg2, SN);
    /* The second chunk first: chunks run in any order. */
    ok_status(focal_sigmoid_chunk_loss_and_grad(&plan, bx + SCUT, n2, bt + SCUT, n2, 0, bg2 + SCUT, n2, &b, &err), "sigmoid chunk lg");
    ok_status(focal_sigmoid_chunk_loss_and_grad(&plan, bx, SCUT, bt, SCUT, 0, bg2, SCUT, &a, &err), "sigmoid chunk lg");
    all = join2(a, b, "sigmoid chunk lg");
    ok_status(focal_sigmoid_chunks_finish(&plan, all, &l, &err), "sigmoid finish");
    same_loss(l, single, 0, "sigmoid chunk lg");
    check(same_bits(bg2, bg, SN), "sigmoid chunk lg", "gradient bits differ from the single call's");
    start("chunks.sigmoid", cfg->name, "loss_and_grad", rd->name); put_s(" "); put_f(l); put_s(" "); put_x(hash(bg2, SN)); end();

    ok_status(focal_sigmoid_loss(&p, bx, SN, bt, SN, 0, rd->code, rd->normalizer, &single, &err), "sigmoid single loss");
    ok_status(focal_check_targets(bt, SN, &err), "check big targets");
    ok_status(focal_sigmoid_chunk_loss(&plan, bx, SCUT, bt, SCUT, 1, &a, &err), "sigmoid chunk loss");
    ok_status(focal_sigmoid_chunk_loss(&plan, bx + SCUT, n2, bt + SCUT, n2, 1, &b, &err), "sigmoid chunk loss");
    ok_status(focal_sigmoid_chunks_finish(&plan, join2(b, a, "sigmoid chunk loss"), &l, &err), "sigmoid finish");
    same_loss(l, single, 0, "sigmoid chunk loss");
    start("chunks.sigmoid", cfg->name, "loss", rd->name); put_s(" "); put_f(l); end();
    /* The whole call as one chunk, joined with the empty partial {0}: the single call's bits
       on every backend. */
    {
        focal_partial none = {0};
        ok_status(focal_sigmoid_chunk_loss(&plan, bx, SN, bt, SN, 0, &a, &err), "sigmoid one chunk");
        ok_status(focal_sigmoid_chunks_finish(&plan, join2(none, a, "one chunk"), &l, &err), "sigmoid finish");
        same_loss(l, single, 1, "sigmoid one chunk");
    }

    ok_status(focal_sigmoid_grad(&p, bx, SN, bt, SN, 0, rd->code, rd->normalizer, 0.75f, bg, SN, &err), "sigmoid single grad");
    fill(bg2, SN);
    ok_status(focal_sigmoid_chunk_grad(&plan, bx + SCUT, n2, bt + SCUT, n2, 0, 0.75f, bg2 + SCUT, n2, &err), "sigmoid chunk grad");
    ok_status(focal_sigmoid_chunk_grad(&plan, bx, SCUT, bt, SCUT, 0, 0.75f, bg2, SCUT, &err), "sigmoid chunk grad");
    check(same_bits(bg2, bg, SN), "sigmoid chunk grad", "gradient bits differ from the single call's");
    start("chunks.sigmoid", cfg->name, "grad", rd->name); put_s(" "); put_x(hash(bg2, SN)); end();
}

static void softmax_chunks(int w) {
    focal_softmax_params p = smx_params(&smx_cfgs[2], w); /* per-class alpha, ignored rows */
    focal_softmax_plan plan;
    focal_partial a, b;
    float single, l;
    size_t rows, cut;
    char name[16];
    name[0] = 'p', name[1] = 'c', name[2] = '.', name[3] = 0;
    for (rows = 0; width_name[w][rows]; rows++) name[3 + rows] = width_name[w][rows];
    name[3 + rows] = 0;
    ok_status(smx_chunks(w, &p, C, blab(w, 0), BROWS, FOCAL_REDUCTION_MEAN_VALID, 0, &plan, &err), "softmax plan");
    rows = focal_softmax_rows_per_chunk(&plan);
    if (w == W_U8) { start("chunks.softmax", "rows_per_chunk", 0, 0); put_s(" "); put_u(rows); end(); }
    check(rows > 0 && rows < BROWS, "softmax rows per chunk", "outside (0, BROWS)");
    if (!(rows > 0 && rows < BROWS)) return;
    cut = rows * C;

    ok_status(smx_lg(w, &p, bx, BNL, C, blab(w, 0), BROWS, FOCAL_REDUCTION_MEAN_VALID, 0, bg, BNL, &single, &err), "softmax single lg");
    fill(bg2, BNL);
    ok_status(smx_chunk_lg(w, &plan, bx + cut, BNL - cut, blab(w, rows), BROWS - rows, bg2 + cut, BNL - cut, &b, &err), "softmax chunk lg");
    ok_status(smx_chunk_lg(w, &plan, bx, cut, blab(w, 0), rows, bg2, cut, &a, &err), "softmax chunk lg");
    ok_status(focal_softmax_chunks_finish(&plan, join2(a, b, "softmax chunk lg"), &l, &err), "softmax finish");
    same_loss(l, single, 0, "softmax chunk lg");
    check(same_bits(bg2, bg, BNL), "softmax chunk lg", "gradient bits differ from the single call's");
    start("chunks.softmax", name, "loss_and_grad", "meanvalid"); put_s(" "); put_f(l); put_s(" "); put_x(hash(bg2, BNL)); end();

    ok_status(smx_loss(w, &p, bx, BNL, C, blab(w, 0), BROWS, FOCAL_REDUCTION_MEAN_VALID, 0, &single, &err), "softmax single loss");
    ok_status(smx_chunk_loss(w, &plan, bx, cut, blab(w, 0), rows, &a, &err), "softmax chunk loss");
    ok_status(smx_chunk_loss(w, &plan, bx + cut, BNL - cut, blab(w, rows), BROWS - rows, &b, &err), "softmax chunk loss");
    ok_status(focal_softmax_chunks_finish(&plan, join2(b, a, "softmax chunk loss"), &l, &err), "softmax finish");
    same_loss(l, single, 0, "softmax chunk loss");
    start("chunks.softmax", name, "loss", "meanvalid"); put_s(" "); put_f(l); end();

    ok_status(smx_grad(w, &p, bx, BNL, C, blab(w, 0), BROWS, FOCAL_REDUCTION_MEAN_VALID, 0, 0.5f, bg, BNL, &err), "softmax single grad");
    fill(bg2, BNL);
    ok_status(smx_chunk_grad(w, &plan, bx + cut, BNL - cut, blab(w, rows), BROWS - rows, 0.5f, bg2 + cut, BNL - cut, &err), "softmax chunk grad");
    ok_status(smx_chunk_grad(w, &plan, bx, cut, blab(w, 0), rows, 0.5f, bg2, cut, &err), "softmax chunk grad");
    check(same_bits(bg2, bg, BNL), "softmax chunk grad", "gradient bits differ from the single call's");
    start("chunks.softmax", name, "grad", "meanvalid"); put_s(" "); put_x(hash(bg2, BNL)); end();
}

/* After a chunk call that must fail: as expect_err, and *p (filled with 0xa5 words before)
   not written. */
static void expect_chunk_err(int32_t s, int32_t status, int32_t arg, const focal_partial *p,
                             const char *what) {
    size_t i;
    expect_err(s, status, arg, buf, COUNT(buf), what);
    for (i = 0; i < COUNT(p->words); i++) check(p->words[i] == 0xa5a5a5a5u, what, "the partial was written");
}

static void chunk_errors(void) {
    focal_sigmoid_params sp = sig_params(&sig_cfgs[0]);
    focal_softmax_params mp = smx_params(&smx_cfgs[2], W_I64);
    focal_sigmoid_plan splan, bad;
    focal_softmax_plan mplan, mbad;
    focal_partial part;
    size_t i;
    for (i = 0; i < COUNT(part.words); i++) part.words[i] = 0xa5a5a5a5u;
    ok_status(focal_sigmoid_chunks(&sp, N, FOCAL_REDUCTION_MEAN, 0, &splan, &err), "sigmoid plan");
    ok_status(focal_softmax_chunks_i64(&mp, C, b64, BROWS, FOCAL_REDUCTION_MEAN_VALID, 0, &mplan, &err), "softmax plan");

    /* The library's errors, printed for the Rust comparison. */
    reset();
    expect_chunk_err(focal_sigmoid_chunk_loss(&splan, bx, 10, bt, 9, 0, &part, &err), FOCAL_LENGTH_MISMATCH, FOCAL_ARG_TARGETS, &part, "chunk targets length");
    err_line("chunks.length.targets");
    reset();
    expect_chunk_err(focal_sigmoid_chunk_loss_and_grad(&splan, bx, 10, bt, 10, 0, buf, 11, &part, &err), FOCAL_LENGTH_MISMATCH, FOCAL_ARG_GRAD, &part, "chunk grad length");
    err_line("chunks.length.grad");
    reset();
    expect_err(focal_sigmoid_chunk_grad(&splan, bx, 10, bt, 10, 0, 1.0f, buf, 9, &err), FOCAL_LENGTH_MISMATCH, FOCAL_ARG_GRAD, buf, COUNT(buf), "chunk grad length");
    err_line("chunks.length.grad_only");
    reset();
    expect_chunk_err(focal_softmax_chunk_loss_i64(&mplan, bx, 4 * C, b64, 3, &part, &err), FOCAL_LENGTH_MISMATCH, FOCAL_ARG_LABELS, &part, "chunk labels length");
    err_line("chunks.length.labels");
    reset();
    expect_chunk_err(focal_softmax_chunk_loss_and_grad_i64(&mplan, bx, 4 * C + 1, b64, 4, buf, 4 * C + 1, &part, &err), FOCAL_INVALID_NUM_CLASSES, FOCAL_ARG_LOGITS, &part, "chunk num classes");
    err_line("chunks.num_classes");
    {
        focal_sigmoid_params q = sp;
        q.gamma = -1.0f;
        reset();
        expect_err(focal_sigmoid_chunks(&q, N, FOCAL_REDUCTION_MEAN, 0, &bad, &err), FOCAL_INVALID_GAMMA, FOCAL_ARG_PARAMS, buf, 0, "plan gamma");
        err_line("chunks.plan.gamma");
        reset();
        expect_err(focal_sigmoid_chunks(&sp, N, FOCAL_REDUCTION_NORMALIZE, 0.0f, &bad, &err), FOCAL_INVALID_NORMALIZER, FOCAL_ARG_REDUCTION, buf, 0, "plan normalizer");
        err_line("chunks.plan.normalizer");
    }
    {
        int64_t keep = b64[9];
        b64[9] = C;
        reset();
        expect_err(focal_softmax_chunks_i64(&mp, C, b64, BROWS, FOCAL_REDUCTION_MEAN_VALID, 0, &mbad, &err), FOCAL_LABEL_OUT_OF_RANGE, FOCAL_ARG_LABELS, buf, 0, "plan label");
        check(err.index == 9, "plan label", "index");
        err_line("chunks.plan.label");
        /* A chunk checks its own labels: row 9 is row 2 of the chunk from row 7. */
        reset();
        expect_chunk_err(focal_softmax_chunk_loss_and_grad_i64(&mplan, bx + 7 * C, 4 * C, b64 + 7, 4, buf, 4 * C, &part, &err), FOCAL_LABEL_OUT_OF_RANGE, FOCAL_ARG_LABELS, &part, "chunk label");
        check(err.index == 2, "chunk label", "index");
        err_line("chunks.label");
        b64[9] = keep;
    }

    /* The C layer's: NULL plans and out-pointers, codes in a plan, overlaps. */
    reset();
    expect_chunk_err(focal_sigmoid_chunk_loss(NULL, bx, 10, bt, 10, 0, &part, &err), FOCAL_NULL_POINTER, FOCAL_ARG_PLAN, &part, "NULL sigmoid plan");
    reset();
    expect_chunk_err(focal_softmax_chunk_loss_u8(NULL, bx, 4 * C, b8, 4, &part, &err), FOCAL_NULL_POINTER, FOCAL_ARG_PLAN, &part, "NULL softmax plan");
    reset();
    expect_chunk_err(focal_sigmoid_chunk_loss(&splan, bx, 10, bt, 10, 0, NULL, &err), FOCAL_NULL_POINTER, FOCAL_ARG_PARTIAL, &part, "NULL out_partial");
    reset();
    expect_err(focal_sigmoid_chunks(&sp, N, FOCAL_REDUCTION_MEAN, 0, NULL, &err), FOCAL_NULL_POINTER, FOCAL_ARG_PLAN, buf, 0, "NULL out_plan");
    reset();
    expect_err(focal_softmax_chunks_u16(&mp, C, b16, BROWS, FOCAL_REDUCTION_MEAN_VALID, 0, NULL, &err), FOCAL_NULL_POINTER, FOCAL_ARG_PLAN, buf, 0, "NULL softmax out_plan");
    reset();
    expect_err(focal_sigmoid_chunks(NULL, N, FOCAL_REDUCTION_MEAN, 0, &bad, &err), FOCAL_NULL_POINTER, FOCAL_ARG_PARAMS, buf, 0, "NULL plan params");
    reset();
    expect_err(focal_sigmoid_chunks_finish(NULL, part, &out_loss, &err), FOCAL_NULL_POINTER, FOCAL_ARG_PLAN, buf, 0, "NULL plan finish");
    reset();
    expect_err(focal_softmax_chunks_finish(&mplan, part, NULL, &err), FOCAL_NULL_POINTER, FOCAL_ARG_OUT_LOSS, buf, 0, "NULL out_loss finish");
    check(focal_softmax_rows_per_chunk(NULL) == 0, "rows per chunk of NULL", 0);
    reset();
    expect_err(focal_sigmoid_chunks(&sp, N, 9, 0, &bad, &err), FOCAL_INVALID_CODE, FOCAL_ARG_REDUCTION, buf, 0, "plan reduction 9");
    bad = splan;
    bad.params.backend = 42;
    reset();
    expect_chunk_err(focal_sigmoid_chunk_loss(&bad, bx, 10, bt, 10, 0, &part, &err), FOCAL_INVALID_CODE, FOCAL_ARG_BACKEND, &part, "plan backend 42");
    mbad = mplan;
    mbad.params.alpha_kind = 5;
    check(focal_softmax_rows_per_chunk(&mbad) == 0, "rows per chunk of a bad plan", 0);
    reset();
    expect_err(focal_softmax_chunks_finish(&mbad, part, &out_loss, &err), FOCAL_INVALID_CODE, FOCAL_ARG_ALPHA_KIND, buf, 0, "plan alpha kind 5");
    mbad = mplan;
    mbad.num_classes = 0;
    check(focal_softmax_rows_per_chunk(&mbad) == 0, "rows per chunk of a plan of 0 classes", 0);
    /* The plan's parameters are checked again: a class_alpha of the wrong length. */
    mbad = mplan;
    mbad.params.class_alpha_len = C - 1;
    reset();
    expect_chunk_err(focal_softmax_chunk_loss_i64(&mbad, bx, 4 * C, b64, 4, &part, &err), FOCAL_CLASS_ALPHA_LENGTH, FOCAL_ARG_CLASS_ALPHA, &part, "plan class alpha length");
    mbad = mplan;
    for (i = 0; i < C; i++) bg[4 * C - 1 + i] = class_alpha[i];
    mbad.params.class_alpha = bg + 4 * C - 1; /* the last gradient element is a class weight */
    reset();
    expect_err(focal_softmax_chunk_grad_i64(&mbad, bx, 4 * C, b64, 4, 1.0f, bg, 4 * C, &err), FOCAL_OVERLAP, FOCAL_ARG_GRAD, buf, 0, "chunk grad overlaps the plan's class alpha");
    reset();
    expect_chunk_err(focal_sigmoid_chunk_loss_and_grad(&splan, bx, 10, bt, 10, 0, bt + 9, 10, &part, &err), FOCAL_OVERLAP, FOCAL_ARG_GRAD, &part, "chunk grad overlaps the targets");
    {
        /* A plan and a partial at odd addresses: read and written unaligned. */
        static unsigned char raw[sizeof(focal_sigmoid_plan) + sizeof(focal_partial) + 8];
        unsigned char *pp = raw + 1, *src = (unsigned char *)&splan, *d;
        focal_partial got, want;
        for (i = 0; i < sizeof splan; i++) pp[i] = src[i];
        ok_status(focal_sigmoid_chunk_loss((const focal_sigmoid_plan *)(void *)pp, bx, N, bt, N, 0,
                                           (focal_partial *)(void *)(pp + sizeof splan), &err), "unaligned plan and partial");
        ok_status(focal_sigmoid_chunk_loss(&splan, bx, N, bt, N, 0, &want, &err), "aligned");
        d = (unsigned char *)&got;
        for (i = 0; i < sizeof got; i++) d[i] = pp[sizeof splan + i];
        check(same_words(&got, &want), "unaligned partial holds the partial", 0);
    }
    /* {0} is the empty partial: the loss of no chunk is 0. */
    {
        focal_partial none = {0};
        float l = SENTINEL;
        ok_status(focal_sigmoid_chunks_finish(&splan, none, &l, &err), "finish of nothing");
        check(bits(l) == 0, "finish of the empty partial", "not +0");
    }
}

static void chunk_results(void) {
    size_t i;
    int w;
    rng = 0x2545f491u;
    for (i = 0; i < SN; i++) {
        bx[i] = logit();
        bt[i] = i % 3 == 0 ? 1.0f : i % 3 == 1 ? 0.0f : unit();
    }
    for (i = 0; i < BROWS; i++) {
        int64_t v = (int64_t)(next() % C);
        int ig = i % 7 == 3;
        b8[i] = ig ? (uint8_t)255 : (uint8_t)v;
        b16[i] = ig ? (uint16_t)65535 : (uint16_t)v;
        b32[i] = ig ? -100 : (int32_t)v;
        b64[i] = ig ? -100 : v;
    }
    sigmoid_chunks(&sig_cfgs[0], &reds[1]);
    sigmoid_chunks(&sig_cfgs[5], &reds[0]);
    for (w = 0; w < NWIDTH; w++) softmax_chunks(w);
    chunk_errors();
}

/* ---- errors the library reports: checked here and printed for the Rust comparison -------- */

static void library_errors(void) {
    focal_sigmoid_params sp = sig_params(&sig_cfgs[0]);
    focal_softmax_params mp = smx_params(&smx_cfgs[1], W_U8);
    float t[N], x[NL];
    size_t i;
    int w;

    reset();
    expect_err(focal_sigmoid_loss(&sp, sx, N, st, N - 1, 0, FOCAL_REDUCTION_MEAN, 0, &out_loss, &err),
               FOCAL_LENGTH_MISMATCH, FOCAL_ARG_TARGETS, buf, 0, "length targets");
    check(err.expected == N && err.found == N - 1, "length targets", "expected/found");
    err_line("length.targets");
    reset();
    expect_err(focal_sigmoid_grad_elementwise(&sp, sx, N, st, N, 0, sup, N - 2, buf, N, &err),
               FOCAL_LENGTH_MISMATCH, FOCAL_ARG_UPSTREAM, buf, N, "length upstream");
    err_line("length.upstream");
    reset();
    expect_err(focal_sigmoid_loss_and_grad(&sp, sx, N, st, N, 0, FOCAL_REDUCTION_SUM, 0, buf, N + 1, &out_loss, &err),
               FOCAL_LENGTH_MISMATCH, FOCAL_ARG_GRAD, buf, N + 1, "length grad");
    err_line("length.grad");
    set_labels(lab_plain, 0);
    reset();
    expect_err(focal_softmax_loss_per_row_u8(&mp, zx, NL, C, l8, ROWS, buf, ROWS - 1, &err),
               FOCAL_LENGTH_MISMATCH, FOCAL_ARG_OUT, buf, ROWS - 1, "length out");
    err_line("length.out");
    reset();
    expect_err(focal_softmax_loss_i64(&mp, zx, NL, C, l64, ROWS - 1, FOCAL_REDUCTION_SUM, 0, &out_loss, &err),
               FOCAL_LENGTH_MISMATCH, FOCAL_ARG_LABELS, buf, 0, "length labels");
    err_line("length.labels");

    reset();
    expect_err(focal_softmax_grad_i32(&mp, zx, NL, 0, l32, ROWS, FOCAL_REDUCTION_SUM, 0, 1, buf, NL, &err),
               FOCAL_INVALID_NUM_CLASSES, FOCAL_ARG_LOGITS, buf, NL, "num_classes 0");
    err_line("num_classes.zero");
    reset();
    expect_err(focal_softmax_loss_and_grad_u16(&mp, zx, NL, 4, l16, ROWS, FOCAL_REDUCTION_SUM, 0, buf, NL, &out_loss, &err),
               FOCAL_INVALID_NUM_CLASSES, FOCAL_ARG_LOGITS, buf, NL, "num_classes 4");
    check(err.num_classes == 4 && err.found == NL, "num_classes 4", "fields");
    err_line("num_classes.four");

    {
        focal_sigmoid_params q = sp;
        q.alpha = 1.5f;
        reset();
        expect_err(focal_sigmoid_loss_elementwise(&q, sx, N, st, N, 0, buf, N, &err),
                   FOCAL_INVALID_ALPHA, FOCAL_ARG_PARAMS, buf, N, "alpha 1.5");
        err_line("alpha.big");
        q.alpha = 0.0f / (sx[0] - sx[0]);
        reset();
        expect_err(focal_sigmoid_loss(&q, sx, N, st, N, 0, FOCAL_REDUCTION_SUM, 0, &out_loss, &err),
                   FOCAL_INVALID_ALPHA, FOCAL_ARG_PARAMS, buf, 0, "alpha NaN");
        err_line("alpha.nan");
        q = sp;
        q.gamma = -1.0f;
        reset();
        expect_err(focal_sigmoid_grad(&q, sx, N, st, N, 0, FOCAL_REDUCTION_SUM, 0, 1, buf, N, &err),
                   FOCAL_INVALID_GAMMA, FOCAL_ARG_PARAMS, buf, N, "gamma -1");
        err_line("gamma.negative");
        q.gamma = 1e30f * 1e30f;
        reset();
        expect_err(focal_sigmoid_loss_and_grad_in_place(&q, buf, N, st, N, 0, FOCAL_REDUCTION_SUM, 0, &out_loss, &err),
                   FOCAL_INVALID_GAMMA, FOCAL_ARG_PARAMS, buf, N, "gamma inf (in place: logits unchanged)");
        err_line("gamma.inf");
    }
    {
        focal_softmax_params q = smx_params(&smx_cfgs[2], W_U8);
        q.class_alpha_len = C - 1;
        reset();
        expect_err(focal_softmax_loss_u8(&q, zx, NL, C, l8, ROWS, FOCAL_REDUCTION_SUM, 0, &out_loss, &err),
                   FOCAL_CLASS_ALPHA_LENGTH, FOCAL_ARG_CLASS_ALPHA, buf, 0, "class alpha length");
        check(err.expected == C && err.found == C - 1, "class alpha length", "fields");
        err_line("class_alpha.length");
        {
            float bad[C];
            for (i = 0; i < C; i++) bad[i] = class_alpha[i];
            bad[3] = -0.1f;
            q.class_alpha = bad;
            q.class_alpha_len = C;
            reset();
            expect_err(focal_softmax_grad_per_row_u8(&q, zx, NL, C, l8, ROWS, zup, ROWS, buf, NL, &err),
                       FOCAL_INVALID_CLASS_ALPHA, FOCAL_ARG_CLASS_ALPHA, buf, NL, "class alpha value");
            check(err.index == 3, "class alpha value", "index");
            err_line("class_alpha.value");
        }
    }
    reset();
    expect_err(focal_sigmoid_loss(&sp, sx, N, st, N, 0, FOCAL_REDUCTION_NORMALIZE, 0.0f, &out_loss, &err),
               FOCAL_INVALID_NORMALIZER, FOCAL_ARG_REDUCTION, buf, 0, "normalizer 0");
    err_line("normalizer.zero");
    reset();
    expect_err(focal_softmax_loss_and_grad_in_place_i64(&mp, buf, NL, C, l64, ROWS, FOCAL_REDUCTION_NORMALIZE, -1.0f, &out_loss, &err),
               FOCAL_INVALID_NORMALIZER, FOCAL_ARG_REDUCTION, buf, NL, "normalizer -1");
    err_line("normalizer.negative");
    {
        focal_torchblocks_binary_params b = focal_torchblocks_binary_params_default();
        focal_torchblocks_softmax_params s = focal_torchblocks_softmax_params_default();
        b.epsilon = -1.0f;
        reset();
        expect_err(focal_torchblocks_binary_loss_and_grad(&b, probs, N, st, N, buf, N, &out_loss, &err),
                   FOCAL_INVALID_EPSILON, FOCAL_ARG_PARAMS, buf, N, "epsilon -1");
        err_line("epsilon.binary");
        s.epsilon = 1e30f * 1e30f;
        reset();
        expect_err(focal_torchblocks_softmax_loss_i32(&s, zx, NL, C, l32, ROWS, &out_loss, &err),
                   FOCAL_INVALID_EPSILON, FOCAL_ARG_PARAMS, buf, 0, "epsilon inf");
        err_line("epsilon.softmax");
        /* Probabilities. */
        for (i = 0; i < N; i++) t[i] = probs[i];
        t[3] = -0.5f;
        b = focal_torchblocks_binary_params_default();
        reset();
        expect_err(focal_torchblocks_binary_loss(&b, t, N, st, N, &out_loss, &err),
                   FOCAL_PROBABILITY_OUT_OF_RANGE, FOCAL_ARG_PROBS, buf, 0, "probability");
        check(err.index == 3, "probability", "index");
        err_line("probability");
    }
    /* Labels out of range, in every width, at row 7. */
    for (w = 0; w < NWIDTH; w++) {
        focal_softmax_params q = smx_params(&smx_cfgs[2], w);
        static const char *const nm[NWIDTH] = {"label.u8", "label.u16", "label.i32", "label.i64"};
        set_labels(lab_plain, 1);
        l8[7] = 254;           /* not the ignore index 255 */
        l16[7] = 300;
        l32[7] = -3;
        l64[7] = (int64_t)1 << 40;
        reset();
        expect_err(smx_lg(w, &q, zx, NL, C, LABELS(w), ROWS, FOCAL_REDUCTION_SUM, 0, buf, NL, &out_loss, &err),
                   FOCAL_LABEL_OUT_OF_RANGE, FOCAL_ARG_LABELS, buf, NL, nm[w]);
        check(err.index == 7 && err.num_classes == C, nm[w], "index");
        err_line(nm[w]);
    }
    set_labels(lab_plain, 0);
    l32[0] = 7;
    reset();
    expect_err(focal_torchblocks_softmax_loss_and_grad_i32(&(focal_torchblocks_softmax_params){0}, zx, NL, C, l32, ROWS, buf, NL, &out_loss, &err),
               FOCAL_LABEL_OUT_OF_RANGE, FOCAL_ARG_LABELS, buf, NL, "tb label");
    err_line("label.tb");
    /* Targets. */
    for (i = 0; i < N; i++) t[i] = st[i];
    t[11] = 1.5f;
    t[20] = -0.25f;
    reset();
    expect_err(focal_check_targets(t, N, &err), FOCAL_TARGET_OUT_OF_RANGE, FOCAL_ARG_TARGETS, buf, 0, "check_targets");
    check(err.index == 11, "check_targets", "index");
    err_line("target.check");
    reset();
    expect_err(focal_sigmoid_loss(&sp, sx, N, t, N, 0, FOCAL_REDUCTION_MEAN, 0, &out_loss, &err),
               FOCAL_TARGET_OUT_OF_RANGE, FOCAL_ARG_TARGETS, buf, 0, "target loss");
    err_line("target.loss");
    /* targets_checked = 1 is not checked again: a broken promise gives unspecified numbers,
       no error and no undefined behaviour (this runs under the sanitizer-free build too). */
    reset();
    check(focal_sigmoid_loss_and_grad(&sp, sx, N, t, N, 1, FOCAL_REDUCTION_MEAN, 0, buf, N,
                                      &out_loss, &err) == FOCAL_OK && err.status == FOCAL_OK,
          "target, broken promise", "not checked again");
    t[11] = st[11];
    t[20] = 0.0f / (sx[0] - sx[0]);
    reset();
    expect_err(focal_sigmoid_grad_elementwise(&sp, sx, N, t, N, 0, sup, N, buf, N, &err),
               FOCAL_TARGET_OUT_OF_RANGE, FOCAL_ARG_TARGETS, buf, N, "target NaN");
    check(err.index == 20 && is_nan(err.value), "target NaN", "index");
    err_line("target.nan");
    reset();
    expect_err(focal_torchblocks_binary_loss(&(focal_torchblocks_binary_params){2, 0.25f, 0}, probs, N, t, N, &out_loss, &err),
               FOCAL_TARGET_OUT_OF_RANGE, FOCAL_ARG_TARGETS, buf, 0, "tb target");
    err_line("target.tb");

    /* Backends this target lacks: "platform." lines (they differ between host and firmware). */
    for (i = FOCAL_BACKEND_SCALAR; i <= FOCAL_BACKEND_AVX512; i++) {
        static const char *const bn[5] = {"auto", "scalar", "portable", "avx2", "avx512"};
        focal_sigmoid_params q = sp;
        int32_t s;
        q.backend = (int32_t)i;
        reset();
        s = focal_sigmoid_loss_and_grad(&q, sx, N, st, N, 0, FOCAL_REDUCTION_SUM, 0, buf, N, &out_loss, &err);
        start("platform", "backend", bn[i], 0);
        put_s(focal_backend_available((int32_t)i) ? " available" : " unavailable");
        end();
        if (focal_backend_available((int32_t)i)) {
            ok_status(s, "available backend runs");
        } else {
            expect_err(s, FOCAL_BACKEND_UNAVAILABLE, FOCAL_ARG_BACKEND, buf, N, "backend unavailable");
            check(err.code == (int32_t)i, "backend unavailable", "code");
        }
    }
    check(focal_backend_available(FOCAL_BACKEND_AUTO) == 1 && focal_backend_available(99) == 0,
          "focal_backend_available", 0);
    start("platform", "backend", "detect", 0); put_s(" "); put_i(focal_backend_detect()); end();
    check(focal_backend_available(focal_backend_detect()) && focal_backend_detect() != FOCAL_BACKEND_AUTO,
          "focal_backend_detect", 0);
#if defined(__arm__)
    check(!focal_backend_available(FOCAL_BACKEND_PORTABLE) && !focal_backend_available(FOCAL_BACKEND_AVX2) &&
              focal_backend_detect() == FOCAL_BACKEND_SCALAR,
          "Cortex-M has only the scalar backend", 0);
#endif
    (void)x;
}

/* ---- errors of the C layer: NULL, alignment, overlap, codes -------------------------------- */

static int streq(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

static void c_layer_errors(void) {
    focal_sigmoid_params sp = sig_params(&sig_cfgs[0]);
    focal_softmax_params mp = smx_params(&smx_cfgs[2], W_I32);
    float x[N + 1], l;
    int32_t s;
    size_t i;
    set_labels(lab_plain, 1);

    /* NULL with length 0 is an empty buffer. */
    out_loss = SENTINEL;
    ok_status(focal_sigmoid_loss(&sp, NULL, 0, NULL, 0, 0, FOCAL_REDUCTION_MEAN, 0, &out_loss, &err), "empty sigmoid");
    check(bits(out_loss) == 0, "empty sigmoid mean is 0", 0);
    ok_status(focal_sigmoid_loss_and_grad(&sp, NULL, 0, NULL, 0, 1, FOCAL_REDUCTION_SUM, 0, NULL, 0, &l, &err), "empty lg");
    ok_status(focal_softmax_loss_and_grad_in_place_u8(&mp, NULL, 0, C, NULL, 0, FOCAL_REDUCTION_MEAN_VALID, 0, &l, &err), "empty softmax");
    check(bits(l) == 0, "empty softmax loss 0", 0);
    ok_status(focal_check_targets(NULL, 0, &err), "empty targets check");
    ok_status(focal_torchblocks_binary_loss(&(focal_torchblocks_binary_params){2, 0.25f, 1e-9f}, NULL, 0, NULL, 0, &l, &err), "empty tb");
    /* err may be NULL: the status is still returned. */
    check(focal_sigmoid_loss(&sp, sx, N, st, 3, 0, FOCAL_REDUCTION_SUM, 0, &l, NULL) == FOCAL_LENGTH_MISMATCH, "err NULL", 0);
    check(focal_sigmoid_loss(&sp, sx, N, st, N, 0, FOCAL_REDUCTION_SUM, 0, &l, NULL) == FOCAL_OK, "err NULL ok", 0);

    /* NULL with a length. */
    reset();
    expect_err(focal_sigmoid_loss(NULL, sx, N, st, N, 0, 0, 0, &out_loss, &err), FOCAL_NULL_POINTER, FOCAL_ARG_PARAMS, buf, 0, "NULL params");
    reset();
    expect_err(focal_softmax_loss_u8(NULL, zx, NL, C, l8, ROWS, 0, 0, &out_loss, &err), FOCAL_NULL_POINTER, FOCAL_ARG_PARAMS, buf, 0, "NULL softmax params");
    reset();
    expect_err(focal_torchblocks_binary_loss(NULL, probs, N, st, N, &out_loss, &err), FOCAL_NULL_POINTER, FOCAL_ARG_PARAMS, buf, 0, "NULL tb params");
    reset();
    expect_err(focal_sigmoid_grad(&sp, NULL, N, st, N, 0, 0, 0, 1, buf, N, &err), FOCAL_NULL_POINTER, FOCAL_ARG_LOGITS, buf, N, "NULL logits");
    reset();
    expect_err(focal_sigmoid_grad(&sp, sx, N, NULL, N, 0, 0, 0, 1, buf, N, &err), FOCAL_NULL_POINTER, FOCAL_ARG_TARGETS, buf, N, "NULL targets");
    reset();
    expect_err(focal_sigmoid_grad(&sp, sx, N, st, N, 0, 0, 0, 1, NULL, N, &err), FOCAL_NULL_POINTER, FOCAL_ARG_GRAD, buf, 0, "NULL grad");
    reset();
    expect_err(focal_sigmoid_loss(&sp, sx, N, st, N, 0, 0, 0, NULL, &err), FOCAL_NULL_POINTER, FOCAL_ARG_OUT_LOSS, buf, 0, "NULL out_loss");
    reset();
    expect_err(focal_softmax_loss_per_row_i32(&mp, zx, NL, C, NULL, ROWS, buf, ROWS, &err), FOCAL_NULL_POINTER, FOCAL_ARG_LABELS, buf, ROWS, "NULL labels");
    reset();
    expect_err(focal_softmax_grad_per_row_i32(&mp, zx, NL, C, l32, ROWS, NULL, ROWS, buf, NL, &err), FOCAL_NULL_POINTER, FOCAL_ARG_UPSTREAM, buf, NL, "NULL upstream");
    reset();
    expect_err(focal_softmax_loss_per_row_i32(&mp, zx, NL, C, l32, ROWS, NULL, ROWS, &err), FOCAL_NULL_POINTER, FOCAL_ARG_OUT, buf, 0, "NULL out");
    {
        focal_softmax_params q = mp;
        q.class_alpha = NULL;
        reset();
        expect_err(focal_softmax_loss_i32(&q, zx, NL, C, l32, ROWS, 0, 0, &out_loss, &err), FOCAL_NULL_POINTER, FOCAL_ARG_CLASS_ALPHA, buf, 0, "NULL class alpha");
        q.class_alpha_len = 0; /* NULL, 0: an empty per-class array, the wrong length */
        reset();
        expect_err(focal_softmax_loss_i32(&q, zx, NL, C, l32, ROWS, 0, 0, &out_loss, &err), FOCAL_CLASS_ALPHA_LENGTH, FOCAL_ARG_CLASS_ALPHA, buf, 0, "empty class alpha");
    }
    reset();
    expect_err(focal_torchblocks_binary_loss_and_grad(&(focal_torchblocks_binary_params){2, 0.25f, 0}, NULL, N, st, N, buf, N, &out_loss, &err),
               FOCAL_NULL_POINTER, FOCAL_ARG_PROBS, buf, N, "NULL probs");

    /* Misaligned or impossible buffers. */
    {
        float *mis = (float *)(void *)((char *)buf + 1);
        reset();
        expect_err(focal_sigmoid_loss(&sp, mis, 4, st, 4, 0, 0, 0, &out_loss, &err), FOCAL_INVALID_BUFFER, FOCAL_ARG_LOGITS, buf, 0, "misaligned logits");
        reset();
        expect_err(focal_sigmoid_loss_elementwise(&sp, sx, 4, st, 4, 0, mis, 4, &err), FOCAL_INVALID_BUFFER, FOCAL_ARG_OUT, buf, 0, "misaligned out");
        reset();
        expect_err(focal_softmax_loss_i32(&mp, zx, NL, C, (const int32_t *)(const void *)((const char *)l32 + 2), ROWS, 0, 0, &out_loss, &err),
                   FOCAL_INVALID_BUFFER, FOCAL_ARG_LABELS, buf, 0, "misaligned labels");
        reset();
        expect_err(focal_sigmoid_loss(&sp, sx, (size_t)-1, st, 4, 0, 0, 0, &out_loss, &err), FOCAL_INVALID_BUFFER, FOCAL_ARG_LOGITS, buf, 0, "huge length");
        reset();
        expect_err(focal_check_targets(st, (size_t)-1 / 4, &err), FOCAL_INVALID_BUFFER, FOCAL_ARG_TARGETS, buf, 0, "length over PTRDIFF_MAX");
        /* The structs and out_loss may be unaligned. */
        {
            static unsigned char raw[sizeof(focal_sigmoid_params) + sizeof(float) + sizeof(focal_error) + 8];
            unsigned char *pp = raw + 1;
            focal_sigmoid_params cp = sp;
            float ref;
            unsigned char *src = (unsigned char *)&cp;
            for (i = 0; i < sizeof cp; i++) pp[i] = src[i];
            s = focal_sigmoid_loss((const focal_sigmoid_params *)(void *)pp, sx, N, st, N, 0, FOCAL_REDUCTION_SUM, 0,
                                   (float *)(void *)(pp + sizeof cp), (focal_error *)(void *)(pp + sizeof cp + 4));
            check(s == FOCAL_OK, "unaligned params, out_loss and err", focal_status_name(s));
            focal_sigmoid_loss(&sp, sx, N, st, N, 0, FOCAL_REDUCTION_SUM, 0, &ref, &err);
            {
                float got;
                unsigned char *d = (unsigned char *)&got;
                for (i = 0; i < sizeof got; i++) d[i] = pp[sizeof cp + i];
                check(bits(got) == bits(ref), "unaligned out_loss holds the loss", 0);
            }
        }
    }

    /* Overlaps: outputs against inputs; the in-place functions' logits against the rest. */
    for (i = 0; i < N; i++) x[i] = sx[i];
    reset();
    s = focal_sigmoid_loss_and_grad(&sp, x, N, st, N, 0, 0, 0, x, N, &out_loss, &err);
    expect_err(s, FOCAL_OVERLAP, FOCAL_ARG_GRAD, buf, 0, "grad == logits");
    check(same_bits(x, sx, N), "grad == logits: logits unchanged", 0);
    reset();
    s = focal_sigmoid_grad_elementwise(&sp, sx, N, st, N, 0, x, N, x + 1, N, &err);
    expect_err(s, FOCAL_OVERLAP, FOCAL_ARG_GRAD, buf, 0, "grad overlaps upstream");
    reset();
    {
        float both[2 * N];
        for (i = 0; i < 2 * N; i++) both[i] = i < N ? sx[i] : st[i - N];
        s = focal_sigmoid_loss_and_grad_in_place(&sp, both, N + 1, both + N, N + 1, 0, 0, 0, &out_loss, &err);
        expect_err(s, FOCAL_OVERLAP, FOCAL_ARG_LOGITS, buf, 0, "in place logits overlap targets");
    }
    {
        float zz[NL + C];
        focal_softmax_params q = mp;
        for (i = 0; i < NL; i++) zz[i] = zx[i];
        for (i = 0; i < C; i++) zz[NL + i] = class_alpha[i];
        q.class_alpha = zz + NL - 1; /* the last logit is also the first class weight */
        reset();
        s = focal_softmax_loss_and_grad_in_place_i32(&q, zz, NL, C, l32, ROWS, 0, 0, &out_loss, &err);
        expect_err(s, FOCAL_OVERLAP, FOCAL_ARG_LOGITS, buf, 0, "in place logits overlap class alpha");
        q.class_alpha = zz + NL;
        reset();
        s = focal_softmax_grad_i32(&q, zx, NL, C, l32, ROWS, 0, 0, 1, zz + 1, NL, &err);
        expect_err(s, FOCAL_OVERLAP, FOCAL_ARG_GRAD, buf, 0, "grad overlaps class alpha");
        reset();
        s = focal_softmax_loss_per_row_i32(&q, zx, NL, C, l32, ROWS, (float *)(void *)l32, ROWS, &err);
        expect_err(s, FOCAL_OVERLAP, FOCAL_ARG_OUT, buf, 0, "out overlaps labels");
        /* Adjacent, not overlapping: fine. */
        q.class_alpha = zz + NL;
        s = focal_softmax_loss_and_grad_in_place_i32(&q, zz, NL, C, l32, ROWS, 0, 0, &l, &err);
        ok_status(s, "in place logits adjacent to class alpha");
    }

    /* Unknown codes. */
    {
        focal_sigmoid_params q = sp;
        focal_softmax_params m = mp;
        focal_torchblocks_softmax_params tq = focal_torchblocks_softmax_params_default();
        reset();
        expect_err(focal_sigmoid_loss(&sp, sx, N, st, N, 0, 9, 0, &out_loss, &err), FOCAL_INVALID_CODE, FOCAL_ARG_REDUCTION, buf, 0, "reduction 9");
        check(err.code == 9, "reduction 9", "code");
        q.form = 7;
        reset();
        expect_err(focal_sigmoid_loss(&q, sx, N, st, N, 0, 0, 0, &out_loss, &err), FOCAL_INVALID_CODE, FOCAL_ARG_FORM, buf, 0, "form 7");
        q = sp;
        q.backend = 42;
        reset();
        expect_err(focal_sigmoid_loss(&q, sx, N, st, N, 0, 0, 0, &out_loss, &err), FOCAL_INVALID_CODE, FOCAL_ARG_BACKEND, buf, 0, "backend 42");
        check(err.code == 42, "backend 42", "code");
        m.alpha_kind = 5;
        reset();
        expect_err(focal_softmax_loss_i32(&m, zx, NL, C, l32, ROWS, 0, 0, &out_loss, &err), FOCAL_INVALID_CODE, FOCAL_ARG_ALPHA_KIND, buf, 0, "alpha kind 5");
        tq.alpha_kind = -1;
        reset();
        expect_err(focal_torchblocks_softmax_loss_i32(&tq, zx, NL, C, l32, ROWS, &out_loss, &err), FOCAL_INVALID_CODE, FOCAL_ARG_ALPHA_KIND, buf, 0, "tb alpha kind -1");
    }

    /* Names of the status codes. */
    {
        static const char *const names[] = {
            "FOCAL_OK", "FOCAL_LENGTH_MISMATCH", "FOCAL_INVALID_NUM_CLASSES", "FOCAL_INVALID_ALPHA",
            "FOCAL_CLASS_ALPHA_LENGTH", "FOCAL_INVALID_CLASS_ALPHA", "FOCAL_INVALID_GAMMA",
            "FOCAL_INVALID_NORMALIZER", "FOCAL_INVALID_EPSILON", "FOCAL_LABEL_OUT_OF_RANGE",
            "FOCAL_TARGET_OUT_OF_RANGE", "FOCAL_PROBABILITY_OUT_OF_RANGE", "FOCAL_BACKEND_UNAVAILABLE",
            "FOCAL_NULL_POINTER", "FOCAL_INVALID_BUFFER", "FOCAL_OVERLAP", "FOCAL_INVALID_CODE"};
        for (i = 0; i < COUNT(names); i++) check(streq(focal_status_name((int32_t)i), names[i]), "focal_status_name", names[i]);
        check(streq(focal_status_name(17), "FOCAL_UNKNOWN_STATUS") && streq(focal_status_name(-1), "FOCAL_UNKNOWN_STATUS"),
              "focal_status_name unknown", 0);
    }
    /* Presets. */
    {
        focal_sigmoid_params a = focal_sigmoid_params_default(), b = focal_sigmoid_params_optax(),
                             c = focal_sigmoid_params_mmcv();
        focal_softmax_params d = focal_softmax_params_default(), e = focal_softmax_params_mmcv(),
                             f = focal_softmax_params_torch();
        focal_torchblocks_binary_params g = focal_torchblocks_binary_params_default();
        focal_torchblocks_softmax_params h = focal_torchblocks_softmax_params_default();
        check(a.has_alpha && bits(a.alpha) == bits(0.25f) && bits(a.gamma) == bits(2.0f) &&
                  a.form == FOCAL_FORM_MODULATED_BCE && a.backend == FOCAL_BACKEND_AUTO,
              "preset sigmoid default", 0);
        check(!b.has_alpha && b.form == FOCAL_FORM_MODULATED_BCE, "preset sigmoid optax", 0);
        check(c.has_alpha && c.form == FOCAL_FORM_PER_TERM, "preset sigmoid mmcv", 0);
        check(d.alpha_kind == FOCAL_ALPHA_NONE && !d.has_ignore_index && d.class_alpha == NULL, "preset softmax default", 0);
        check(e.alpha_kind == FOCAL_ALPHA_SCALAR && bits(e.alpha) == bits(0.25f), "preset softmax mmcv", 0);
        check(f.has_ignore_index && f.ignore_index == -100, "preset softmax torch", 0);
        check(bits(g.gamma) == bits(2.0f) && bits(g.alpha) == bits(0.25f) && bits(g.epsilon) == bits(1e-9f), "preset tb binary", 0);
        check(h.alpha_kind == FOCAL_ALPHA_NONE && bits(h.epsilon) == bits(1e-9f), "preset tb softmax", 0);
    }
}

/* ---- layouts: "platform." lines, compared with Rust's offset_of! on the host -------------- */

#define FIELD(S, f) \
    start("platform.layout", #S, #f, 0); put_s(" "); put_u(offsetof(S, f)); end()
#define SIZE(S) \
    start("platform.layout", #S, "size", 0); put_s(" "); put_u(sizeof(S)); end()

static void layouts(void) {
    SIZE(focal_sigmoid_params);
    FIELD(focal_sigmoid_params, alpha); FIELD(focal_sigmoid_params, has_alpha);
    FIELD(focal_sigmoid_params, gamma); FIELD(focal_sigmoid_params, form);
    FIELD(focal_sigmoid_params, backend);
    SIZE(focal_softmax_params);
    FIELD(focal_softmax_params, alpha_kind); FIELD(focal_softmax_params, alpha);
    FIELD(focal_softmax_params, class_alpha); FIELD(focal_softmax_params, class_alpha_len);
    FIELD(focal_softmax_params, gamma); FIELD(focal_softmax_params, has_ignore_index);
    FIELD(focal_softmax_params, ignore_index); FIELD(focal_softmax_params, backend);
    SIZE(focal_torchblocks_binary_params);
    FIELD(focal_torchblocks_binary_params, gamma); FIELD(focal_torchblocks_binary_params, alpha);
    FIELD(focal_torchblocks_binary_params, epsilon);
    SIZE(focal_torchblocks_softmax_params);
    FIELD(focal_torchblocks_softmax_params, alpha_kind); FIELD(focal_torchblocks_softmax_params, alpha);
    FIELD(focal_torchblocks_softmax_params, class_alpha); FIELD(focal_torchblocks_softmax_params, class_alpha_len);
    FIELD(focal_torchblocks_softmax_params, gamma); FIELD(focal_torchblocks_softmax_params, epsilon);
    SIZE(focal_error);
    FIELD(focal_error, status); FIELD(focal_error, arg); FIELD(focal_error, code);
    FIELD(focal_error, value); FIELD(focal_error, index); FIELD(focal_error, expected);
    FIELD(focal_error, found); FIELD(focal_error, num_classes); FIELD(focal_error, label);
    SIZE(focal_partial);
    FIELD(focal_partial, words);
    SIZE(focal_sigmoid_plan);
    FIELD(focal_sigmoid_plan, params); FIELD(focal_sigmoid_plan, divisor);
    SIZE(focal_softmax_plan);
    FIELD(focal_softmax_plan, params); FIELD(focal_softmax_plan, num_classes);
    FIELD(focal_softmax_plan, divisor);
}

int focal_capi_tests(int32_t backend_code) {
    backend = backend_code;
    passed = failed = 0;
    make_data();
    layouts();
    sigmoid_results();
    softmax_results();
    torchblocks_results();
    chunk_results();
    library_errors();
    c_layer_errors();
    len = 0;
    put_s("# checks: ");
    put_u(passed);
    put_s(" passed, ");
    put_u(failed);
    put_s(" failed");
    end();
    return failed == 0 ? 0 : 1;
}
