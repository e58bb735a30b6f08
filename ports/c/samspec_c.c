/* samspec_c: SAM's prompt encoder in C99, written from docs/spec.md alone.
 *
 *   samspec_c FIXTURES OUT
 *
 * reads FIXTURES/manifest.json and the .npy files it names, runs every case, and writes
 * OUT/<case id>/<output key>.npy (float64, the `sam` profile's layouts) for `samspec check
 * --outputs OUT` to judge (or `samspec check --exec "ports/c/samspec_c {fixtures} {out}"`).
 * Everything is computed in double. Build: `make` (or the cc line of the Makefile); `make
 * BUG=no_pixel_shift` plants one known bug (spec §12.2) to see samspec name it.
 * A case that cannot be read is reported on stderr and skipped (samspec then reports its
 * files as missing); the exit status is 1 if any case was skipped. No SHA-256 here: run
 * `samspec fixtures verify FIXTURES` first (samspec check verifies the set it loads).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif
#ifdef BUG_NO_PIXEL_SHIFT
#define PIXEL_SHIFT 0.0 /* the planted bug: no pixel-centre shift (§12.2 no_pixel_shift) */
#else
#define PIXEL_SHIFT 0.5 /* §3.1 */
#endif

static char error_text[9000]; /* why the current case failed */
#define FAIL(...) do { snprintf(error_text, sizeof error_text, __VA_ARGS__); return 0; } while (0)

/* ---- a minimal JSON reader: just enough for manifest.json ---------------------------------- */

typedef struct Json { char type; char *text; double number; int count; char **keys; struct Json *items; } Json;
/* type: 'o' object, 'a' array, 's' string, 'n' number, 'l' literal (true, false, null) */

static const char *skip(const char *p) { while (isspace((unsigned char)*p)) p++; return p; }

static const char *parse_json(const char *p, Json *out);

static const char *parse_string(const char *p, char **out) {
    size_t n = 0; const char *q = ++p; char *s;
    while (*q && *q != '"') { if (*q == '\\' && q[1]) q++; q++; n++; }
    if (*q != '"') return NULL;
    s = malloc(n + 1); n = 0;
    while (*p != '"') { if (*p == '\\') { p++; s[n++] = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p; p++; } else s[n++] = *p++; }
    s[n] = 0; *out = s; return p + 1; /* \uXXXX is kept as 'u' + digits: manifest keys are ASCII */
}

static const char *parse_json(const char *p, Json *out) {
    memset(out, 0, sizeof *out); p = skip(p);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']'; out->type = *p == '{' ? 'o' : 'a'; p = skip(p + 1);
        while (p && *p != close) {
            out->items = realloc(out->items, (out->count + 1) * sizeof(Json));
            out->keys = realloc(out->keys, (out->count + 1) * sizeof(char *)); out->keys[out->count] = NULL;
            if (out->type == 'o') {
                if (*p != '"' || !(p = parse_string(p, &out->keys[out->count]))) return NULL;
                p = skip(p); if (*p++ != ':') return NULL;
            }
            if (!(p = parse_json(p, &out->items[out->count++]))) return NULL;
            p = skip(p); if (*p == ',') p = skip(p + 1); else if (*p != close) return NULL;
        }
        return p ? p + 1 : NULL;
    }
    if (*p == '"') { out->type = 's'; return parse_string(p, &out->text); }
    if (*p == '-' || isdigit((unsigned char)*p)) { char *end; out->type = 'n'; out->number = strtod(p, &end); return end; }
    if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4)) { out->type = 'l'; return p + 4; }
    if (!strncmp(p, "false", 5)) { out->type = 'l'; return p + 5; }
    return NULL;
}

static const Json *get(const Json *object, const char *key) {
    for (int i = 0; object && object->type == 'o' && i < object->count; i++)
        if (!strcmp(object->keys[i], key)) return &object->items[i];
    return NULL;
}

/* ---- .npy files (docs/fixtures.md): version 1.0, little-endian '<f8' or an integer dtype, C order ---- */

typedef struct { double *data; long size; int ndim; long shape[8]; } Array;

