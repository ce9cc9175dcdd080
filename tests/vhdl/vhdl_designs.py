"""Small Amaranth designs that make Yosys emit each cell the VHDL backend supports.

Every design is a ``wiring.Component`` with plain ``In``/``Out`` ports (``limits`` bounds the
random values of some inputs, for example memory addresses below a depth that is not a power
of two). :class:`Bundle` puts many designs behind one set of ports so that one GHDL run checks
them all.

Two corners where Amaranth's simulator and the RTLIL it emits (hence Yosys, its Verilog and
this VHDL) disagree are kept out of the random stimulus: the simulator resets a synchronous
read port's data when the domain resets while the port is disabled (``held_in_reset`` keeps
those enables high during reset), and it sign-extends ``bit_select`` of a signed value beyond
its width, where Yosys's ``$shift`` fills with zeros (``test_yosys_only_cells`` checks that).
"""
import numpy as np
from amaranth.hdl import (Array, Cat, ClockDomain, ClockSignal, Const, Module, Mux,
                          ResetSignal, Signal, signed)
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out


class Arith(wiring.Component):
    a: In(signed(7))
    b: In(5)
    c: In(signed(4))
    d: In(3)
    add_ab: Out(signed(9))
    sub_ab: Out(signed(9))
    sub_ba: Out(4)
    mul_ac: Out(signed(11))
    mul_trunc: Out(6)
    mul_ab: Out(signed(12))
    neg_a: Out(signed(8))
    neg_b: Out(signed(6))
    inv_a: Out(signed(7))
    wide: Out(16)
    div_ac: Out(signed(8))
    mod_ac: Out(signed(4))
    div_bd: Out(5)
    mod_bd: Out(3)
    div_ab: Out(signed(7))
    abs_a: Out(7)

    def elaborate(self, platform):
        m = Module()
        a, b, c, d = self.a, self.b, self.c, self.d
        m.d.comb += [
            self.add_ab.eq(a + b), self.sub_ab.eq(a - b), self.sub_ba.eq(b - a),
            self.mul_ac.eq(a * c), self.mul_trunc.eq(b * d), self.mul_ab.eq(a * b),
            self.neg_a.eq(-a), self.neg_b.eq(-b), self.inv_a.eq(~a),
            self.wide.eq(a + c + b),
            self.div_ac.eq(a // c), self.mod_ac.eq(a % c),
            self.div_bd.eq(b // d), self.mod_bd.eq(b % d), self.div_ab.eq(a // b),
            self.abs_a.eq(abs(a)),
        ]
        return m


class Compare(wiring.Component):
    a: In(signed(7))
    b: In(5)
    c: In(signed(4))
    d: In(3)
    lt_ab: Out(1)
    ge_ac: Out(1)
    eq_bd: Out(1)
    ne_ac: Out(1)
    le_b: Out(1)
    gt_a: Out(1)
    eq_a: Out(1)
    gt_cd: Out(1)
    le_cb: Out(1)
    eq_wide: Out(1)

    def elaborate(self, platform):
        m = Module()
        a, b, c, d = self.a, self.b, self.c, self.d
        m.d.comb += [
            self.lt_ab.eq(a < b), self.ge_ac.eq(a >= c), self.eq_bd.eq(b == d),
            self.ne_ac.eq(a != c), self.le_b.eq(b <= 7), self.gt_a.eq(a > -3),
            self.eq_a.eq(a == -64), self.gt_cd.eq(c > d), self.le_cb.eq(c <= b),
            self.eq_wide.eq(Cat(a, b) == Cat(c, d, b, c)),
        ]
        return m


class Logic(wiring.Component):
    a: In(8)
    b: In(signed(6))
    c: In(1)
    and_ab: Out(8)
    or_ab: Out(10)
    xor_ab: Out(8)
    xor_bit: Out(1)
    any_a: Out(1)
    all_b: Out(1)
    xor_a: Out(1)
    bool_b: Out(1)
    not_c: Out(1)
    lnot: Out(1)
    land: Out(1)
    lor: Out(1)
    cat: Out(11)
    rep: Out(5)
    as_signed: Out(signed(10))
    slices: Out(8)

    def elaborate(self, platform):
        m = Module()
        a, b, c = self.a, self.b, self.c
        m.d.comb += [
            self.and_ab.eq(a & b), self.or_ab.eq(a | b), self.xor_ab.eq(a ^ b),
            self.xor_bit.eq(a[3] ^ c), self.any_a.eq(a.any()), self.all_b.eq(b.all()),
            self.xor_a.eq(a.xor()), self.bool_b.eq(b.bool()), self.not_c.eq(~c),
            self.lnot.eq(~a.any()), self.land.eq(a.any() & b.any()),
            self.lor.eq(a.all() | (b == 5)),
            self.cat.eq(Cat(a[2:5], b[::2], c, Const(0b101, 3), c)),
            self.rep.eq(Cat(c.replicate(3), b[5], a[7])),
            self.as_signed.eq(a.as_signed()),
            self.slices.eq(Cat(a[4:], a[:4])),
        ]
        return m


class Shifts(wiring.Component):
    a: In(signed(7))
    b: In(6)
    sh: In(4)
    shw: In(40)
    limits = {"shw": [0, 1, 2, 5, 6, 7, 40, 1 << 33, (1 << 40) - 1]}
    shl_b: Out(21)
    shl_a: Out(signed(22))
    shl_trunc: Out(5)
    shr_a: Out(signed(7))
    shr_b: Out(6)
    shr_bw: Out(6)
    shr_aw: Out(signed(7))
    const_shifts: Out(32)
    bitsel: Out(3)
    bitsel_a: Out(4)
    wordsel: Out(2)
    bitsel_w: Out(3)

    def elaborate(self, platform):
        m = Module()
        a, b, sh, shw = self.a, self.b, self.sh, self.shw
        m.d.comb += [
            self.shl_b.eq(b << sh), self.shl_a.eq(a << sh), self.shl_trunc.eq(b << sh),
            self.shr_a.eq(a >> sh), self.shr_b.eq(b >> sh),
            self.shr_bw.eq(b >> shw), self.shr_aw.eq(a >> shw),
            self.const_shifts.eq(Cat(a << 2, a >> 3, b.shift_right(2), a.rotate_left(3),
                                     b.rotate_right(2))),
            self.bitsel.eq(b.bit_select(sh, 3)), self.bitsel_a.eq(a.bit_select(sh[:2], 4)),
            self.wordsel.eq(b.word_select(sh[:2], 2)),
            self.bitsel_w.eq(b.bit_select(shw, 3)),
        ]
        return m


class Muxes(wiring.Component):
    s: In(1)
    sel: In(3)
    a: In(8)
    b: In(signed(5))
    c: In(4)
    mux: Out(signed(9))
    mux_bit: Out(1)
    switch: Out(8)
    array: Out(9)
    array_write: Out(16)
    chain: Out(4)

    def elaborate(self, platform):
        m = Module()
        s, sel, a, b, c = self.s, self.sel, self.a, self.b, self.c
        m.d.comb += [self.mux.eq(Mux(s, a, b)), self.mux_bit.eq(Mux(sel[1], a[0], c[2]))]
        with m.Switch(sel):
            with m.Case(0):
                m.d.comb += self.switch.eq(a)
            with m.Case(1, 2):
                m.d.comb += self.switch.eq(b)
            with m.Case("1-1"):
                m.d.comb += self.switch.eq(c + 3)
            with m.Default():
                m.d.comb += self.switch.eq(a ^ 0x5A)
        m.d.comb += self.array.eq(Array([a, b, c, a + 1, b - 1])[sel])
        cells = Array([Signal(4, name=f"cell{k}") for k in range(4)])
        m.d.comb += cells[sel[:2]].eq(c)
        m.d.comb += self.array_write.eq(Cat(*cells))
        with m.If(a[0]):
            m.d.comb += self.chain.eq(1)
        with m.Elif(a[1] & s):
            m.d.comb += self.chain.eq(c)
        with m.Elif(sel == 3):
            m.d.comb += self.chain.eq(b)
        return m


class Registers(wiring.Component):
    d: In(8)
    en: In(1)
    clr: In(1)
    arst: In(1)
    sync_reg: Out(8)
    en_reg: Out(8)
    init_reg: Out(8)
    clr_en_reg: Out(8)
    clr_reg: Out(8)
    async_reg: Out(8)
    async_en_reg: Out(8)
    neg_reg: Out(8)
    counter: Out(5)
    bit_reg: Out(1)
    en_nores: Out(8)
    clr_en_nores: Out(8)

    def elaborate(self, platform):
        m = Module()
        d, en, clr = self.d, self.en, self.clr
        m.domains.adom = ClockDomain("adom", async_reset=True, local=True)
        m.domains.ndom = ClockDomain("ndom", clk_edge="neg", local=True)
        m.d.comb += [ClockSignal("adom").eq(ClockSignal()), ResetSignal("adom").eq(self.arst),
                     ClockSignal("ndom").eq(ClockSignal()), ResetSignal("ndom").eq(ResetSignal())]
        init_reg = Signal(8, init=0xA5)
        async_reg = Signal(8, init=0x3C)
        async_en_reg = Signal(8, init=0x81)
        # without the domain's reset, enables and resets stand alone ($dffe, $sdffce)
        en_nores = Signal(8, init=0x42, reset_less=True)
        clr_en_nores = Signal(8, reset_less=True)
        m.d.comb += [self.init_reg.eq(init_reg), self.async_reg.eq(async_reg),
                     self.async_en_reg.eq(async_en_reg), self.en_nores.eq(en_nores),
                     self.clr_en_nores.eq(clr_en_nores)]
        m.d.sync += [self.sync_reg.eq(d), self.counter.eq(self.counter + 1),
                     self.bit_reg.eq(d[3] ^ self.bit_reg)]
        with m.If(en):
            m.d.sync += [self.en_reg.eq(d), init_reg.eq(d + 1)]
            m.d.adom += async_en_reg.eq(d)
            m.d.sync += en_nores.eq(d ^ 0xF0)
            with m.If(clr):
                m.d.sync += [self.clr_en_reg.eq(0), clr_en_nores.eq(0x11)]
            with m.Else():
                m.d.sync += [self.clr_en_reg.eq(d), clr_en_nores.eq(d)]
        with m.If(clr):
            m.d.sync += self.clr_reg.eq(3)
        with m.Elif(en):
            m.d.sync += self.clr_reg.eq(d)
        m.d.adom += async_reg.eq(d ^ async_reg)
        m.d.ndom += self.neg_reg.eq(d + self.sync_reg)
        return m


def _random_words(seed, count, bits):
    return [int(x) for x in np.random.default_rng(seed).integers(0, 1 << bits, count)]


class Ram(wiring.Component):
    waddr: In(4)
    wdata: In(8)
    we: In(1)
    raddr: In(4)
    ren: In(1)
    rd_old: Out(8)
    rd_new: Out(8)
    rd_comb: Out(8)
    held_in_reset = ("ren",)

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = memory.Memory(shape=8, depth=16, init=_random_words(1, 16, 8))
        wp = mem.write_port()
        rp_old = mem.read_port()
        rp_new = mem.read_port(transparent_for=(wp,))
        rp_comb = mem.read_port(domain="comb")
        m.d.comb += [wp.addr.eq(self.waddr), wp.data.eq(self.wdata), wp.en.eq(self.we),
                     rp_old.addr.eq(self.raddr), rp_old.en.eq(self.ren),
                     rp_new.addr.eq(self.raddr), rp_comb.addr.eq(self.raddr),
                     self.rd_old.eq(rp_old.data), self.rd_new.eq(rp_new.data),
                     self.rd_comb.eq(rp_comb.data)]
        return m


class TwoPortRam(wiring.Component):
    """Depth 10 (not a power of two), a write port with byte... nibble enables and a second
    write port, read ports transparent for both."""
    a0: In(4)
    d0: In(16)
    e0: In(4)
    a1: In(4)
    d1: In(16)
    e1: In(1)
    ra: In(4)
    limits = {"a0": 10, "a1": 10, "ra": 10}
    rd_sync: Out(16)
    rd_comb: Out(16)

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = memory.Memory(shape=16, depth=10, init=[])
        wp0 = mem.write_port(granularity=4)
        wp1 = mem.write_port()
        rp = mem.read_port(transparent_for=(wp0, wp1))
        rc = mem.read_port(domain="comb")
        m.d.comb += [wp0.addr.eq(self.a0), wp0.data.eq(self.d0), wp0.en.eq(self.e0),
                     wp1.addr.eq(self.a1), wp1.data.eq(self.d1), wp1.en.eq(self.e1),
                     rp.addr.eq(self.ra), rc.addr.eq(self.ra),
                     self.rd_sync.eq(rp.data), self.rd_comb.eq(rc.data)]
        return m


class Rom(wiring.Component):
    addr: In(5)
    en: In(1)
    rd: Out(signed(6))
    rd_comb: Out(signed(6))
    single: Out(12)
    wdata: In(12)
    we: In(1)
    held_in_reset = ("en",)

    def elaborate(self, platform):
        m = Module()
        m.submodules.rom = rom = memory.Memory(shape=signed(6), depth=32,
                                               init=[w - 32 for w in _random_words(2, 32, 6)],
                                               attrs={"ram_style": "block"})
        rp = rom.read_port()
        rc = rom.read_port(domain="comb")
        m.d.comb += [rp.addr.eq(self.addr), rp.en.eq(self.en), rc.addr.eq(self.addr),
                     self.rd.eq(rp.data), self.rd_comb.eq(rc.data)]
        # one word: no address bits at all
        m.submodules.one = one = memory.Memory(shape=12, depth=1, init=[0x5A5])
        wp = one.write_port()
        rp1 = one.read_port(transparent_for=(wp,))
        m.d.comb += [wp.data.eq(self.wdata), wp.en.eq(self.we), self.single.eq(rp1.data)]
        return m


class Fsm(wiring.Component):
    go: In(1)
    x: In(4)
    state: Out(2)
    count: Out(4)

    def elaborate(self, platform):
        m = Module()
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.state.eq(0)
                with m.If(self.go):
                    m.d.sync += self.count.eq(0)
                    m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += self.state.eq(1)
                m.d.sync += self.count.eq(self.count + 1)
                with m.If(self.count == self.x):
                    m.next = "DONE"
            with m.State("DONE"):
                m.d.comb += self.state.eq(2)
                m.next = "IDLE"
        return m


DESIGNS = {"arith": Arith, "cmp": Compare, "logic": Logic, "shift": Shifts, "mux": Muxes,
           "reg": Registers, "ram": Ram, "ram2": TwoPortRam, "rom": Rom, "fsm": Fsm}


class Bundle(wiring.Component):
    """Designs side by side: port ``p`` of design ``name`` is port ``name_p``; all share the
    ``sync`` domain, whose clock and reset are the ports ``clk`` and ``rst``."""
    def __init__(self, designs):
        self.designs = dict(designs)
        self.limits, self.held_in_reset = {}, []
        members = {"clk": In(1), "rst": In(1)}
        for prefix, design in self.designs.items():
            for name, member in design.signature.members.items():
                members[f"{prefix}_{name}"] = member
            for name, limit in getattr(design, "limits", {}).items():
                self.limits[f"{prefix}_{name}"] = limit
            self.held_in_reset += [f"{prefix}_{name}"
                                   for name in getattr(design, "held_in_reset", ())]
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = sync = ClockDomain("sync")
        m.d.comb += [sync.clk.eq(self.clk), sync.rst.eq(self.rst)]
        for prefix, design in self.designs.items():
            m.submodules[prefix] = design
            for name, member in design.signature.members.items():
                outer, inner = getattr(self, f"{prefix}_{name}"), getattr(design, name)
                if member.flow == In:
                    m.d.comb += inner.eq(outer)
                else:
                    m.d.comb += outer.eq(inner)
        return m


class ResetRead(wiring.Component):
    """Registers after asynchronous read ports, which Yosys's ``memory_dff`` merges into
    synchronous read ports with a synchronous reset (before or under the enable) or an
    asynchronous one."""
    waddr: In(3)
    wdata: In(8)
    we: In(1)
    raddr: In(3)
    en: In(1)
    clr: In(1)
    arst: In(1)
    rd_srst: Out(8)
    rd_srst_ce: Out(8)
    rd_arst: Out(8)
    limits = {"arst": [0] * 7 + [1]}

    def elaborate(self, platform):
        m = Module()
        m.domains.adom = ClockDomain("adom", async_reset=True, local=True)
        m.d.comb += [ClockSignal("adom").eq(ClockSignal()), ResetSignal("adom").eq(self.arst)]
        m.submodules.mem = mem = memory.Memory(shape=8, depth=8, init=_random_words(3, 8, 8))
        wp = mem.write_port()
        m.d.comb += [wp.addr.eq(self.waddr), wp.data.eq(self.wdata), wp.en.eq(self.we)]
        data = []
        for k in range(3):
            port = mem.read_port(domain="comb")
            m.d.comb += port.addr.eq(self.raddr ^ k)     # distinct ports: opt must not merge
            data.append(port.data)
        srst = Signal(8, reset_less=True)
        srst_ce = Signal(8, reset_less=True)
        arst = Signal(8, init=0x77)
        m.d.comb += [self.rd_srst.eq(srst), self.rd_srst_ce.eq(srst_ce), self.rd_arst.eq(arst)]
        with m.If(self.clr):
            m.d.sync += srst.eq(0x5A)
        with m.Elif(self.en):
            m.d.sync += srst.eq(data[0])
        with m.If(self.en):
            with m.If(self.clr):
                m.d.sync += srst_ce.eq(0x33)
            with m.Else():
                m.d.sync += srst_ce.eq(data[1])
        m.d.adom += arst.eq(data[2])
        return m
