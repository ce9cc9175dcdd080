"""A simulation harness around a built top level, so that Python moves events, not cycles.

The harness instantiates the build's top module by name (``Instance``: the very Verilog or
VHDL that the build wrote is what gets simulated) and surrounds it with:

* a stimulus memory of words of up to ``width`` tokens, one word written per clock cycle by
  the testbench and replayed into the top's input stream one token per cycle, as fast as
  the top takes them;
* a monitor memory recording every token of the top's ``o_spikes`` stream, read back
  ``width`` tokens at a time;
* a result register, and the latency of the sample in cycles (from the first input token
  taken to the result).

The testbench writes a whole sample, waits for ``result_valid`` in one ``await`` while the
simulator runs free, then reads the output tokens: a few Python calls per sample instead of
two per clock cycle.
"""
from amaranth.hdl import Cat, ClockSignal, Instance, Module, ResetSignal, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out


__all__ = ["Harness", "HARNESS_NAME"]


HARNESS_NAME = "spikegen_harness"


class Harness(wiring.Component):
    """Wraps the top ``top_name`` whose input stream is ``input_name`` (``i_events`` or
    ``i_pixels``) with ``in_bits``-bit tokens, and whose outputs are ``o_spikes``
    (``out_bits``) and ``o_result`` (``result_bits``).

    Members
    -------
    in_data : In(width * in_bits)
        Tokens to append to the stimulus, token 0 in the low bits.
    in_count : In(range(width + 1))
        How many of ``in_data``'s tokens to append this cycle (at most ``depth`` words per
        sample).
    clear : In(1)
        Restart the stimulus and monitor memories (between samples).
    out_addr : In(range(out_depth))
    out_data : Out(width * out_bits)
        Recorded output tokens ``out_addr * width ...`` (combinational read).
    out_count : Out(range(out_depth + 1))
        Output tokens recorded since ``clear``.
    result_valid : Out(1)
        A result is held (until ``clear``).
    result : Out(result_bits)
    latency : Out(32)
        Cycles from the first input token taken to the result.
    """
    def __init__(self, top_name, input_name, in_bits, out_bits, result_bits, *, width=16,
                 depth=1024, out_depth=4096):
        self.top_name, self.input_name = top_name, input_name
        self.in_bits, self.out_bits, self.result_bits = in_bits, out_bits, result_bits
        self.width, self.depth, self.out_depth = width, depth, out_depth
        super().__init__({
            "in_data": In(width * in_bits),
            "in_count": In(range(width + 1)),
            "clear": In(1),
            "out_addr": In(range(out_depth)),
            "out_data": Out(width * out_bits),
            "out_count": Out(range(out_depth + 1)),
            "result_valid": Out(1),
            "result": Out(result_bits),
            "latency": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        w = self.width
        count_bits = len(self.in_count)

        # stimulus: one word per testbench write, `in_count` tokens in it
        m.submodules.stim = stim = memory.Memory(
            shape=w * self.in_bits + count_bits, depth=self.depth, init=[])
        stim_wr = stim.write_port()
        written = Signal(range(self.depth + 1))
        m.d.comb += [
            stim_wr.addr.eq(written),
            stim_wr.data.eq(Cat(self.in_data, self.in_count)),
            stim_wr.en.eq(~self.clear & (self.in_count != 0)),
        ]
        stim_rd = stim.read_port(domain="comb")
        word_index = Signal(range(self.depth + 1))
        position = Signal(range(w))
        word = stim_rd.data
        m.d.comb += stim_rd.addr.eq(word_index)
        word_count = word[w * self.in_bits:]
        token = word[:w * self.in_bits].word_select(position, self.in_bits)

        in_valid, in_ready = Signal(), Signal()
        out_valid, out_payload = Signal(), Signal(self.out_bits)
        result_valid, result_payload = Signal(), Signal(self.result_bits)
        m.submodules.top = Instance(
            self.top_name,
            i_clk=ClockSignal(), i_rst=ResetSignal(),
            **{f"i_{self.input_name}_payload": token,
               f"i_{self.input_name}_valid": in_valid,
               f"o_{self.input_name}_ready": in_ready,
               "o_o_spikes_payload": out_payload, "o_o_spikes_valid": out_valid,
               "i_o_spikes_ready": 1,
               "o_o_result_payload": result_payload, "o_o_result_valid": result_valid,
               "i_o_result_ready": 1})
        m.d.comb += in_valid.eq((word_index != written) & ~self.clear)

        # monitor: every output token, in order; read back `width` tokens at a time
        m.submodules.mon = mon = memory.Memory(shape=self.out_bits, depth=self.out_depth,
                                               init=[])
        mon_wr = mon.write_port()
        m.d.comb += [
            mon_wr.addr.eq(self.out_count),
            mon_wr.data.eq(out_payload),
            mon_wr.en.eq(out_valid & ~self.clear),
        ]
        lanes = []
        for lane in range(w):
            port = mon.read_port(domain="comb")
            m.d.comb += port.addr.eq(self.out_addr * w + lane)
            lanes.append(port.data)
        m.d.comb += self.out_data.eq(Cat(*lanes))

        cycle = Signal(32)
        started = Signal()
        start = Signal(32)
        m.d.sync += cycle.eq(cycle + 1)
        with m.If(self.clear):
            m.d.sync += [written.eq(0), word_index.eq(0), position.eq(0),
                         self.out_count.eq(0), self.result_valid.eq(0), started.eq(0)]
        with m.Else():
            with m.If(self.in_count != 0):
                m.d.sync += written.eq(written + 1)
            with m.If(in_valid & in_ready):
                with m.If(position == word_count - 1):
                    m.d.sync += [position.eq(0), word_index.eq(word_index + 1)]
                with m.Else():
                    m.d.sync += position.eq(position + 1)
                with m.If(~started):
                    m.d.sync += [started.eq(1), start.eq(cycle)]
            with m.If(out_valid):
                m.d.sync += self.out_count.eq(self.out_count + 1)
            with m.If(result_valid):
                m.d.sync += [self.result_valid.eq(1), self.result.eq(result_payload),
                             self.latency.eq(cycle - start + 1)]
        return m
