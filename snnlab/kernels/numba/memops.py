"""Software prefetch for the numba kernels (``llvm.prefetch``).

The backward WKV sweep walks its arrays from the last token to the first. Its stores are the
costly part: every written cache line is first read from memory (write-allocate), and the
hardware prefetchers do not request the lines of a descending store stream early enough.
:func:`prefetch_write` asks for such a line a few tokens ahead (x86 ``prefetchw``), so that
the read overlaps the arithmetic; :func:`prefetch` does the same for a line that will be read.
A prefetch is a hint: it never faults and changes no value.

(Tried and dropped on this kind of machine, 2 vCPUs of an AMD EPYC under KVM: non-temporal
stores, which skip the write-allocate read, made the forward scan 2.5x slower.)
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_I32 = ir.IntType(32)


def _make_prefetch(write: int, doc: str):
    @intrinsic
    def _prefetch(typingctx, arr, i):  # pragma: no cover - typing/codegen hook
        if not (isinstance(arr, types.Array) and arr.ndim == 1 and isinstance(i, types.Integer)):
            return None

        def codegen(context, builder, signature, args):
            ary = context.make_array(signature.args[0])(context, builder, args[0])
            ptr = builder.gep(ary.data, [args[1]])  # element i of a 1-D contiguous array
            i8p = ir.IntType(8).as_pointer()
            fnty = ir.FunctionType(ir.VoidType(), [i8p, _I32, _I32, _I32])
            fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
            # (address, read 0 / write 1, locality 3: keep in every cache level, data cache)
            builder.call(fn, [builder.bitcast(ptr, i8p), _I32(write), _I32(3), _I32(1)])
            return context.get_dummy_value()

        return types.void(arr, i), codegen

    _prefetch.__doc__ = doc
    return _prefetch


prefetch = _make_prefetch(0, "``prefetch(arr, i)``: fetch the cache line of ``arr[i]`` (1-D contiguous) for reading.")
prefetch_write = _make_prefetch(1, "``prefetch_write(arr, i)``: fetch the cache line of ``arr[i]`` for writing.")
