"""Distance kernels written as explicit vector code, for the CPUs that have it.

LLVM turns a plain loop of byte differences into ``psadbw`` (sum of the
absolute differences of 32 bytes in one instruction) only when the loop
compares one pair of rows; a register block that loads each row once for
several pairs loses the pattern, and the loop then spends its time on the
horizontal sum of each short row rather than on the differences. The
intrinsic here builds that block in LLVM IR: ``GQ`` query rows against
``GX`` training rows, one ``psadbw`` per pair and 32 bytes, each loaded
vector used ``GX`` or ``GQ`` times. Sums of absolute byte differences are
integers, so the result is exact whatever the order.

``skcv._distances`` tiles the distance blocks with it on x86 CPUs with
AVX2 (:data:`_HAS_AVX2`), and runs its portable kernels everywhere else.
"""

import llvmlite.binding as llvm_binding
import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__: list[str] = []


def _host_has_avx2():
    # Code is compiled for the host CPU unless NUMBA_CPU_NAME asks for
    # another (portable caches), where AVX2 may be missing.
    if numba.config.CPU_NAME is not None:
        return False
    try:
        features = llvm_binding.get_host_cpu_features()
    except RuntimeError:
        return False
    return bool(features.get("avx2", False))


_HAS_AVX2 = _host_has_avx2()

_BYTES = 32
_I8x32 = ir.VectorType(ir.IntType(8), _BYTES)
_I64x4 = ir.VectorType(ir.IntType(64), 4)
_I32 = ir.IntType(32)


def _sad_block(n_queries, n_train):
    """An intrinsic ``sad(Q, X, i, j)``: the ``n_queries x n_train`` sums of
    absolute differences of rows ``Q[i + a]`` and ``X[j + b]``, row-major in
    a tuple of int64.

    ``Q`` and ``X`` are 2-d uint8 arrays with contiguous rows of the same
    length, at least 32 bytes.
    """

    @intrinsic
    def sad(typingctx, Q, X, i, j):
        ret = types.UniTuple(types.int64, n_queries * n_train)

        def codegen(context, builder, signature, args):
            q_arr = context.make_array(signature.args[0])(context, builder, args[0])
            x_arr = context.make_array(signature.args[1])(context, builder, args[1])
            n = builder.extract_value(q_arr.shape, 1)
            const = n.type

            def rows(arr, first, count):
                stride = builder.extract_value(arr.strides, 0)
                data = builder.bitcast(arr.data, ir.IntType(8).as_pointer())
                return [
                    builder.gep(
                        data, [builder.mul(builder.add(first, const(r)), stride)]
                    )
                    for r in range(count)
                ]

            q_rows = rows(q_arr, args[2], n_queries)
            x_rows = rows(x_arr, args[3], n_train)
            psadbw = cgutils.get_or_insert_function(
                builder.module,
                ir.FunctionType(_I64x4, [_I8x32, _I8x32]),
                "llvm.x86.avx2.psad.bw",
            )
            sums = [
                cgutils.alloca_once_value(builder, ir.Constant(_I64x4, None))
                for _ in range(n_queries * n_train)
            ]

            def add_step(offset, mask=None):
                def load(row):
                    ptr = builder.bitcast(
                        builder.gep(row, [offset]), _I8x32.as_pointer()
                    )
                    v = builder.load(ptr, align=1)
                    return v if mask is None else builder.and_(v, mask)

                qs = [load(r) for r in q_rows]
                xs = [load(r) for r in x_rows]
                for a in range(n_queries):
                    for b in range(n_train):
                        acc = sums[a * n_train + b]
                        step = builder.call(psadbw, [qs[a], xs[b]])
                        builder.store(builder.add(builder.load(acc), step), acc)

            with cgutils.for_range(builder, builder.udiv(n, const(_BYTES))) as loop:
                add_step(builder.mul(loop.index, const(_BYTES)))
            tail = builder.urem(n, const(_BYTES))
            with builder.if_then(builder.icmp_unsigned("!=", tail, const(0))):
                # The row's last 32 bytes, with the lanes that the loop has
                # counted already set to 0 in both rows (|0 - 0| adds 0).
                first_new = builder.trunc(
                    builder.sub(const(_BYTES), tail), ir.IntType(8)
                )
                splat = builder.shuffle_vector(
                    builder.insert_element(
                        ir.Constant(_I8x32, None), first_new, _I32(0)
                    ),
                    ir.Constant(_I8x32, None),
                    ir.Constant(ir.VectorType(_I32, _BYTES), [0] * _BYTES),
                )
                lanes = ir.Constant(_I8x32, list(range(_BYTES)))
                new = builder.icmp_unsigned(">=", lanes, splat)
                add_step(builder.sub(n, const(_BYTES)), builder.sext(new, _I8x32))
            totals = []
            for acc in sums:
                v = builder.load(acc)
                total = builder.extract_element(v, _I32(0))
                for lane in range(1, 4):
                    total = builder.add(total, builder.extract_element(v, _I32(lane)))
                totals.append(total)
            return context.make_tuple(builder, ret, totals)

        return ret(Q, X, i, j), codegen

    return sad


# 4 queries x 2 training rows: 6 loads for 8 psadbw per 32 bytes. Measured
# on MNIST rows (one thread): 4 x 2 and 2 x 2 about 100 G differences per
# second, 4 x 3 87 G, 4 x 1 65 G; the portable kernel 13 G.
_GQ = 4
_GX = 2
_sad_4x2 = _sad_block(_GQ, _GX)
_sad_1x1 = _sad_block(1, 1)
