"""The diagnosis's words (docs/diagnosis.md, issue 23.1): every sentence true, ordered by evidence.
Each test builds a buggy port from the reference's own stages and asserts what the diagnosis says."""

import re

import numpy as np
import pytest

from samspec.conformance.cases.store import load_cases
from samspec.conformance.diagnosis.diagnoser import Diagnoser
from samspec.conformance.diagnosis.phase import argument_fit
from samspec.conformance.diagnosis.precision import rounding_pattern
from samspec.conformance.diagnosis.variants import DENSE, DENSE_PE, SPARSE, Variant, VariantAdapter
from samspec.conformance.diagnosis.variants.blocks import replace_stages
from samspec.conformance.harness.check import Checker
from samspec.conformance.profiles.profile import get_profile
from samspec.reference.coordinates import shift_to_pixel_centres
from samspec.reference.positional_encoding import fourier_argument, sinusoids
from samspec.reference.sparse import append_padding_point, assemble_sparse, embed_box_corners

SAM = get_profile("sam")
COUNT = re.compile(r"\((\d+) of (\d+)\)| (\d+) of (\d+) failing outputs")


@pytest.fixture(scope="module")
def cases():
    return load_cases()


def pick(cases, *ids):
    return [c for c in cases if c.id in ids]


def run(port, cases, compute_dtype=None):
    diagnoser = Diagnoser(SAM, compute_dtype=compute_dtype)
    results = Checker(port, SAM, diagnose=diagnoser, dtype=compute_dtype).run(cases)
    return results, diagnoser.reconcile(results, cases)


def bug(name, **recipe):
    return VariantAdapter(Variant(name, f"your port has {name}", "§0", "test", **recipe))


def counts(line):
    found = COUNT.search(line)
    return int(found.group(1) or found.group(3)) if found else 0


class DenseInFloat16(VariantAdapter):
    """A float32 port whose dense embedding is computed in float16 and returned as float32."""

    def __init__(self):
        super().__init__(Variant("dense_float16", "computes in float16", "§11.3", "precision"))

    def build(self, config, params):
        super().build(config, params)
        self.half = self.variant.encoder(config, params, "float16")

    def run(self, points, labels, boxes, masks):
        out = super().run(points, labels, boxes, masks)
        half = self.variant.run(self.config, {}, {"masks": masks}, "float16", encoder=self.half)
        out[DENSE] = half[DENSE].astype(np.float32)
        return out


# -- precision claims (§11.3) ------------------------------------------------------------------------------


def test_a_float32_coordinate_bug_within_the_float16_budget_gets_no_precision_claim(cases):
    """§11.3, words: a logic bug whose error is as small as float16's budget is no precision pattern."""
    shifted = bug("points_shift_by_one", stages=replace_stages(shift_to_pixel_centres=lambda c, xp: c + 1.0))
    results, overall = run(shifted, pick(cases, "seed.points", "seed.points_boxes", "seed.boxes"))
    assert overall is not None and overall["precision"] == 0
    assert "accurate" not in overall["summary"]
    assert not any("float16-accurate" in (r.diagnosis or {}).get("summary", "") for r in results)


def test_a_port_computing_in_float16_is_told_so_unless_it_declares_float32(cases):
    """§11.3, words: the claim where the error is float16 rounding on most outputs; never when the port
    declares it computes in float32."""
    subset = pick(cases, "masks.random", "masks.binary", "masks.cm4", "all.points_boxes_masks", "seed.points")
    _, overall = run(DenseInFloat16(), subset)
    assert overall["lines"][0].startswith("diagnosis: ") and "only float16-accurate" in overall["lines"][0]
    assert overall["section"] == "§11.3" and 2 * overall["precision"] > overall["failing"]
    _, declared = run(DenseInFloat16(), subset, compute_dtype="float32")
    assert declared is None or ("accurate" not in declared["summary"] and declared["precision"] == 0)


def test_the_rounding_pattern_is_rounding_not_a_structured_difference():
    """§11.3, stage diagnosis: float16 rounding of a float32 computation is a rounding pattern; the same
    size of error on a tenth of the elements, or ten times it, is not."""
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(4, 64))
    rounding = truth.astype(np.float16).astype(np.float64) - truth
    port = rounding[::-1]  # another rounding, of the same sizes
    assert rounding_pattern(port, rounding)
    confined = np.zeros_like(rounding)
    confined[0, :6] = 10 * np.abs(rounding).max()
    assert not rounding_pattern(confined, rounding)
    assert not rounding_pattern(10 * rounding, rounding)
    assert not rounding_pattern(rounding / 1000, rounding)


