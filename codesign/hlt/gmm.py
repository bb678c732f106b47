"""The anomaly score: a Gaussian mixture (scikit-learn) fitted on the SM latent space, score = -log p(z)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign.atomic import atomic_path

_FIELDS = ("weights_", "means_", "covariances_", "precisions_cholesky_")


@dataclass
class Gmm:
    """A fitted `sklearn.mixture.GaussianMixture` (full covariances), saved as its arrays."""

    mixture: object

    @classmethod
    def fit(cls, z: np.ndarray, components: int, seed: int) -> Gmm:
        from sklearn.mixture import GaussianMixture

        return cls(GaussianMixture(components, covariance_type="full", random_state=seed, reg_covar=1e-5).fit(z))

    def score(self, z: np.ndarray) -> np.ndarray:
        """-log p(z) per event (float64)."""
        return -self.mixture.score_samples(np.asarray(z, np.float64))

    def save(self, path: Path) -> None:
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **{f: getattr(self.mixture, f) for f in _FIELDS})

    @classmethod
    def load(cls, path: Path) -> Gmm:
        from sklearn.mixture import GaussianMixture

        arrays = np.load(path)
        mixture = GaussianMixture(len(arrays["weights_"]), covariance_type="full")
        for f in _FIELDS:
            setattr(mixture, f, arrays[f])
        return cls(mixture)
