"""Spec §3: from pixel coordinates to the unit square."""

from __future__ import annotations


def shift_to_pixel_centres(coords, xp):
    """Spec §3.1, the pixel-centre shift.

        p' = p + 0.5                                   coords: (..., 2) -> (..., 2)

    A pixel index names the pixel's top-left corner; adding one half moves the point to the
    centre of that pixel, so pixel (0, 0) and pixel (W-1, H-1) sit symmetrically inside the image.
    """
    return coords + 0.5


def normalise_coordinates(coords, input_image_size, xp):
    """Spec §3.2, normalisation by the input image size.

        u = (x / W, y / H)        coords: (..., 2) as (x, y) -> u: (..., 2) in [0, 1] inside the image

    ``input_image_size`` is (H, W), height first; x is divided by the width and y by the height.
    Points outside the image map outside [0, 1]; nothing is clipped.
    """
    height, width = input_image_size
    size_xy = xp.asarray([float(width), float(height)], dtype=coords.dtype)
    return coords / size_xy
