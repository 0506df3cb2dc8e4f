"""Pure batch transforms behind :class:`skcv.augment.ImageAugmenter`.

Every function works on a whole batch of images of shape
``(n_images, height, width, channels)`` at once; nothing loops over images in
Python. The geometric transforms (horizontal flip, rotation about the image
centre, integer shift) are composed into one inverse affine map per image and
resampled in a single compiled pass, so a rotated and shifted image is
interpolated once, not twice.

Map convention: output pixel ``(i, j)`` (row, column) takes its value from the
source position ``(y, x)`` with::

    y = m[0] * i + m[1] * j + m[2]
    x = m[3] * i + m[4] * j + m[5]
"""

from contextlib import contextmanager

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

from ._threading import _kernel_launch

__all__ = ["affine_maps", "intensity_jitter", "pixel_range", "saturate_cast", "warp"]


def pixel_range(dtype):
    """Span of pixel values that the strengths are fractions of.

    255 for integer images (which hold 0..255 when they are uint8), 1.0 for
    float images (taken to lie in [0, 1]).
    """
    return 255.0 if np.dtype(dtype).kind in "iu" else 1.0


def affine_maps(n_images, image_shape, *, flip=None, shift=None, angle=None):
    """Inverse affine maps of flip, then rotation, then shift, one per image.

    Forward, image ``k`` is first mirrored left-right when ``flip[k]``, then
    rotated by ``angle[k]`` degrees counter-clockwise about its centre
    ``((H - 1) / 2, (W - 1) / 2)`` (the convention of
    :func:`scipy.ndimage.rotate`), then moved by ``shift[k] = (dy, dx)``
    pixels, down and right (the convention of :func:`scipy.ndimage.shift`).

    Parameters
    ----------
    n_images : int
        Number of maps.
    image_shape : tuple of int
        ``(H, W)`` or ``(H, W, C)``.
    flip : ndarray of bool of shape (n_images,), default=None
        Which images to mirror; None mirrors none.
    shift : ndarray of shape (n_images, 2), default=None
        Integer offsets ``(dy, dx)``; None means no shift.
    angle : ndarray of shape (n_images,), default=None
        Rotation angles in degrees; None means no rotation.

    Returns
    -------
    maps : ndarray of shape (n_images, 6)
        The inverse maps, in the convention of the module docstring. With no
        rotation every entry is an integer, which :func:`warp` resamples
        exactly.
    """
    height, width = image_shape[:2]
    flip = np.zeros(n_images, bool) if flip is None else np.asarray(flip, bool)
    shift = np.zeros((n_images, 2)) if shift is None else np.asarray(shift, float)
    angle = np.zeros(n_images) if angle is None else np.asarray(angle, float)
    maps = np.empty((n_images, 6))
    # One compiled pass: in NumPy the dozen whole-array steps took 1 ms for
    # 10,000 images, a twentieth of a 2-thread fit_resample that could not be
    # split between the threads.
    _affine_maps_kernel(flip, shift, angle, height, width, maps)
    return maps


@numba.njit(cache=True)
def _affine_maps_kernel(flip, shift, angle, height, width, maps):
    cy, cx = (height - 1) / 2, (width - 1) / 2
    for k in range(maps.shape[0]):
        theta = np.deg2rad(angle[k])
        cos, sin = np.cos(theta), np.sin(theta)
        # Undo the shift, then the rotation about the centre: with q the
        # shifted-back position relative to the centre,
        # source = R(-angle) q + centre.
        qy, qx = -shift[k, 0] - cy, -shift[k, 1] - cx
        maps[k, 0] = cos
        maps[k, 1] = sin
        maps[k, 2] = cos * qy + sin * qx + cy
        maps[k, 3] = -sin
        maps[k, 4] = cos
        maps[k, 5] = -sin * qy + cos * qx + cx
        if flip[k]:
            # Mirroring comes first forward, so last backward: x -> W - 1 - x.
            maps[k, 3] = -maps[k, 3]
            maps[k, 4] = -maps[k, 4]
            maps[k, 5] = -maps[k, 5] + (width - 1)


@numba.njit(inline="always")
def _reflect(k, n):
    """Index ``k`` folded into ``0..n-1`` as ``np.pad(mode="reflect")`` does."""
    if n == 1:
        return 0
    period = 2 * (n - 1)
    k = abs(k) % period
    return period - k if k >= n else k


@numba.njit(inline="always")
def _border_sample(img, y0, x0, c, wy, wx, reflect):
    """Bilinear sample whose neighbours may lie outside the image.

    Each of the four neighbours is either folded back into the image
    (reflect) or contributes zero (constant).
    """
    height, width = img.shape[0], img.shape[1]
    v = 0.0
    for dy in range(2):
        yy = y0 + dy
        if reflect:
            yy = _reflect(yy, height)
        elif yy < 0 or yy >= height:
            continue
        wgt_y = wy if dy else 1.0 - wy
        for dx in range(2):
            xx = x0 + dx
            if reflect:
                xx = _reflect(xx, width)
            elif xx < 0 or xx >= width:
                continue
            wgt_x = wx if dx else 1.0 - wx
            v += wgt_y * wgt_x * img[yy, xx, c]
    return v