/* one stored value as a double: '<f8', or a little-endian integer of 1, 2, 4 or 8 bytes, signed ('i')
   or unsigned ('u'): labels are '<i8', and masks may be any of these (spec §9.5: integer masks are
   accepted and cast); the host is assumed little-endian */
static double npy_value(const unsigned char *bytes, char kind, int width) {
    double d; long long s; unsigned long long u = 0;
    if (kind == 'f') { memcpy(&d, bytes, 8); return d; }
    if (kind == 'i' && width == 8) { memcpy(&s, bytes, 8); return (double)s; }
    for (int i = width - 1; i >= 0; i--) u = u << 8 | bytes[i];
    if (kind == 'i' && u >> (8 * width - 1)) return (double)u - ldexp(1.0, 8 * width); /* two's complement */
    return (double)u;
}

static int read_npy(const char *path, Array *a) {
    unsigned char head[10], *raw; char header[4096], *p, kind = 0; int width = 0; FILE *f = fopen(path, "rb");
    memset(a, 0, sizeof *a);
    if (!f) FAIL("cannot open %s: %s", path, strerror(errno));
    unsigned len = 0;
    if (fread(head, 1, 10, f) != 10 || memcmp(head, "\x93NUMPY\x01\x00", 8) ||
        (len = head[8] | head[9] << 8) >= sizeof header || fread(header, 1, len, f) != len) {
        fclose(f); FAIL("%s: not a version 1.0 .npy file", path);
    }
    header[len] = 0;
    if ((p = strstr(header, "'descr': '")) && (p[10] == '<' || p[10] == '|')) { kind = p[11]; width = atoi(p + 12); }
    if (!((kind == 'f' && width == 8) || ((kind == 'i' || kind == 'u') && (width == 1 || width == 2 || width == 4 || width == 8)))
        || !strstr(header, "'fortran_order': False")) {
        fclose(f); FAIL("%s: expected '<f8' or a little-endian integer dtype in C order; header %s", path, header);
    }
    if (!(p = strstr(header, "'shape'")) || !(p = strchr(p, '('))) { fclose(f); FAIL("%s: no shape in the header", path); }
    p++; a->size = 1;
    while (*(p = (char *)skip(p)) != ')') {
        if (a->ndim == 8) { fclose(f); FAIL("%s: more than 8 axes", path); }
        a->shape[a->ndim] = strtol(p, &p, 10); a->size *= a->shape[a->ndim++];
        p = (char *)skip(p); if (*p == ',') p++;
    }
    long start = ftell(f), end = (fseek(f, 0, SEEK_END), ftell(f));
    fseek(f, start, SEEK_SET);
    if (a->size < 0 || a->size != (end - start) / width) { fclose(f); FAIL("%s: the header's shape does not match the file's size", path); }
    a->data = malloc((a->size ? a->size : 1) * sizeof(double));
    raw = malloc((a->size ? a->size : 1) * width);
    if (fread(raw, width, a->size, f) != (size_t)a->size) { free(raw); fclose(f); FAIL("%s: shorter than its header says", path); }
    fclose(f);
    for (long i = 0; i < a->size; i++) a->data[i] = npy_value(raw + i * width, kind, width);
    free(raw);
    return 1;
}

static int write_npy(const char *path, const double *data, int ndim, const long *shape) {
    char header[256]; int n = snprintf(header, sizeof header, "{'descr': '<f8', 'fortran_order': False, 'shape': (");
    long size = 1; FILE *f;
    for (int i = 0; i < ndim; i++) { n += snprintf(header + n, sizeof header - n, "%ld,%s", shape[i], i + 1 < ndim ? " " : ""); size *= shape[i]; }
    n += snprintf(header + n, sizeof header - n, "), }");
    while ((10 + n + 1) % 64) header[n++] = ' '; /* pad so that the data starts 64-byte aligned */
    header[n++] = '\n';
    if (!(f = fopen(path, "wb"))) FAIL("cannot write %s: %s", path, strerror(errno));
    fwrite("\x93NUMPY\x01\x00", 1, 8, f); fputc(n & 255, f); fputc(n >> 8, f); fwrite(header, 1, n, f);
    fwrite(data, 8, size, f);
    return fclose(f) == 0 ? 1 : 0;
}

