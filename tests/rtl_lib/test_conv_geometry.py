"""ConvGeometry: the taps of an input event, against PyTorch's own convolution."""
import numpy as np
import pytest
import torch

from rtl_lib.conv_geometry import ConvGeometry, conv_output_size


@pytest.mark.parametrize("kernel, stride, padding, dilation, pool, size", [
    (3, 1, 0, 1, 1, 7), (3, 2, 1, 1, 1, 8), (2, 1, 1, 2, 1, 6), (5, 1, 2, 1, 2, 11),
    (3, 3, 2, 2, 1, 10), (1, 1, 0, 1, 3, 9),
])
def test_taps_are_the_convolutions_connections(kernel, stride, padding, dilation, pool,
                                              size):
    pooled = size // pool
    out = conv_output_size(pooled, kernel, stride, padding, dilation)
    g = ConvGeometry((size, size), 1, 1, (kernel, kernel), (out, out), stride=stride,
                     padding=padding, dilation=dilation, pool=pool)
    for y in range(size):
        # which outputs does a one-hot row reach, through which kernel row?
        found = set()
        for ky in range(kernel):
            weight = torch.zeros(1, 1, kernel, 1, dtype=torch.float64)
            weight[0, 0, ky, 0] = 1.0
            x = torch.zeros(1, 1, pooled, 1, dtype=torch.float64)
            if y // pool < pooled:
                x[0, 0, y // pool, 0] = 1.0
            got = torch.nn.functional.conv2d(x, weight, stride=(stride, 1),
                                             padding=(padding, 0), dilation=(dilation, 1))
            found |= {(ky, int(oy)) for oy in np.flatnonzero(got[0, 0, :, 0].numpy())}
        assert set(g.row_taps(y)) == found
        assert g.row_taps(y) == g.col_taps(y)


def test_shapes_and_coordinates():
    g = ConvGeometry((28, 28), 2, 12, (5, 5), (24, 24), out_pool=2)
    assert g.input_shape == (28, 28, 2) and g.output_shape == (12, 12, 12)
    assert g.coordinates((3 * 28 + 5) * 2 + 1) == (3, 5, 1)
    assert g.event_taps(0) == 1 and g.event_taps((10 * 28 + 10) * 2) == 25
    assert g.max_row_taps == 5 and g.taps == 25


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(out_hw=(5, 5), out_pool=2), ValueError, "does not divide into 2x2"),
    (dict(pool=9), ValueError, "smaller than its 9x9 pooling window"),
    (dict(stride=0), TypeError, "Stride must be"),
    (dict(in_channels=0), TypeError, "Input channels must be a positive integer"),
])
def test_geometry_errors(kwargs, error, message):
    base = dict(in_hw=(8, 8), in_channels=1, out_channels=2, kernel=(3, 3), out_hw=(6, 6))
    with pytest.raises(error, match=message):
        ConvGeometry(**{**base, **kwargs})
