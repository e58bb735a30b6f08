"""Stage-by-stage tests of samspec.reference against hand-derived values.

One class per section of docs/spec.md; every expectation is either written out literally or
computed by an independent, deliberately naive route (nested loops, math.erf), never by calling
the formula under test. Configurations are small so the whole file runs in well under a second.
"""

import math

import numpy as np
import pytest

from samspec.reference import (
    OUTPUT_KEYS,
    PROFILES,
    SAMPromptEncoder,
    append_padding_point,
    assemble_sparse,
    conv1x1,
    conv2x2_stride2,
    dense_positional_grid,
    downscale_mask,
    embed_box_corners,
    embed_point_labels,
    fourier_argument,
    fourier_features,
    get_activation,
    grid_cell_centres,
    init_params,
    label_embedding_table,
    layer_norm_channels,
    no_mask_embedding,
    normalise_coordinates,
    param_shapes,
    shift_to_pixel_centres,
    sinusoids,
)
from samspec.reference.backend import erf_series
from samspec.reference.fast.normal_tail import fast_activation

xp = np

# A small configuration used throughout: C = 8, embedding grid 2 x 3, masks 8 x 12, Cm = 4.
SMALL = dict(hidden_size=8, image_embedding_size=(2, 3), input_image_size=(16, 24), mask_in_channels=4)


def small_encoder(**overrides):
    return SAMPromptEncoder(**{**SMALL, **overrides})


def params_with_gaussian(hidden_size, mask_in_channels, gaussian, seed=1):
    """init_params with the Gaussian matrix G replaced by a hand-chosen one."""
    params = init_params(hidden_size, mask_in_channels, seed=seed)
    params["pe_layer.positional_encoding_gaussian_matrix"] = np.asarray(gaussian, dtype=np.float64)
    return params


# --- independent, literal implementations used as oracles -----------------------------------


def loop_conv2x2_stride2(x, weight, bias):
    """y[b,i,j,o] = bias[o] + sum_{di,dj,c} x[b,2i+di,2j+dj,c] * weight[o,c,di,dj], by loops."""
    batch, height, width, cin = x.shape
    cout = weight.shape[0]
    y = np.zeros((batch, height // 2, width // 2, cout))
    for b in range(batch):
        for i in range(height // 2):
            for j in range(width // 2):
                for o in range(cout):
                    acc = float(bias[o])
                    for di in range(2):
                        for dj in range(2):
                            for c in range(cin):
                                acc += float(x[b, 2 * i + di, 2 * j + dj, c]) * float(weight[o, c, di, dj])
                    y[b, i, j, o] = acc
    return y


def loop_conv1x1(x, weight, bias):
    batch, h, w, cin = x.shape
    cout = weight.shape[0]
    y = np.zeros((batch, h, w, cout))
    for b in range(batch):
        for i in range(h):
            for j in range(w):
                for o in range(cout):
                    acc = float(bias[o])
                    for c in range(cin):
                        acc += float(x[b, i, j, c]) * float(weight[o, c, 0, 0])
                    y[b, i, j, o] = acc
    return y


def loop_layer_norm(x, gamma, beta, eps):
    y = np.zeros_like(x, dtype=np.float64)
    batch, h, w, c = x.shape
    for b in range(batch):
        for i in range(h):
            for j in range(w):
                values = [float(v) for v in x[b, i, j, :]]
                mean = sum(values) / c
                var = sum((v - mean) ** 2 for v in values) / c  # biased
                for k in range(c):
                    y[b, i, j, k] = (values[k] - mean) / math.sqrt(var + eps) * gamma[k] + beta[k]
    return y


def math_gelu(x):
    return np.vectorize(lambda v: 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))))(x)


# --- §3 coordinates ---------------------------------------------------------------------------


class TestSpec3_1_PixelCentreShift:
    def test_spec3_1_origin_pixel_moves_to_half(self):
        """§3.1 pixel-centre shift: pixel (0, 0) -> (0.5, 0.5)."""
        out = shift_to_pixel_centres(np.array([[0.0, 0.0]]), xp)
        assert np.array_equal(out, np.array([[0.5, 0.5]]))

    def test_spec3_1_last_pixel_and_shape(self):
        """§3.1 pixel-centre shift: (W-1, H-1) = (95, 127) -> (95.5, 127.5); shape (..., 2) kept."""
        coords = np.array([[[95.0, 127.0], [3.0, 7.0]]])
        out = shift_to_pixel_centres(coords, xp)
        assert out.shape == (1, 2, 2)
        assert np.array_equal(out, np.array([[[95.5, 127.5], [3.5, 7.5]]]))

    def test_spec3_1_input_not_modified(self):
        """§3.1 pixel-centre shift returns a new array; its input is unchanged."""
        coords = np.array([[1.0, 2.0]])
        shift_to_pixel_centres(coords, xp)
        assert np.array_equal(coords, np.array([[1.0, 2.0]]))

    def test_spec3_1_first_and_last_pixels_symmetric(self):
        """§3.1 + §3.2: pixel 0 and pixel W-1 sit symmetrically inside [0, 1] after normalisation."""
        u = normalise_coordinates(shift_to_pixel_centres(np.array([[0.0, 0.0], [95.0, 127.0]]), xp), (128, 96), xp)
        assert u[0, 0] == pytest.approx(1.0 - u[1, 0], abs=1e-15)
        assert u[0, 1] == pytest.approx(1.0 - u[1, 1], abs=1e-15)
        assert u[0, 0] == pytest.approx(0.5 / 96)
        assert u[0, 1] == pytest.approx(0.5 / 128)


class TestSpec3_2_Normalisation:
    SIZE = (128, 96)  # (H, W): non-square so that swapping H and W cannot pass

    def test_spec3_2_image_centre_is_half(self):
        """§3.2 normalisation: (W/2, H/2) = (48, 64) on (H, W) = (128, 96) -> (0.5, 0.5)."""
        out = normalise_coordinates(np.array([[48.0, 64.0]]), self.SIZE, xp)
        assert np.array_equal(out, np.array([[0.5, 0.5]]))

    def test_spec3_2_x_divided_by_width_y_by_height(self):
        """§3.2 normalisation: x = 96 = W -> 1.0 and y = 128 = H -> 1.0 (x by width, y by height)."""
        pts = np.array([[96.0, 0.0], [0.0, 128.0], [96.0, 128.0], [24.0, 32.0]])
        out = normalise_coordinates(pts, self.SIZE, xp)
        expected = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.25, 0.25]])
        assert np.array_equal(out, expected)

    def test_spec3_2_outside_not_clipped(self):
        """§3.2 normalisation: points outside the image map outside [0, 1]; nothing is clipped."""
        out = normalise_coordinates(np.array([[-48.0, 256.0]]), self.SIZE, xp)
        assert np.array_equal(out, np.array([[-0.5, 2.0]]))

    @pytest.mark.parametrize("dtype", [np.float32, np.float16])
    def test_spec3_2_keeps_dtype(self, dtype):
        """§3.2 normalisation stays in the input dtype."""
        out = normalise_coordinates(np.array([[48.0, 64.0]], dtype=dtype), self.SIZE, xp)
        assert out.dtype == dtype
        assert np.array_equal(out, np.array([[0.5, 0.5]], dtype=dtype))