@numba.njit(inline="always")
def _copy_integral(img, maps, k, reflect, dst):
    """Flips and integer shifts only: a plain copy, exact for any dtype."""
    height, width, n_channels = img.shape
    for i in range(height):
        for j in range(width):
            y = int(maps[k, 0] * i + maps[k, 1] * j + maps[k, 2])
            x = int(maps[k, 3] * i + maps[k, 4] * j + maps[k, 5])
            if reflect:
                y = _reflect(y, height)
                x = _reflect(x, width)
            elif y < 0 or y >= height or x < 0 or x >= width:
                for c in range(n_channels):
                    dst[i, j, c] = 0
                continue
            for c in range(n_channels):
                dst[i, j, c] = img[y, x, c]


@numba.njit(inline="always")
def _bilinear(img, maps, k, offset, reflect, half, dst):
    """Bilinear resampling of one image (``img`` and ``dst`` are (H, W, C))."""
    height, width, n_channels = img.shape
    # The interior reads through flat views with unsigned offsets: numba
    # then drops the negative-index wrap-around of every subscript, and the
    # four neighbours of a pixel are ``base``, ``+ step``, ``+ row`` and
    # ``+ row + step`` for all channels at once. The source coordinates are
    # computed once per pixel, not once per channel.
    flat = img.reshape(-1)
    out = dst.reshape(-1)
    step = np.uint64(n_channels)
    row = np.uint64(width * n_channels)
    last_y, last_x = np.uint64(height - 1), np.uint64(width - 1)
    one = np.uint64(1)
    # Source coordinates are shifted by ``offset`` so that they stay positive
    # and int() truncates them to their floor.
    m0, m1, m2 = maps[k, 0], maps[k, 1], maps[k, 2] + offset
    m3, m4, m5 = maps[k, 3], maps[k, 4], maps[k, 5] + offset
    p = np.uint64(0)
    for i in range(height):
        y = m0 * i + m2
        x = m3 * i + m5
        for _ in range(width):
            y0 = int(y)
            x0 = int(x)
            wy = y - y0
            wx = x - x0
            y0 -= offset
            x0 -= offset
            # A negative index wraps to a huge unsigned one, so one unsigned
            # comparison per axis tests both ends.
            if np.uint64(y0) < last_y and np.uint64(x0) < last_x:
                base = np.uint64(y0) * row + np.uint64(x0) * step
                for _c in range(n_channels):
                    a = np.float64(flat[base])
                    top = a + wx * (flat[base + step] - a)
                    b = np.float64(flat[base + row])
                    bottom = b + wx * (flat[base + row + step] - b)
                    out[p] = top + wy * (bottom - top) + half
                    base += one
                    p += one
            else:
                for c in range(n_channels):
                    out[p] = _border_sample(img, y0, x0, c, wy, wx, reflect) + half
                    p += one
            y += m1
            x += m4


@numba.njit(inline="always")
def _bilinear_grey(img, maps, k, offset, reflect, half, dst):
    """:func:`_bilinear` for one channel, without the loop over channels.

    The channel loop, even of one iteration, costs registers and a trip-count
    test per pixel: 10% of the time of a 28 x 28 grey image.
    """
    height, width = img.shape[0], img.shape[1]
    flat = img.reshape(-1)
    out = dst.reshape(-1)
    row = np.uint64(width)
    last_y, last_x = np.uint64(height - 1), np.uint64(width - 1)
    one = np.uint64(1)
    m0, m1, m2 = maps[k, 0], maps[k, 1], maps[k, 2] + offset
    m3, m4, m5 = maps[k, 3], maps[k, 4], maps[k, 5] + offset
    p = np.uint64(0)
    for i in range(height):
        y = m0 * i + m2
        x = m3 * i + m5
        for _ in range(width):
            y0 = int(y)
            x0 = int(x)
            wy = y - y0
            wx = x - x0
            y0 -= offset
            x0 -= offset
            if np.uint64(y0) < last_y and np.uint64(x0) < last_x:
                base = np.uint64(y0) * row + np.uint64(x0)
                a = np.float64(flat[base])
                top = a + wx * (flat[base + one] - a)
                b = np.float64(flat[base + row])
                bottom = b + wx * (flat[base + row + one] - b)
                out[p] = top + wy * (bottom - top) + half
            else:
                out[p] = _border_sample(img, y0, x0, 0, wy, wx, reflect) + half
            p += one
            y += m1
            x += m4


# uint8 images are interpolated in fixed point, as OpenCV does: the source
# coordinates carry _COORD_BITS fractional bits and step along a row by integer
# additions (no float-to-int conversion per pixel), the weights keep the top
# _WEIGHT_BITS of them, and the four products are summed in integers. The
# weights are off by less than 2**-11 and the rounded steps drift by less than
# width * 2**-17 pixels along a row, so a result differs from the rounded exact
# interpolation by at most one grey level. 1.4x faster on 28 x 28 images.
_COORD_BITS = 16
_WEIGHT_BITS = 11


