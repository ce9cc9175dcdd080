"""PLL settings for exact output frequencies, and the PLL primitives that use them.

The limits are those of the iCE40 (``SB_PLL40``, simple feedback) and ECP5 (``EHXPLLL``,
feedback from ``CLKOP``) data sheets, as ``icepll`` and ``ecppll`` use them.
"""
from amaranth.hdl import Instance, Signal


__all__ = ["ice40_pll", "ecp5_pll", "ice40_pll_instance", "ecp5_pll_instance"]


def ice40_pll(fin, fout):
    """``DIVR``, ``DIVF``, ``DIVQ``, ``FILTER_RANGE`` for ``fout = fin * (DIVF + 1) /
    ((DIVR + 1) * 2**DIVQ)`` exactly, or ``None``; the VCO closest to 800 MHz wins."""
    best = None
    for divr in range(16):
        pfd = fin / (divr + 1)
        if not 10e6 <= pfd <= 133e6:
            continue
        for divq in range(1, 7):
            vco = fout * (1 << divq)
            if not 533e6 <= vco <= 1066e6:
                continue
            divf_plus_1 = vco / pfd
            if divf_plus_1 != int(divf_plus_1) or not 1 <= divf_plus_1 <= 128:
                continue
            if best is None or abs(vco - 800e6) < abs(best[0] - 800e6):
                best = (vco, divr, int(divf_plus_1) - 1, divq, pfd)
    if best is None or not 16e6 <= fout <= 275e6:
        return None
    _, divr, divf, divq, pfd = best
    filter_range = next(k for k, top in enumerate((17e6, 26e6, 44e6, 66e6, 101e6, 1e12), 1)
                        if pfd < top)
    return {"DIVR": divr, "DIVF": divf, "DIVQ": divq, "FILTER_RANGE": filter_range}


def ecp5_pll(fin, fout):
    """``CLKI_DIV``, ``CLKFB_DIV``, ``CLKOP_DIV`` for ``fout = fin * CLKFB_DIV / CLKI_DIV``
    exactly, or ``None``; the VCO (``fout * CLKOP_DIV``) closest to 600 MHz wins."""
    best = None
    for clki in range(1, 129):
        pfd = fin / clki
        if not 3.125e6 <= pfd <= 400e6:
            continue
        clkfb = fout / pfd
        if clkfb != int(clkfb) or not 1 <= clkfb <= 80:
            continue
        for clkop in range(1, 129):
            vco = fout * clkop
            if 400e6 <= vco <= 800e6 and (best is None or
                                          abs(vco - 600e6) < abs(best[0] - 600e6)):
                best = (vco, clki, int(clkfb), clkop)
    if best is None:
        return None
    _, clki, clkfb, clkop = best
    return {"CLKI_DIV": clki, "CLKFB_DIV": clkfb, "CLKOP_DIV": clkop}


def ice40_pll_instance(pad, params):
    """``SB_PLL40_PAD`` on the clock pad ``pad``; returns ``(instance, clock, lock)``."""
    clk, lock = Signal(name="pll_clk"), Signal(name="pll_lock")
    instance = Instance(
        "SB_PLL40_PAD",
        p_FEEDBACK_PATH="SIMPLE",
        p_DIVR=params["DIVR"], p_DIVF=params["DIVF"], p_DIVQ=params["DIVQ"],
        p_FILTER_RANGE=params["FILTER_RANGE"],
        i_PACKAGEPIN=pad,
        i_RESETB=1, i_BYPASS=0,
        o_PLLOUTGLOBAL=clk, o_LOCK=lock,
    )
    return instance, clk, lock


def ecp5_pll_instance(clkin, params, *, fin, fout):
    """``EHXPLLL`` fed by ``clkin``, output ``CLKOP`` fed back; returns ``(instance, clock,
    lock)``."""
    clk, lock = Signal(name="pll_clk"), Signal(name="pll_lock")
    instance = Instance(
        "EHXPLLL",
        a_FREQUENCY_PIN_CLKI=f"{fin / 1e6:g}", a_FREQUENCY_PIN_CLKOP=f"{fout / 1e6:g}",
        a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
        a_MFG_GMCREF_SEL="2",
        p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
        p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_FEEDBK_PATH="CLKOP",
        p_CLKI_DIV=params["CLKI_DIV"], p_CLKFB_DIV=params["CLKFB_DIV"],
        p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=params["CLKOP_DIV"],
        p_CLKOP_CPHASE=(params["CLKOP_DIV"] - 1) // 2, p_CLKOP_FPHASE=0,
        i_CLKI=clkin, i_CLKFB=clk, i_RST=0, i_STDBY=0,
        i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
        i_PLLWAKESYNC=0, i_ENCLKOP=0,
        o_CLKOP=clk, o_LOCK=lock,
    )
    return instance, clk, lock