# --- §4 Fourier features -------------------------------------------------------------------


class TestSpec4_1_FourierArgument:
    def test_spec4_1_centre_gives_zero_argument(self):
        """§4.1 fourier argument: u = (0.5, 0.5) -> 2u-1 = 0 -> A = 0 for any G."""
        G = np.random.default_rng(0).standard_normal((2, 5))
        A = fourier_argument(np.array([[0.5, 0.5]]), G, xp)
        assert A.shape == (1, 5)
        assert np.array_equal(A, np.zeros((1, 5)))

    def test_spec4_1_single_column_gives_pi(self):
        """§4.1 fourier argument: G = [[1], [0]], u = (0.75, y) -> 2*pi*(2*0.75-1) = pi, whatever y."""
        G = np.array([[1.0], [0.0]])
        A = fourier_argument(np.array([[0.75, 0.1], [0.75, 0.9]]), G, xp)
        assert A.shape == (2, 1)
        assert A[0, 0] == pytest.approx(math.pi, abs=1e-15)
        assert A[1, 0] == pytest.approx(math.pi, abs=1e-15)

    def test_spec4_1_second_row_of_G_multiplies_y(self):
        """§4.1 fourier argument: G = [[0], [1]], u = (x, 0.25) -> 2*pi*(-0.5) = -pi;
        G = [[0.25], [0]] at u=(0,.)->-pi/2."""
        A = fourier_argument(np.array([[0.9, 0.25]]), np.array([[0.0], [1.0]]), xp)
        assert A[0, 0] == pytest.approx(-math.pi, abs=1e-15)
        A = fourier_argument(np.array([[0.0, 0.3]]), np.array([[0.25], [0.0]]), xp)
        assert A[0, 0] == pytest.approx(-math.pi / 2, abs=1e-15)

    def test_spec4_1_corners_of_unit_square(self):
        """§4.1 fourier argument: G = I (C/2 = 2), u = (1, 0) -> (2pi, -2pi); u = (0, 1) -> (-2pi, 2pi)."""
        A = fourier_argument(np.array([[1.0, 0.0], [0.0, 1.0]]), np.eye(2), xp)
        two_pi = 2 * math.pi
        np.testing.assert_allclose(A, [[two_pi, -two_pi], [-two_pi, two_pi]], rtol=0, atol=1e-14)


class TestSpec4_2_Sinusoids:
    def test_spec4_2_sines_first_then_cosines(self):
        """§4.2 sinusoids: A = (pi/2, 0) -> [sin pi/2, sin 0, cos pi/2, cos 0] = [1, 0, 0, 1]."""
        out = sinusoids(np.array([[math.pi / 2, 0.0]]), xp)
        assert out.shape == (1, 4)
        np.testing.assert_allclose(out, [[1.0, 0.0, 0.0, 1.0]], rtol=0, atol=1e-15)

    def test_spec4_2_argument_pi(self):
        """§4.2 sinusoids: A = pi -> sin ~ 0, cos = -1."""
        out = sinusoids(np.array([math.pi]), xp)
        assert abs(out[0]) < 1e-15
        assert out[1] == -1.0

    def test_spec4_2_centre_point_features(self):
        """§4 fourier features at the image centre: u = (0.5, 0.5) -> [0]*C/2 ++ [1]*C/2 for any G."""
        G = np.random.default_rng(1).standard_normal((2, 4))
        pe = fourier_features(np.array([[[0.5, 0.5]]]), G, xp)
        assert pe.shape == (1, 1, 8)
        assert np.array_equal(pe, np.array([[[0, 0, 0, 0, 1, 1, 1, 1]]], dtype=float))

    def test_spec4_2_single_column_pi_features(self):
        """§4 fourier features: G = [[1], [0]], u = (0.75, y) -> A = pi -> [sin, cos] = [~0, -1]."""
        pe = fourier_features(np.array([[0.75, 0.3]]), np.array([[1.0], [0.0]]), xp)
        assert abs(pe[0, 0]) < 1e-15
        assert pe[0, 1] == pytest.approx(-1.0, abs=1e-15)


# --- §5 points ------------------------------------------------------------------------------


class TestSpec5_1_PaddingRule:
    def test_spec5_1_appends_origin_and_minus_one(self):
        """§5.1 padding rule: (B, N, 2) -> (B, N+1, 2) with (0, 0); labels (B, N) -> (B, N+1) with -1."""
        coords = np.array([[[1.5, 2.5], [3.5, 4.5]], [[5.5, 6.5], [7.5, 8.5]]])
        labels = np.array([[1, 0], [0, 1]])
        c2, l2 = append_padding_point(coords, labels, xp)
        assert c2.shape == (2, 3, 2) and l2.shape == (2, 3)
        assert np.array_equal(c2, [[[1.5, 2.5], [3.5, 4.5], [0, 0]], [[5.5, 6.5], [7.5, 8.5], [0, 0]]])
        assert np.array_equal(l2, [[1, 0, -1], [0, 1, -1]])
        assert l2.dtype == labels.dtype and c2.dtype == coords.dtype

    def test_spec5_1_inputs_unchanged(self):
        """§5.1 padding rule leaves its input arrays unchanged."""
        coords = np.array([[[1.5, 2.5]]])
        labels = np.array([[1]], dtype=np.int32)
        coords_copy, labels_copy = coords.copy(), labels.copy()
        append_padding_point(coords, labels, xp)
        assert np.array_equal(coords, coords_copy) and coords.shape == (1, 1, 2)
        assert np.array_equal(labels, labels_copy) and labels.shape == (1, 1)

    def test_spec5_1_encoder_pads_only_without_boxes_under_sam(self):
        """§5.1 via the encoder (sam): points alone -> N+1 tokens, last = not_a_point; points + box -> N + 2."""
        enc = small_encoder()
        points, labels = np.array([[[1.0, 2.0], [3.0, 4.0]]]), np.array([[1, 0]])
        out = enc(points, labels)
        assert out["prompt_sparse_embeddings"].shape == (1, 3, 8)
        assert np.array_equal(out["prompt_sparse_embeddings"][0, 2], enc.params["not_a_point_embed.weight"][0])
        out = enc(points, labels, boxes=np.array([[0.0, 0.0, 5.0, 5.0]]))
        assert out["prompt_sparse_embeddings"].shape == (1, 4, 8)

    def test_spec5_1_no_padding_under_keras_hub(self):
        """§5.1 under keras_hub no padding point is appended: N points -> N tokens."""
        enc = small_encoder(profile="keras_hub")
        out = enc(np.array([[[1.0, 2.0], [3.0, 4.0]]]), np.array([[1, 0]]))
        assert out["prompt_sparse_embeddings"].shape == (1, 2, 8)