@numba.njit(inline="always")
def _border_sample_fixed(img, y0, x0, c, fy, fx, reflect):
    """:func:`_border_sample` with integer weights out of ``2**_WEIGHT_BITS``."""
    height, width = img.shape[0], img.shape[1]
    unit = 1 << _WEIGHT_BITS
    v = 0
    for dy in range(2):
        yy = y0 + dy
        if reflect:
            yy = _reflect(yy, height)
        elif yy < 0 or yy >= height:
            continue
        wgt_y = fy if dy else unit - fy
        for dx in range(2):
            xx = x0 + dx
            if reflect:
                xx = _reflect(xx, width)
            elif xx < 0 or xx >= width:
                continue
            wgt_x = fx if dx else unit - fx
            v += wgt_y * wgt_x * np.int64(img[yy, xx, c])
    return v


@numba.njit(inline="always")
def _outside(y0, x0, height, width):
    """Whether all four neighbours of ``(y0, x0)`` lie outside the image.

    Shifts and rotations put up to a fifth of the pixels there; under a zero
    border they are zero without the per-neighbour tests.
    """
    return y0 < -1 or y0 >= height or x0 < -1 or x0 >= width


@numba.njit(inline="always")
def _fixed_steps(maps, k):
    """Per-column steps of the source coordinates, in fixed point."""
    scale = np.float64(1 << _COORD_BITS)
    return np.int64(np.round(maps[k, 1] * scale)), np.int64(
        np.round(maps[k, 4] * scale)
    )


@numba.njit(inline="always")
def _fixed_row_start(maps, k, i, offset):
    """Source coordinates of pixel ``(i, 0)`` plus ``offset``, in fixed point."""
    scale = np.float64(1 << _COORD_BITS)
    y = np.int64(np.round((maps[k, 0] * i + maps[k, 2] + offset) * scale))
    x = np.int64(np.round((maps[k, 3] * i + maps[k, 5] + offset) * scale))
    return y, x


@numba.njit(inline="always")
def _bilinear_fixed(img, maps, k, offset, reflect, dst):
    """:func:`_bilinear` of a uint8 image, in fixed point."""
    height, width, n_channels = img.shape
    flat = img.reshape(-1)
    out = dst.reshape(-1)
    step = np.uint64(n_channels)
    row = np.uint64(width * n_channels)
    last_y, last_x = np.uint64(height - 1), np.uint64(width - 1)
    one = np.uint64(1)
    weight_shift = _COORD_BITS - _WEIGHT_BITS
    weight_mask = (1 << _WEIGHT_BITS) - 1
    unit = np.int64(1 << _WEIGHT_BITS)
    half = np.int64(1 << (2 * _WEIGHT_BITS - 1))
    step_y, step_x = _fixed_steps(maps, k)
    p = np.uint64(0)
    for i in range(height):
        y, x = _fixed_row_start(maps, k, i, offset)
        for _ in range(width):
            y0 = (y >> _COORD_BITS) - offset
            x0 = (x >> _COORD_BITS) - offset
            fy = (y >> weight_shift) & weight_mask
            fx = (x >> weight_shift) & weight_mask
            if np.uint64(y0) < last_y and np.uint64(x0) < last_x:
                base = np.uint64(y0) * row + np.uint64(x0) * step
                for _c in range(n_channels):
                    a = np.int64(flat[base])
                    top = a * unit + fx * (np.int64(flat[base + step]) - a)
                    b = np.int64(flat[base + row])
                    bottom = b * unit + fx * (np.int64(flat[base + row + step]) - b)
                    v = top * unit + fy * (bottom - top)
                    out[p] = (v + half) >> (2 * _WEIGHT_BITS)
                    base += one
                    p += one
            else:
                for c in range(n_channels):
                    v = _border_sample_fixed(img, y0, x0, c, fy, fx, reflect)
                    out[p] = (v + half) >> (2 * _WEIGHT_BITS)
                    p += one
            y += step_y
            x += step_x


@numba.njit(inline="always")
def _lerp_fixed(flat, base, step, row, fy, fx):
    """Fixed-point bilinear value at ``flat[base]``, scaled by ``4**_WEIGHT_BITS``."""
    unit = np.int64(1 << _WEIGHT_BITS)
    a = np.int64(flat[base])
    top = a * unit + fx * (np.int64(flat[base + step]) - a)
    b = np.int64(flat[base + row])
    bottom = b * unit + fx * (np.int64(flat[base + row + step]) - b)
    return top * unit + fy * (bottom - top)