/* ---- the encoder, one function per stage of docs/spec.md ------------------------------------ */

typedef struct { int C, Cm, h, w; double H, W; Array G, emb[4], not_a_point, no_mask, conv[3][2], norm[2][2]; } Model;

/* §3.2 + §4: PE(u) = [sin A, cos A], A = 2π (2u − 1) @ G, u = (x / W, y / H) */
static void fourier_features(const Model *m, double ux, double uy, double *pe) {
    int half = m->C / 2;
    for (int k = 0; k < half; k++) {
        double a = 2.0 * M_PI * ((2.0 * ux - 1.0) * m->G.data[k] + (2.0 * uy - 1.0) * m->G.data[half + k]);
        pe[k] = sin(a); pe[half + k] = cos(a);
    }
}

static void add_row(double *token, const Array *row, int C) { for (int c = 0; c < C; c++) token[c] += row->data[c]; }

/* §5.1, §5.2: shift, pad with (0, 0) label −1 when no box is given, embed the labels (sam rule) */
static void point_tokens(const Model *m, const Array *pts, const Array *lab, long b, long n_out, double *out) {
    long N = pts->shape[1];
    for (long n = 0; n < n_out; n++) {
        double *token = out + n * m->C;
        int label = n < N ? (int)lab->data[b * N + n] : -1;
        double x = n < N ? pts->data[(b * N + n) * 2] + PIXEL_SHIFT : 0.0, y = n < N ? pts->data[(b * N + n) * 2 + 1] + PIXEL_SHIFT : 0.0;
        if (label == -1) { memset(token, 0, m->C * sizeof(double)); add_row(token, &m->not_a_point, m->C); continue; }
        fourier_features(m, x / m->W, y / m->H, token);
        if (label == 0 || label == 1) add_row(token, &m->emb[label], m->C); /* labels 2, 3: PE only */
    }
}

/* §6: box (x1, y1, x2, y2) -> two corner tokens, PE + point_embeddings.2 / .3 */
static void box_tokens(const Model *m, const double *box, double *out) {
    for (int corner = 0; corner < 2; corner++) {
        fourier_features(m, (box[2 * corner] + PIXEL_SHIFT) / m->W, (box[2 * corner + 1] + PIXEL_SHIFT) / m->H, out + corner * m->C);
        add_row(out + corner * m->C, &m->emb[2 + corner], m->C);
    }
}

/* §8: the positional grid at cell centres ((j + 0.5) / w, (i + 0.5) / h), (1, C, h, w) */
static void dense_positional_grid(const Model *m, double *out) {
    double *pe = malloc(m->C * sizeof(double));
    for (int i = 0; i < m->h; i++)
        for (int j = 0; j < m->w; j++) {
            fourier_features(m, (j + 0.5) / m->w, (i + 0.5) / m->h, pe);
            for (int c = 0; c < m->C; c++) out[((long)c * m->h + i) * m->w + j] = pe[c];
        }
    free(pe);
}

/* §9.1: y[i, j, o] = bias[o] + Σ x[2i+di, 2j+dj, c] · weight[o, c, di, dj]; channels last */
static double *conv2x2_stride2(const double *x, int hx, int wx, int cin, const Array *weight, const Array *bias) {
    int cout = (int)weight->shape[0]; double *y = malloc((size_t)(hx / 2) * (wx / 2) * cout * sizeof(double));
    for (int i = 0; i < hx / 2; i++) for (int j = 0; j < wx / 2; j++) for (int o = 0; o < cout; o++) {
        double s = bias->data[o];
        for (int c = 0; c < cin; c++) for (int di = 0; di < 2; di++) for (int dj = 0; dj < 2; dj++)
            s += x[((long)(2 * i + di) * wx + 2 * j + dj) * cin + c] * weight->data[((o * cin + c) * 2 + di) * 2 + dj];
        y[((long)i * (wx / 2) + j) * cout + o] = s;
    }
    return y;
}

