"""One Keras per process: QKeras' layers (built on `tf.keras`) and codesign's models (`import keras`) must be
the same Keras 2.15.

`tf.keras` is Keras 2.15 unless `TF_USE_LEGACY_KERAS` is set when TensorFlow is imported; then it is the separate
`tf_keras` package.  Importing QKeras sets that variable in `os.environ` (tensorflow-model-optimization's compat
module), so every process started afterwards inherits it: Dask workers, `dask worker`, subprocesses.  In such a
process a QKeras layer called on a Keras 2.15 tensor does not recognise it as symbolic and traces its quantizer
op by op into TFOpLambda layers (the lowering then refuses "tf.__operators__.add ... has several inputs").
`codesign/__init__.py` calls `drop_legacy_keras` before anything imports TensorFlow; `check_one_keras` turns a
process that imported TensorFlow with the variable set before codesign into one clear error.
"""

from __future__ import annotations

import os

from codesign.errors import CodesignError

LEGACY_KERAS_VARIABLE = "TF_USE_LEGACY_KERAS"


def drop_legacy_keras() -> None:
    """Unset `TF_USE_LEGACY_KERAS` (left by an earlier QKeras import in a parent process)."""
    os.environ.pop(LEGACY_KERAS_VARIABLE, None)


def check_one_keras() -> None:
    """Raise CodesignError when `tf.keras` (QKeras' Keras) is not `keras` (codesign's)."""
    import keras
    import tensorflow as tf

    if tf.keras.layers.Layer is not keras.layers.Layer:
        raise CodesignError(f"TensorFlow was imported with {LEGACY_KERAS_VARIABLE} set, so tf.keras (QKeras' Keras) "
                            "is tf_keras, not Keras 2.15; unset it before starting Python, or import codesign "
                            "before tensorflow")