@numba.njit(inline="always")
def _bilinear_fixed_grey(img, maps, k, offset, reflect, dst):
    """:func:`_bilinear_fixed` for one channel, without the channel loop."""
    height, width = img.shape[0], img.shape[1]
    flat = img.reshape(-1)
    out = dst.reshape(-1)
    row = np.uint64(width)
    last_y, last_x = np.uint64(height - 1), np.uint64(width - 1)
    one = np.uint64(1)
    weight_shift = _COORD_BITS - _WEIGHT_BITS
    weight_mask = (1 << _WEIGHT_BITS) - 1
    unit = np.int64(1 << _WEIGHT_BITS)
    half = np.int64(1 << (2 * _WEIGHT_BITS - 1))
    step_y, step_x = _fixed_steps(maps, k)
    p = np.uint64(0)
    for i in range(height):
        y, x = _fixed_row_start(maps, k, i, offset)
        for _ in range(width):
            y0 = (y >> _COORD_BITS) - offset
            x0 = (x >> _COORD_BITS) - offset
            fy = (y >> weight_shift) & weight_mask
            fx = (x >> weight_shift) & weight_mask
            if np.uint64(y0) < last_y and np.uint64(x0) < last_x:
                base = np.uint64(y0) * row + np.uint64(x0)
                a = np.int64(flat[base])
                top = a * unit + fx * (np.int64(flat[base + one]) - a)
                b = np.int64(flat[base + row])
                bottom = b * unit + fx * (np.int64(flat[base + row + one]) - b)
                v = top * unit + fy * (bottom - top)
            elif not reflect and _outside(y0, x0, height, width):
                v = 0
            else:
                v = _border_sample_fixed(img, y0, x0, 0, fy, fx, reflect)
            out[p] = (v + half) >> (2 * _WEIGHT_BITS)
            p += one
            y += step_y
            x += step_x


@numba.njit(inline="always")
def _bilinear_fixed_rgb(img, maps, k, offset, reflect, dst):
    """:func:`_bilinear_fixed` of a three-channel image, channel loop unrolled.

    10% faster than the loop on 32 x 32 x 3 images.
    """
    height, width, n_channels = img.shape
    flat = img.reshape(-1)
    out = dst.reshape(-1)
    step = np.uint64(n_channels)
    row = np.uint64(width * n_channels)
    last_y, last_x = np.uint64(height - 1), np.uint64(width - 1)
    one = np.uint64(1)
    two = np.uint64(2)
    weight_shift = _COORD_BITS - _WEIGHT_BITS
    weight_mask = (1 << _WEIGHT_BITS) - 1
    unit = np.int64(1 << _WEIGHT_BITS)
    half = np.int64(1 << (2 * _WEIGHT_BITS - 1))
    step_y, step_x = _fixed_steps(maps, k)
    p = np.uint64(0)
    for i in range(height):
        y, x = _fixed_row_start(maps, k, i, offset)
        for _ in range(width):
            y0 = (y >> _COORD_BITS) - offset
            x0 = (x >> _COORD_BITS) - offset
            fy = (y >> weight_shift) & weight_mask
            fx = (x >> weight_shift) & weight_mask
            if np.uint64(y0) < last_y and np.uint64(x0) < last_x:
                base = np.uint64(y0) * row + np.uint64(x0) * step
                # The four weights once per pixel, then four products per
                # channel: the same integers as the two-step interpolation
                # ((1 - fy) top + fy bottom).
                w11 = fy * fx
                w10 = (fy << _WEIGHT_BITS) - w11
                w01 = (fx << _WEIGHT_BITS) - w11
                w00 = (unit << _WEIGHT_BITS) - w10 - w01 - w11
                b01 = base + step
                b10 = base + row
                b11 = b10 + step
                for c in (np.uint64(0), one, two):
                    v = (
                        w00 * np.int64(flat[base + c])
                        + w01 * np.int64(flat[b01 + c])
                        + w10 * np.int64(flat[b10 + c])
                        + w11 * np.int64(flat[b11 + c])
                    )
                    out[p + c] = (v + half) >> (2 * _WEIGHT_BITS)
            elif not reflect and _outside(y0, x0, height, width):
                out[p] = 0
                out[p + one] = 0
                out[p + two] = 0
            else:
                for c in range(n_channels):
                    v = _border_sample_fixed(img, y0, x0, c, fy, fx, reflect)
                    out[p + np.uint64(c)] = (v + half) >> (2 * _WEIGHT_BITS)
            p += step
            y += step_y
            x += step_x


# The framed uint8 path below (three channels, or one) exists because the
# per-pixel scalar code above (12 byte loads and 12 multiplies per RGB pixel)
# ran CIFAR-10 (32 x 32 x 3) at only 1.1x a per-image cv2.warpAffine loop:
# OpenCV runs the same fixed-point arithmetic in SIMD registers. LLVM does
# not vectorise a loop that gathers from computed indices, so the work is
# split into passes over one image, each either a plain gather or a
# gather-free loop that numba vectorises:
#
# 1. pack every source pixel's three bytes into one int32 (10 bits a channel;
#    a grey pixel is its byte) inside a frame of ``frame`` pixels (zeros, or
#    the mirrored image), and pair each packed pixel with its right neighbour
#    in one int64;
# 2. per output pixel, the fractional weights and the index of its top-left
#    neighbour, clamped into the frame (vectorised);
# 3. two int64 loads per output pixel: the top and the bottom pair (scalar);
# 4. the four weighted sums of each channel in int32 lanes (vectorised).
#
# The frame makes every pixel take the same branch-free path: under a zero
# border a neighbour outside the image reads a zero of the frame, and a pixel
# whose neighbours all lie outside is clamped onto zeros; under a mirrored
# border the frame holds every position that the maps reach. The integers are
# those of _bilinear_fixed (same weights, same rounding), so the result is
# identical. Measured, one thread: half the CPU time of _bilinear_fixed_rgb on
# 10,000 CIFAR-10 images (81-89 ms -> 42-47 ms), 2.2-2.4x less on images of
# 64 x 64 to 512 x 512 (see benchmarks/RESULTS.md).
_FRAME_CONSTANT = 2


