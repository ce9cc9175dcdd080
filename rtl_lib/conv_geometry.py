"""The geometry of an event-driven 2-D convolution: pure Python, nothing built.

A convolution layer's input and output are spike maps stored **channels last**: a map of
shape (H, W, C) sends the event of channel ``c`` at row ``y``, column ``x`` as the flat index
``(y * W + x) * C + c``, and a time step's events arrive in ascending index. (PyTorch orders
``(C, H, W)``; the loaders permute, so that one output word of ``P`` channel lanes at one
position is ``P`` consecutive indices.)

:class:`ConvGeometry` says which output neurons an input event reaches: the **taps** of an
input row ``y`` are the pairs ``(ky, oy)`` of kernel row and output row with
``oy * stride + ky * dilation - padding == y // pool`` (likewise for columns), so an event
``(y, x, c)`` adds ``weight[:, c, ky, kx]`` to the neurons ``(oy, ox, :)`` of every row tap
``(ky, oy)`` and column tap ``(kx, ox)``. ``pool`` folds a k×k sum pooling of the input
(stride k, trailing rows and columns that do not fill a window dropped) into the layer: an
event is first moved to its pooled position. ``current_pool`` is a k×k max pooling of
the convolution's output before the neurons (``Conv2d -> MaxPool2d -> Leaky``): each step's
input currents are summed into a map of the convolution's size, and each neuron takes the
largest of its window. ``out_pool`` is a k×k max pooling of the layer's output spikes (a
spike of the pooled map is the OR of its window, per step). Both maps must divide into
windows.

Both the reference model (:mod:`spikegen.reference`) and the hardware
(:class:`~rtl_lib.conv_layer.ConvLayer`) read the taps from here.
"""
from dataclasses import dataclass


__all__ = ["ConvGeometry", "conv_output_size"]


def conv_output_size(size, kernel, stride, padding, dilation, padding_end=None):
    """Output length of a convolution along one axis (PyTorch's formula); ``padding_end``
    defaults to ``padding`` (symmetric)."""
    end = padding if padding_end is None else padding_end
    return (size + padding + end - dilation * (kernel - 1) - 1) // stride + 1


def _pair(label, value, minimum):
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    value = tuple(value)
    if (len(value) != 2 or any(not isinstance(v, int) or isinstance(v, bool) or v < minimum
                               for v in value)):
        raise TypeError(f"{label} must be an integer or a pair of integers of at least "
                        f"{minimum}, not {value!r}")
    return value


@dataclass(frozen=True)
class ConvGeometry:
    """Shapes and taps of one convolution layer (channels-last maps, see the module
    docstring).

    Parameters
    ----------
    in_hw : (int, int)
        Rows and columns of the input map (before ``pool``).
    in_channels, out_channels : int
    kernel, stride, dilation : (int, int) or int
    padding : (int, int) or int
        Zero rows above and columns left of the (pooled) input; the rows below and columns
        right follow from ``out_hw``.
    out_hw : (int, int)
        Rows and columns of the convolution's output (before ``out_pool``).
    pool, current_pool, out_pool : int
        Sum pooling of the input, max pooling of the convolution's output before the
        neurons, and max pooling of the output spikes (1: none).
    """
    in_hw: tuple
    in_channels: int
    out_channels: int
    kernel: tuple
    out_hw: tuple
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    dilation: tuple = (1, 1)
    pool: int = 1
    out_pool: int = 1
    current_pool: int = 1

    def __post_init__(self):
        for name, minimum in (("in_hw", 1), ("kernel", 1), ("out_hw", 1), ("stride", 1),
                              ("padding", 0), ("dilation", 1)):
            object.__setattr__(self, name, _pair(name.replace("_", " ").capitalize(),
                                                 getattr(self, name), minimum))
        for label, value in (("Input channels", self.in_channels),
                             ("Output channels", self.out_channels),
                             ("Input pooling", self.pool), ("Output pooling", self.out_pool)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise TypeError(f"{label} must be a positive integer, not {value!r}")
        if any(s < self.pool for s in self.in_hw):
            raise ValueError(f"A {self.in_hw[0]}x{self.in_hw[1]} input is smaller than its "
                             f"{self.pool}x{self.pool} pooling window")
        if any(s % self.current_pool for s in self.out_hw):
            raise ValueError(f"A {self.out_hw[0]}x{self.out_hw[1]} convolution output does not "
                             f"divide into {self.current_pool}x{self.current_pool} "
                             "max-pooling windows")
        if any(s % self.out_pool for s in self.neuron_hw):
            h, w = self.neuron_hw
            raise ValueError(f"A {h}x{w} output map does not divide into "
                             f"{self.out_pool}x{self.out_pool} max-pooling windows")

    # -- shapes ---------------------------------------------------------------------------------

    @property
    def pooled_hw(self):
        """The input map after the input pooling."""
        return tuple(s // self.pool for s in self.in_hw)

    @property
    def neuron_hw(self):
        """The map of the layer's neurons (after the max pooling of currents)."""
        return tuple(s // self.current_pool for s in self.out_hw)

    @property
    def output_hw(self):
        """The map the layer sends (after the output pooling)."""
        return tuple(s // self.out_pool for s in self.neuron_hw)

    @property
    def input_shape(self):
        return (*self.in_hw, self.in_channels)

    @property
    def output_shape(self):
        return (*self.output_hw, self.out_channels)

    @property
    def taps(self):
        """Weights per (input channel, output channel): ``kernel rows * kernel columns``."""
        return self.kernel[0] * self.kernel[1]

    # -- taps -----------------------------------------------------------------------------------

    def _axis_taps(self, axis, coord):
        if coord // self.pool >= self.pooled_hw[axis]:
            return ()
        p = coord // self.pool + self.padding[axis]
        found = []
        stride, size = self.stride[axis], self.out_hw[axis]
        for k in range(self.kernel[axis]):
            t = p - k * self.dilation[axis]
            if t >= 0 and t % stride == 0 and t // stride < size:
                found.append((k, t // stride))
        return tuple(found)

    def row_taps(self, y):
        """``(ky, oy)`` pairs an event of input row ``y`` reaches, ``ky`` ascending."""
        return self._axis_taps(0, y)

    def col_taps(self, x):
        """``(kx, ox)`` pairs an event of input column ``x`` reaches, ``kx`` ascending."""
        return self._axis_taps(1, x)

    @property
    def max_row_taps(self):
        return max(len(self.row_taps(y)) for y in range(self.in_hw[0]))

    @property
    def max_col_taps(self):
        return max(len(self.col_taps(x)) for x in range(self.in_hw[1]))

    def event_taps(self, index):
        """Taps (kernel positions) an input event of flat index ``index`` updates."""
        y, x, _ = self.coordinates(index)
        return len(self.row_taps(y)) * len(self.col_taps(x))

    def coordinates(self, index):
        """``(y, x, c)`` of an input event."""
        pos, c = divmod(index, self.in_channels)
        return (*divmod(pos, self.in_hw[1]), c)
