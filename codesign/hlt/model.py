"""The HLT Linformer encoder (Keras 2): PF candidates -> a small latent vector, with masked linear attention.

Inputs are the raw `hlt` view (n, N, 6); the model derives the mask (pT > 0) and its features itself, so the
ONNX file takes the view as it is.  Each encoder layer is pre-norm: Linformer self-attention (keys and values
projected along the candidate axis from N to k by learned matrices; padded candidates are zeroed before the
projection, so they never contribute) and a feed-forward block.  A masked mean over candidates gives the
latent z; the training heads are a projection head (InfoNCE) and a linear classifier (CE over SM processes).
"""

from __future__ import annotations

import numpy as np

from codesign.data.views import HLT_PID_CODES

N_PID = len(HLT_PID_CODES)
DXY_SCALE_CM = 0.002  # the smearing's floor (20 um): dxy in units of it, then asinh


def _keras():
    import keras

    return keras


def _layers():
    """The custom layers (defined lazily: TensorFlow is imported only when a model is built)."""
    import tensorflow as tf

    keras = _keras()

    class CandidateFeatures(keras.layers.Layer):
        """(B, N, 6) raw candidates -> (B, N, 6 + N_PID) network features and the (B, N) float mask."""

        def call(self, x):
            pt, eta, phi, dxy, sig, pid = (x[..., i] for i in range(6))
            mask = tf.cast(pt > 0, x.dtype)
            code = tf.abs(pid)
            onehot = tf.cast(tf.equal(code[..., None], tf.range(1, N_PID + 1, dtype=x.dtype)), x.dtype)
            feats = tf.stack([tf.math.log(1.0 + tf.maximum(pt, 0.0)), eta / 2.5, tf.sin(phi), tf.cos(phi),
                              tf.math.asinh(dxy / DXY_SCALE_CM) / 5.0, tf.math.asinh(sig) / 3.0, tf.sign(pid)], -1)
            return tf.concat([feats, onehot], -1) * mask[..., None], mask

    class LinformerAttention(keras.layers.Layer):
        """Multi-head self-attention with keys/values projected from N candidates to k along the sequence."""

        def __init__(self, heads: int, k: int, **kwargs):
            super().__init__(**kwargs)
            self.heads, self.k = heads, k

        def build(self, shapes):
            n, d = shapes[0][1], shapes[0][2]
            if d % self.heads:
                raise ValueError(f"embedding {d} is not a multiple of {self.heads} heads")
            dense = {"kernel_initializer": "glorot_uniform"}
            self.q, self.kk, self.v, self.o = (keras.layers.Dense(d, use_bias=name != "key", name=name, **dense)
                                               for name in ("query", "key", "value", "out"))
            for layer in (self.q, self.kk, self.v):
                layer.build(shapes[0])
            self.o.build(shapes[0])
            self.e_k = self.add_weight(name="proj_k", shape=(n, self.k), initializer="glorot_uniform")
            self.e_v = self.add_weight(name="proj_v", shape=(n, self.k), initializer="glorot_uniform")

        def call(self, inputs):
            x, mask = inputs
            b, n, d = tf.shape(x)[0], x.shape[1], x.shape[2]
            dh = d // self.heads
            keys = tf.einsum("bnd,nk->bkd", self.kk(x) * mask[..., None], self.e_k)
            values = tf.einsum("bnd,nk->bkd", self.v(x) * mask[..., None], self.e_v)

            def split(t, length):
                return tf.transpose(tf.reshape(t, (b, length, self.heads, dh)), (0, 2, 1, 3))

            q, kp, vp = split(self.q(x), n), split(keys, self.k), split(values, self.k)
            weights = tf.nn.softmax(tf.matmul(q, kp, transpose_b=True) / float(np.sqrt(dh)), axis=-1)
            out = tf.reshape(tf.transpose(tf.matmul(weights, vp), (0, 2, 1, 3)), (b, n, d))
            return self.o(out)

        def get_config(self):
            return {**super().get_config(), "heads": self.heads, "k": self.k}

    class MaskedMean(keras.layers.Layer):
        def call(self, inputs):
            x, mask = inputs
            return tf.reduce_sum(x * mask[..., None], 1) / tf.maximum(tf.reduce_sum(mask, 1, keepdims=True), 1.0)

    return CandidateFeatures, LinformerAttention, MaskedMean