@intrinsic
def _mul32(typingctx, a, b):
    """int32 product that stays int32 (numba widens ``int32 * int32`` to int64).

    In int64 LLVM vectorises the weighted sums four lanes wide instead of
    eight, with emulated 64-bit multiplies: the sums took 1.7x longer.
    """
    if a != types.int32 or b != types.int32:
        return None

    def codegen(context, builder, signature, args):
        return builder.mul(args[0], args[1])

    return types.int32(types.int32, types.int32), codegen


@numba.njit(inline="always")
def _dot4(w00, w01, w10, w11, a, b, c, d):
    """``w00 * a + w01 * b + w10 * c + w11 * d`` in int32 (no overflow here)."""
    i32 = np.int32
    return i32(
        i32(_mul32(w00, a) + _mul32(w01, b)) + i32(_mul32(w10, c) + _mul32(w11, d))
    )


# Images per block of the parallel loop of _warp_kernel.
_CHUNK_IMAGES = 64


@numba.njit(inline="always")
def _pack_framed(img, frame, reflect, packed, pairs):
    """Step 1 of the framed path: packed pixels and right-neighbour pairs."""
    height, width, n_channels = img.shape
    flat = img.reshape(-1)
    pw = width + 2 * frame
    ph = height + 2 * frame
    i32 = np.int32
    for a in range(height):
        # Row views keep the subscripts non-negative, which lets the loop
        # vectorise (no wrap-around of negative indices).
        prow = packed[(a + frame) * pw + frame : (a + frame) * pw + frame + width]
        srow = flat[a * width * n_channels : (a + 1) * width * n_channels]
        if n_channels == 3:
            for b in range(width):
                prow[b] = (
                    i32(srow[3 * b])
                    | (i32(srow[3 * b + 1]) << i32(10))
                    | (i32(srow[3 * b + 2]) << i32(20))
                )
        else:
            for b in range(width):
                prow[b] = i32(srow[b])
    if reflect:
        for a in range(frame, frame + height):
            start = a * pw + frame
            for b in range(frame):
                packed[a * pw + b] = packed[start + _reflect(b - frame, width)]
                packed[start + width + b] = packed[start + _reflect(width + b, width)]
        for a in range(frame):
            top = (frame + _reflect(a - frame, height)) * pw
            bottom = (frame + _reflect(height + a, height)) * pw
            for b in range(pw):
                packed[a * pw + b] = packed[top + b]
                packed[(frame + height + a) * pw + b] = packed[bottom + b]
    # Under a zero border the frame stays as allocated (zeros). Each packed
    # pixel is followed by its right neighbour, so that one 64-bit load reads
    # both (whatever the byte order: the pair is only copied as a whole).
    one = np.uint64(1)
    for q in range(np.uint64(ph * pw - 1)):
        pairs[2 * q] = packed[q]
        pairs[2 * q + one] = packed[q + one]