def test_the_right_sinusoids_of_a_scaled_argument_are_no_rounding():
    """§4.1, stage diagnosis: the phase error of each (sin, cos) pair is recoverable; float16 rounding of
    the argument gives errors of random sign that no line describes, a scaled constant a line in A."""
    argument = np.random.default_rng(1).normal(scale=20.0, size=(40, 16))
    reference = sinusoids(argument, np)
    rounded = sinusoids(argument.astype(np.float16).astype(np.float64), np)
    assert argument_fit(rounded, reference, argument) is None
    scaled = argument_fit(sinusoids(argument * (1 + 3e-4), np), reference, argument)
    assert scaled is not None and abs(scaled.kappa - 3e-4) < 1e-6 and "(§4.1)" in scaled.line("grid's features")


def _argument_times(factor):
    return lambda u, g, xp: factor * fourier_argument(u, g, xp)


def test_a_scaled_fourier_constant_gets_no_precision_claim_and_no_rounding_variant(cases):
    """§4.1, words: 2 pi written as 6.2813 (a scaled argument, within float16's budget and the size of
    `gaussian_float16`'s rounding) is neither a precision problem nor the Gaussian matrix in float16."""
    scaled = bug("two_pi_short", stages=replace_stages(fourier_argument=_argument_times(6.2813 / (2 * np.pi))))
    subset = pick(cases, "seed.points", "points.many", "labels.all_values", "empty.portrait", "boxes.with_points")
    results, overall = run(scaled, subset)
    assert overall["precision"] == 0 and "accurate" not in overall["summary"]
    assert overall["explained"] == [] and "gaussian_float16" not in overall["summary"]
    assert overall["section"] == "§4.1"
    grid = next(r for r in results if r.verdict == "fail" and r.output != SPARSE)
    assert "off by" in grid.diagnosis["localisation"][0] and grid.diagnosis["localisation"][0].endswith("(§4.1)")


def _cosines_negated(argument, xp):
    features = sinusoids(argument, xp)
    half = features.shape[-1] // 2
    return xp.concat([features[..., :half], -features[..., half:]], axis=-1)


def test_one_half_of_the_features_right_points_to_the_sinusoids_not_the_argument(cases):
    """§4.2, stage localisation: the sines agree and the cosines differ (negated), so the argument both
    share (§4.1) is right; tokens at one position (a degenerate box's corners) give no "same vector"."""
    negated = bug("cosines_negated", stages=replace_stages(sinusoids=_cosines_negated))
    results, overall = run(negated, pick(cases, "seed.points", "boxes.degenerate", "empty.portrait"))
    assert overall["section"] == "§4.2" and len(overall["lines"]) == 1
    degenerate = next(r for r in results if r.case == "boxes.degenerate" and r.output == SPARSE)
    words = " ".join(degenerate.diagnosis["localisation"])
    assert "same vector" not in words and "§6.2" not in words and "the sine halves of the features agree" in words


# -- the whole run's order ---------------------------------------------------------------------------------


def _sparse_plus(outputs, inputs, config):
    out = dict(outputs)
    out[SPARSE] = out[SPARSE] + 0.25
    return out


def test_summary_lines_are_ordered_by_outputs_covered_and_both_causes_are_counted(cases):
    """§5 and §9.3, words: a sparse bug no variant explains covers more outputs than the mask path's tanh
    GELU (a known variant); both are named with their counts, the larger first, and the JSON section is
    the first line's."""
    two = bug("sparse_offset_and_tanh_gelu", activation="gelu_tanh", outputs=_sparse_plus)
    subset = pick(cases, "seed.points", "points.many", "labels.all_values", "masks.random", "boxes.only")
    _, overall = run(two, subset)
    lines = overall["lines"]
    assert len(lines) >= 2
    assert lines[0].startswith("diagnosis: no known variant explains")
    assert any("`tanh_gelu`" in line for line in lines[1:])
    numbers = [counts(line) for line in lines if counts(line)]
    assert numbers == sorted(numbers, reverse=True) and len(numbers) >= 2
    assert overall["section"] and overall["section"] in lines[0]


