"""The fast compositions: what ``SAMPromptEncoder.__call__`` runs instead of the teaching composition.

The teaching composition (``SAMPromptEncoder.compose`` in encoder.py) calls every stage of the
spec in order, one call per stage. It has three parts, and this module has one fast form of each:

    part              teaching composition (encoder.py)             fast form (here)
    sparse_tokens     §3.1, §5.1, §3.2, §4, §5.2, §6, §7 per part    ``sparse_tokens``: every token in one pass
    positional_grid   §8.1, §4.1, §8.2 on h*w cell centres           ``positional_grid``: separable, h + w sinusoids
    dense_embedding   §9 (or §10)                                    ``dense_embedding``: on NumPy window_order.py's
                                                                     form, on two lanes (``two_lanes``)

``choose`` is the one switch: it gives each part its fast form unless the encoder was built with
``fast=False`` or one of the stages the part composes was replaced (``stages=``): a replaced stage
must be called, so its part runs the teaching composition. Each function below states why it
equals the teaching composition; tests/test_fast_paths.py checks the equality (float64, 1e-12 of
scale) on every fixture case and on hypothesis-generated prompts.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Collection
from functools import partial
from types import SimpleNamespace
from typing import Any

from .. import registry
from ..backend import namespace_name
from ..coordinates import shift_to_pixel_centres
from ..masks import no_mask_embedding
from ..positional_encoding import grid_axes
from ..sparse import append_padding_point, assemble_sparse
from .channels_first import downscale_mask_channels_first
from .label_table import sparse_embeddings
from .separable_grid import fourier_features_on_grid
from .window_order import MaskDownscaler

# part -> the stages its teaching composition calls (reference/registry.py); a replaced one sends the part there
PART_STAGES = {part: {stage.name for stage in registry.STAGES if part in stage.parts} for part in registry.PART_NAMES}


def choose(encoder: Any, fast: bool, replaced: Collection[str]) -> SimpleNamespace:
    """The one switch: for each part, its fast form (bound to ``encoder``) or the teaching one."""
    forms = {}
    for part, stages in PART_STAGES.items():
        if fast and not stages & set(replaced):
            forms[part] = partial(globals()[part], encoder)
        else:
            forms[part] = getattr(encoder, part)
    return SimpleNamespace(**forms)


def sparse_tokens(enc, points, labels, boxes, batch):
    """Spec §3–§7: the sparse embeddings, every token in one pass (``sparse_embeddings``).

    Why this equals the teaching composition: §3.1 and §5.1 are the same calls; from §3.2 on,
    see ``sparse_embeddings``.
    """
    xp, conv = enc.xp, enc.semantics
    if points is None and boxes is None:
        return assemble_sparse(None, None, batch, enc.hidden_size, enc.dtype, xp)  # §7: (B, 0, C)
    coords = corners = None
    if points is not None:
        coords = shift_to_pixel_centres(points, xp)  # §3.1
        if conv.pad_points and boxes is None:
            coords, labels = append_padding_point(coords, labels, xp)  # §5.1
    if boxes is not None:
        corners = shift_to_pixel_centres(boxes, xp)  # §6.1, §3.1
    keep_table, embed_table = enc._token_table
    return sparse_embeddings(
        coords,
        labels,
        corners,
        keep_table,
        embed_table,
        conv.labels,
        enc.params["pe_layer.positional_encoding_gaussian_matrix"],
        enc.input_image_size,
        xp,
        box_trailing_not_a_point=conv.box_trailing_not_a_point,
    )


def positional_grid(enc):
    """Spec §8: the dense positional grid (h, w, C), a channels-last view of a (C, h, w) array.

    Why this equals the teaching composition (§8.1 cell centres, §4.1, §4.2 at each): the
    argument at cell (i, j) is a column term plus a row term, so ``fourier_features_on_grid``
    gets every channel from h + w sines and cosines by the angle-addition formulas (its
    docstring; ~1e-14 in float64). Channels first, it is already §11.2's (1, C, h, w) layout.
    """
    x, y = grid_axes(enc.image_embedding_size, enc.dtype, enc.xp)
    grid = fourier_features_on_grid(
        x,
        y,
        enc.params["pe_layer.positional_encoding_gaussian_matrix"],
        enc.xp,
    )
    return enc.xp.permute_dims(grid, (1, 2, 0))


def dense_embedding(enc, masks, batch):
    """Spec §9 (a mask) or §10 (none): the dense embedding (B, h, w, C).

    Why this equals the teaching composition: on NumPy, window_order.py's form of
    ``downscale_mask`` (its module docstring: the pixels in window order and the biases in the
    products, each exact in real arithmetic), with the
    activation's fast form (``normal_tail.fast_activation``: the exact GELU from the normal upper
    tail, within a few machine epsilons of the definition), its chunks of images on two lanes
    (``two_lanes``: each chunk writes its own slice of the output, so the order does not matter).
    Other namespaces run ``downscale_mask`` itself, the whole batch at once.
    """
    if masks is None:
        return no_mask_embedding(enc.params["no_mask_embed.weight"], batch, enc.image_embedding_size, enc.xp)  # §10
    if namespace_name(enc.xp) != "numpy":  # a device wants few, large kernels: the whole batch at once
        return downscale_mask_channels_first(masks, enc.params, enc._fast_activation, enc.xp, eps=enc.layer_norm_eps)
    downscaler = MaskDownscaler(masks, enc.params, enc._fast_activation, enc.layer_norm_eps)  # §9
    two_lanes(downscaler.first_layer, downscaler.features, downscaler.project, downscaler.chunks)
    return downscaler.dense()


IN_FLIGHT = 4  # two_lanes: at most this many chunks' ``last`` queued on the worker
AHEAD = 2  # two_lanes: the worker runs ``first`` this many chunks ahead


def two_lanes(first, middle, last, items):
    """For each item: ``last(item, middle(first(item)))``, with ``middle`` on this thread and
    ``first`` and ``last`` on one worker thread, so that the two run at once (the worker prepares
    the next chunk and finishes the previous one); on one usable core, or without threadpoolctl,
    all on this thread.

    In the mask path, ``middle`` is the elementwise stages (and one small product), ``first`` the
    gather and the first convolution, ``last`` the 1x1 convolution, one large matrix product.
    NumPy releases the GIL in all of them, and threadpoolctl holds OpenBLAS at one thread while
    they run (restored on exit), so each lane has a core. All the elementwise work stays on one
    thread: two threads that both run short elementwise passes mostly wait for each other's GIL
    (measured: no faster than one). Each chunk writes its own slice of the output, so the result
    is the same in any order.
    """
    items = list(items)
    lanes = worker_pool() if usable_cores() >= 2 and len(items) >= 2 else None
    if lanes is None:
        for item in items:
            last(item, middle(first(item)))
        return
    _, blas, worker = lanes
    pending: list = []
    prepared: deque = deque()
    with blas.limit(limits=1, user_api="blas"):
        try:
            for item in items[:AHEAD]:
                prepared.append(worker.submit(first, item))
            for index, item in enumerate(items):
                done = prepared.popleft().result()
                if index + AHEAD < len(items):  # queued before this item's ``last``: ready when needed
                    prepared.append(worker.submit(first, items[index + AHEAD]))
                features = middle(done)
                while len(pending) >= IN_FLIGHT:  # bound the features held in memory
                    pending.pop(0).result()
                pending.append(worker.submit(last, item, features))
            for future in pending:
                future.result()
        finally:  # nothing of this call still runs when it returns or raises
            for future in [*pending, *prepared]:
                future.exception()


_POOL: dict[str, Any] = {}  # the worker threads and the BLAS thread controller, made on first use


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def chunk_map(xp, images):
    """How W4's sweep (``samspec bench``) runs its chunks: on NumPy with two or more chunks and
    cores, on a pool of one thread per core, with one BLAS thread each; else one after the other
    (``map``). (The mask path's chunks run on ``two_lanes`` instead.)

    NumPy's elementwise loops and matrix products release the GIL, so the threads run at once;
    ``threadpoolctl`` sets OpenBLAS to one thread while the chunks run (the cores are taken by
    the chunks) and restores the setting on exit, so nothing global outlives the call.
    """
    workers = min(usable_cores(), images)
    if namespace_name(xp) != "numpy" or workers < 2:
        return map
    if worker_pool() is None:  # threadpoolctl missing: one chunk after the other, BLAS untouched
        return map

    def run(fill, starts):
        pool, blas, _ = worker_pool()
        with blas.limit(limits=1, user_api="blas"):
            return list(pool.map(fill, starts))

    return run


def worker_pool():
    """(a pool of one thread per usable core, the BLAS thread controller, one more worker thread
    for ``two_lanes``), made on first use in this process; None without threadpoolctl."""
    if _POOL.get("pid") != os.getpid():  # first use, or a forked child: the parent's threads are not in it
        from concurrent.futures import ThreadPoolExecutor

        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            return None
        _POOL.update(
            pid=os.getpid(),
            blas=ThreadpoolController(),
            pool=ThreadPoolExecutor(max_workers=usable_cores(), thread_name_prefix="samspec-chunks"),
            lane=ThreadPoolExecutor(max_workers=1, thread_name_prefix="samspec-lane"),
        )
    return _POOL["pool"], _POOL["blas"], _POOL["lane"]