/* §9.2 LayerNorm2d over channels (biased variance, eps 1e-6) then §9.3 exact GELU, in place */
static void layer_norm_gelu(double *x, long pixels, int ch, const Array *gamma, const Array *beta) {
    for (long p = 0; p < pixels; p++) {
        double *v = x + p * ch, mean = 0.0, var = 0.0;
        for (int c = 0; c < ch; c++) mean += v[c];
        mean /= ch;
        for (int c = 0; c < ch; c++) var += (v[c] - mean) * (v[c] - mean);
        var /= ch;
        for (int c = 0; c < ch; c++) {
            double y = (v[c] - mean) / sqrt(var + 1e-6) * gamma->data[c] + beta->data[c];
            v[c] = 0.5 * y * erfc(-y / sqrt(2.0)); /* x Φ(x), no cancellation for x < 0 */
        }
    }
}

/* §9.5: (4h, 4w) mask -> conv, LN, GELU, conv, LN, GELU, conv 1x1 -> out (C, h, w) */
static void downscale_mask(const Model *m, const double *mask, double *out) {
    int q = m->Cm / 4;
    double *a = conv2x2_stride2(mask, 4 * m->h, 4 * m->w, 1, &m->conv[0][0], &m->conv[0][1]);
    layer_norm_gelu(a, 4L * m->h * m->w, q, &m->norm[0][0], &m->norm[0][1]);
    double *b = conv2x2_stride2(a, 2 * m->h, 2 * m->w, q, &m->conv[1][0], &m->conv[1][1]);
    layer_norm_gelu(b, (long)m->h * m->w, m->Cm, &m->norm[1][0], &m->norm[1][1]);
    for (long p = 0; p < (long)m->h * m->w; p++) for (int o = 0; o < m->C; o++) { /* §9.4 */
        double s = m->conv[2][1].data[o];
        for (int c = 0; c < m->Cm; c++) s += b[p * m->Cm + c] * m->conv[2][0].data[o * m->Cm + c];
        out[(long)o * m->h * m->w + p] = s;
    }
    free(a); free(b);
}

/* ---- one case: read, run, write -------------------------------------------------------------- */

static int load(const char *root, const Json *files, const char *key, Array *a) {
    const Json *path = get(files, key); char full[4096];
    if (!path || path->type != 's') FAIL("the manifest names no file for %s", key);
    snprintf(full, sizeof full, "%s/%s", root, path->text);
    return read_npy(full, a);
}