def test_sparse_and_grid_failing_together_name_the_earliest_stage_they_share(cases):
    """§4.1, words: one Fourier-argument bug shows in the sparse tokens and the dense grid: the summary
    names the stage both outputs come from."""
    three_pi = bug(
        "three_pi", stages=replace_stages(fourier_argument=lambda u, g, xp: 1.5 * fourier_argument(u, g, xp))
    )
    _, overall = run(three_pi, pick(cases, "seed.points", "points.many", "masks.random", "empty.portrait"))
    assert "the earliest stage they share is fourier_argument (§4.1)" in overall["lines"][0]
    assert overall["section"] == "§4.1"


# -- localisation words ------------------------------------------------------------------------------------


def _top_left_moved(coords, xp):
    shifted = shift_to_pixel_centres(coords, xp)
    return shifted + xp.asarray([[3.0, 0.0], [0.0, 0.0]]) if coords.ndim == 4 else shifted


def test_a_single_token_never_differs_by_one_same_vector(cases):
    """§6.1, stage localisation: one box's top-left corner read 3 pixels off; a group of one token gives
    no "same vector" claim (always true for one token), so no embedding row is blamed (§6.2)."""
    moved = bug("top_left_moved", stages=replace_stages(shift_to_pixel_centres=_top_left_moved))
    results, _ = run(moved, pick(cases, "boxes.border"))
    row = next(r for r in results if r.output == SPARSE and r.verdict == "fail")
    words = " ".join(row.diagnosis["localisation"])
    assert "same vector" not in words and "§6.2" not in words and "positional" in words


def _first_prompt_everywhere(outputs, inputs, config):
    out = dict(outputs)
    out[SPARSE] = np.ascontiguousarray(np.broadcast_to(out[SPARSE][:1], out[SPARSE].shape))
    return out


def test_a_batch_where_images_get_another_images_tokens_is_a_batching_pattern(cases):
    """§11.1, stage localisation: every image gets the first image's sparse tokens."""
    first = bug("first_prompt_everywhere", outputs=_first_prompt_everywhere)
    results, overall = run(first, pick(cases, "points.mixed_batch", "labels.all_values"))
    row = next(r for r in results if r.output == SPARSE and r.verdict == "fail")
    assert "each equal to another image's expected sparse tokens" in row.diagnosis["localisation"][0]
    assert "image 1 has image 0's" in row.diagnosis["localisation"][0]
    assert overall["section"] == "§11.1"


def _no_points_with_boxes(point_tokens, box_tokens, batch, hidden_size, dtype, xp):
    return assemble_sparse(None if box_tokens is not None else point_tokens, box_tokens, batch, hidden_size, dtype, xp)


def test_a_shape_mismatch_names_the_missing_tokens_and_the_present_ones(cases):
    """§7, stage localisation: a port that drops its point tokens when a box is given; its box tokens are
    present (matched against every expected token, not in order)."""
    dropped = bug("no_points_with_boxes", stages=replace_stages(assemble_sparse=_no_points_with_boxes))
    results, _ = run(dropped, pick(cases, "boxes.with_points"))
    row = next(r for r in results if r.output == SPARSE and r.verdict == "fail")
    line = row.diagnosis["localisation"][0]
    assert "tokens where 6 are expected: missing label" in line and "the others are present (§7)" in line
    assert "not found in order" not in line


def _rows_rotated(params):
    rotated = dict(params)
    for i in range(4):
        rotated[f"point_embeddings.{i}.weight"] = params[f"point_embeddings.{(i + 1) % 4}.weight"]
    return rotated


def test_a_variant_that_the_failing_outputs_refute_is_not_named(cases):
    """§5.2, words: a port that loads point_embeddings.i from row i + 1 matches `labels_swapped` where only
    label 0 appears (label 0 gets the foreground row), but every output with label 1 or a box refutes it:
    no known variant is named."""
    rotated = bug("rows_rotated", params=_rows_rotated)
    subset = pick(
        cases, "labels.background", "labels.foreground", "labels.foreground.square", "points.mixed_batch", "boxes.only"
    )
    _, overall = run(rotated, subset)
    assert overall["explained"] == [] and "`labels_swapped`" not in overall["summary"]


