"""The compaction step: a pruned model with its dead units removed."""

import math
import warnings

import keras
import numpy as np
from keras import ops

from keras_svd.compaction_report import CompactionReport
from keras_svd.feature_gather import FeatureGather
from keras_svd.layers.perma_dropout import PermaDropout
from keras_svd.strip import strip_variational

# Activations applied to each element alone (softmax mixes the units).
_ELEMENTWISE = frozenset(
    {
        "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "celu",
        "gelu", "sigmoid", "hard_sigmoid", "tanh", "softplus", "softsign",
        "silu", "swish", "hard_silu", "hard_swish", "exponential", "mish",
    }
)
_CONVS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
_POOLS = (
    keras.layers.MaxPooling1D, keras.layers.MaxPooling2D,
    keras.layers.MaxPooling3D, keras.layers.AveragePooling1D,
    keras.layers.AveragePooling2D, keras.layers.AveragePooling3D,
)
_GLOBAL_POOLS = (
    keras.layers.GlobalAveragePooling1D, keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalAveragePooling3D, keras.layers.GlobalMaxPooling1D,
    keras.layers.GlobalMaxPooling2D, keras.layers.GlobalMaxPooling3D,
)


def compact(model):
    """Returns `(compact_model, report)`: `model` with dead units removed.

    A pruned kernel is stored dense, zeros included. This removes what the
    zeros make useless, so the model itself gets smaller and faster:

    - a unit (a `Dense` unit or a convolution's filter) whose incoming
      kernel weights are all zero outputs the constant `activation(bias)`:
      the constant is added to the next layer's bias and the unit removed;
    - a unit whose outgoing weights in the next layer are all zero is
      removed;
    - input features that no kept weight reads are dropped by a
      `keras_svd.FeatureGather` before the layer, so the compact model
      still takes the original inputs (the pixels a pruned LeNet-300-100
      never reads, the positions of a flattened feature map that the
      dense layer ignores).

    Removing units can empty other rows and columns, so this repeats until
    nothing changes. It follows a unit through the layers between two
    kernels that act on each feature alone: elementwise activations,
    pooling, `Dropout`, `PermaDropout` (a nonzero constant is not folded
    through it, since it would no longer be dropped), `BatchNormalization`
    on the units' axis, `Identity`, and `Flatten` (the channels are mapped
    to the flattened positions for both data formats). Kernels are `Dense`
    and ungrouped `Conv1D` / `Conv2D` / `Conv3D`. Nested models that are
    chains are inlined (the compact model is flat; a repeated layer name
    gets a suffix). Anything else (another layer between two kernels, a
    nested model that is not a chain, a model that is not a chain, such as
    a residual join) is left dense, with a warning and an entry in
    `report.skipped` naming the layer and the reason. The last kernel's
    units (the model's outputs) are all kept.

    The compact model computes the stripped model's outputs up to float
    rounding (the folded constants change the order of the additions).

    Args:
        model: a built functional or `Sequential` model: a trained
            variational model (stripped first with
            `keras_svd.strip_variational`) or a plain one, e.g. its stripped
            copy. It is not changed.

    Returns:
        A tuple `(compact_model, report)`: a new uncompiled model of the same
        kind (Sequential or functional) and a `CompactionReport` (units,
        parameters and multiply-adds per layer, before and after).

    Example:

    ```python
    small, report = keras_svd.compact(model)
    print(report)               # units, parameters, multiply-adds
    small.save("compact.keras")
    ```
    """
    stripped = strip_variational(model)
    report = CompactionReport()
    chain, reason = _chain(stripped)
    if chain is None:
        report.skipped.append(reason)
        for row in _rows(stripped.layers, stripped.layers):
            report.layers.append(row)
        _warn(report)
        return stripped, report
    plan = _Plan(chain, report)
    plan.solve()
    compact_model = plan.build(stripped)
    new_layers = [plan.new_layers[i] for i in range(len(chain))]
    report.layers = _rows(chain, new_layers)
    _warn(report)
    return compact_model, report


def _warn(report):
    for entry in report.skipped:
        warnings.warn(
            f"compact left layer {entry['layer']!r} dense: {entry['reason']}",
            UserWarning,
            stacklevel=3,
        )


# -- The chain ---------------------------------------------------------------


