"""The SAM 2 family's conventions in the reference: profiles `sam2` and `hf_sam2` (spec §5.2, §6.3, §12.1).

Expected tokens are built from the `sam` profile's traced positional encodings (the label rule
and §6.3 do not touch §3–§4) and the parameter rows, never by the code under test.
"""

import numpy as np
import pytest

from samspec.reference import PROFILES, SAMPromptEncoder, append_box_not_a_point, init_params, sinusoids
from samspec.reference.semantics import HF_SAM2_LABELS, SAM2_LABELS

SMALL = dict(hidden_size=8, image_embedding_size=(2, 3), input_image_size=(16, 24), mask_in_channels=4)
PARAMS = init_params(8, 4, seed=3)
POINTS = np.array([[[3.0, 4.0], [10.0, 2.0], [7.0, 13.0], [1.0, 1.0], [20.0, 15.0], [5.0, 5.0]]])
BOX = np.array([[2.0, 3.0, 17.0, 12.0]])


def encoder(profile, literal=False):
    # Replacing a stage by itself forces the literal stage-by-stage composition.
    stages = {"sinusoids": sinusoids} if literal else None
    return SAMPromptEncoder(**SMALL, params=PARAMS, profile=profile, stages=stages)


def sam_pe(points, key="points.positional_encoding", **prompts):
    """§4 positional encodings of the prompts, traced under the `sam` profile (no label involved)."""
    return encoder("sam").trace(points, np.zeros(points.shape[:2], np.int64), **prompts)[key]


def row(name):
    return PARAMS[name][0]


@pytest.mark.parametrize("literal", [False, True], ids=["fast", "literal"])
class TestSpec5_2_Sam2Labels:
    def test_spec5_2_sam2_corner_labels_add_corner_embeddings(self, literal):
        """§5.2 embed_point_labels, profile sam2: -1 -> not_a_point only, 0/1 -> PE + bg/fg, 2/3 -> PE + corner rows."""
        labels = np.array([[0, 1, 2, 3, -1, 2]])
        tokens = encoder("sam2", literal)(POINTS, labels)["prompt_sparse_embeddings"]
        pe = sam_pe(POINTS)  # (1, 7, C): the six points and the padding point
        rows = [
            "point_embeddings.0.weight",
            "point_embeddings.1.weight",
            "point_embeddings.2.weight",
            "point_embeddings.3.weight",
            None,
            "point_embeddings.2.weight",
        ]
        for n, name in enumerate(rows):
            want = row("not_a_point_embed.weight") if name is None else pe[0, n] + row(name)
            np.testing.assert_allclose(tokens[0, n], want, rtol=0, atol=1e-15, err_msg=f"§5.2 sam2 token {n}")
        assert tokens.shape == (1, 7, 8), "§5.1 padding rule: sam2 appends the padding point as sam does"
        assert np.array_equal(tokens[0, 6], row("not_a_point_embed.weight"))

    def test_spec5_2_hf_sam2_minus_10_is_all_zero(self, literal):
        """§5.2 embed_point_labels, profile hf_sam2: label -10 gives an all-zero token (PE dropped, row none)."""
        labels = np.array([[1, -10, 2, 3, -10, 0]])
        tokens = encoder("hf_sam2", literal)(POINTS, labels)["prompt_sparse_embeddings"]
        pe = sam_pe(POINTS)
        assert np.array_equal(tokens[0, 1], np.zeros(8)) and np.array_equal(tokens[0, 4], np.zeros(8))
        np.testing.assert_allclose(tokens[0, 2], pe[0, 2] + row("point_embeddings.2.weight"), rtol=0, atol=1e-15)
        np.testing.assert_allclose(tokens[0, 3], pe[0, 3] + row("point_embeddings.3.weight"), rtol=0, atol=1e-15)
        np.testing.assert_allclose(tokens[0, 5], pe[0, 5] + row("point_embeddings.0.weight"), rtol=0, atol=1e-15)

    @pytest.mark.parametrize(
        "profile, bad", [("sam2", -10), ("sam2", 4), ("hf_sam2", 4), ("hf_sam2", -2), ("sam", -10)]
    )
    def test_spec13_label_outside_the_rule_names_labels_allowed_and_profile(self, literal, profile, bad):
        """§13 labels outside a profile's rule are a ValueError naming labels, the allowed values and the profile."""
        with pytest.raises(ValueError) as info:
            encoder(profile, literal)(POINTS[:, :1], np.array([[bad]]))
        message = str(info.value)
        assert message.startswith("labels:") and f"profile {profile!r}" in message and str(bad) in message
        assert str(list(PROFILES[profile].labels.allowed)) in message