class TestSpec5_2_LabelEmbeddings:
    C = 8

    def setup_method(self):
        self.params = init_params(self.C, 4, seed=3)
        self.table = label_embedding_table(self.params, np.float64, xp)
        self.pe = np.random.default_rng(7).standard_normal((1, 5, self.C))
        self.labels = np.array([[-1, 0, 1, 2, 3]])

    def emb(self, name):
        return self.params[name][0]

    def test_spec5_2_table_rows(self):
        """§5.2 label table rows: zeros, not_a_point, background, foreground, top_left, bottom_right."""
        t = self.table
        assert t.shape == (6, self.C)
        assert np.array_equal(t[0], np.zeros(self.C))
        assert np.array_equal(t[1], self.emb("not_a_point_embed.weight"))
        assert np.array_equal(t[2], self.emb("point_embeddings.0.weight"))
        assert np.array_equal(t[3], self.emb("point_embeddings.1.weight"))
        assert np.array_equal(t[4], self.emb("point_embeddings.2.weight"))
        assert np.array_equal(t[5], self.emb("point_embeddings.3.weight"))

    def test_spec5_2_sam_label_rule(self):
        """§5.2 sam: -1 -> not_a_point exactly (PE dropped); 0 -> PE+bg; 1 -> PE+fg; 2, 3 -> PE only."""
        tokens = embed_point_labels(self.pe, self.labels, self.table, PROFILES["sam"].labels, xp)
        pe = self.pe[0]
        assert tokens.shape == (1, 5, self.C)
        assert np.array_equal(tokens[0, 0], self.emb("not_a_point_embed.weight"))
        np.testing.assert_allclose(tokens[0, 1], pe[1] + self.emb("point_embeddings.0.weight"), rtol=0, atol=1e-15)
        np.testing.assert_allclose(tokens[0, 2], pe[2] + self.emb("point_embeddings.1.weight"), rtol=0, atol=1e-15)
        np.testing.assert_allclose(tokens[0, 3], pe[3], rtol=0, atol=0)
        np.testing.assert_allclose(tokens[0, 4], pe[4], rtol=0, atol=0)

    def test_spec5_2_keras_hub_label_rule(self):
        """§5.2 keras_hub: -1 -> not_a_point; 0 -> PE+bg; 1, 2, 3 -> PE+fg."""
        tokens = embed_point_labels(self.pe, self.labels, self.table, PROFILES["keras_hub"].labels, xp)
        pe, fg = self.pe[0], self.emb("point_embeddings.1.weight")
        assert np.array_equal(tokens[0, 0], self.emb("not_a_point_embed.weight"))
        np.testing.assert_allclose(tokens[0, 1], pe[1] + self.emb("point_embeddings.0.weight"), rtol=0, atol=1e-15)
        for n in (2, 3, 4):
            np.testing.assert_allclose(tokens[0, n], pe[n] + fg, rtol=0, atol=1e-15)

    @pytest.mark.parametrize("profile", ["sam", "keras_hub"])
    def test_spec5_2_not_a_point_ignores_pe(self, profile):
        """§5.2: label -1 gives exactly not_a_point_embed regardless of the PE (huge, NaN-free, any sign)."""
        rule = PROFILES[profile].labels
        for scale in (0.0, 1.0, 1e6, -3.0):
            pe = scale * np.ones((2, 1, self.C))
            tokens = embed_point_labels(pe, np.array([[-1], [-1]]), self.table, rule, xp)
            for b in range(2):
                assert np.array_equal(tokens[b, 0], self.emb("not_a_point_embed.weight"))

    def test_spec5_2_rule_tables_as_documented(self):
        """§5.2: the profiles' label rules, spelled out."""
        assert PROFILES["sam"].labels.entries == {
            -1: (0, "not_a_point"),
            0: (1, "background"),
            1: (1, "foreground"),
            2: (1, "none"),
            3: (1, "none"),
        }
        assert PROFILES["keras_hub"].labels.entries == {
            -1: (0, "not_a_point"),
            0: (1, "background"),
            1: (1, "foreground"),
            2: (1, "foreground"),
            3: (1, "foreground"),
        }

    def test_spec5_2_end_to_end_centre_point(self):
        """§3-§5 end to end (sam): the pixel whose centre is the image centre has PE [0..0, 1..1],
        so its token is that plus the foreground embedding; the padding token is not_a_point."""
        enc = SAMPromptEncoder(
            hidden_size=8, image_embedding_size=(2, 2), input_image_size=(128, 96), mask_in_channels=4
        )
        out = enc(np.array([[[47.5, 63.5]]]), np.array([[1]]))
        sparse = out["prompt_sparse_embeddings"]
        assert sparse.shape == (1, 2, 8)
        expected = np.array([0, 0, 0, 0, 1, 1, 1, 1], dtype=float) + enc.params["point_embeddings.1.weight"][0]
        np.testing.assert_allclose(sparse[0, 0], expected, rtol=0, atol=1e-15)
        assert np.array_equal(sparse[0, 1], enc.params["not_a_point_embed.weight"][0])


# --- §6 boxes -------------------------------------------------------------------------------


class TestSpec6_BoxCorners:
    def test_spec6_interleaved_corner_tokens(self):
        """§6.2 box corners: token 2m = PE(tl of box m) + E_tl, token 2m+1 = PE(br of box m) + E_br."""
        rng = np.random.default_rng(2)
        pe = rng.standard_normal((2, 3, 2, 4))
        tl, br = np.array([[10.0, 20.0, 30.0, 40.0]]), np.array([[-1.0, -2.0, -3.0, -4.0]])
        tokens = embed_box_corners(pe, tl, br, xp)
        assert tokens.shape == (2, 6, 4)
        for b in range(2):
            for m in range(3):
                np.testing.assert_allclose(tokens[b, 2 * m], pe[b, m, 0] + tl[0], rtol=0, atol=1e-14)
                np.testing.assert_allclose(tokens[b, 2 * m + 1], pe[b, m, 1] + br[0], rtol=0, atol=1e-14)

    def test_spec6_hand_box_through_encoder(self):
        """§6 end to end (sam), C = 4, G = diag(0.25, 0.25), image (H, W) = (128, 96):
        box (-0.5, -0.5, 47.5, 63.5) -> corners (0, 0), (48, 64) after the shift -> u = (0, 0), (0.5, 0.5)
        -> A = (-pi/2, -pi/2), (0, 0) -> PE = [-1, -1, 0, 0], [0, 0, 1, 1]; plus E_tl, E_br."""
        params = params_with_gaussian(4, 4, [[0.25, 0.0], [0.0, 0.25]])
        enc = SAMPromptEncoder(
            hidden_size=4, image_embedding_size=(2, 2), input_image_size=(128, 96), mask_in_channels=4, params=params
        )
        sparse = enc(boxes=np.array([[-0.5, -0.5, 47.5, 63.5]]))["prompt_sparse_embeddings"]
        assert sparse.shape == (1, 2, 4)
        tl, br = params["point_embeddings.2.weight"][0], params["point_embeddings.3.weight"][0]
        np.testing.assert_allclose(sparse[0, 0], np.array([-1.0, -1.0, 0.0, 0.0]) + tl, rtol=0, atol=1e-15)
        np.testing.assert_allclose(sparse[0, 1], np.array([0.0, 0.0, 1.0, 1.0]) + br, rtol=0, atol=1e-15)

    def test_spec6_keras_hub_corners_layout(self):
        """§6 keras_hub: boxes (B, M, 2, 2) give 2M tokens, tl then br per box, equal to the sam xyxy result."""
        kh = small_encoder(profile="keras_hub")
        sam = small_encoder()
        boxes_xyxy = np.array([[1.0, 2.0, 9.0, 7.0], [3.0, 1.0, 20.0, 15.0]])
        kh_out = kh(boxes=boxes_xyxy.reshape(1, 2, 2, 2))["prompt_sparse_embeddings"]
        assert kh_out.shape == (1, 4, 8)
        for m in range(2):
            sam_out = sam(boxes=boxes_xyxy[m : m + 1])["prompt_sparse_embeddings"]
            np.testing.assert_allclose(kh_out[0, 2 * m : 2 * m + 2], sam_out[0], rtol=0, atol=1e-15)

    def test_spec6_several_boxes_per_image_interleaved(self):
        """§6.1–§6.2: `sam` boxes (B, M, 4) are M boxes per image, as keras_hub's (B, M, 2, 2); the tokens
        go tl0, br0, tl1, br1, ...: box m's two tokens are those of that box given alone."""
        kh, sam = small_encoder(profile="keras_hub"), small_encoder()
        boxes = np.array([[[1.0, 2.0, 9.0, 7.0], [3.0, 1.0, 20.0, 15.0], [0.0, 0.0, 4.0, 4.0]]] * 2)
        boxes[1] = boxes[1, ::-1]  # each image its own order
        several = sam(boxes=boxes)["prompt_sparse_embeddings"]
        assert several.shape == (2, 6, 8)
        np.testing.assert_array_equal(several, kh(boxes=boxes.reshape(2, 3, 2, 2))["prompt_sparse_embeddings"])
        for b in range(2):
            for m in range(3):
                alone = sam(boxes=boxes[b : b + 1, m])["prompt_sparse_embeddings"][0]
                np.testing.assert_allclose(several[b, 2 * m : 2 * m + 2], alone, rtol=0, atol=1e-15)