def _chain(model):
    """The model's layers as a chain, or `(None, skipped_entry)`.

    Nested models that are chains themselves are inlined; others stay in
    the chain as one layer (which `_Plan` does not follow).
    """
    layers = [
        layer
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]
    if isinstance(model, keras.Sequential):
        return _inline(layers), None
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        return None, {
            "layer": model.name,
            "reason": "the model has several inputs or outputs (not a chain)",
        }
    previous = model.inputs[0]
    for layer in layers:
        try:
            inputs = layer.input
        except (AttributeError, ValueError):
            inputs = None
        if inputs is not previous:
            return None, {
                "layer": layer.name,
                "reason": "its inputs are not the previous layer's output "
                "alone (a join, such as a residual connection, or a branch); "
                "only chains are compacted",
            }
        previous = layer.output
    if previous is not model.outputs[0]:
        return None, {
            "layer": layers[-1].name if layers else model.name,
            "reason": "the model's output is not the last layer's",
        }
    return _inline(layers), None


def _inline(layers):
    flat = []
    for layer in layers:
        inner = _chain(layer)[0] if isinstance(layer, keras.Model) else None
        flat.extend([layer] if inner is None else inner)
    return flat


def _is_kernel_layer(layer):
    """A plain float `Dense` or ungrouped convolution (kernel, bias)."""
    if getattr(layer, "lora_enabled", False) or getattr(
        layer, "quantization_mode", None
    ):
        return False
    if isinstance(layer, keras.layers.Dense):
        return True
    return isinstance(layer, _CONVS) and getattr(layer, "groups", 1) == 1


def _elementwise(activation):
    name = keras.activations.serialize(activation)
    return isinstance(name, str) and name in _ELEMENTWISE


def _channel_axis(data_format, rank):
    return 1 if data_format == "channels_first" else rank - 1


def _input_axis(layer, rank):
    if isinstance(layer, keras.layers.Dense):
        return rank - 1
    return _channel_axis(layer.data_format, rank)


def _apply(layer, values):
    """An elementwise layer's output for `values` (1-D float64)."""
    out = layer(ops.convert_to_tensor(values[None].astype("float32")))
    return ops.convert_to_numpy(out)[0].astype("float64")


class _Kernel:
    """A kernel layer's weights, rows (input features) first."""

    def __init__(self, layer):
        weights = layer.get_weights()
        kernel = weights[0].astype("float64")
        self.rows = np.moveaxis(kernel, -2, 0)  # (in, *spatial, out)
        units = kernel.shape[-1]
        self.bias = (
            weights[1].astype("float64") if layer.use_bias else np.zeros(units)
        )
        self.needs_bias = layer.use_bias
        self.keep = np.ones(units, bool)

    def dead_in(self):
        flat = self.rows.reshape(-1, self.rows.shape[-1])
        return self.keep & ~np.any(flat != 0, axis=0)

    def used_rows(self):
        flat = self.rows.reshape(self.rows.shape[0], -1)
        return np.any(flat != 0, axis=1)


class _Link:
    """The layers between kernel `a` and kernel `b` and where units go."""

    def __init__(self, a, b, steps, owner, conv_b_padding):
        self.a, self.b = a, b
        # [(chain index, kind, unit behind each input feature, feature axis)]
        self.steps = steps
        self.owner = owner  # unit of `a` behind each input row of `b`
        self.conv_b_padding = conv_b_padding


