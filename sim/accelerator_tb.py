"""cocotb testbench of an accelerator top level, through :class:`spikegen.sim.harness.Harness`.

Stimulus and expectations come from an ``.npz`` file named by ``SPIKEGEN_STIMULUS``:

``kind``              ``"events"`` (``spikes`` (samples, steps, inputs) of 0/1) or ``"pixels"``
                      (``pixels`` (samples, inputs) of 0..255, for on-chip input coding)
``steps``             time steps per inference
``value_bits``        pixel width (pixels only)
``width``             tokens the harness takes per cycle
``events``            events per input beat (events only; default 1)
``expected_spikes``   (samples, steps, classes), the reference model's output spikes
``expected_class``    (samples,), ``expected_counts`` (samples, classes)
``count_bits``        width of the result's counters

``watch_outputs``     per layer, its neurons: every layer's ``o_events`` stream is watched
``watch_events``      per layer, the events its output beats carry (1 or 2)
``watch_first``       events per beat into the first layer when its ``i_events`` carries
                      spikes (events or rate coding; 0 with direct coding: not watched)

Monitors on those streams record each transfer (``valid`` and ``ready`` at a clock edge) of
the simulated accelerator: every layer's spikes, step by step, and the first layer's input
events, written as ``layer_spikes_K`` and ``first_input`` (Verilator, which makes internal
signals visible; a simulator that does not leaves them out).

For each sample the whole token stream is written into the harness ``width`` tokens per
cycle, the simulator runs free until the result, then every output token is read back:
Python handles events, not clock cycles. The output spikes of every step, the class and the
counts are written to ``SPIKEGEN_RESULTS`` (``.npz``) and compared with the reference.
Samples run one after another, so a sample's cycle count is its latency.
"""
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, Timer, with_timeout

from rtl_lib.link_format import index_width, pack_event, pack_group, pack_pixel


def event_tokens(sample, inputs, events=1):
    """Packed tokens of one sample (steps, inputs) for ``inputs`` neurons: ``{index, eos,
    last}``, or with ``events`` > 1 beats ``{index[events], count, eos, last}`` of
    consecutive events."""
    tokens = []
    steps = sample.shape[0]
    for t in range(steps):
        active = [int(i) for i in np.flatnonzero(sample[t])]
        last = t == steps - 1
        if events == 1:
            tokens += [pack_event(inputs, i) for i in active]
            tokens.append(pack_event(inputs, eos=True, last=last))
            continue
        tokens += [pack_group(inputs, events, active[start:start + events])
                   for start in range(0, len(active), events)]
        tokens.append(pack_group(inputs, events, eos=True, last=last))
    return tokens


def pixel_tokens(pixels, value_bits):
    """Packed ``{index, value, last}`` tokens: nonzero pixels, or one zero pixel."""
    inputs = len(pixels)
    index = np.flatnonzero(pixels)
    if index.size == 0:
        return [pack_pixel(inputs, 0, 0, last=True, value_bits=value_bits)]
    return [pack_pixel(inputs, int(i), int(pixels[i]), last=(k == index.size - 1),
                       value_bits=value_bits)
            for k, i in enumerate(index)]


def _pack(tokens, bits):
    word = 0
    for k, token in enumerate(tokens):
        word |= token << (k * bits)
    return word


def _decode(token, neurons, events):
    """``(indices, eos, last)`` of a packed :class:`~rtl_lib.event.EventLayout` token, or
    with ``events`` > 1 an :class:`~rtl_lib.event.EventGroupLayout` beat."""
    w = index_width(neurons)
    if events == 1:
        eos = (token >> w) & 1
        return ([] if eos else [token & ((1 << w) - 1)]), eos, (token >> (w + 1)) & 1
    count_bits = events.bit_length()
    count = (token >> (events * w)) & ((1 << count_bits) - 1)
    eos = (token >> (events * w + count_bits)) & 1
    indices = [(token >> (k * w)) & ((1 << w) - 1) for k in range(0 if eos else count)]
    return indices, eos, (token >> (events * w + count_bits + 1)) & 1


async def _watch(clk, stream, record, neurons, events):
    """Record every transfer of ``stream`` (an Amaranth stream's flattened ``valid``,
    ``ready``, ``payload``) into ``record`` (samples, steps, neurons): the step and the
    sample advance on end-of-step and last tokens. Sleeps while ``valid`` is low."""
    valid, ready, payload = stream
    sample = step = 0
    while sample < record.shape[0]:
        # every register changes on the rising edge: at the falling edge the handshake
        # shows what the next rising edge transfers
        await FallingEdge(clk)
        if not valid.value:
            await RisingEdge(valid)
            await FallingEdge(clk)
        if not ready.value:
            continue
        indices, eos, last = _decode(int(payload.value), neurons, events)
        for i in indices:
            record[sample, min(step, record.shape[1] - 1), i] = 1
        if eos:
            step += 1
            if last:
                sample, step = sample + 1, 0


def _stream(block, name):
    return tuple(getattr(block, f"{name}__{part}") for part in ("valid", "ready", "payload"))