@numba.njit(inline="always")
def _bilinear_fixed_framed(img, maps, k, offset, frame, reflect, dst, scratch):
    """:func:`_bilinear_fixed` of a three- or one-channel image, in passes.

    ``scratch`` is ``(packed, pairs, index, weight_y, weight_x, top, bottom,
    row_y, row_x)``, buffers reused from image to image (see the comment
    above).
    """
    packed, pairs, index, weight_y, weight_x, top, bottom, row_y, row_x = scratch
    height, width = img.shape[0], img.shape[1]
    n = height * width
    out = dst.reshape(-1)
    pw = width + 2 * frame
    ph = height + 2 * frame
    _pack_framed(img, frame, reflect, packed, pairs)

    # numba computes int32 arithmetic in int64 unless told otherwise; the
    # explicit casts keep the vector lanes 32 bits wide (no value overflows:
    # coordinates stay below 2**31 by the check in warp, sums below 2**31).
    i32 = np.int32
    weight_shift = i32(_COORD_BITS - _WEIGHT_BITS)
    weight_mask = i32((1 << _WEIGHT_BITS) - 1)
    coord_bits = i32(_COORD_BITS)
    step_y, step_x = _fixed_steps(maps, k)
    sy, sx = i32(step_y), i32(step_x)
    # Fixed-point coordinates relative to the frame's top-left corner.
    origin = np.int64(offset - frame) << _COORD_BITS
    pw32, zero = i32(pw), i32(0)
    last_y, last_x = i32(ph - 2), i32(pw - 2)
    # The rows' start coordinates first, then every pixel in one loop nest
    # over flat buffers: row views and the rounding inside the row loop cost
    # more than the row's 32 vectorised pixels (CIFAR-10, one thread: 34
    # instead of 39 ms for 10,000 images).
    for i in range(height):
        y, x = _fixed_row_start(maps, k, i, offset)
        row_y[i], row_x[i] = i32(y - origin), i32(x - origin)
    for i in range(height):
        y32, x32 = row_y[i], row_x[i]
        first = i * width
        for j in range(width):
            yj = i32(y32 + _mul32(i32(j), sy))
            xj = i32(x32 + _mul32(i32(j), sx))
            weight_y[first + j] = i32(yj >> weight_shift) & weight_mask
            weight_x[first + j] = i32(xj >> weight_shift) & weight_mask
            yi = min(max(i32(yj >> coord_bits), zero), last_y)
            xi = min(max(i32(xj >> coord_bits), zero), last_x)
            index[first + j] = i32(_mul32(yi, pw32) + xi)

    both = pairs.view(np.int64)
    for q in range(n):
        b = index[q]
        top[q] = both[b]
        bottom[q] = both[b + pw]

    unit2 = i32(1 << (2 * _WEIGHT_BITS))
    half = i32(1 << (2 * _WEIGHT_BITS - 1))
    wbits, sh = i32(_WEIGHT_BITS), i32(2 * _WEIGHT_BITS)
    m, s10, s20 = i32(1023), i32(10), i32(20)
    top32, bottom32 = top.view(np.int32), bottom.view(np.int32)
    if img.shape[2] == 1:
        for q in range(n):
            fy, fx = weight_y[q], weight_x[q]
            w11 = _mul32(fy, fx)
            w10 = i32((fy << wbits) - w11)
            w01 = i32((fx << wbits) - w11)
            w00 = i32(unit2 - w10 - w01 - w11)
            grey = _dot4(
                w00,
                w01,
                w10,
                w11,
                top32[2 * q],
                top32[2 * q + 1],
                bottom32[2 * q],
                bottom32[2 * q + 1],
            )
            out[q] = i32(grey + half) >> sh
        return
    for q in range(n):
        fy, fx = weight_y[q], weight_x[q]
        p00, p01 = top32[2 * q], top32[2 * q + 1]
        p10, p11 = bottom32[2 * q], bottom32[2 * q + 1]
        # The weights of _bilinear_fixed_rgb, out of 2**(2 * _WEIGHT_BITS).
        w11 = _mul32(fy, fx)
        w10 = i32((fy << wbits) - w11)
        w01 = i32((fx << wbits) - w11)
        w00 = i32(unit2 - w10 - w01 - w11)
        red = _dot4(
            w00, w01, w10, w11, i32(p00 & m), i32(p01 & m), i32(p10 & m), i32(p11 & m)
        )
        green = _dot4(
            w00,
            w01,
            w10,
            w11,
            i32((p00 >> s10) & m),
            i32((p01 >> s10) & m),
            i32((p10 >> s10) & m),
            i32((p11 >> s10) & m),
        )
        blue = _dot4(
            w00,
            w01,
            w10,
            w11,
            i32(p00 >> s20),
            i32(p01 >> s20),
            i32(p10 >> s20),
            i32(p11 >> s20),
        )
        red, green, blue = i32(red + half), i32(green + half), i32(blue + half)
        out[3 * q] = red >> sh
        out[3 * q + 1] = green >> sh
        out[3 * q + 2] = blue >> sh


@numba.njit(inline="always")
def _framed_scratch(height, width, frame):
    """Buffers of :func:`_bilinear_fixed_framed`; the frame starts at zero."""
    framed = (height + 2 * frame) * (width + 2 * frame)
    n = height * width
    return (
        np.zeros(framed, np.int32),
        np.zeros(2 * framed, np.int32),
        np.empty(n, np.int32),
        np.empty(n, np.int32),
        np.empty(n, np.int32),
        np.empty(n, np.int64),
        np.empty(n, np.int64),
        np.empty(height, np.int32),
        np.empty(height, np.int32),
    )


@intrinsic
def _next_block(typingctx, counter):
    """Atomically add one to ``counter[0]`` and return its previous value.

    numba's workqueue threading layer splits a parallel loop evenly between
    its threads, whatever the chunk size; a shared counter lets every thread
    take the next block of images as soon as it is free instead.
    """
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        one = context.get_constant(types.int64, 1)
        return builder.atomic_rmw("add", array.data, one, "monotonic")

    return types.int64(counter), codegen