def _boxes_sorted(inputs, config):
    prompt = dict(inputs)
    if prompt.get("boxes") is not None:
        boxes = np.asarray(prompt["boxes"])
        prompt["boxes"] = np.concatenate(
            [np.minimum(boxes[..., :2], boxes[..., 2:]), np.maximum(boxes[..., :2], boxes[..., 2:])], -1
        )
    return prompt


def test_box_corners_that_differ_without_points_while_points_pass_point_to_the_corners(cases):
    """§6.1, words: a port that reorders each box to (min, min, max, max) fails only box-only cases; the
    cases with points pass, so the shared shift and normalisation (§3) are right: the corners (§6.1)."""
    sorted_boxes = bug("boxes_sorted", inputs=_boxes_sorted)
    _, overall = run(sorted_boxes, pick(cases, "boxes.reversed", "labels.foreground", "points.many", "boxes.only"))
    assert overall["section"] == "§6.1" and overall["lines"][0].endswith("(§6.1)")
    assert "cases with points encode their points right" in overall["lines"][0] and "(§3)" not in overall["summary"]


def _labels_of_first_image(inputs, config):
    prompt = dict(inputs)
    prompt["labels"] = np.ascontiguousarray(np.broadcast_to(prompt["labels"][:1], prompt["labels"].shape))
    return prompt


def test_tokens_given_another_labels_row_are_told_which_known_rows_they_carry(cases):
    """§5.2, stage localisation: every image's tokens take the first image's labels; the differing tokens
    each equal a known row (with or without their positional encoding), so no "not a known row"."""
    first_labels = bug("labels_of_first_image", inputs=_labels_of_first_image)
    results, overall = run(first_labels, pick(cases, "points.mixed_batch"))
    row = next(r for r in results if r.output == SPARSE and r.verdict == "fail")
    words = " ".join(row.diagnosis["localisation"])
    assert "not a known row" not in words and "no known row" not in words
    assert "each equal to what another label gives: the positional encoding + point_embeddings.1" in words
    assert overall["section"] == "§5.2"


def _boxes_xxyy(inputs, config):
    prompt = dict(inputs)
    if prompt.get("boxes") is not None:
        prompt["boxes"] = np.ascontiguousarray(np.asarray(prompt["boxes"])[..., [0, 2, 1, 3]])
    return prompt


def test_a_traced_box_stage_departing_while_points_agree_points_to_the_corners(cases):
    """§6.1, words with the trace: boxes read as (x1, x2, y1, y2) depart at the first traced box stage
    (boxes.shifted, §3.1) while the cases with points pass: the summary leads with the corners (§6.1)."""
    from samspec.conformance.selftest.ports import TracedVariantAdapter

    port = TracedVariantAdapter(
        Variant("boxes_xxyy", "reads boxes as x1, x2, y1, y2", "§6.1", "test", inputs=_boxes_xxyy)
    )
    diagnoser = Diagnoser(SAM)
    subset = pick(cases, "boxes.only", "boxes.with_points", "labels.foreground", "points.many")
    results = Checker(port, SAM, diagnose=diagnoser, trace="failing").run(subset)
    assert any((r.trace or {}).get("first_departing") == "boxes.shifted" for r in results if r.verdict == "fail")
    overall = diagnoser.reconcile(results, subset)
    assert overall["section"] == "§6.1" and "the box corners are read or changed" in overall["lines"][0]


def _no_mask_hw_swapped(outputs, inputs, config):
    out = dict(outputs)
    if inputs.get("masks") is None:
        out[DENSE] = np.ascontiguousarray(np.swapaxes(out[DENSE], 2, 3))
    return out


def test_a_transposed_no_mask_embedding_points_to_the_no_mask_embedding(cases):
    """§10, stage localisation: the dense output (B, C, w, h) of a case without a mask is no_mask_embed's
    broadcast (§10), not the mask convolution (§9.1)."""
    swapped = bug("no_mask_hw_swapped", outputs=_no_mask_hw_swapped)
    results, overall = run(swapped, pick(cases, "labels.foreground", "masks.random"))
    row = next(r for r in results if r.output == DENSE and r.verdict == "fail")
    assert row.diagnosis["localisation"][0].endswith("(§10)") and overall["section"] == "§10"