class _Plan:
    def __init__(self, chain, report):
        self.chain = chain
        self.report = report
        self.kernels = {
            i: _Kernel(layer)
            for i, layer in enumerate(chain)
            if _is_kernel_layer(layer)
        }
        self.links = {}  # index of `a` -> _Link
        self.incoming = {}  # index of `b` -> _Link
        self._link_all()
        self.new_layers = {}

    # -- Analysis ------------------------------------------------------------

    def _link_all(self):
        indices = sorted(self.kernels)
        for a in indices[:-1]:  # The last kernel's units are the outputs.
            layer = self.chain[a]
            if not _elementwise(layer.activation):
                self._skip(layer, "its activation mixes its units (not "
                           "elementwise), so they are all kept")
                continue
            link = self._follow(a)
            if link is not None:
                self.links[a] = link
                self.incoming[link.b] = link

    def _skip(self, layer, reason):
        names = {entry["layer"] for entry in self.report.skipped}
        if layer.name not in names:
            self.report.skipped.append({"layer": layer.name, "reason": reason})

    def _follow(self, a):
        """The link from kernel `a` to the next kernel, or None."""
        out_shape = tuple(self.chain[a].output.shape)
        rank = len(out_shape)
        axis = _input_axis(self.chain[a], rank)
        owner = np.arange(out_shape[axis])
        steps = []
        for i in range(a + 1, len(self.chain)):
            layer = self.chain[i]
            in_shape = tuple(layer.input.shape)
            rank = len(in_shape)
            if i in self.kernels:
                if _input_axis(layer, rank) != axis:
                    self._skip(layer, "it does not read the previous "
                               "kernel's units on its input axis")
                    return None
                padding = getattr(layer, "padding", "valid")
                return _Link(a, i, steps, owner, padding)
            kind = self._kind(layer, axis, rank)
            if isinstance(kind, str) and kind.startswith("!"):
                self._skip(layer, kind[1:])
                return None
            steps.append((i, kind, owner, axis))
            if kind == "flatten":
                owner = _flatten_features(layer, in_shape, axis, owner)
                axis = 1
            elif kind == "global_pool":
                if not layer.keepdims:
                    axis = 1
        return None

    def _kind(self, layer, axis, rank):
        if isinstance(layer, (keras.layers.Identity,)):
            return "same"
        if isinstance(layer, keras.layers.Dropout):
            if layer.noise_shape is not None:
                return "!a dropout noise_shape fixes the number of units"
            return "perma" if isinstance(layer, PermaDropout) else "same"
        if isinstance(layer, keras.layers.Activation):
            if not _elementwise(layer.activation):
                return "!its activation mixes the units (not elementwise)"
            return "elementwise"
        if isinstance(
            layer,
            (keras.layers.ReLU, keras.layers.LeakyReLU, keras.layers.ELU),
        ):
            return "elementwise"
        if isinstance(layer, _POOLS + _GLOBAL_POOLS):
            if _channel_axis(layer.data_format, rank) != axis:
                return "!it pools on the units' axis"
            if isinstance(layer, _GLOBAL_POOLS):
                return "global_pool"
            return "same"
        if isinstance(layer, keras.layers.BatchNormalization):
            if not isinstance(layer.axis, int) or layer.axis % rank != axis:
                return "!it normalizes another axis than the units'"
            return "batch_norm"
        if isinstance(layer, keras.layers.Flatten):
            return "flatten"
        if isinstance(layer, keras.Model):
            return "!a nested model that is not a chain is not compacted"
        return (
            f"!{type(layer).__name__} is not a per-unit layer that compact "
            "can follow, so the units before it are kept"
        )

    def _constants(self, link):
        """The constant each input row of `b` gets from a dead unit."""
        layer_a = self.chain[link.a]
        kernel = self.kernels[link.a]
        values = ops.convert_to_numpy(
            layer_a.activation(
                ops.convert_to_tensor(kernel.bias.astype("float32"))
            )
        ).astype("float64")
        stochastic = np.zeros(len(values), bool)
        current = values
        for index, kind, owner, axis in link.steps:
            layer = self.chain[index]
            if kind == "elementwise":
                current = _apply(layer, current)
            elif kind == "batch_norm":
                current = _batch_norm(layer, current)
            elif kind == "perma":
                stochastic |= np.bincount(
                    owner, weights=(current != 0), minlength=len(values)
                ) > 0
            elif kind == "flatten":
                current = _flatten_features(
                    layer, tuple(layer.input.shape), axis, current
                )
        return current, stochastic

    def solve(self):
        changed = True
        while changed:
            changed = False
            for a, link in self.links.items():
                changed |= self._fold_dead_in(link)
                changed |= self._drop_dead_out(link)

    def _fold_dead_in(self, link):
        kernel_a, kernel_b = self.kernels[link.a], self.kernels[link.b]
        dead = kernel_a.dead_in()
        if not dead.any():
            return False
        values, stochastic = self._constants(link)
        changed = False
        for unit in np.flatnonzero(dead):
            rows = np.flatnonzero(link.owner == unit)
            block = kernel_b.rows[rows]
            if not block.any():
                if kernel_a.keep.sum() > 1:
                    kernel_a.keep[unit] = False
                    changed = True
                continue
            nonzero = np.any(values[rows] != 0)
            if nonzero and (
                stochastic[unit]
                or (block.ndim > 2 and link.conv_b_padding != "valid")
            ):
                continue
            flat = block.reshape(len(rows), -1, block.shape[-1]).sum(axis=1)
            kernel_b.bias += values[rows] @ flat
            kernel_b.needs_bias |= bool(nonzero)
            kernel_b.rows[rows] = 0
            changed = True
            if kernel_a.keep.sum() > 1:
                kernel_a.keep[unit] = False
        return changed

    def _drop_dead_out(self, link):
        kernel_a, kernel_b = self.kernels[link.a], self.kernels[link.b]
        used = np.zeros(len(kernel_a.keep), bool)
        np.logical_or.at(used, link.owner, kernel_b.used_rows())
        dead = kernel_a.keep & ~used
        changed = False
        for unit in np.flatnonzero(dead):
            if kernel_a.keep.sum() <= 1:
                break
            kernel_a.keep[unit] = False
            kernel_a.rows[..., unit] = 0
            changed = True
        return changed

    # -- Rebuilding ----------------------------------------------------------

    def _row_selection(self, b):
        """(rows of `b`'s kernel to keep, gather positions or None)."""
        kernel = self.kernels[b]
        n_rows = kernel.rows.shape[0]
        link = self.incoming.get(b)
        if link is None:
            present = np.arange(n_rows)
        else:
            present = np.flatnonzero(self.kernels[link.a].keep[link.owner])
        used = kernel.used_rows()[present]
        if used.all():
            return present, None
        if not used.any():
            used[0] = True
        return present[used], np.flatnonzero(used)

    def build(self, stripped):
        chain = self.chain
        layers, weights = [], []
        names = set()  # Inlined nested models may repeat a name.
        for i, layer in enumerate(chain):
            config = layer.get_config()
            config["name"] = _unique(layer.name, names)
            if i in self.kernels:
                kernel = self.kernels[i]
                rows, gather = self._row_selection(i)
                if gather is not None:
                    rank = len(layer.input.shape)
                    layers.append(
                        FeatureGather(
                            gather.tolist(),
                            axis=_input_axis(layer, rank),
                            name=_unique(f"{layer.name}_gather", names),
                        )
                    )
                    weights.append(None)
                keep = kernel.keep
                dense = isinstance(layer, keras.layers.Dense)
                config["units" if dense else "filters"] = int(keep.sum())
                config["use_bias"] = bool(kernel.needs_bias)
                dtype = layer.kernel.dtype
                new_kernel = np.moveaxis(kernel.rows[rows][..., keep], 0, -2)
                new_weights = [np.asarray(new_kernel, dtype)]
                if kernel.needs_bias:
                    new_weights.append(np.asarray(kernel.bias[keep], dtype))
            else:
                new_weights = layer.get_weights()
                mask = self._feature_mask(i)
                if mask is not None and new_weights:
                    new_weights = [w[mask] for w in new_weights]
            new = layer.__class__.from_config(config)
            self.new_layers[i] = new
            layers.append(new)
            weights.append(new_weights)
        inputs = keras.Input(
            batch_shape=stripped.inputs[0].shape,
            dtype=stripped.inputs[0].dtype,
        )
        if isinstance(stripped, keras.Sequential):
            result = keras.Sequential([inputs, *layers], name=stripped.name)
        else:
            x = inputs
            for layer in layers:
                x = layer(x)
            result = keras.Model(inputs, x, name=stripped.name)
        for layer, values in zip(layers, weights):
            if values:
                layer.set_weights(values)
        return result

    def _feature_mask(self, index):
        """Which features of layer `index`'s input stay, or None (all)."""
        for link in self.links.values():
            for step_index, _, owner, _ in link.steps:
                if step_index == index:
                    keep = self.kernels[link.a].keep[owner]
                    return None if keep.all() else keep
        return None


