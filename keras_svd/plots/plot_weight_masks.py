"""`plot_weight_masks`: which weights of a layer are kept, as images."""

import math
import warnings

import keras
import numpy as np
from keras import ops

from keras_svd.layers.variational_protocol import is_variational
from keras_svd.model_utils import all_layers
from keras_svd.plots.figure_utils import check_figure
from keras_svd.plots.figure_utils import check_path
from keras_svd.plots.figure_utils import import_pyplot
from keras_svd.plots.figure_utils import panel_grid
from keras_svd.plots.figure_utils import save
from keras_svd.validation import check_positive_int
from keras_svd.validation import is_integer

# Kernel ranks: Dense (inputs, units) and Conv2D (rows, columns, inputs,
# filters).
DENSE_RANK = 2
CONV2D_RANK = 4


def plot_weight_masks(
    model_or_layer,
    layer=None,
    image_shape=None,
    max_panels=64,
    channel=None,
    fig=None,
    path=None,
):
    """Draws a layer's kept kernel weights as images, pruned ones blank.

    One panel per unit of a Dense layer (its incoming kernel column laid out
    as the input image: which pixels the unit still reads) or per filter of
    a Conv2D layer (its kernel window). Kept weights are coloured by their
    value theta on a diverging scale centred on 0; pruned weights are blank
    (NaN in the image data). Units or filters with no kept weight ("dead")
    get no panel; the title counts them.

    A weight is kept when `pruning_mask()` is 1 for a variational layer
    (`VariationalDense`, `VariationalConv2D`, any
    `keras_svd.layers.VariationalProtocol` layer: log alpha below its
    `threshold`), and when it is non-zero for a plain layer (such as the
    copy that `keras_svd.strip_variational` exports).

    Args:
        model_or_layer: a built Keras model, or a Dense / Conv2D layer
            (plain or variational).
        layer: the layer of the model to draw: its name, or the layer
            itself. Default: `model_or_layer` itself when it is a Dense or
            Conv2D layer, else the model's first Dense or Conv2D layer.
        image_shape: for a Dense layer, the shape `(rows, columns)` or
            `(rows, columns, channels)` of its input before flattening; its
            product must be the layer's number of inputs. Default: the
            input shape of the `Flatten` layer that feeds the Dense layer
            (possibly through shape-preserving layers such as `Dropout`);
            required when there is none. Ignored for Conv2D.
        max_panels: the most panels to draw (the first live units or
            filters).
        channel: the input channel to show for a Conv2D layer, or for a
            Dense layer whose image has channels; None averages the kept
            weights over the channels (a pixel is blank only when its
            weights are pruned in every channel).
        fig: optional empty matplotlib `Figure` to draw on; a new figure
            otherwise.
        path: optional file to save the figure to (PNG, PDF, SVG, ...).

    Returns:
        The matplotlib `Figure`: one image per panel (`ax.images[0]`), plus
        a colour bar of theta.

    Raises:
        ImportError: when matplotlib is not installed.
        ValueError: when the layer is not found, is not a Dense or Conv2D
            layer, is not built, or when `image_shape`, `max_panels` or
            `channel` is bad (or `image_shape` is needed and missing).

    Example:

    ```python
    model = keras_svd.models.lenet_300_100()
    ...  # train
    keras_svd.plots.plot_weight_masks(model, "dense_300", path="masks.png")
    ```
    """
    plt = import_pyplot("plot_weight_masks")
    check_figure(fig, plt)
    check_path(path)
    max_panels = check_positive_int(max_panels, "max_panels")
    target = _find_layer(model_or_layer, layer)
    theta, kept = _kernel_and_mask(target)
    values = np.where(kept, theta, np.nan)
    if theta.ndim == DENSE_RANK:
        shape = _image_shape(model_or_layer, target, image_shape)
        # (inputs, units) -> (units, rows, columns[, channels]).
        images = np.moveaxis(values, -1, 0).reshape((-1,) + shape)
        has_channels = len(shape) == 3
        unit_name, labels = "unit", ("input column", "input row")
    else:
        # (rows, columns, inputs, filters) -> (filters, rows, columns, in).
        images = np.moveaxis(values, -1, 0)
        has_channels = True
        unit_name, labels = "filter", ("kernel column", "kernel row")
    if has_channels:
        images = _select_channel(images, channel)
    elif channel is not None:
        raise ValueError(
            "channel is for a Conv2D layer or an image with channels; "
            f"layer {target.name!r} reads an image of shape "
            f"{images.shape[1:]}. Received: channel={channel!r}"
        )

    count = images.shape[0]
    alive = [i for i in range(count) if kept_any(images[i])]
    shown = alive[:max_panels]
    title = (
        f"{target.name}: kept weights of {len(alive)} of {count} "
        f"{unit_name}s ({count - len(alive)} dead: no kept weight)"
    )
    if len(shown) < len(alive):
        title += f"; the first {len(shown)} shown"
    if not shown:
        if fig is None:
            fig = plt.figure(figsize=(5, 2), layout="constrained")
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "every weight is pruned", ha="center",
                va="center", transform=ax.transAxes)
        ax.set_axis_off()
        fig.suptitle(title)
        return save(fig, path)

    fig, axes = panel_grid(plt, fig, len(shown), (1.1, 1.1), max_columns=10)
    limit = np.nanmax(np.abs(images[shown]))
    limit = float(limit) if limit > 0 else 1.0
    # Pruned (NaN): transparent, the panel's background.
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad=(0.0, 0.0, 0.0, 0.0))
    for ax, index in zip(axes, shown):
        image = ax.imshow(
            images[index], cmap=cmap, vmin=-limit, vmax=limit,
            interpolation="nearest",
        )
        ax.set_title(f"{unit_name} {index}", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=axes, shrink=0.8,
                 label="θ, kept weight value (blank: pruned)")
    fig.suptitle(title)
    fig.supxlabel(labels[0])
    fig.supylabel(labels[1])
    return save(fig, path)