class WholeInFloat16(VariantAdapter):
    """A float32 port that computes every stage in float16 and returns float32 outputs."""

    def __init__(self):
        super().__init__(Variant("whole_float16", "computes in float16", "§11.3", "precision"))

    def build(self, config, params):
        super().build(config, params)
        self.half = self.variant.encoder(config, params, "float16")

    def run(self, points, labels, boxes, masks):
        prompt = {"points": points, "labels": labels, "boxes": boxes, "masks": masks}
        half = self.variant.run(
            self.config, {}, {k: v for k, v in prompt.items() if v is not None}, "float16", encoder=self.half
        )
        return {k: v.astype(np.float32) for k, v in half.items()}


def test_a_port_computing_everything_in_float16_is_told_so_not_that_its_encoding_alone_rounds(cases):
    """§11.3, words: the positional outputs match `pe_float16` (true of that stage alone), the dense ones
    no variant; all are float16 rounding, so the claim covers every output and no variant is named."""
    subset = pick(cases, "seed.points", "labels.all_values", "masks.random", "masks.binary", "points.many")
    results, overall = run(WholeInFloat16(), subset)
    assert "only float16-accurate" in overall["lines"][0] and overall["section"] == "§11.3"
    assert overall["precision"] == overall["failing"] and overall["explained"] == []
    assert all(r.diagnosis["verdict"] == "precision" for r in results if r.verdict == "fail")


def _points_of_previous_image(inputs, config):
    prompt = dict(inputs)
    prompt["points"] = np.ascontiguousarray(np.roll(prompt["points"], 1, axis=0))
    return prompt


def test_tokens_carrying_another_images_positions_are_a_batching_pattern(cases):
    """§11.1, stage localisation: each image's points are encoded from the previous image's coordinates
    with its own labels: every differing token carries another image's positional encoding."""
    rolled = bug("points_of_previous_image", inputs=_points_of_previous_image)
    results, overall = run(rolled, pick(cases, "points.mixed_batch", "labels.foreground"))
    row = next(r for r in results if r.output == SPARSE and r.verdict == "fail")
    assert any("the points are mixed up across the batch (§11.1)" in line for line in row.diagnosis["localisation"])
    assert overall["section"] == "§11.1"


def _no_mask_channels_last_reshaped(outputs, inputs, config):
    out = dict(outputs)
    if inputs.get("masks") is None:
        dense = out[DENSE]
        out[DENSE] = np.ascontiguousarray(np.transpose(dense, (0, 2, 3, 1)).reshape(dense.shape))
    return out


def test_a_variant_followed_for_some_inputs_only_is_led_by_where_those_outputs_are(cases):
    """§10, words: no_mask_embed broadcast channels-last and reshaped; the mask cases pass, so
    `channels_last_reshaped` (§11.2) holds for the no-mask dense outputs only: the line leads with §10."""
    reshaped = bug("no_mask_channels_last_reshaped", outputs=_no_mask_channels_last_reshaped)
    _, overall = run(reshaped, pick(cases, "labels.foreground", "points.many", "masks.random", "masks.binary"))
    assert overall["lines"][0].startswith("diagnosis: 2 of 2 failing outputs point to §10")
    assert "`channels_last_reshaped`" in overall["lines"][0] and overall["section"] == "§10"


def _bottom_right_gets_both(corner_pe, top_left, bottom_right, xp):
    return embed_box_corners(corner_pe, top_left, top_left + bottom_right, xp)


def test_box_tokens_with_a_row_that_is_no_known_row_point_to_the_corner_embeddings(cases):
    """§6.2, stage localisation: the bottom-right corner tokens get both corner rows; what is added to
    their positional encoding is no known row, and it is the corners' embedding (§6.2), not a label's."""
    both = bug("bottom_right_gets_both", stages=replace_stages(embed_box_corners=_bottom_right_gets_both))
    results, overall = run(both, pick(cases, "boxes.border", "all.batch_one"))
    lines = [line for r in results if r.verdict == "fail" for line in r.diagnosis["localisation"]]
    assert any(line.endswith("the corner embedding differs (§6.2)") for line in lines)
    assert not any("label embedding differs" in line for line in lines) and overall["section"] == "§6.2"


def _conv3_input_channels_reversed(params):
    scrambled = dict(params)
    scrambled["mask_downscaling.6.weight"] = params["mask_downscaling.6.weight"][:, ::-1].copy()
    return scrambled


