"""Image files in and out: robust reading, atomic writing, header checks, listing.

- :mod:`blurkit.io.images`: ``read_image`` (float32 RGB in [0, 1], display-referred; 8/16-bit, gray,
  alpha dropped, CMYK JPEG, EXIF orientation applied), ``encode_image`` / ``write_image`` (PNG
  compression level, JPEG/WebP quality);
- :mod:`blurkit.io.headers`: image sizes from file headers and the ``max_pixels`` limit, checked
  before any pixel is decoded;
- :mod:`blurkit.io.atomic`: writes through a temporary file and a rename, so a killed process never
  leaves a half-written file;
- :mod:`blurkit.io.listing`: the image files below a folder.

Every name is importable from ``blurkit.io`` directly.
"""

from blurkit.io.atomic import NAME_MAX, atomic_write_bytes, shorten_name, temp_file_for, temp_stem
from blurkit.io.headers import ImageHeader, ImageReadError, check_image_header, is_plain_rgb8_png, read_header
from blurkit.io.images import (
    FLOAT_TOLERANCE,
    IMAGE_SUFFIXES,
    LOSSLESS_SUFFIXES,
    PNG_LEVEL,
    PNG_LEVELS,
    PNG_MODE,
    PNG_MODES,
    check_png_level,
    check_png_mode,
    decode_bytes,
    decode_image,
    decoded_to_rgb,
    decoded_to_uint8,
    encode_image,
    png_params,
    quiet_stderr,
    read_file_bytes,
    read_image,
    read_image_uint8,
    rgb_to_float,
    to_uint,
    write_image,
)
from blurkit.io.listing import list_images

__all__ = [
    "FLOAT_TOLERANCE",
    "IMAGE_SUFFIXES",
    "LOSSLESS_SUFFIXES",
    "NAME_MAX",
    "PNG_LEVEL",
    "PNG_LEVELS",
    "PNG_MODE",
    "PNG_MODES",
    "ImageHeader",
    "ImageReadError",
    "atomic_write_bytes",
    "check_image_header",
    "check_png_level",
    "check_png_mode",
    "decode_bytes",
    "decode_image",
    "decoded_to_rgb",
    "decoded_to_uint8",
    "encode_image",
    "is_plain_rgb8_png",
    "list_images",
    "png_params",
    "quiet_stderr",
    "read_file_bytes",
    "read_header",
    "read_image",
    "read_image_uint8",
    "rgb_to_float",
    "shorten_name",
    "temp_file_for",
    "temp_stem",
    "to_uint",
    "write_image",
]
