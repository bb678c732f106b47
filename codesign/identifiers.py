"""Legal generated identifiers: a model's name becomes a Verilog module, a C++ function and file names.

One rule for every path: ASCII letters, digits and single underscores, starting with a letter, never a
reserved word of the target language nor the name of a module the generator writes beside it, at most
`MAX_LENGTH` characters (a longer name is cut and given a hash suffix, so distinct names stay distinct).
"""

from __future__ import annotations

import hashlib
import re

MAX_LENGTH = 64

#: IEEE 1364-2005 Verilog and IEEE 1800-2017 SystemVerilog keywords (Verilator reads both).
VERILOG_RESERVED = frozenset("""
    accept_on alias always always_comb always_ff always_latch and assert assign assume automatic before begin bind
    bins binsof bit break buf bufif0 bufif1 byte case casex casez cell chandle checker class clocking cmos config
    const constraint context continue cover covergroup coverpoint cross deassign default defparam design disable dist
    do edge else end endcase endchecker endclass endclocking endconfig endfunction endgenerate endgroup endinterface
    endmodule endpackage endprimitive endprogram endproperty endspecify endsequence endtable endtask enum event
    eventually expect export extends extern final first_match for force foreach forever fork forkjoin function
    generate genvar global highz0 highz1 if iff ifnone ignore_bins illegal_bins implements implies import incdir
    include initial inout input inside instance int integer interconnect interface intersect join join_any join_none
    large let liblist library local localparam logic longint macromodule matches medium modport module nand negedge
    nettype new nexttime nmos nor noshowcancelled not notif0 notif1 null or output package packed parameter pmos
    posedge primitive priority program property protected pull0 pull1 pulldown pullup pulsestyle_ondetect
    pulsestyle_onevent pure rand randc randcase randsequence rcmos real realtime ref reg reject_on release repeat
    restrict return rnmos rpmos rtran rtranif0 rtranif1 s_always s_eventually s_nexttime s_until s_until_with
    scalared sequence shortint shortreal showcancelled signed small soft solve specify specparam static string strong
    strong0 strong1 struct super supply0 supply1 sync_accept_on sync_reject_on table tagged task this throughout time
    timeprecision timeunit tran tranif0 tranif1 tri tri0 tri1 triand trior trireg type typedef union unique unique0
    unsigned until until_with untyped use uwire var vectored virtual void wait wait_order wand weak weak0 weak1 while
    wildcard wire with within wor xnor xor
""".split())
#: Modules da4ml writes beside the top module.
DA4ML_MODULES = frozenset({"lookup_table", "multiplier", "mux", "negative", "shift_adder"})

_CPP_RESERVED = frozenset("""
    alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t class compl
    concept const consteval constexpr constinit const_cast continue co_await co_return co_yield decltype default delete
    do double dynamic_cast else enum explicit export extern false float for friend goto if inline int long main mutable
    namespace new noexcept not not_eq nullptr operator or or_eq private protected public register reinterpret_cast
    requires return short signed sizeof static static_assert static_cast struct switch template this thread_local throw
    true try typedef typeid typename union unsigned using virtual void volatile wchar_t while xor xor_eq
""".split())
#: Reserved in the generated C++ as well: hls4ml's own top-level names.
CPP_RESERVED = _CPP_RESERVED | {"nnet", "ap_fixed", "ap_int", "ap_uint", "hls", "std"}


def identifier(name: str, reserved: frozenset[str] = frozenset(), prefix: str = "m_") -> str:
    """`name` as an identifier legal in Verilog, C++ and file names, avoiding `reserved` (case-insensitively)."""
    ident = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", name)).strip("_") or "model"
    if not ident[0].isalpha() or ident.lower() in reserved:
        ident = f"{prefix}{ident}"
    if len(ident) > MAX_LENGTH:
        ident = f"{ident[:MAX_LENGTH - 9]}_{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    return ident


def verilog_module(name: str) -> str:
    """The top module name of a model's RTL."""
    return identifier(name, VERILOG_RESERVED | DA4ML_MODULES | CPP_RESERVED)


def cpp_name(name: str) -> str:
    """The top function and file stem of a model's HLS project."""
    return identifier(name, CPP_RESERVED | VERILOG_RESERVED)
