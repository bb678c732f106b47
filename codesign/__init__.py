__version__ = "0.1.0"

from codesign.kerasenv import drop_legacy_keras

drop_legacy_keras()  # before anything imports TensorFlow (codesign.kerasenv says why)