# --- §7 sparse assembly ---------------------------------------------------------------------


class TestSpec7_SparseAssembly:
    def test_spec7_points_then_boxes(self):
        """§7 assembly: (B, N', C) ++ (B, 2M, C), points first then boxes."""
        pts = np.full((2, 3, 4), 1.0)
        bxs = np.full((2, 2, 4), 2.0)
        out = assemble_sparse(pts, bxs, 2, 4, np.float64, xp)
        assert out.shape == (2, 5, 4)
        assert np.all(out[:, :3] == 1.0) and np.all(out[:, 3:] == 2.0)

    def test_spec7_only_one_kind(self):
        """§7 assembly: only points or only boxes -> that tensor unchanged."""
        pts = np.arange(24.0).reshape(2, 3, 4)
        assert np.array_equal(assemble_sparse(pts, None, 2, 4, np.float64, xp), pts)
        assert np.array_equal(assemble_sparse(None, pts, 2, 4, np.float64, xp), pts)

    @pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
    def test_spec7_empty_is_b_0_c(self, dtype):
        """§7 assembly: no prompt -> (B, 0, C) in the requested dtype."""
        out = assemble_sparse(None, None, 3, 8, dtype, xp)
        assert out.shape == (3, 0, 8) and out.dtype == dtype

    def test_spec7_encoder_order_points_then_boxes(self):
        """§7 via the encoder (sam): points + box -> [point tokens, tl, br]; no padding token."""
        enc = small_encoder()
        points, labels, boxes = np.array([[[4.0, 4.0]]]), np.array([[1]]), np.array([[1.0, 2.0, 9.0, 7.0]])
        both = enc(points, labels, boxes)["prompt_sparse_embeddings"]
        only_box = enc(boxes=boxes)["prompt_sparse_embeddings"]
        only_points = enc(points, labels)["prompt_sparse_embeddings"]
        assert both.shape == (1, 3, 8)
        # allclose, not equal: the batched matmul may round differently for 1 and 2 rows
        np.testing.assert_allclose(both[:, :1], only_points[:, :1], rtol=0, atol=1e-15)
        np.testing.assert_allclose(both[:, 1:], only_box, rtol=0, atol=1e-15)


# --- §8 dense positional grid ---------------------------------------------------------------


class TestSpec8_DenseGrid:
    def test_spec8_1_cell_centres_literal(self):
        """§8.1 grid cell centres for (h, w) = (2, 4): u[i, j] = ((j + .5)/4, (i + .5)/2), as (x, y)."""
        out = grid_cell_centres((2, 4), np.float64, xp)
        expected = np.array(
            [
                [[0.125, 0.25], [0.375, 0.25], [0.625, 0.25], [0.875, 0.25]],
                [[0.125, 0.75], [0.375, 0.75], [0.625, 0.75], [0.875, 0.75]],
            ]
        )
        assert out.shape == (2, 4, 2)
        assert np.array_equal(out, expected)

    def test_spec8_2_hand_grid(self):
        """§8.2 dense grid, G = [[1], [0]], (h, w) = (2, 4): A[i, j] = 2pi(2(j+.5)/4 - 1)
        = -3pi/2, -pi/2, pi/2, 3pi/2 -> sin = 1, -1, 1, -1 and cos = 0, in every row."""
        P = dense_positional_grid((2, 4), np.array([[1.0], [0.0]]), xp)
        assert P.shape == (2, 4, 2)
        for i in range(2):
            np.testing.assert_allclose(P[i, :, 0], [1.0, -1.0, 1.0, -1.0], rtol=0, atol=1e-15)
            np.testing.assert_allclose(P[i, :, 1], [0.0, 0.0, 0.0, 0.0], rtol=0, atol=1e-15)

    def test_spec8_2_encoder_layout_and_prompt_independence(self):
        """§8.2 / §11: dense PE is (1, C, h, w) under sam, (1, h, w, C) under keras_hub, and never
        depends on the prompt."""
        params = params_with_gaussian(2, 4, [[1.0], [0.0]])
        kw = dict(
            hidden_size=2, image_embedding_size=(2, 4), input_image_size=(8, 16), mask_in_channels=4, params=params
        )
        enc = SAMPromptEncoder(**kw)
        outs = [
            enc()["prompt_dense_positional_embeddings"],
            enc(np.array([[[1.0, 1.0]], [[3.0, 5.0]]]), np.array([[1], [0]]))["prompt_dense_positional_embeddings"],
            enc(boxes=np.array([[0.0, 0.0, 4.0, 4.0]]))["prompt_dense_positional_embeddings"],
            enc(masks=np.ones((3, 1, 8, 16)))["prompt_dense_positional_embeddings"],
        ]
        for out in outs:
            assert out.shape == (1, 2, 2, 4)
            assert np.array_equal(out, outs[0])
        np.testing.assert_allclose(outs[0][0, 0], [[1, -1, 1, -1], [1, -1, 1, -1]], rtol=0, atol=1e-15)
        kh = SAMPromptEncoder(profile="keras_hub", **kw)
        out = kh(np.array([[[1.0, 1.0]]]), np.array([[1]]))["prompt_dense_positional_embeddings"]
        assert out.shape == (1, 2, 4, 2)
        np.testing.assert_allclose(out[0, :, :, 0], outs[0][0, 0], rtol=0, atol=0)


# --- §9 mask downscaler ---------------------------------------------------------------------