def build_encoder(architecture: dict, max_candidates: int, n_classes: int, seed: int):
    """(encoder, trainer): `encoder` maps the raw view (B, N, 6) to the latent z; `trainer` to
    (z, normalised projection, class logits)."""
    import tensorflow as tf

    keras = _keras()
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    features, attention, pool = _layers()
    d = architecture["embedding"]
    inputs = keras.Input((max_candidates, 6), name="candidates")
    x, mask = features(name="features")(inputs)
    h = keras.layers.Dense(d, name="embed")(x)
    for i in range(architecture["layers"]):
        y = keras.layers.LayerNormalization(name=f"ln_a{i}")(h)
        h = h + attention(architecture["heads"], architecture["projection_k"], name=f"attn{i}")([y, mask])
        y = keras.layers.LayerNormalization(name=f"ln_f{i}")(h)
        y = keras.layers.Dense(architecture["feed_forward"], activation="gelu", name=f"ff{i}a")(y)
        h = h + keras.layers.Dense(d, name=f"ff{i}b")(y)
    h = keras.layers.LayerNormalization(name="ln_out")(h)
    z = keras.layers.Dense(architecture["latent"], name="latent")(pool(name="pool")([h, mask]))
    encoder = keras.Model(inputs, z, name="hlt_encoder")
    p = keras.layers.Dense(architecture["projection_head"], activation="relu", name="proj_a")(z)
    p = keras.layers.Dense(architecture["projection_head"], name="proj_b")(p)
    p = keras.layers.UnitNormalization(name="proj_norm")(p)
    logits = keras.layers.Dense(n_classes, name="classes")(z)
    return encoder, keras.Model(inputs, [z, p, logits], name="hlt_trainer")


def info_nce(p1, p2, temperature: float):
    """NT-Xent: each event's two augmented views are positives, the other 2B - 2 views of the batch negatives."""
    import tensorflow as tf

    p = tf.concat([p1, p2], 0)
    n = tf.shape(p1)[0]
    sim = tf.matmul(p, p, transpose_b=True) / temperature - 1e9 * tf.eye(2 * n)
    target = tf.concat([tf.range(n, 2 * n), tf.range(0, n)], 0)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(target, sim))


def augment(x: np.ndarray, rng: np.random.Generator, aug: dict) -> np.ndarray:
    """An augmented view of a batch of raw candidates: each candidate dropped with `drop`, the event rotated
    in phi (uniformly: a symmetry) and shifted in eta (Gaussian `eta_shift`), each pT smeared (`pt_smear`),
    then re-sorted by pT (the Linformer projection is position-specific)."""
    x = x.copy()
    real = x[..., 0] > 0
    n = len(x)
    x[real & (rng.random(real.shape) < aug["drop"])] = 0.0
    real = x[..., 0] > 0
    x[..., 2] = np.where(real, np.mod(x[..., 2] + rng.uniform(-np.pi, np.pi, (n, 1)) + np.pi, 2 * np.pi) - np.pi, 0)
    x[..., 1] = np.where(real, x[..., 1] + rng.normal(0, aug["eta_shift"], (n, 1)), 0)
    x[..., 0] = np.where(real, np.maximum(x[..., 0] * (1 + rng.normal(0, aug["pt_smear"], real.shape)), 1e-3), 0)
    order = np.argsort(-x[..., 0], axis=1, kind="stable")
    return np.take_along_axis(x, order[..., None], axis=1)
