"""Explicit per-layer accumulator and result precisions, hls4ml-style.

Deployed firmware often sets a layer's accumulator (`accum_t`) and result (`result_t`) by hand instead of
the exact widths codesign derives (CICADA's dense accumulators are `ap_fixed<26,14>`, which wrap on extreme
inputs).  They come from a model card's ``hls_config`` or a YAML file passed with ``--hls-config``, in the
layout of hls4ml's configuration::

    LayerName:
      dense1:
        Precision:
          accum: ap_fixed<26,14>       # ap_types' defaults AP_TRN, AP_WRAP unless stated
          result: ap_fixed<26,14>

Only Dense/Conv2D layers take them (`graph._explicit_accumulator` says which accumulators are exact to
emulate); every other key is refused, so a typo never silently leaves a layer exact.
"""

from __future__ import annotations

from pathlib import Path

from codesign.errors import CodesignError
from codesign.fixed.fixed_format import FixedFormat

KEYS = ("accum", "result")
Precisions = dict[str, dict[str, FixedFormat]]


def parse_precisions(config: dict | None, where: str) -> Precisions:
    """layer name -> {"accum"/"result": format} from an hls4ml-style mapping (``{"LayerName": ...}``)."""
    if not config:
        return {}
    if not isinstance(config, dict) or set(config) != {"LayerName"} or not isinstance(config["LayerName"], dict):
        raise CodesignError(f"{where}: expected a mapping with one key, LayerName: {{layer: {{Precision: {{accum:"
                            " ap_fixed<W,I>, result: ...}}}}")
    result: Precisions = {}
    for layer, entry in config["LayerName"].items():
        precision = entry.get("Precision") if isinstance(entry, dict) and set(entry) == {"Precision"} else None
        if not isinstance(precision, dict) or not set(precision) <= set(KEYS) or not precision:
            raise CodesignError(f"{where}: layer {layer}: give Precision with accum and/or result (nothing else)")
        try:
            result[str(layer)] = {key: FixedFormat.parse(str(text)) for key, text in precision.items()}
        except ValueError as err:
            raise CodesignError(f"{where}: layer {layer}: {err}") from None
    return result


def read_hls_config(path: Path) -> Precisions:
    """The precisions of an hls4ml-style YAML file (`--hls-config`)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise CodesignError(f"hls config {path} does not exist")
    try:
        config = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise CodesignError(f"{path} is not YAML ({str(err).splitlines()[0]})") from None
    return parse_precisions(config, str(path))