def kept_any(image):
    """Whether an image (NaN where pruned) has a kept weight."""
    return bool(np.any(~np.isnan(image)))


def mask_layers(model):
    """The Dense and Conv2D layers of `model` (plain or variational).

    Args:
        model: a built Keras model or layer.

    Returns:
        The built layers, nested models included, whose kernel has the
        rank of a Dense (2) or Conv2D (4) kernel, in the model's order.
    """
    return [layer for layer in all_layers(model) if _kind(layer) is not None]


def _kind(layer):
    kernel = getattr(layer, "kernel", None)
    if kernel is None or isinstance(kernel, (list, tuple)):
        return None
    rank = len(kernel.shape)
    return {DENSE_RANK: "dense", CONV2D_RANK: "conv2d"}.get(rank)


def _find_layer(model, layer):
    if layer is None:
        if _kind(model) is not None:
            return model
        candidates = mask_layers(model)
        if not candidates:
            raise ValueError(
                "model_or_layer has no Dense or Conv2D layer (with a built "
                "kernel) to draw. "
                f"Received: model_or_layer={getattr(model, 'name', model)!r}"
            )
        return candidates[0]
    if isinstance(layer, str):
        found = [x for x in all_layers(model) if x.name == layer]
        if not found:
            names = [x.name for x in all_layers(model)[1:]]
            raise ValueError(
                f"No layer named {layer!r} in {getattr(model, 'name', model)!r}"
                f" (its layers: {', '.join(names)}). Received: layer={layer!r}"
            )
        layer = found[0]
    elif not isinstance(layer, keras.layers.Layer):
        raise ValueError(
            "layer must be a layer name, a Keras layer or None. "
            f"Received: layer={layer!r}"
        )
    if _kind(layer) is None:
        raise ValueError(
            f"Layer {layer.name!r} ({type(layer).__name__}) is not a Dense "
            "or Conv2D layer with a built kernel: only those have masks to "
            f"draw. Received: layer={layer.name!r}"
        )
    return layer


def _kernel_and_mask(layer):
    """theta and the boolean kept mask, as NumPy arrays."""
    theta = ops.convert_to_numpy(ops.cast(layer.kernel, "float32"))
    if is_variational(layer, strict=True):
        kept = ops.convert_to_numpy(layer.pruning_mask()) > 0.5
    else:
        kept = theta != 0
    return theta.astype(np.float64), kept


def _image_shape(model, layer, image_shape):
    inputs = int(layer.kernel.shape[0])
    if image_shape is not None:
        shape = tuple(image_shape) if isinstance(
            image_shape, (tuple, list)
        ) else None
        if (
            shape is None
            or len(shape) not in (2, 3)
            or not all(is_integer(n) and n > 0 for n in shape)
            or math.prod(shape) != inputs
        ):
            raise ValueError(
                "image_shape must be (rows, columns) or (rows, columns, "
                f"channels) of positive integers whose product is the "
                f"{inputs} inputs of layer {layer.name!r}. "
                f"Received: image_shape={image_shape!r}"
            )
    else:
        shape = flattened_image_shape(model, layer)
        if shape is None:
            raise ValueError(
                f"Cannot tell the image that the {inputs} inputs of layer "
                f"{layer.name!r} come from: no Flatten of an image feeds "
                "it. Pass image_shape, e.g. (rows, columns) whose product "
                f"is {inputs}. Received: image_shape=None"
            )
    shape = tuple(int(n) for n in shape)
    if len(shape) == 3 and shape[-1] == 1:
        shape = shape[:2]
    return shape


def flattened_image_shape(model, layer):
    """The image shape that a `Flatten` feeding `layer` flattens, or None.

    The layer's predecessors in the list of layers of the model that holds
    it are walked back over layers whose output shape is their input shape
    (`Dropout`, `Activation`, ...) to a `Flatten` layer; its input shape
    (without the batch axis) is returned when it has 2 or 3 axes whose
    product is the layer's number of inputs.

    Args:
        model: the Keras model holding `layer` (nested models included).
        layer: a built Dense layer of `model`.

    Returns:
        A tuple `(rows, columns)` or `(rows, columns, channels)`, or None.
    """
    inputs = int(layer.kernel.shape[0])
    for container in all_layers(model):
        siblings = list(getattr(container, "layers", None) or [])
        if layer not in siblings:
            continue
        for previous in reversed(siblings[: siblings.index(layer)]):
            input_shape, output_shape = _io_shapes(previous)
            if input_shape is None:
                return None
            if isinstance(previous, keras.layers.Flatten):
                shape = input_shape[1:]
                if (
                    len(shape) in (2, 3)
                    and None not in shape
                    and math.prod(shape) == inputs
                ):
                    return shape
                return None
            if input_shape != output_shape:
                return None
        return None
    return None


def _io_shapes(layer):
    """A layer's (first) input and output shapes, or (None, None)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return tuple(layer.input.shape), tuple(layer.output.shape)
    except (AttributeError, ValueError, TypeError):
        return None, None


def _select_channel(images, channel):
    """(n, rows, columns, channels) -> (n, rows, columns)."""
    channels = images.shape[-1]
    if channel is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # All-NaN pixels.
            return np.nanmean(images, axis=-1)
    if not is_integer(channel) or not 0 <= channel < channels:
        raise ValueError(
            f"channel must be None or an integer in [0, {channels}). "
            f"Received: channel={channel!r}"
        )
    return images[..., int(channel)]


__all__ = ["plot_weight_masks"]