class TestSpec9_1_Conv2x2Stride2:
    def test_spec9_1_hand_case_all_ones(self):
        """§9.1 conv2x2/s2: all-ones 2x2 input, weight [[1, 2], [3, 4]], bias 0.5 -> 10.5."""
        x = np.ones((1, 2, 2, 1))
        w = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])  # (Cout, Cin, kh, kw) = (1, 1, 2, 2)
        out = conv2x2_stride2(x, w, np.array([0.5]), xp)
        assert out.shape == (1, 1, 1, 1)
        assert out[0, 0, 0, 0] == 10.5

    def test_spec9_1_hand_case_orientation(self):
        """§9.1 conv2x2/s2: x[y, x] = [[1, 10], [100, 1000]], weight[kh, kw] = [[1, 2], [3, 4]]
        -> 1*1 + 10*2 + 100*3 + 1000*4 = 4321 (rows pair with kh, columns with kw)."""
        x = np.array([[1.0, 10.0], [100.0, 1000.0]]).reshape(1, 2, 2, 1)
        w = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
        out = conv2x2_stride2(x, w, np.zeros(1), xp)
        assert out[0, 0, 0, 0] == 4321.0

    def test_spec9_1_pytorch_layout_cout_cin(self):
        """§9.1 conv2x2/s2 weight layout (Cout, Cin, kh, kw): Cout = 3, Cin = 2, one window of
        ones on channel 0 and twos on channel 1 -> y[o] = sum w[o,0] + 2 sum w[o,1] + bias[o]."""
        x = np.stack([np.ones((2, 2)), 2 * np.ones((2, 2))], axis=-1)[None]  # (1, 2, 2, 2)
        w = np.zeros((3, 2, 2, 2))
        w[0, 0] = 1.0  # sum 4 on channel 0 -> 4
        w[1, 1] = 1.0  # sum 4 on channel 1 -> 8
        w[2, 0, 0, 1] = 5.0  # one tap on channel 0 -> 5
        w[2, 1, 1, 0] = -1.0  # one tap on channel 1 -> -2
        out = conv2x2_stride2(x, w, np.array([0.0, 0.5, -0.5]), xp)
        assert out.shape == (1, 1, 1, 3)
        assert np.array_equal(out[0, 0, 0], [4.0, 8.5, 2.5])

    @pytest.mark.parametrize("shape", [(1, 2, 2, 1, 1), (2, 4, 6, 1, 3), (2, 6, 4, 3, 5), (1, 8, 8, 4, 2)])
    def test_spec9_1_against_loop(self, shape):
        """§9.1 conv2x2/s2 against a literal loop over windows (B, H, W, Cin, Cout), including Cin > 1."""
        batch, height, width, cin, cout = shape
        rng = np.random.default_rng(sum(shape))
        x = rng.standard_normal((batch, height, width, cin))
        w = rng.standard_normal((cout, cin, 2, 2))
        b = rng.standard_normal(cout)
        out = conv2x2_stride2(x, w, b, xp)
        assert out.shape == (batch, height // 2, width // 2, cout)
        np.testing.assert_allclose(out, loop_conv2x2_stride2(x, w, b), rtol=1e-12, atol=1e-12)

    def test_spec9_1_input_unchanged(self):
        """§9.1 conv2x2/s2 does not modify its inputs."""
        rng = np.random.default_rng(5)
        x, w, b = rng.standard_normal((1, 4, 4, 2)), rng.standard_normal((3, 2, 2, 2)), rng.standard_normal(3)
        copies = [a.copy() for a in (x, w, b)]
        conv2x2_stride2(x, w, b, xp)
        assert all(np.array_equal(a, c) for a, c in zip((x, w, b), copies))


class TestSpec9_2_LayerNorm2d:
    def test_spec9_2_hand_two_channels(self):
        """§9.2 LayerNorm2d: channels [1, 3] -> mean 2, biased var 1 -> [-1, 1] * gamma + beta (eps 1e-6)."""
        x = np.array([1.0, 3.0]).reshape(1, 1, 1, 2)
        out = layer_norm_channels(x, np.array([2.0, 3.0]), np.array([0.5, -0.5]), 1e-6, xp)
        np.testing.assert_allclose(out[0, 0, 0], [-1.5, 2.5], rtol=1e-6)

    def test_spec9_2_biased_variance(self):
        """§9.2 LayerNorm2d uses the biased variance: [1, 2, 3] -> var 2/3 -> [-sqrt 1.5, 0, sqrt 1.5]
        (the unbiased variance would give [-1, 0, 1])."""
        x = np.array([1.0, 2.0, 3.0]).reshape(1, 1, 1, 3)
        out = layer_norm_channels(x, np.ones(3), np.zeros(3), 0.0, xp)
        np.testing.assert_allclose(out[0, 0, 0], [-1.224744871391589, 0.0, 1.224744871391589], rtol=1e-15, atol=1e-15)

    def test_spec9_2_eps_inside_sqrt(self):
        """§9.2 LayerNorm2d: eps is added to the variance under the square root: [1, 3], eps = 3 -> ±1/2."""
        x = np.array([1.0, 3.0]).reshape(1, 1, 1, 2)
        out = layer_norm_channels(x, np.ones(2), np.zeros(2), 3.0, xp)
        np.testing.assert_allclose(out[0, 0, 0], [-0.5, 0.5], rtol=1e-15)

    def test_spec9_2_constant_channels_give_beta(self):
        """§9.2 LayerNorm2d: a constant channel vector gives exactly beta (eps keeps 0/0 away)."""
        x = np.full((2, 2, 3, 4), 7.25)
        beta = np.array([0.1, -0.2, 0.3, 4.0])
        out = layer_norm_channels(x, np.array([5.0, 6.0, 7.0, 8.0]), beta, 1e-6, xp)
        assert np.array_equal(out, np.broadcast_to(beta, x.shape))

    def test_spec9_2_normalises_last_axis_only(self):
        """§9.2 LayerNorm2d normalises each pixel's channel vector (the LAST axis), not the spatial axes:
        pixels [1, 3] and [10, 30] both become ~[-1, 1]."""
        x = np.array([[1.0, 3.0], [10.0, 30.0]]).reshape(1, 2, 1, 2)
        out = layer_norm_channels(x, np.ones(2), np.zeros(2), 1e-6, xp)
        np.testing.assert_allclose(out[0, 0, 0], [-1.0, 1.0], rtol=1e-6)
        np.testing.assert_allclose(out[0, 1, 0], [-1.0, 1.0], rtol=1e-6)

    def test_spec9_2_against_loop(self):
        """§9.2 LayerNorm2d against a literal per-pixel loop with random gamma, beta."""
        rng = np.random.default_rng(9)
        x = rng.standard_normal((2, 3, 2, 5)) * 3 + 1
        gamma, beta = rng.standard_normal(5), rng.standard_normal(5)
        out = layer_norm_channels(x, gamma, beta, 1e-6, xp)
        np.testing.assert_allclose(out, loop_layer_norm(x, gamma, beta, 1e-6), rtol=1e-12, atol=1e-12)


class TestSpec9_3_Activations:
    def act(self, name, values, dtype=np.float64):
        return get_activation(name)(np.asarray(values, dtype=dtype), xp)

    def test_spec9_3_gelu_known_values(self):
        """§9.3 activations: exact GELU: gelu(0) = 0, gelu(1) = 0.8413447460685429, gelu(-1) = -0.15865525393145707."""
        out = self.act("gelu", [0.0, 1.0, -1.0])
        assert out[0] == 0.0
        assert out[1] == pytest.approx(0.8413447460685429, rel=1e-15)
        assert out[2] == pytest.approx(-0.15865525393145707, rel=1e-14)

    def test_spec9_3_gelu_limits(self):
        """§9.3 activations: gelu(x) -> x for large x and -> 0 for large negative x."""
        out = self.act("gelu", [10.0, 40.0, -10.0, -40.0])
        assert out[0] == pytest.approx(10.0, abs=1e-12)
        assert out[1] == 40.0
        assert abs(out[2]) < 1e-20 and abs(out[3]) < 1e-300

    def test_spec9_3_gelu_against_math_erf(self):
        """§9.3 activations: gelu equals x/2 (1 + math.erf(x / sqrt 2)) over [-6, 6]."""
        x = np.linspace(-6, 6, 121)
        np.testing.assert_allclose(self.act("gelu", x), math_gelu(x), rtol=1e-14, atol=1e-15)

    def test_spec9_3_gelu_tanh_is_an_approximation(self):
        """§9.3 activations: gelu_tanh differs from exact gelu by ~1e-4 at x = 1..2 (and is not equal)."""
        x = np.array([1.0, 1.5, 2.0])
        diff = np.abs(self.act("gelu", x) - self.act("gelu_tanh", x))
        assert np.all(diff > 5e-5) and np.all(diff < 1e-3)
        assert self.act("gelu_tanh", [0.0])[0] == 0.0

    def test_spec9_3_relu_sigmoid_tanh(self):
        """§9.3 activations: relu([-1, 0, 2]) = [0, 0, 2]; sigmoid(0) = 0.5, sigmoid(±40) -> 1, 0; tanh(0) = 0."""
        assert np.array_equal(self.act("relu", [-1.0, 0.0, 2.0]), [0.0, 0.0, 2.0])
        sig = self.act("sigmoid", [0.0, 40.0, -40.0, 1.0])
        assert sig[0] == 0.5 and sig[1] == pytest.approx(1.0) and sig[2] == pytest.approx(0.0, abs=1e-17)
        assert sig[3] == pytest.approx(0.7310585786300049, rel=1e-15)
        assert np.array_equal(self.act("tanh", [0.0]), [0.0])
        assert self.act("tanh", [1.0])[0] == pytest.approx(0.7615941559557649, rel=1e-15)

    def test_spec9_3_silu_swish_softplus_mish_elu_linear(self):
        """§9.3 activations: silu(1) = 0.7310585786300049 = swish(1); softplus(0) = ln 2 and softplus(1000)
        = 1000 without overflow; mish(0) = 0; elu(-1) = e^-1 - 1, elu(2) = 2; linear is the identity."""
        assert self.act("silu", [1.0])[0] == pytest.approx(0.7310585786300049, rel=1e-15)
        assert np.array_equal(self.act("swish", [1.0, -2.0]), self.act("silu", [1.0, -2.0]))
        sp = self.act("softplus", [0.0, 1000.0, -1000.0])
        assert sp[0] == pytest.approx(math.log(2.0), rel=1e-15) and sp[1] == 1000.0 and sp[2] >= 0.0
        assert self.act("mish", [0.0])[0] == 0.0
        assert self.act("mish", [1.0])[0] == pytest.approx(0.8650983882673103, rel=1e-14)
        elu = self.act("elu", [-1.0, 0.0, 2.0])
        assert elu[0] == pytest.approx(-0.6321205588285577, rel=1e-15) and elu[1] == 0.0 and elu[2] == 2.0
        x = np.array([-3.0, 0.0, 5.5])
        assert np.array_equal(self.act("linear", x), x)

    @pytest.mark.parametrize(
        "name", ["gelu", "gelu_tanh", "relu", "sigmoid", "tanh", "silu", "softplus", "mish", "elu"]
    )
    @pytest.mark.parametrize("dtype", [np.float32, np.float16])
    def test_spec9_3_dtype_preserved(self, name, dtype):
        """§9.3 activations are computed in their input's dtype."""
        out = self.act(name, [-1.0, 0.0, 1.0], dtype=dtype)
        assert out.dtype == dtype

    def test_spec9_3_erf_series_float64_1e15(self):
        """§9.3 erf_series vs math.erf in float64 over [-7, 7] to 1e-15 absolute (target of the brief)."""
        x = np.linspace(-7.0, 7.0, 20001)
        ref = np.array([math.erf(v) for v in x])
        np.testing.assert_allclose(erf_series(x, xp), ref, rtol=0, atol=1e-15)

    def test_spec9_3_erf_series_float32_2e7(self):
        """§9.3 erf_series in float32 rounded once from float64: within half an ulp of 1 (6e-8)."""
        x = np.linspace(-7.0, 7.0, 20001).astype(np.float32)
        ref = np.array([math.erf(float(v)) for v in x])
        np.testing.assert_allclose(erf_series(x, xp).astype(np.float64), ref, rtol=0, atol=6e-8)  # half an ulp of 1

    def test_spec9_3_unknown_activation(self):
        """§9.3 get_activation refuses an unknown name, naming the argument."""
        with pytest.raises(ValueError, match=r"activation.*'gelu2'"):
            get_activation("gelu2")


class TestSpec9_4_Conv1x1:
    def test_spec9_4_hand_case(self):
        """§9.4 conv1x1: x = [1, 10], weight (3, 2, 1, 1) = [[1, 2], [3, 4], [5, 6]], bias [0, 1, 2] -> [21, 44, 67]."""
        x = np.array([1.0, 10.0]).reshape(1, 1, 1, 2)
        w = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]).reshape(3, 2, 1, 1)
        out = conv1x1(x, w, np.array([0.0, 1.0, 2.0]), xp)
        assert out.shape == (1, 1, 1, 3)
        assert np.array_equal(out[0, 0, 0], [21.0, 44.0, 67.0])

    def test_spec9_4_against_loop(self):
        """§9.4 conv1x1 against a literal loop."""
        rng = np.random.default_rng(11)
        x = rng.standard_normal((2, 3, 4, 5))
        w = rng.standard_normal((6, 5, 1, 1))
        b = rng.standard_normal(6)
        np.testing.assert_allclose(conv1x1(x, w, b, xp), loop_conv1x1(x, w, b), rtol=1e-12, atol=1e-12)


