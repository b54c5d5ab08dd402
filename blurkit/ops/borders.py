"""Border modes of the blur: the names blurkit uses and what each library calls them.

=============  ======================================  ===============================
``border``     padded row ``a b c d``                   NumPy ``np.pad`` mode
=============  ======================================  ===============================
"reflect"      ``c b | a b c d | c b`` (edge not        ``"reflect"`` (torch ``"reflect"``,
               repeated)                                OpenCV ``BORDER_REFLECT_101``)
"replicate"    ``a a | a b c d | d d``                  ``"edge"``
"zero"         ``0 0 | a b c d | 0 0``                  ``"constant"``
"circular"     ``c d | a b c d | a b``                  ``"wrap"`` (exact periodic convolution)
=============  ======================================  ===============================

NumPy's ``"symmetric"`` mode (``b a | a b c d | d c``, edge repeated) is *not* what ``"reflect"`` means
here.
"""

from __future__ import annotations

from typing import Literal, get_args

BorderMode = Literal["reflect", "replicate", "zero", "circular"]

#: The border modes, in the order of the table above.
BORDERS: tuple[str, ...] = get_args(BorderMode)

NumpyPadMode = Literal["reflect", "edge", "constant", "wrap"]
NUMPY_PAD_MODE: dict[str, NumpyPadMode] = {"reflect": "reflect", "replicate": "edge", "zero": "constant", "circular": "wrap"}
TORCH_PAD_MODE = {"reflect": "reflect", "replicate": "replicate", "zero": "constant", "circular": "circular"}
#: OpenCV's border flags (``cv2.BORDER_REFLECT_101`` = 4, ``BORDER_REPLICATE`` = 1,
#: ``BORDER_CONSTANT`` = 0); OpenCV's filters have no periodic mode.
CV2_BORDER = {"reflect": 4, "replicate": 1, "zero": 0}
#: The same for padding with ``cv2.copyMakeBorder``, which also pads periodically (``BORDER_WRAP`` = 3):
#: the values of ``np.pad`` with :data:`NUMPY_PAD_MODE` in every mode, also for pads wider than the image.
CV2_PAD_BORDER = {**CV2_BORDER, "circular": 3}


def check_border(border: object) -> str:
    """``border`` if it names a mode, else a ``ValueError`` listing them."""
    if border not in BORDERS:
        raise ValueError(f"border: unknown value {border!r}; expected one of {', '.join(map(repr, BORDERS))}")
    return str(border)
