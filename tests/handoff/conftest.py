"""Small saved QKeras models (those of the flow tests)."""

from tests.flow.conftest import save_small_model, small_h5  # noqa: F401