class TestSpec9_5_DownscaleMask:
    def test_spec9_5_shapes_and_trace_keys(self):
        """§9.5 downscale_mask: (B, 4h, 4w) -> (B, h, w, C); trace has mask.conv1 .. mask.conv3 in order."""
        params = init_params(8, 4, seed=2)
        trace = {}
        mask = np.random.default_rng(0).standard_normal((2, 8, 12))
        out = downscale_mask(mask, params, get_activation("gelu"), xp, trace=trace)
        assert out.shape == (2, 2, 3, 8)
        assert list(trace) == [f"mask.{k}" for k in ("conv1", "norm1", "act1", "conv2", "norm2", "act2", "conv3")]
        assert trace["mask.conv1"].shape == (2, 4, 6, 1)
        assert trace["mask.norm1"].shape == (2, 4, 6, 1)
        assert trace["mask.conv2"].shape == (2, 2, 3, 4)
        assert trace["mask.conv3"].shape == (2, 2, 3, 8)
        assert np.array_equal(trace["mask.conv3"], out)

    def test_spec9_5_against_literal_chain(self):
        """§9.5 downscale_mask equals conv(loop) -> LN(loop) -> gelu(math.erf) -> conv -> LN -> gelu
        -> conv1x1(loop)."""
        C, Cm = 8, 8
        params = init_params(C, Cm, seed=4)
        mask = np.random.default_rng(4).standard_normal((2, 8, 12))
        p = params
        x = loop_conv2x2_stride2(mask[..., None], p["mask_downscaling.0.weight"], p["mask_downscaling.0.bias"])
        x = math_gelu(loop_layer_norm(x, p["mask_downscaling.1.weight"], p["mask_downscaling.1.bias"], 1e-6))
        x = loop_conv2x2_stride2(x, p["mask_downscaling.3.weight"], p["mask_downscaling.3.bias"])
        x = math_gelu(loop_layer_norm(x, p["mask_downscaling.4.weight"], p["mask_downscaling.4.bias"], 1e-6))
        expected = loop_conv1x1(x, p["mask_downscaling.6.weight"], p["mask_downscaling.6.bias"])
        out = downscale_mask(mask, params, get_activation("gelu"), xp)
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)

    def test_spec9_5_encoder_dense_from_masks(self):
        """§9.5 / §11 via the encoder (sam): dense = downscale_mask(mask[:, 0]) moved to (B, C, h, w)."""
        enc = small_encoder()
        masks = np.random.default_rng(6).standard_normal((3, 1, 8, 12))
        dense = enc(masks=masks)["prompt_dense_embeddings"]
        expected = downscale_mask(masks[:, 0], enc.params, fast_activation("gelu", np.float64, xp), xp)
        assert dense.shape == (3, 8, 2, 3)
        np.testing.assert_allclose(dense, np.transpose(expected, (0, 3, 1, 2)), rtol=0, atol=1e-12)
        by_definition = downscale_mask(masks[:, 0], enc.params, get_activation("gelu"), xp)  # §9.3, erf
        np.testing.assert_allclose(dense, np.transpose(by_definition, (0, 3, 1, 2)), rtol=0, atol=1e-12)

    def test_spec9_5_activation_selectable(self):
        """§9.5: the encoder's activation argument changes the mask path (relu != gelu)."""
        from samspec.reference.fast.channels_first import downscale_mask_channels_first as downscale_mask

        masks = np.random.default_rng(6).standard_normal((1, 1, 8, 12))
        gelu = small_encoder()(masks=masks)["prompt_dense_embeddings"]
        relu = small_encoder(activation="relu")(masks=masks)["prompt_dense_embeddings"]
        expected = downscale_mask(masks[:, 0], init_params(8, 4, seed=0), get_activation("relu"), xp)
        assert not np.allclose(gelu, relu)
        np.testing.assert_allclose(relu, np.transpose(expected, (0, 3, 1, 2)), rtol=0, atol=0)


