"""On-chip rate coding: 8-bit pixel values in, spike events out."""
from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .event import EventLayout, ValueEventLayout, index_width


__all__ = ["PixelLayout", "RateCoder", "DirectCoder", "xorshift32"]


class PixelLayout(data.StructLayout):
    """A pixel of a sample: ``index``, ``value`` (unsigned ``value_bits``), ``last`` (the
    sample's final pixel). Hosts send a sample's nonzero pixels in ascending index; a sample
    with none sends a single pixel of value 0."""
    def __init__(self, count, value_bits=8):
        self.count, self.value_bits = count, value_bits
        super().__init__({
            "index": unsigned(index_width(count)),
            "value": unsigned(value_bits),
            "last":  unsigned(1),
        })


def xorshift32(x):
    """Marsaglia's xorshift32 (13, 17, 5) as an Amaranth expression of a 32-bit value."""
    x = (x ^ (x << 13))[:32]
    x = x ^ (x >> 17)
    return (x ^ (x << 5))[:32]


class RateCoder(wiring.Component):
    """Rate coding on chip: each pixel spikes with probability ``value / 256`` in each step.

    A sample's nonzero pixels are stored as they arrive (``i_pixels``); then, for each of
    ``steps`` time steps, the coder walks the stored pixels in order and draws one byte from
    an xorshift32 generator per pixel (the top byte of the next state): the pixel spikes when
    the byte is below its value. Spike events leave on ``o_events``, each step closed by an
    end-of-step token, the last one with ``last`` set. The generator restarts from ``seed``
    for every sample, so :func:`spikegen.encode.rate_onchip` reproduces every spike. A step
    costs one cycle per stored pixel, plus one.

    Members
    -------
    i_pixels : In(stream.Signature(PixelLayout(count)))
    o_events : Out(stream.Signature(EventLayout(count)))
    """
    def __init__(self, count, steps, *, seed=0x2545F491):
        if not isinstance(steps, int) or steps < 1:
            raise TypeError(f"Step count must be a positive integer, not {steps!r}")
        if not 0 < seed < (1 << 32):
            raise ValueError(f"Seed must be a nonzero 32-bit value, not {seed!r}")
        self.count, self.steps, self.seed = count, steps, seed
        self.buffer = memory.Memory(shape=PixelLayout(count), depth=count, init=[])
        super().__init__({
            "i_pixels": In(stream.Signature(PixelLayout(count))),
            "o_events": Out(stream.Signature(EventLayout(count))),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.buffer = buffer = self.buffer
        wr = buffer.write_port()
        rd = buffer.read_port()

        stored = Signal(range(self.count + 1))     # pixels kept for this sample
        k = Signal(range(self.count + 1))          # pixel being drawn for
        t = Signal(range(self.steps))
        state = Signal(32, init=self.seed)
        ready_data = Signal()                      # rd.data holds pixel k
        nxt = Signal(32)
        m.d.comb += nxt.eq(xorshift32(state))
        pixel = self.i_pixels.payload
        out = self.o_events

        m.d.comb += [wr.addr.eq(stored), wr.data.eq(pixel), rd.addr.eq(k), rd.en.eq(0)]
        with m.FSM():
            with m.State("LOAD"):
                m.d.comb += self.i_pixels.ready.eq(1)
                with m.If(self.i_pixels.valid):
                    with m.If(pixel.value != 0):
                        m.d.comb += wr.en.eq(1)
                        m.d.sync += stored.eq(stored + 1)
                    with m.If(pixel.last):
                        m.d.sync += [k.eq(0), t.eq(0), ready_data.eq(0)]
                        m.next = "FETCH"
            with m.State("FETCH"):
                # present address k; its data is there next cycle
                m.d.comb += rd.en.eq(1)
                m.d.sync += ready_data.eq(1)
                m.next = "RUN"
            with m.State("RUN"):
                at_end = k == stored
                spike = rd.data.value > nxt[24:]
                m.d.comb += [
                    out.valid.eq(at_end | spike),
                    out.payload.index.eq(rd.data.index),
                    out.payload.eos.eq(at_end),
                    out.payload.last.eq(at_end & (t == self.steps - 1)),
                ]
                with m.If(~at_end):
                    with m.If(~spike | out.ready):
                        # consume the draw; fetch pixel k + 1 (or 0 after the step's last)
                        m.d.sync += [state.eq(nxt), k.eq(k + 1)]
                        m.d.comb += [rd.en.eq(1), rd.addr.eq(k + 1)]
                with m.Elif(out.ready):
                    m.d.sync += k.eq(0)
                    m.d.comb += [rd.en.eq(1), rd.addr.eq(0)]
                    with m.If(t == self.steps - 1):
                        m.d.sync += [stored.eq(0), state.eq(self.seed)]
                        m.next = "LOAD"
                    with m.Else():
                        m.d.sync += t.eq(t + 1)
        return m


class DirectCoder(wiring.Component):
    """Direct (current) input: pixels pass to the first layer as weighted events, once per
    sample, followed by ``steps`` end-of-step tokens (the last with ``last`` set).

    Members
    -------
    i_pixels : In(stream.Signature(PixelLayout(count)))
    o_events : Out(stream.Signature(ValueEventLayout(count)))
    """
    def __init__(self, count, steps, value_bits=8):
        if not isinstance(steps, int) or steps < 1:
            raise TypeError(f"Step count must be a positive integer, not {steps!r}")
        self.count, self.steps, self.value_bits = count, steps, value_bits
        super().__init__({
            "i_pixels": In(stream.Signature(PixelLayout(count, value_bits))),
            "o_events": Out(stream.Signature(ValueEventLayout(count, value_bits))),
        })

    def elaborate(self, platform):
        m = Module()
        t = Signal(range(self.steps))
        pixel, out = self.i_pixels.payload, self.o_events
        with m.FSM():
            with m.State("PIXELS"):
                m.d.comb += [
                    out.valid.eq(self.i_pixels.valid),
                    out.payload.index.eq(pixel.index),
                    out.payload.value.eq(pixel.value),
                    self.i_pixels.ready.eq(out.ready),
                ]
                with m.If(self.i_pixels.valid & out.ready & pixel.last):
                    m.d.sync += t.eq(0)
                    m.next = "STEPS"
            with m.State("STEPS"):
                m.d.comb += [
                    out.valid.eq(1),
                    out.payload.eos.eq(1),
                    out.payload.last.eq(t == self.steps - 1),
                ]
                with m.If(out.ready):
                    m.d.sync += t.eq(t + 1)
                    with m.If(t == self.steps - 1):
                        m.next = "PIXELS"
        return m