static int run_case(const char *root, const char *out_root, const Json *manifest, const Json *c) {
    const Json *id = get(c, "id"), *cfg = get(c, "config"), *inputs = get(c, "inputs"), *pid = get(c, "params");
    const Json *files = get(get(get(manifest, "params"), pid ? pid->text : ""), "files"), *act;
    static const char *conv_keys[3] = {"mask_downscaling.0", "mask_downscaling.3", "mask_downscaling.6"};
    static const char *norm_keys[2] = {"mask_downscaling.1", "mask_downscaling.4"};
    Model m; Array pts = {0}, lab = {0}, box = {0}, msk = {0}; char key[64], dir[4096], path[4200]; int ok = 1;
    if (!id || id->type != 's' || !cfg || !inputs || !files) FAIL("a case without id, config, inputs or params");
    if (strchr(id->text, '/') || id->text[0] == '.') FAIL("case id %s is not a folder name", id->text);
    act = get(cfg, "activation");
    if (!act || act->type != 's' || strcmp(act->text, "gelu")) FAIL("activation: only gelu is implemented");
    const Json *C = get(cfg, "hidden_size"), *Cm = get(cfg, "mask_in_channels");
    const Json *grid_size = get(cfg, "image_embedding_size"), *HW = get(cfg, "input_image_size");
    if (!C || C->type != 'n' || !Cm || Cm->type != 'n' || !grid_size || grid_size->type != 'a' || grid_size->count != 2 || !HW
        || HW->type != 'a' || HW->count != 2)
        FAIL("config needs hidden_size, mask_in_channels, image_embedding_size [h, w] and input_image_size [H, W]");
    m.C = (int)C->number; m.Cm = (int)Cm->number; m.h = (int)grid_size->items[0].number; m.w = (int)grid_size->items[1].number;
    m.H = HW->items[0].number; m.W = HW->items[1].number;
    if (m.C < 2 || m.C % 2 || m.Cm < 4 || m.Cm % 4 || m.h < 1 || m.w < 1 || !(m.H > 0) || !(m.W > 0))
        FAIL("config out of range: hidden_size %d, mask_in_channels %d, grid %dx%d", m.C, m.Cm, m.h, m.w);
    ok = load(root, files, "pe_layer.positional_encoding_gaussian_matrix", &m.G) && load(root, files, "not_a_point_embed.weight", &m.not_a_point)
         && load(root, files, "no_mask_embed.weight", &m.no_mask);
    for (int i = 0; ok && i < 4; i++) { snprintf(key, sizeof key, "point_embeddings.%d.weight", i); ok = load(root, files, key, &m.emb[i]); }
    for (int i = 0; ok && i < 5; i++) {
        Array *pair = i < 3 ? m.conv[i] : m.norm[i - 3];
        snprintf(key, sizeof key, "%s.weight", i < 3 ? conv_keys[i] : norm_keys[i - 3]); ok = load(root, files, key, &pair[0]);
        snprintf(key, sizeof key, "%s.bias", i < 3 ? conv_keys[i] : norm_keys[i - 3]); ok = ok && load(root, files, key, &pair[1]);
    }
    if (!ok) return 0;
    { /* every parameter's size (spec §2.2), before any is indexed */
        long q = m.Cm / 4, want[12] = {m.C, m.C, m.C, m.C, m.C, m.C, m.C, q * 4, q, m.Cm * q * 4, m.Cm, (long)m.C * m.Cm};
        const Array *got[12] = {&m.G, &m.not_a_point, &m.no_mask, &m.emb[0], &m.emb[1], &m.emb[2], &m.emb[3],
                                &m.conv[0][0], &m.conv[0][1], &m.conv[1][0], &m.conv[1][1], &m.conv[2][0]};
        for (int i = 0; i < 12; i++) if (got[i]->size != want[i]) FAIL("parameter %d has %ld values, expected %ld", i, got[i]->size, want[i]);
        if (m.conv[2][1].size != m.C || m.norm[0][0].size != q || m.norm[0][1].size != q || m.norm[1][0].size != m.Cm
            || m.norm[1][1].size != m.Cm) FAIL("a bias or LayerNorm parameter has the wrong size");
    }
    if (get(inputs, "points") && !(load(root, inputs, "points", &pts) && load(root, inputs, "labels", &lab))) return 0;
    if (get(inputs, "boxes") && !load(root, inputs, "boxes", &box)) return 0;
    if (get(inputs, "masks") && !load(root, inputs, "masks", &msk)) return 0;
    /* §11.1: B from the points, else the boxes, else the masks, else 1; every given input agrees */
    long B = pts.data ? pts.shape[0] : box.data ? box.shape[0] : msk.data ? msk.shape[0] : 1;
    if (pts.data && (pts.ndim != 3 || pts.shape[2] != 2 || lab.ndim != 2 || lab.shape[0] != B || lab.shape[1] != pts.shape[1]))
        FAIL("points must be (B, N, 2) and labels (B, N)");
    /* §6.1: boxes (B, 4), one per image, or (B, M, 4), M per image; §6.2: 2M tokens, tl0, br0, tl1, br1, ... */
    long M = !box.data ? 0 : box.ndim == 2 ? 1 : box.shape[1];
    if (box.data && (box.ndim < 2 || box.ndim > 3 || box.shape[0] != B || box.shape[box.ndim - 1] != 4))
        FAIL("boxes must be (B, 4) or (B, M, 4)");
    if (msk.data && (msk.ndim != 4 || msk.shape[0] != B || msk.shape[1] != 1 || msk.shape[2] != 4 * m.h || msk.shape[3] != 4 * m.w))
        FAIL("masks must be (B, 1, 4h, 4w) = (%ld, 1, %d, %d)", B, 4 * m.h, 4 * m.w);
    long n_points = pts.data ? pts.shape[1] + (box.data ? 0 : 1) : 0, tokens = n_points + 2 * M;
    long hw = (long)m.h * m.w;
    double *sparse = calloc(B * tokens * m.C + 1, sizeof(double)), *dense = malloc(B * m.C * hw * sizeof(double));
    double *grid = malloc(m.C * hw * sizeof(double));
    for (long b = 0; b < B; b++) { /* §7: point tokens then box tokens */
        if (pts.data) point_tokens(&m, &pts, &lab, b, n_points, sparse + b * tokens * m.C);
        for (long k = 0; k < M; k++) box_tokens(&m, box.data + (b * M + k) * 4, sparse + (b * tokens + n_points + 2 * k) * m.C);
        for (long c = 0; c < m.C; c++) /* §10 unless a mask is given */
            for (long p = 0; p < hw; p++) dense[(b * m.C + c) * hw + p] = m.no_mask.data[c];
        if (msk.data) downscale_mask(&m, msk.data + b * 16 * hw, dense + b * m.C * hw);
    }
    dense_positional_grid(&m, grid);
    snprintf(dir, sizeof dir, "%s/%s", out_root, id->text);
    if (mkdir(dir, 0777) && errno != EEXIST) FAIL("cannot create %s: %s", dir, strerror(errno));
    long s_shape[3] = {B, tokens, m.C}, d_shape[4] = {B, m.C, m.h, m.w}, g_shape[4] = {1, m.C, m.h, m.w};
    snprintf(path, sizeof path, "%s/prompt_sparse_embeddings.npy", dir); ok = write_npy(path, sparse, 3, s_shape);
    snprintf(path, sizeof path, "%s/prompt_dense_embeddings.npy", dir); ok = ok && write_npy(path, dense, 4, d_shape);
    snprintf(path, sizeof path, "%s/prompt_dense_positional_embeddings.npy", dir); ok = ok && write_npy(path, grid, 4, g_shape);
    free(sparse); free(dense); free(grid); /* the parameter arrays live until exit: one small set per case */
    return ok;
}