def test_a_spatially_constant_mask_gives_no_per_channel_offset_claim(cases):
    """§9.4, stage localisation: a scrambled 1x1 convolution weight on a constant mask makes every
    channel constant over the pixels whatever the bug: no "per-channel offset (a bias)" is claimed there."""
    scrambled = bug("conv3_input_channels_reversed", params=_conv3_input_channels_reversed)
    results, _ = run(scrambled, pick(cases, "masks.constant"))
    row = next(r for r in results if r.output == DENSE and r.verdict == "fail")
    assert not any("offset" in line for line in row.diagnosis["localisation"])


def _to_bfloat16(values):
    """Round float32 values to bfloat16's 8 significant bits (round to nearest even), kept as float32."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)
    return rounded.view(np.float32)


def _grid_in_bfloat16(outputs, inputs, config):
    out = dict(outputs)
    out[DENSE_PE] = _to_bfloat16(out[DENSE_PE])
    return out


def test_bfloat16_rounding_of_the_grid_is_not_called_other_sinusoids(cases):
    """§4.2, stage localisation: a grid rounded to bfloat16 in a port that declares float32 moves each
    sin/cos pair off the unit circle by its rounding only: no "not sin/cos pairs" claim (§4.2)."""
    rounded = bug("grid_in_bfloat16", outputs=_grid_in_bfloat16)
    results, _ = run(rounded, pick(cases, "seed.points", "labels.foreground"), compute_dtype="float32")
    rows = [r for r in results if r.output == DENSE_PE and r.verdict == "fail"]
    assert rows and not any("not sin/cos pairs" in line for r in rows for line in r.diagnosis["localisation"])


def _sparse_squeezed(outputs, inputs, config):
    out = dict(outputs)
    out[SPARSE] = out[SPARSE][0] if out[SPARSE].shape[0] == 1 else out[SPARSE]
    return out


def test_an_output_without_its_batch_axis_of_one_is_a_layout_of_the_outputs(cases):
    """§11.2, stage localisation: a batch of one returns its sparse tokens as (N, C): the expected tokens
    without their batch axis, not a token assembly (§7)."""
    squeezed = bug("sparse_squeezed", outputs=_sparse_squeezed)
    _, overall = run(squeezed, pick(cases, "labels.foreground", "seed.points"))
    assert overall["section"] == "§11.2" and "without their batch axis of 1 (§11.2)" in overall["lines"][0]


def _grid_of_half_size(outputs, inputs, config):
    out = dict(outputs)
    out[DENSE_PE] = np.ascontiguousarray(out[DENSE_PE][:, :, ::2, ::2])
    return out


def test_a_grid_of_another_size_is_built_for_another_configuration(cases):
    """§8.2, stage localisation: a dense positional grid of another (h, w), not the expected one
    transposed, depends on the configuration only: it is built for another configuration (§8.2)."""
    halved = bug("grid_of_half_size", outputs=_grid_of_half_size)
    _, overall = run(halved, pick(cases, "labels.foreground", "seed.points"))
    assert overall["section"] == "§8.2" and "built for another configuration (§8.2)" in overall["lines"][0]


def _conv1_bias_dropped(params):
    dropped = dict(params)
    dropped["mask_downscaling.0.bias"] = np.zeros_like(params["mask_downscaling.0.bias"])
    return dropped


def test_every_failing_output_keeps_a_summary_line_beside_the_trace_line(cases):
    """§9.1, words with the trace: a default check traces a few failing mask cases; the outputs left
    untraced keep their own line (§9) once the trace's line closes the summary."""
    from samspec.conformance.harness.stages import with_trace_summary
    from samspec.conformance.selftest.ports import TracedVariantAdapter

    port = TracedVariantAdapter(
        Variant("conv1_bias_dropped", "drops conv1's bias", "§9.1", "test", params=_conv1_bias_dropped)
    )
    subset = [c for c in cases if c.inputs.get("masks") is not None]
    diagnoser = Diagnoser(SAM)
    results = Checker(port, SAM, diagnose=diagnoser, trace="failing").run(subset)
    overall = diagnoser.reconcile(results, subset)
    assert 0 < sum(r.trace is not None for r in results if r.verdict == "fail") < overall["failing"]
    shown = with_trace_summary(overall, results)
    covered = sum(counts(line) for line in shown["lines"] if not line.startswith("trace:"))
    assert covered == shown["failing"] and any("(§9" in line for line in shown["lines"][:-1])


