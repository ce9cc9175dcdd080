"""cocotb testbench of an accelerator top (``rtl_lib.accelerator.Accelerator``).

Stimulus and expectations come from an ``.npz`` file named by ``SPIKEGEN_STIMULUS``:

``spikes``            (samples, steps, inputs) uint8, the input spike trains
``expected_spikes``   (samples, steps, classes) uint8, the reference model's output spikes
``expected_class``    (samples,), ``expected_counts`` (samples, classes)
``count_bits``        width of the result's counters

The top level has flat ports (``spikegen.flat_top.FlatTop``: ``i_events_valid``,
``i_events_payload``, ...), the same names in Verilog and VHDL. Each sample is fed as its
spike events (ascending index) and end-of-step tokens through the ``i_events`` stream; every token on ``o_spikes`` and the ``o_result`` of each
sample are recorded, written to ``SPIKEGEN_RESULTS`` (``.npz``) and compared with the
reference, spike for spike and step for step. Samples run one after another (the next
starts when the previous result is out), so the cycle count of a sample is its latency.
"""
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge


def _width(count):
    return max(1, (count - 1).bit_length())


def _tokens(sample, width):
    eos, last = 1 << width, 1 << (width + 1)
    steps = sample.shape[0]
    for t in range(steps):
        for i in np.flatnonzero(sample[t]):
            yield int(i)
        yield eos | (last if t == steps - 1 else 0)


async def _run_sample(dut, sample, classes, count_bits, in_width, out_width):
    """Feed one sample; return (spikes (steps, classes), class, counts, cycles)."""
    steps = sample.shape[0]
    spikes = np.zeros((steps, classes), dtype=np.uint8)
    tokens = list(_tokens(sample, in_width))
    out_eos = 1 << out_width
    index_mask = out_eos - 1
    position, step, cycles = 0, 0, 0
    dut.i_events_payload.value = tokens[0]
    dut.i_events_valid.value = 1
    while True:
        await ReadOnly()
        took = position < len(tokens) and int(dut.i_events_ready.value)
        spike_valid = int(dut.o_spikes_valid.value)
        spike = int(dut.o_spikes_payload.value) if spike_valid else 0
        result = int(dut.o_result_payload.value) if int(dut.o_result_valid.value) else None
        await RisingEdge(dut.clk)
        cycles += 1
        if took:
            position += 1
            if position < len(tokens):
                dut.i_events_payload.value = tokens[position]
            else:
                dut.i_events_valid.value = 0
        if spike_valid:
            if spike & out_eos:
                step += 1
            elif step < steps:
                spikes[step, spike & index_mask] = 1
            else:
                raise AssertionError(f"output spike after the last step: {spike:#x}")
        if result is not None:
            cls_width = _width(classes)
            cls = result & ((1 << cls_width) - 1)
            counts = [(result >> (cls_width + k * count_bits)) & ((1 << count_bits) - 1)
                      for k in range(classes)]
            return spikes, cls, counts, cycles, step


@cocotb.test()
async def regression(dut):
    """All samples of the stimulus file, compared with the reference model."""
    data = np.load(os.environ["SPIKEGEN_STIMULUS"], allow_pickle=False)
    inputs = data["spikes"]
    expected = data["expected_spikes"]
    count_bits = int(data["count_bits"])
    samples, steps, n_in = inputs.shape
    classes = expected.shape[2]

    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    dut.i_events_valid.value = 0
    dut.o_spikes_ready.value = 1
    dut.o_result_ready.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await RisingEdge(dut.clk)

    got = np.zeros_like(expected)
    classes_out = np.zeros(samples, dtype=np.int64)
    counts_out = np.zeros((samples, classes), dtype=np.int64)
    cycles = np.zeros(samples, dtype=np.int64)
    steps_seen = np.zeros(samples, dtype=np.int64)
    report_every = max(1, samples // 10)
    for b in range(samples):
        spikes, cls, counts, n, seen = await _run_sample(
            dut, inputs[b], classes, count_bits, _width(n_in), _width(classes))
        got[b], classes_out[b], counts_out[b], cycles[b], steps_seen[b] = \
            spikes, cls, counts, n, seen
        if (b + 1) % report_every == 0 or b + 1 == samples:
            dut._log.info("sample %d/%d: %d cycles", b + 1, samples, n)

    np.savez(os.environ["SPIKEGEN_RESULTS"], spikes=got, cls=classes_out, counts=counts_out,
             cycles=cycles, steps_seen=steps_seen)
    bad_spikes = int(np.count_nonzero(got != expected))
    bad_samples = int(np.count_nonzero(
        (got != expected).any(axis=(1, 2)) | (classes_out != data["expected_class"])
        | (counts_out != data["expected_counts"]).any(axis=1) | (steps_seen != steps)))
    assert bad_samples == 0, \
        f"{bad_samples} of {samples} samples differ from the reference ({bad_spikes} spikes)"