int main(int argc, char **argv) {
    char path[4096]; FILE *f; long size; char *text; Json manifest; const Json *cases, *version; int failed = 0, written = 0;
    if (argc != 3) { fprintf(stderr, "usage: %s FIXTURES OUT\n", argv[0]); return 2; }
    snprintf(path, sizeof path, "%s/manifest.json", argv[1]);
    if (!(f = fopen(path, "rb"))) { fprintf(stderr, "samspec_c: cannot open %s: %s\n", path, strerror(errno)); return 2; }
    fseek(f, 0, SEEK_END); size = ftell(f); rewind(f);
    text = malloc(size + 1); text[fread(text, 1, size, f)] = 0; fclose(f);
    if (!parse_json(text, &manifest) || !(cases = get(&manifest, "cases")) || cases->type != 'a') {
        fprintf(stderr, "samspec_c: %s is not a fixture manifest\n", path); return 2;
    }
    if (!(version = get(&manifest, "schema_version")) || version->number != 1) {
        fprintf(stderr, "samspec_c: %s: schema_version must be 1\n", path); return 2;
    }
    if (mkdir(argv[2], 0777) && errno != EEXIST) { fprintf(stderr, "samspec_c: cannot create %s\n", argv[2]); return 2; }
    for (int i = 0; i < cases->count; i++)
        if (!run_case(argv[1], argv[2], &manifest, &cases->items[i])) {
            const Json *id = get(&cases->items[i], "id");
            fprintf(stderr, "samspec_c: case %s skipped: %s\n", id && id->type == 's' ? id->text : "?", error_text);
            failed = 1;
        } else
            written++;
    printf("samspec_c: wrote %d of %d cases to %s\n", written, cases->count, argv[2]);
    return failed;
}