def _unique(name, names):
    """`name`, or `name_2`, `name_3`, ... if taken; added to `names`."""
    candidate, n = name, 1
    while candidate in names:
        n += 1
        candidate = f"{name}_{n}"
    names.add(candidate)
    return candidate


def _flatten_features(layer, in_shape, axis, features):
    """Per-feature `features` on `axis`, as `Flatten` orders its outputs."""
    shape = [1] * (len(in_shape) - 1)
    shape[axis - 1] = len(features)
    grid = np.broadcast_to(features.reshape(shape), in_shape[1:])
    if layer.data_format == "channels_first" and grid.ndim > 1:
        grid = np.moveaxis(grid, 0, -1)
    return grid.reshape(-1)


def _batch_norm(layer, values):
    weights = layer.get_weights()
    gamma = weights.pop(0) if layer.scale else 1.0
    beta = weights.pop(0) if layer.center else 0.0
    mean, variance = weights
    return (values - mean) / np.sqrt(variance + layer.epsilon) * gamma + beta


def _params(layer):
    return int(sum(math.prod(w.shape) for w in layer.weights))


def _macs(layer):
    """Multiply-adds per example of a `Dense` or convolution, else 0."""
    units = _units(layer)
    if units is None:
        return 0
    out = tuple(layer.output.shape)[1:]
    return int(math.prod(layer.kernel.shape) * math.prod(out) // units)


def _units(layer):
    if isinstance(layer, keras.layers.Dense):
        return layer.units
    if isinstance(layer, _CONVS):
        return layer.filters
    return None


def _rows(before, after):
    rows = []
    for old, new in zip(before, after):
        if not old.weights:
            continue
        rows.append(
            {
                "layer": old.name,
                "units_before": _units(old),
                "units_after": _units(new),
                "params_before": _params(old),
                "params_after": _params(new),
                "macs_before": _macs(old),
                "macs_after": _macs(new),
            }
        )
    return rows


__all__ = ["compact"]
