"""Stream testbench pieces for Amaranth's simulator: a source and a checking sink, each idle
on a random share of cycles."""


def source(stream_, items, rng, p_valid):
    """Testbench offering ``items`` on ``stream_``, idle on a random share of cycles."""
    async def testbench(ctx):
        for item in items:
            while rng.random() >= p_valid:
                await ctx.tick()
            ctx.set(stream_.valid, 1)
            ctx.set(stream_.payload, item)
            await ctx.tick().until(stream_.ready)
            ctx.set(stream_.valid, 0)
    return testbench


def sink(stream_, got, count, rng, p_ready, *, convert=lambda payload: payload, limit=200_000,
         on_item=None):
    """Testbench taking ``count`` items from ``stream_`` into ``got``, ready on a random share
    of cycles; checks that the producer obeys the stream rules."""
    async def testbench(ctx):
        held = None
        for _ in range(limit):
            if len(got) == count:
                break
            ctx.set(stream_.ready, rng.random() < p_ready)
            _, _, valid, ready, payload = await ctx.tick().sample(
                stream_.valid, stream_.ready, stream_.payload)
            item = convert(payload) if valid else None
            if held is not None:
                assert valid and item == held, "valid dropped or payload changed before transfer"
            held = item if valid and not ready else None
            if valid and ready:
                got.append(item)
                if on_item is not None:
                    on_item(item)
        assert len(got) == count, f"got {len(got)} of {count} items"
    return testbench


def token_fields(pixels):
    """A converter of an input token's payload to a tuple: ``(index, value, last)`` for
    pixels, ``(index, eos, last)`` for events, as :func:`spikegen.protocol.board_parse`
    gives them."""
    if pixels:
        return lambda p: (p.index, p.value, p.last)
    return lambda p: (p.index, p.eos, p.last)