def _monitors(dut, data, samples, steps):
    """Start the monitors of the accelerator's internal streams; ``{name: record}`` (empty
    when the simulator does not show internal signals)."""
    if "watch_outputs" not in data:
        return {}
    try:
        core = dut.top.core
        layers = [getattr(core, f"layer{k}") for k in range(len(data["watch_outputs"]))]
        streams = [_stream(layer, "o_events") for layer in layers]
        first = _stream(layers[0], "i_events") if int(data["watch_first"]) else None
    except AttributeError:
        return {}
    records = {}
    for k, (stream, neurons, events) in enumerate(zip(streams, data["watch_outputs"],
                                                      data["watch_events"])):
        records[f"layer_spikes_{k}"] = np.zeros((samples, steps, int(neurons)), np.uint8)
        cocotb.start_soon(_watch(dut.clk, stream, records[f"layer_spikes_{k}"], int(neurons),
                                 int(events)))
    if first is not None:
        inputs = int(data["watch_inputs"])
        records["first_input"] = np.zeros((samples, steps, inputs), np.uint8)
        cocotb.start_soon(_watch(dut.clk, first, records["first_input"], inputs,
                                 int(data["watch_first"])))
    return records


async def _settle():
    """Let combinational outputs settle and read them (then leave the read-only phase)."""
    await ReadOnly()


@cocotb.test()
async def regression(dut):
    """All samples of the stimulus file, compared with the reference model."""
    data = np.load(os.environ["SPIKEGEN_STIMULUS"], allow_pickle=False)
    kind = str(data["kind"])
    width = int(data["width"])
    steps = int(data["steps"])
    count_bits = int(data["count_bits"])
    expected = data["expected_spikes"]
    samples, _, classes = expected.shape
    if kind == "events":
        inputs = data["spikes"]
        n_in = inputs.shape[2]
        events = int(data["events"]) if "events" in data else 1
        streams = [event_tokens(sample, n_in, events) for sample in inputs]
    else:
        inputs = data["pixels"]
        streams = [pixel_tokens(row, int(data["value_bits"])) for row in inputs]
    in_bits = len(dut.in_data) // width
    out_bits = len(dut.out_data) // width
    out_index_bits = index_width(classes)
    out_eos = 1 << out_index_bits

    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    dut.clear.value = 1
    dut.in_count.value = 0
    dut.out_addr.value = 0
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    watched = _monitors(dut, data, samples, steps)

    got = np.zeros_like(expected)
    classes_out = np.zeros(samples, dtype=np.int64)
    counts_out = np.zeros((samples, classes), dtype=np.int64)
    cycles = np.zeros(samples, dtype=np.int64)
    steps_seen = np.zeros(samples, dtype=np.int64)
    report_every = max(1, samples // 10)
    cls_width = index_width(classes)
    for b in range(samples):
        tokens = streams[b]
        dut.clear.value = 1
        await RisingEdge(dut.clk)
        dut.clear.value = 0
        for start in range(0, len(tokens), width):
            chunk = tokens[start:start + width]
            dut.in_data.value = _pack(chunk, in_bits)
            dut.in_count.value = len(chunk)
            await RisingEdge(dut.clk)
        dut.in_count.value = 0
        # generous bound: every token through every group of every layer, many times over
        limit = 10_000 + 100 * (len(tokens) + steps) * max(1, classes)
        await with_timeout(RisingEdge(dut.result_valid), limit * 10, "ns")
        await _settle()
        result = int(dut.result.value)
        cycles[b] = int(dut.latency.value)
        count = int(dut.out_count.value)
        outputs = []
        for addr in range((count + width - 1) // width):
            await Timer(1, "ps")
            dut.out_addr.value = addr
            await _settle()
            word = int(dut.out_data.value)
            outputs.extend((word >> (k * out_bits)) & ((1 << out_bits) - 1)
                           for k in range(width))
        await Timer(1, "ps")
        t = 0
        for token in outputs[:count]:
            if token & out_eos:
                t += 1
            elif t < steps:
                got[b, t, token & (out_eos - 1)] = 1
            else:
                raise AssertionError(f"sample {b}: output spike after the last step")
        steps_seen[b] = t
        classes_out[b] = result & ((1 << cls_width) - 1)
        counts_out[b] = [(result >> (cls_width + k * count_bits)) & ((1 << count_bits) - 1)
                         for k in range(classes)]
        if (b + 1) % report_every == 0 or b + 1 == samples:
            dut._log.info("sample %d/%d: %d cycles", b + 1, samples, cycles[b])

    np.savez(os.environ["SPIKEGEN_RESULTS"], spikes=got, cls=classes_out, counts=counts_out,
             cycles=cycles, steps_seen=steps_seen, **watched)
    bad_samples = int(np.count_nonzero(
        (got != expected).any(axis=(1, 2)) | (classes_out != data["expected_class"])
        | (counts_out != data["expected_counts"]).any(axis=1) | (steps_seen != steps)))
    assert bad_samples == 0, \
        f"{bad_samples} of {samples} samples differ from the reference " \
        f"({int(np.count_nonzero(got != expected))} spikes)"