# --- §10 no-mask embedding --------------------------------------------------------------------


class TestSpec10_NoMaskEmbedding:
    def test_spec10_broadcast(self):
        """§10 no-mask embedding: D[b, i, j, :] = no_mask_embed[0] for every b, i, j."""
        e = np.array([[1.0, -2.0, 3.0]])
        out = no_mask_embedding(e, 2, (2, 3), xp)
        assert out.shape == (2, 2, 3, 3)
        for b in range(2):
            for i in range(2):
                for j in range(3):
                    assert np.array_equal(out[b, i, j], [1.0, -2.0, 3.0])

    def test_spec10_encoder_without_masks(self):
        """§10 via the encoder (sam): no masks -> dense[b, :, i, j] = no_mask_embed for each batch element."""
        enc = small_encoder()
        dense = enc(np.zeros((2, 1, 2)), np.ones((2, 1), dtype=int))["prompt_dense_embeddings"]
        assert dense.shape == (2, 8, 2, 3)
        vec = enc.params["no_mask_embed.weight"][0]
        for b in range(2):
            for i in range(2):
                for j in range(3):
                    assert np.array_equal(dense[b, :, i, j], vec)


# --- §11 outputs and the batch rule -----------------------------------------------------------


class TestSpec11_OutputsAndBatchRule:
    def test_spec11_output_keys(self):
        """§11 outputs: exactly the three named outputs."""
        assert OUTPUT_KEYS == (
            "prompt_sparse_embeddings",
            "prompt_dense_embeddings",
            "prompt_dense_positional_embeddings",
        )
        assert tuple(small_encoder()()) == OUTPUT_KEYS

    def test_spec11_empty_prompt_sam(self):
        """§11 sam, no prompt: sparse (1, 0, C), dense (1, C, h, w) = no_mask_embed, dense PE (1, C, h, w)."""
        enc = small_encoder()
        out = enc()
        assert out["prompt_sparse_embeddings"].shape == (1, 0, 8)
        assert out["prompt_dense_embeddings"].shape == (1, 8, 2, 3)
        assert out["prompt_dense_positional_embeddings"].shape == (1, 8, 2, 3)
        assert np.array_equal(out["prompt_dense_embeddings"][0, :, 1, 2], enc.params["no_mask_embed.weight"][0])

    @pytest.mark.parametrize(
        "kind, batch, tokens",
        [("points", 2, 4), ("boxes", 3, 2), ("masks", 4, 0), ("points+boxes", 2, 5), ("points+masks", 2, 4)],
    )
    def test_spec11_batch_from_inputs_sam(self, kind, batch, tokens):
        """§11 batch rule (sam): the batch comes from points, boxes or masks; dense PE keeps batch 1."""
        enc = small_encoder()
        args = {}
        if "points" in kind:
            args["points"] = np.zeros((batch, 3, 2))
            args["labels"] = np.ones((batch, 3), dtype=np.int64)
        if "boxes" in kind:
            args["boxes"] = np.tile([0.0, 0.0, 4.0, 4.0], (batch, 1))
        if "masks" in kind:
            args["masks"] = np.zeros((batch, 1, 8, 12))
        out = enc(**args)
        assert out["prompt_sparse_embeddings"].shape == (batch, tokens, 8)
        assert out["prompt_dense_embeddings"].shape == (batch, 8, 2, 3)
        assert out["prompt_dense_positional_embeddings"].shape == (1, 8, 2, 3)

    def test_spec11_keras_hub_layouts(self):
        """§11/§12 keras_hub: channels last; masks (B, M, 4h, 4w, 1) -> dense batch B*M; boxes (B, M, 2, 2)
        -> 2M tokens; no padding point: N + 2M tokens."""
        enc = small_encoder(profile="keras_hub")
        out = enc(
            np.zeros((2, 3, 2)), np.array([[0, 1, 2], [3, -1, 0]]), np.zeros((2, 4, 2, 2)), np.zeros((2, 5, 8, 12, 1))
        )
        assert out["prompt_sparse_embeddings"].shape == (2, 3 + 8, 8)
        assert out["prompt_dense_embeddings"].shape == (10, 2, 3, 8)
        assert out["prompt_dense_positional_embeddings"].shape == (1, 2, 3, 8)

    def test_spec11_keras_hub_masks_flatten_order(self):
        """§11 keras_hub: dense[b*M + m] is the downscaled masks[b, m]."""
        enc = small_encoder(profile="keras_hub")
        masks = np.random.default_rng(8).standard_normal((2, 3, 8, 12, 1))
        dense = enc(masks=masks)["prompt_dense_embeddings"]
        assert dense.shape == (6, 2, 3, 8)
        for b in range(2):
            for m in range(3):
                single = downscale_mask(masks[b, m : m + 1, :, :, 0], enc.params, get_activation("gelu"), xp)
                np.testing.assert_allclose(dense[b * 3 + m], single[0], rtol=1e-14, atol=1e-14)

    def test_spec11_keras_hub_masks_only_batch(self):
        """§11 keras_hub, masks only: sparse (B, 0, C) with B the masks' first axis."""
        out = small_encoder(profile="keras_hub")(masks=np.zeros((2, 5, 8, 12, 1)))
        assert out["prompt_sparse_embeddings"].shape == (2, 0, 8)
        assert out["prompt_dense_embeddings"].shape == (10, 2, 3, 8)

    @pytest.mark.parametrize("profile", ["sam", "keras_hub"])
    def test_spec11_trace_matches_call(self, profile):
        """§11.4 enc.trace: every stage key is present; the trace (the teaching composition) gives
        __call__'s outputs (the fast compositions) to 1e-12 of scale."""
        enc = small_encoder(profile=profile)
        rng = np.random.default_rng(12)
        points = rng.uniform(0, 16, (2, 2, 2))
        labels = np.array([[1, 0], [0, 1]])
        if profile == "sam":
            boxes, masks = np.array([[1.0, 2.0, 9.0, 7.0]] * 2), rng.standard_normal((2, 1, 8, 12))
        else:
            boxes, masks = rng.uniform(0, 16, (2, 1, 2, 2)), rng.standard_normal((2, 1, 8, 12, 1))
        trace = enc.trace(points, labels, boxes, masks)
        out = enc(points, labels, boxes, masks)
        expected_keys = {
            "points.shifted",
            "points.labels",
            "points.normalised",
            "points.fourier_argument",
            "points.positional_encoding",
            "points.tokens",
            "boxes.shifted",
            "boxes.normalised",
            "boxes.fourier_argument",
            "boxes.positional_encoding",
            "boxes.tokens",
            "dense_pe.cell_centres",
            "dense_pe.fourier_argument",
            "dense_pe.grid",
            "mask.input",
            "mask.conv1",
            "mask.norm1",
            "mask.act1",
            "mask.conv2",
            "mask.norm2",
            "mask.act2",
            "mask.conv3",
            *OUTPUT_KEYS,
        }
        assert expected_keys <= set(trace)
        for key in OUTPUT_KEYS:
            assert trace[key].shape == out[key].shape, key
            assert np.max(np.abs(trace[key] - out[key])) <= 1e-12 * max(1.0, np.max(np.abs(out[key]))), key

    def test_spec11_trace_points_without_boxes_records_padding(self):
        """§11 trace (sam, points only): points.labels holds the padded labels."""
        trace = small_encoder().trace(np.zeros((1, 2, 2)), np.array([[1, 0]]))
        assert np.array_equal(trace["points.labels"], [[1, 0, -1]])
        assert trace["points.tokens"].shape == (1, 3, 8)
        assert "boxes.tokens" not in trace and "mask.conv1" not in trace

    @pytest.mark.parametrize("dtype", ["float32", "float16"])
    @pytest.mark.parametrize("profile", ["sam", "keras_hub"])
    def test_spec11_dtype_of_outputs(self, dtype, profile):
        """§11 outputs are in the encoder's dtype (float32, float16), with and without masks."""
        enc = small_encoder(dtype=dtype, profile=profile)
        points, labels = np.array([[[3.0, 4.0]]]), np.array([[1]])
        if profile == "sam":
            boxes, masks = np.array([[1.0, 2.0, 9.0, 7.0]]), np.ones((1, 1, 8, 12))
        else:
            boxes, masks = np.ones((1, 1, 2, 2)), np.ones((1, 1, 8, 12, 1))
        for out in (enc(points, labels), enc(points, labels, boxes, masks), enc(boxes=boxes)):
            for key in OUTPUT_KEYS:
                assert out[key].dtype == np.dtype(dtype), key
                assert np.all(np.isfinite(out[key].astype(np.float64))), key

    def test_spec11_float32_close_to_float64(self):
        """§11: the float32 encoder agrees with the float64 one to float32 accuracy."""
        points, labels = np.array([[[3.0, 4.0], [10.0, 1.0]]]), np.array([[1, 0]])
        masks = np.random.default_rng(3).standard_normal((1, 1, 8, 12))
        o64 = small_encoder()(points, labels, masks=masks)
        o32 = small_encoder(dtype="float32")(points, labels, masks=masks)
        for key in OUTPUT_KEYS:
            np.testing.assert_allclose(o32[key], o64[key], rtol=1e-4, atol=1e-5)