@pytest.mark.parametrize("literal", [False, True], ids=["fast", "literal"])
class TestSpec6_3_TrailingNotAPoint:
    def test_spec6_3_hf_sam2_box_gives_tl_br_then_not_a_point(self, literal):
        """§6.3 append_box_not_a_point, profile hf_sam2: a box gives (tl, br, not_a_point_embed); no padding point."""
        tokens = encoder("hf_sam2", literal)(boxes=BOX)["prompt_sparse_embeddings"]
        corners = encoder("sam").trace(boxes=BOX)["boxes.positional_encoding"]  # (1, 1, 2, C)
        assert tokens.shape == (1, 3, 8)
        np.testing.assert_allclose(
            tokens[0, 0], corners[0, 0, 0] + row("point_embeddings.2.weight"), rtol=0, atol=1e-15
        )
        np.testing.assert_allclose(
            tokens[0, 1], corners[0, 0, 1] + row("point_embeddings.3.weight"), rtol=0, atol=1e-15
        )
        assert np.array_equal(tokens[0, 2], row("not_a_point_embed.weight")), (
            "§6.3: the trailing token is not_a_point_embed exactly"
        )

    def test_spec6_3_hf_sam2_points_then_box_tokens(self, literal):
        """§6.3 and §7 assemble_sparse, profile hf_sam2: points (unpadded, a box is given), then tl, br, nap."""
        labels = np.array([[1, 0, 2, 3, -1, -10]])
        both = encoder("hf_sam2", literal)(POINTS, labels, BOX)["prompt_sparse_embeddings"]
        points_only = encoder("hf_sam2", literal)(POINTS, labels)["prompt_sparse_embeddings"]
        box_only = encoder("hf_sam2", literal)(boxes=BOX)["prompt_sparse_embeddings"]
        assert both.shape == (1, 6 + 3, 8)
        np.testing.assert_allclose(both[:, :6], points_only[:, :6], rtol=0, atol=1e-15)
        np.testing.assert_allclose(both[:, 6:], box_only, rtol=0, atol=1e-15)

    def test_spec6_3_sam2_keeps_two_corner_tokens(self, literal):
        """§6.2 embed_box_corners, profile sam2: no trailing token (Meta sam2 and ultralytics equal sam on boxes)."""
        sam2 = encoder("sam2", literal)(boxes=BOX)["prompt_sparse_embeddings"]
        sam = encoder("sam", literal)(boxes=BOX)["prompt_sparse_embeddings"]
        assert sam2.shape == (1, 2, 8) and np.array_equal(sam2, sam)

    def test_spec7_ort_sam2_empty_prompt_is_the_padding_token_alone(self, literal):
        """§7 and §5.1 with N = 0, profile ort_sam2 (`empty_prompt_points`): no points and no boxes give
        one token per image, exactly not_a_point_embed, at the masks' batch; `sam` gives (B, 0, C)."""
        masks = np.zeros((2, 1, 8, 12))
        for prompts, batch in (({}, 1), ({"masks": masks}, 2)):
            tokens = encoder("ort_sam2", literal)(**prompts)["prompt_sparse_embeddings"]
            assert tokens.shape == (batch, 1, 8), ("§7", prompts.keys(), tokens.shape)
            assert all(np.array_equal(tokens[b, 0], row("not_a_point_embed.weight")) for b in range(batch))
            assert encoder("sam", literal)(**prompts)["prompt_sparse_embeddings"].shape == (batch, 0, 8)

    def test_spec6_3_ort_sam2_equals_hf_sam2_on_boxes_and_sam2_on_points(self, literal):
        """§6.3 and §5.2, profile ort_sam2: a box gives tl, br, not_a_point as under hf_sam2; points are
        padded and labelled as under sam2."""
        labels = np.array([[1, 0, 2, 3, -1, 2]])
        for prompts, same_as in (({"boxes": BOX}, "hf_sam2"), ({"points": POINTS, "labels": labels}, "sam2")):
            ort = encoder("ort_sam2", literal)(**prompts)["prompt_sparse_embeddings"]
            assert np.array_equal(ort, encoder(same_as, literal)(**prompts)["prompt_sparse_embeddings"]), same_as

    def test_spec6_3_trace_keeps_corner_stages_and_three_tokens(self, literal):
        """§11.4 trace, profile hf_sam2: boxes.positional_encoding (B, M, 2, C); boxes.tokens (B, 3M, C)."""
        trace = encoder("hf_sam2", literal).trace(boxes=BOX)
        assert trace["boxes.positional_encoding"].shape == (1, 1, 2, 8)
        assert trace["boxes.tokens"].shape == (1, 3, 8)
        assert np.array_equal(trace["boxes.tokens"], trace["prompt_sparse_embeddings"])