@numba.njit(parallel=True, nogil=True, cache=True, fastmath=True)
def _warp_kernel(
    src,
    sources,
    maps,
    integral,
    reflect,
    round_out,
    fixed,
    offset,
    frame,
    n_workers,
    out,
):
    # Integer output is rounded: values are non-negative (uint8), so adding
    # one half before the truncating store rounds to nearest.
    half = 0.5 if round_out else 0.0
    n_images, height, width = out.shape[0], out.shape[1], out.shape[2]
    # One task per thread; each takes blocks of _CHUNK_IMAGES images from a
    # shared counter until none is left. A thread that wakes late or is
    # slowed down by another process then does fewer blocks instead of
    # holding up the call (a static split made 2 threads barely faster than
    # 1 on a loaded machine). Each task allocates its scratch buffers once.
    # Every output image depends on its own map only, so the result is the
    # same for any number of threads and any order of the blocks.
    n_blocks = (n_images + _CHUNK_IMAGES - 1) // _CHUNK_IMAGES
    # A frame is only ever set for one or three channels (_frame_width).
    framed = fixed and frame > 0
    counter = np.zeros(1, np.int64)
    for _worker in numba.prange(n_workers):
        scratch = _framed_scratch(height, width, frame if framed else 0)
        block = _next_block(counter)
        while block < n_blocks:
            stop = min((block + 1) * _CHUNK_IMAGES, n_images)
            for k in range(block * _CHUNK_IMAGES, stop):
                img = src[sources[k]]
                if integral[k]:
                    _copy_integral(img, maps, k, reflect, out[k])
                elif framed:
                    _bilinear_fixed_framed(
                        img, maps, k, offset, frame, reflect, out[k], scratch
                    )
                elif fixed and src.shape[3] == 1:
                    _bilinear_fixed_grey(img, maps, k, offset, reflect, out[k])
                elif fixed and src.shape[3] == 3:
                    _bilinear_fixed_rgb(img, maps, k, offset, reflect, out[k])
                elif fixed:
                    _bilinear_fixed(img, maps, k, offset, reflect, out[k])
                elif src.shape[3] == 1:
                    _bilinear_grey(img, maps, k, offset, reflect, half, out[k])
                else:
                    _bilinear(img, maps, k, offset, reflect, half, out[k])
            block = _next_block(counter)
    return out


# Output values (pixels x channels) below which one thread does the work:
# 64 MNIST images take ~0.15 ms, a few times a thread's wake-up.
_PARALLEL_MIN_VALUES = 64 * 28 * 28


@contextmanager
def _numba_threads(n):
    previous = numba.get_num_threads()
    numba.set_num_threads(min(n, previous))
    try:
        yield
    finally:
        numba.set_num_threads(previous)


# Whether uint8 images of three channels or one take the framed path (tests
# switch it off to compare it with _bilinear_fixed_rgb and
# _bilinear_fixed_grey).
_FRAMED = True


def _frame_width(shape, maps, offset, pad_mode):
    """Width of the frame of the framed uint8 path, or 0 to skip that path."""
    height, width, n_channels = shape[1:]
    if n_channels not in (1, 3) or len(maps) == 0:
        return 0
    if pad_mode == "reflect":
        # The frame must hold every neighbour that a map reaches; the maps are
        # affine, so the farthest ones are those of the corners.
        corners = np.array(
            [
                [0, 0, 1],
                [0, width - 1, 1],
                [height - 1, 0, 1],
                [height - 1, width - 1, 1],
            ],
            dtype=np.float64,
        )
        ys, xs = corners @ maps[:, :3].T, corners @ maps[:, 3:].T
        beyond = max(-ys.min(), -xs.min(), ys.max() - height, xs.max() - width, 0.0)
        frame = int(beyond) + 3
    else:
        frame = _FRAME_CONSTANT
    # Fixed-point coordinates relative to the frame must fit in int32, and a
    # map that reaches far outside must not make the scratch buffers huge.
    framed = (height + 2 * frame) * (width + 2 * frame)
    too_large = framed > 4 * height * width + 2**16
    return 0 if too_large or offset + frame + max(height, width) >= 2**14 else frame


# The compiled kernel is specialised once per dtype; everything else goes
# through float64 and is cast back by saturate_cast.
_KERNEL_DTYPES = (np.dtype(np.uint8), np.dtype(np.float32), np.dtype(np.float64))


def warp(images, maps, *, sources=None, pad_mode="constant"):
    """Resample images through inverse affine maps with bilinear interpolation.

    Parameters
    ----------
    images : ndarray of shape (n_images, H, W) or (n_images, H, W, C)
        Source images, any real dtype.
    maps : ndarray of shape (n_out, 6)
        Inverse affine maps, as returned by :func:`affine_maps`.
    sources : ndarray of int of shape (n_out,), default=None
        Which source image each output image is resampled from; None means
        ``arange(n_images)`` (then ``n_out`` must equal ``n_images``).
    pad_mode : {"constant", "reflect"}, default="constant"
        Value of pixels outside the source: zero, or the image mirrored about
        its edge pixels as in ``np.pad(mode="reflect")`` (which is
        scipy.ndimage's ``"mirror"``).

    Returns
    -------
    out : ndarray of shape (n_out, H, W[, C])
        Same dtype as ``images``. Integer results are rounded to the nearest
        integer; a map with integer entries (no rotation) copies pixels
        exactly.

    Notes
    -----
    uint8 images are interpolated in fixed point (11-bit weights, integer
    sums), as OpenCV does: a value may differ by one grey level from the
    rounded floating-point interpolation, which float and other integer
    images get.
    """
    return _warp_into(images, maps, sources, pad_mode, None)