# --- §2.2 parameters --------------------------------------------------------------------------


class TestSpec2_2_Params:
    def test_spec2_2_deterministic_for_seed(self):
        """§2.2 init_params: the same seed gives identical parameters."""
        a, b = init_params(8, 4, seed=5), init_params(8, 4, seed=5)
        assert list(a) == list(b)
        assert all(np.array_equal(a[k], b[k]) for k in a)

    def test_spec2_2_seeds_differ(self):
        """§2.2 init_params: different seeds give different values in every parameter."""
        a, b = init_params(8, 4, seed=0), init_params(8, 4, seed=1)
        assert all(not np.array_equal(a[k], b[k]) for k in a)

    @pytest.mark.parametrize("hidden_size, cm", [(8, 4), (16, 8), (256, 16)])
    def test_spec2_2_keys_and_shapes(self, hidden_size, cm):
        """§2.2 init_params: keys and shapes equal param_shapes; float64."""
        params = init_params(hidden_size, cm, seed=0)
        shapes = param_shapes(hidden_size, cm)
        assert set(params) == set(shapes)
        for name, shape in shapes.items():
            assert params[name].shape == shape, name
            assert params[name].dtype == np.float64, name

    def test_spec2_2_seed_config_shapes(self):
        """§2.2 param_shapes for the SAM v1 configuration (C = 256, Cm = 16), spelled out."""
        shapes = param_shapes(256, 16)
        assert shapes["pe_layer.positional_encoding_gaussian_matrix"] == (2, 128)
        assert shapes["mask_downscaling.0.weight"] == (4, 1, 2, 2)
        assert shapes["mask_downscaling.3.weight"] == (16, 4, 2, 2)
        assert shapes["mask_downscaling.6.weight"] == (256, 16, 1, 1)
        assert shapes["no_mask_embed.weight"] == (1, 256)
        assert len(shapes) == 17

    def test_spec2_2_default_encoder_uses_seed_zero(self):
        """§2.2: SAMPromptEncoder without params uses init_params(seed=0), converted to its dtype."""
        enc = small_encoder()
        ref = init_params(8, 4, seed=0)
        assert all(np.array_equal(enc.params[k], ref[k]) for k in ref)
        enc32 = small_encoder(dtype="float32")
        assert all(enc32.params[k].dtype == np.float32 for k in ref)
