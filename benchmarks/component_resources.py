"""Yosys resource counts of single rtl_lib components, for the people who tune them.

    python benchmarks/component_resources.py [--family xc7|ecp5|ice40] [--clock] [--only TEXT]

Synthesises, each on its own: one LIF lane of the Spiker+ configuration (6-bit membrane,
beta 15/16, threshold 16, a pair of 4-bit weights: 5-bit sums) with its membrane register,
the spike serializer of a 128-neuron layer (two events per beat) and the readout of 10
classes, a 1,500 x 64 weight ROM in block RAM read through one and through two ports
(two read ports make a block RAM true dual port: no 36-bit shapes, as the fit check counts
them), and a 12C5 convolution layer on a 28 x 28 input with 2 x 2 max pooling of its spikes,
12 lanes (6-bit weights, 10-bit membrane, beta 13/16), and the same layer with a 2 x 2 max
pooling of its currents instead (a current buffer before the neurons), and the two dense
layers of the conv benchmark (``benchmarks/mnist_conv.py``): 768 -> 128 with 32 lanes and a
20-bit membrane, 128 -> 10 fully parallel with an 18-bit membrane (8-bit weights, beta 0.9
as 230/256, biases; their end-of-step update is split over two cycles), each also with two
input events per cycle (and, for 768 -> 128, two output events per beat, as ``-P auto``
builds it for the Arty A7), and the serializer of that layer (128 neurons in 4 groups of
32 lanes, 2 events per beat). The figures are what
a full build's ``--synth`` report sums up, one block at a time; ``--family ecp5 --clock`` adds the clock
nextpnr-ecp5 reaches for each, placed and routed on its own (out of context).
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from amaranth.hdl import Module, Signal, signed                     # noqa: E402
from amaranth.lib import memory, wiring                              # noqa: E402
from amaranth.lib.wiring import In, Out                              # noqa: E402

from rtl_lib.conv_geometry import ConvGeometry                       # noqa: E402
from rtl_lib.conv_layer import ConvLayer                             # noqa: E402
from rtl_lib.lif import LIFLane, LIFParams                           # noqa: E402
from rtl_lib.readout import SpikeCounter                             # noqa: E402
from rtl_lib.spike_serializer import SpikeSerializer                 # noqa: E402
from spikegen import emit                                            # noqa: E402
from spikegen.flat_top import FlatTop                                # noqa: E402
from spikegen.synth import FAMILIES, place_and_route_ecp5, synthesize  # noqa: E402


class RegisteredLane(wiring.Component):
    """A lane as a fully parallel layer uses it: its membrane in a register."""
    def __init__(self, params, weight_bits):
        self.params, self.weight_bits = params, weight_bits
        super().__init__({"op": In(1), "last": In(1), "en": In(1),
                          "weight": In(signed(weight_bits)), "spike": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.lane = lane = LIFLane(self.params, self.weight_bits, bias=0)
        mem = Signal(signed(self.params.mem_bits))
        r = Signal()
        m.d.comb += [lane.op.eq(self.op), lane.last.eq(self.last), lane.weight.eq(self.weight),
                     lane.mem.eq(mem), lane.r.eq(r)]
        with m.If(self.en):
            m.d.sync += [mem.eq(lane.mem_next), r.eq(lane.r_next), self.spike.eq(lane.spike)]
        return m


class WeightROM(wiring.Component):
    """A block-RAM weight ROM of random words read through ``ports`` ports, as a layer's."""
    def __init__(self, depth, width, ports):
        self.depth, self.width, self.ports = depth, width, ports
        members = {}
        for k in range(ports):
            members[f"addr{k}"] = In(range(depth))
            members[f"data{k}"] = Out(width)
        super().__init__(members)

    def elaborate(self, platform):
        import random

        m = Module()
        words = random.Random(1)
        m.submodules.rom = rom = memory.Memory(
            shape=self.width, depth=self.depth, attrs={"ram_style": "block"},
            init=[words.getrandbits(self.width) for _ in range(self.depth)])
        for k in range(self.ports):
            port = rom.read_port()
            m.d.comb += [port.addr.eq(getattr(self, f"addr{k}")),
                         getattr(self, f"data{k}").eq(port.data)]
        return m