def test_spec6_3_append_box_not_a_point_interleaves_per_box():
    """§6.3 append_box_not_a_point: (B, 2M, C) tl0, br0, tl1, br1 -> (B, 3M, C) tl0, br0, nap, tl1, br1, nap."""
    tokens = np.arange(2 * 4 * 3, dtype=np.float64).reshape(2, 4, 3)
    nap = np.array([[-1.0, -2.0, -3.0]])
    out = append_box_not_a_point(tokens, nap, np)
    assert out.shape == (2, 6, 3)
    for b in range(2):
        assert np.array_equal(out[b, [0, 1, 3, 4]], tokens[b])
        assert np.array_equal(out[b, 2], nap[0]) and np.array_equal(out[b, 5], nap[0])


def test_spec12_1_sam2_profiles_share_sam_layouts_and_padding():
    """§12.1 PROFILES: sam2 and hf_sam2 take sam's layouts and padding rule; only labels and §6.3 differ."""
    sam = PROFILES["sam"]
    for name, rule, trailing in (("sam2", SAM2_LABELS, False), ("hf_sam2", HF_SAM2_LABELS, True)):
        profile = PROFILES[name]
        assert (
            profile.boxes_layout,
            profile.masks_layout,
            profile.channels_last,
            profile.pad_points,
            profile.empty_prompt_batch,
        ) == (sam.boxes_layout, sam.masks_layout, sam.channels_last, sam.pad_points, sam.empty_prompt_batch)
        assert profile.labels == rule and profile.box_trailing_not_a_point is trailing
    assert SAM2_LABELS.allowed == (-1, 0, 1, 2, 3) and HF_SAM2_LABELS.allowed == (-10, -1, 0, 1, 2, 3)


def test_spec12_1_sam2_dense_outputs_equal_sam():
    """§8–§10 under sam2 and hf_sam2: the dense outputs are sam's (a profile changes only the sparse tokens)."""
    masks = np.random.default_rng(0).standard_normal((1, 1, 8, 12))
    want = encoder("sam")(masks=masks)
    for name in ("sam2", "hf_sam2"):
        got = encoder(name)(masks=masks)
        for key in ("prompt_dense_embeddings", "prompt_dense_positional_embeddings"):
            assert np.array_equal(got[key], want[key]), f"{name}: {key}"
