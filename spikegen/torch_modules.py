"""Small torch modules that let snnTorch run spikegen's convolutional layers as they are:
channels-last spike maps, sum pooling of spikes.

:func:`spikegen.snntorch_model.to_snntorch` builds a convolutional layer as ``ChannelsFirst
-> [SumPool2d] -> ZeroPad2d -> Conv2d -> neurons -> [MaxPool2d] -> ChannelsLast``, so the
float model takes and gives the same flat, channels-last events as the hardware (see
:mod:`rtl_lib.conv_geometry`), and :func:`spikegen.snntorch_model.module_ops` reads such a
model back.
"""
import torch
from torch import nn


__all__ = ["ChannelsFirst", "ChannelsLast", "SumPool2d"]


class ChannelsFirst(nn.Module):
    """Flat channels-last maps (batch, H * W * C) to PyTorch's (batch, C, H, W)."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)          # (H, W, C)

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape).permute(0, 3, 1, 2)


class ChannelsLast(nn.Module):
    """PyTorch's (batch, C, H, W) to flat channels-last maps (batch, H * W * C)."""

    def forward(self, x):
        return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)


class SumPool2d(nn.Module):
    """The sum over non-overlapping ``kernel_size`` × ``kernel_size`` windows (NIR's
    ``SumPool2d``); rows and columns that do not fill a window are dropped."""

    def __init__(self, kernel_size):
        super().__init__()
        self.kernel_size = self.stride = int(kernel_size)
        self.padding = 0

    def forward(self, x):
        k = self.kernel_size
        return torch.nn.functional.avg_pool2d(x, k) * (k * k)