def test_cases_whose_points_carry_no_position_say_nothing_about_the_corners(cases):
    """§6.1, words: a passing case whose points all have label -1 (no positional encoding, §5.2) does
    not show the shared shift and normalisation right: box-only differences stay at the coordinates (§3)."""
    sorted_boxes = bug("boxes_sorted", inputs=_boxes_sorted)
    _, overall = run(sorted_boxes, pick(cases, "boxes.reversed", "labels.not_a_point"))
    assert "cases with points encode their points right" not in overall["summary"] and overall["section"] == "§3"


def test_a_variant_refuted_by_failing_outputs_only_is_not_said_to_fail_passing_ones():
    """§12.2, words: a variant followed for some inputs only that no passing output refutes (the failing
    outputs it changes otherwise do) is never said to "fail 0 output(s) that pass"."""
    from samspec.conformance.diagnosis import wording
    from samspec.conformance.diagnosis.records import Cause

    cause = Cause("grid_xy_swapped", 33, "your grid stacks (y, x)", "§8.1", [], contradicts=0)
    line = wording.in_part(cause, 33, [])
    assert "0 output(s)" not in line and "changes other failing outputs" in line
    refuted = Cause("grid_xy_swapped", 33, "your grid stacks (y, x)", "§8.1", [], contradicts=2)
    assert "would also fail 2 output(s) that pass" in wording.in_part(refuted, 33, [])


def _padding_prepended(coords, labels, xp):
    padded, padded_labels = append_padding_point(coords, labels, xp)
    return xp.roll(padded, 1, axis=1), xp.roll(padded_labels, 1, axis=1)


def test_tokens_that_each_equal_another_expected_token_are_the_token_order(cases):
    """§7, stage localisation: the padding point put before the points shifts every token by one; where the
    tokens are no permutation of the expected ones, each differing token still equals another expected one."""
    prepended = bug("padding_prepended", stages=replace_stages(append_padding_point=_padding_prepended))
    results, overall = run(prepended, pick(cases, "points.mixed_batch", "points.many", "labels.all_values"))
    assert overall["section"] == "§7" and "no known row" not in overall["summary"]
    assert not any("not a known row" in line for r in results if r.diagnosis for line in r.diagnosis["localisation"])


def _dense_through_float32(outputs, inputs, config):
    out = dict(outputs)
    if inputs.get("masks") is not None:
        out[DENSE] = out[DENSE].astype(np.float32).astype(np.float64)
    return out


def test_a_float64_port_whose_positional_outputs_are_float64_accurate_is_not_told_it_computes_in_float32(cases):
    """§11.3, words: a float64 port whose mask path alone loses float64 accuracy (an approximation, a float32
    step) passes its grid in float64: it does not compute in float32, so no "only float32-accurate" claim."""
    port = VariantAdapter(
        Variant("dense_through_float32", "x", "§9", "test", outputs=_dense_through_float32), "float64"
    )
    results, overall = run(port, pick(cases, "masks.random", "masks.binary", "all.points_boxes_masks"))
    assert overall is not None and overall["precision"] == 0 and "float32-accurate" not in overall["summary"]
    assert any(r.output == DENSE_PE and r.verdict == "pass" for r in results)


def _sparse_stored_in_float16(outputs, inputs, config):
    out = dict(outputs)
    out[SPARSE] = out[SPARSE].astype(np.float16).astype(np.float32)
    return out


def test_tokens_equal_to_a_row_rounded_to_float16_point_to_the_dtype(cases):
    """§11.3, stage localisation: sparse tokens stored in float16 by a port declaring float32: the
    not-a-point tokens equal not_a_point_embed rounded to float16, not "no known row" (§5.2)."""
    stored = bug("sparse_stored_in_float16", outputs=_sparse_stored_in_float16)
    results, overall = run(stored, pick(cases, "labels.not_a_point", "seed.points"), compute_dtype="float32")
    lines = [line for r in results if r.verdict == "fail" for line in r.diagnosis["localisation"]]
    assert any("not_a_point_embed rounded to float16 (§11.3)" in line for line in lines)
    assert "no known row" not in overall["lines"][0]