def _warp_into(images, maps, sources, pad_mode, out):
    """:func:`warp`, writing into ``out`` when given (and returning it).

    ``out`` has the output's shape and ``images``' dtype; when the kernel
    works in that dtype and ``out`` is C-contiguous, the threads write their
    blocks straight into it, with no serial copy afterwards.
    """
    images = np.asarray(images)
    squeeze = images.ndim == 3
    src = images[..., np.newaxis] if squeeze else images
    maps = np.ascontiguousarray(maps, dtype=np.float64)
    if sources is None:
        sources = np.arange(len(src))
    sources = np.ascontiguousarray(sources, dtype=np.intp)
    work_dtype = src.dtype if src.dtype in _KERNEL_DTYPES else np.dtype(np.float64)
    # A writable C-contiguous input keeps the compiled specialisations to one
    # per dtype (read-only and strided arrays would each need their own).
    if src.dtype != work_dtype or not (src.flags.c_contiguous and src.flags.writeable):
        src = np.array(src, dtype=work_dtype, order="C")
    target = out
    direct = (
        out is not None
        and out.dtype == work_dtype
        and out.flags.c_contiguous
        and out.flags.writeable
    )
    if direct:
        out = out[..., np.newaxis] if squeeze else out
    else:
        out = np.empty((len(sources), *src.shape[1:]), dtype=work_dtype)
    integral = np.all(maps == np.round(maps), axis=1)
    # Largest distance of a source coordinate from the origin, plus margin.
    extent = np.abs(maps[:, [0, 3]]) * (src.shape[1] - 1)
    extent += np.abs(maps[:, [1, 4]]) * (src.shape[2] - 1) + np.abs(maps[:, [2, 5]])
    offset = int(extent.max(initial=0.0)) + 2
    frame = _frame_width(src.shape, maps, offset, pad_mode) if _FRAMED else 0
    n_threads = numba.get_num_threads()
    if out.size < _PARALLEL_MIN_VALUES:
        # Waking a second thread costs more than it would save.
        n_threads = 1
    n_blocks = -(-len(out) // _CHUNK_IMAGES)
    n_threads = max(1, min(n_threads, n_blocks))
    with _kernel_launch(), _numba_threads(n_threads):
        _warp_kernel(
            src,
            sources,
            maps,
            integral,
            pad_mode == "reflect",
            work_dtype.kind != "f",
            work_dtype == np.uint8,
            offset,
            frame,
            n_threads,
            out,
        )
    if direct:
        return target
    out = saturate_cast(out, images.dtype)
    out = out[..., 0] if squeeze else out
    if target is None:
        return out
    target[...] = out
    return target


def intensity_jitter(images, *, contrast=None, brightness=None, noise=None):
    """Contrast, brightness and additive noise, in floating point.

    ``out = (x - mean) * contrast + mean + brightness + noise`` per image, with
    ``mean`` the mean of all pixels (and channels) of that image.

    Parameters
    ----------
    images : ndarray of shape (n_images, ...)
        The images.
    contrast : ndarray of shape (n_images,), default=None
        Contrast factors (1 keeps the image); None skips the step.
    brightness : ndarray of shape (n_images,), default=None
        Offsets added to every pixel, in pixel units; None skips the step.
    noise : ndarray of the shape of ``images``, default=None
        Values added pixel by pixel; None skips the step.

    Returns
    -------
    out : ndarray of the shape of ``images``
        float64 for float64 input, float32 otherwise; not clipped (see
        :func:`saturate_cast`).
    """
    dtype = np.float64 if images.dtype == np.float64 else np.float32
    out = images.astype(dtype)
    per_image = (-1,) + (1,) * (images.ndim - 1)
    if contrast is not None:
        axes = tuple(range(1, images.ndim))
        mean = out.mean(axis=axes, keepdims=True)
        out -= mean
        out *= np.asarray(contrast, dtype).reshape(per_image)
        out += mean
    if brightness is not None:
        out += np.asarray(brightness, dtype).reshape(per_image)
    if noise is not None:
        out += noise
    return out


def saturate_cast(values, dtype):
    """Cast ``values`` to ``dtype``; integers are rounded and clipped, not wrapped.

    Parameters
    ----------
    values : ndarray
        Values to cast.
    dtype : dtype
        Target dtype.

    Returns
    -------
    out : ndarray of dtype ``dtype``
        ``values`` itself when it already has that dtype.
    """
    dtype = np.dtype(dtype)
    if values.dtype == dtype:
        return values
    if dtype.kind in "iu" and values.dtype.kind == "f":
        info = np.iinfo(dtype)
        values = np.clip(np.rint(values), info.min, info.max)
    elif dtype.kind == "b":
        values = np.rint(values) != 0
    return values.astype(dtype)