def conv_12c5(currents=False):
    """12C5 on 28 x 28 with 2 x 2 max pooling of its spikes (of its currents), 12 lanes,
    random weights."""
    import numpy as np

    rng = np.random.default_rng(0)
    pools = dict(current_pool=2) if currents else dict(out_pool=2)
    geometry = ConvGeometry(in_hw=(28, 28), in_channels=1, out_channels=12, kernel=5,
                            out_hw=(24, 24), **pools)
    params = LIFParams(mem_bits=10, threshold=200, decay=3, decay_bits=4, weight_shift=2)
    return FlatTop(ConvLayer(rng.integers(-32, 32, (12, 1, 5, 5)), rng.integers(-20, 20, 12),
                             params, 6, geometry, 12))


def dense(inputs, outputs, lanes, mem_bits, events=1, out_events=1):
    """A dense LIF layer as the conv benchmark's: 8-bit weights, beta 0.9 (decay 26/256), a
    bias, ``lanes`` lanes, random weights, ``events`` input events per cycle and
    ``out_events`` output events per beat."""
    import numpy as np

    from rtl_lib.fc_layer import FCLayer

    rng = np.random.default_rng(0)
    params = LIFParams(mem_bits=mem_bits, threshold=1 << (mem_bits - 8), decay=26,
                       decay_bits=8, weight_shift=2)
    return FlatTop(FCLayer(rng.integers(-128, 128, (outputs, inputs)),
                           rng.integers(-200, 200, outputs), params, 8, lanes,
                           events=events, out_events=out_events))


def components():
    spiker = LIFParams(mem_bits=6, threshold=16, decay=16, decay_bits=8)
    return [
        ("LIF lane (6-bit membrane, 5-bit weight sums)", lambda: RegisteredLane(spiker, 5)),
        ("spike serializer (128 neurons, 2 events/beat)",
         lambda: FlatTop(SpikeSerializer(128, 128, 1, 2))),
        ("spike serializer (128 neurons in 4 groups of 32 lanes, 2 events/beat)",
         lambda: FlatTop(SpikeSerializer(128, 32, 4, 2))),
        ("readout (10 classes, 7-bit counts)", lambda: FlatTop(SpikeCounter(10, 7))),
        ("weight ROM 1,500 x 64, one read port", lambda: WeightROM(1500, 64, 1)),
        ("weight ROM 1,500 x 64, two read ports", lambda: WeightROM(1500, 64, 2)),
        ("conv layer 12C5, 28 x 28, max pool 2, 12 lanes", conv_12c5),
        ("dense layer 768 -> 128, 32 lanes, 20-bit membrane", lambda: dense(768, 128, 32, 20)),
        ("dense layer 128 -> 10, 10 lanes, 18-bit membrane", lambda: dense(128, 10, 10, 18)),
        ("dense layer 768 -> 128, 32 lanes, 20-bit membrane, 2 events in and out per cycle",
         lambda: dense(768, 128, 32, 20, events=2, out_events=2)),
        ("dense layer 128 -> 10, 10 lanes, 18-bit membrane, 2 events in per cycle",
         lambda: dense(128, 10, 10, 18, events=2)),
        ("conv layer 12C5, 28 x 28, current max pool 2, 12 lanes",
         lambda: conv_12c5(currents=True)),
    ]


def main():
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--family", choices=sorted(FAMILIES), default="xc7")
    parser.add_argument("--clock", action="store_true",
                        help="with --family ecp5: also place and route each component out of "
                             "context with nextpnr-ecp5 and print its clock (MHz)")
    parser.add_argument("--only", metavar="TEXT", default="",
                        help="only the components whose label contains TEXT")
    args = parser.parse_args()
    if args.clock and args.family != "ecp5":
        parser.error("--clock needs --family ecp5")
    unit = "RAMB36" if args.family == "xc7" else "BRAM"
    print(f"{'component':56}{'LUT':>6}{'FF':>6}{'carry':>7}{unit:>8}"
          + (f"{'MHz':>8}" if args.clock else ""))
    for label, make in components():
        if args.only not in label:
            continue
        with tempfile.TemporaryDirectory(prefix="spikegen_component_") as work:
            result = synthesize(emit.verilog(make(), name="top"), "top", args.family,
                                work_dir=work, keep_netlist=args.clock)
            clock = ""
            if args.clock:
                # a block without a register-to-register path has no clock to report
                mhz = place_and_route_ecp5(work)["achieved_mhz"]
                clock = f"{'-' if mhz is None else mhz:>8}"
        blocks = result.get("bram36_equivalent", result.get("bram", 0))
        print(f"{label:56}{result['lut']:>6}{result['ff']:>6}{result['carry']:>7}"
              f"{blocks:>8g}{clock}", flush=True)


if __name__ == "__main__":
    main()
