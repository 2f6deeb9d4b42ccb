//go:build !purego

#include "textflag.h"

// SSE (baseline amd64) float32 kernels; see vec32_amd64.go. Loads and stores are unaligned
// (MOVUPS), the main loops take 16 elements, then blocks of 4, then single elements. Reductions
// keep four vector accumulators per sum.

// HSUM leaves the sum of the four lanes of X in its lane 0, using T as scratch.
#define HSUM(X, T) \
	MOVHLPS X, T \
	ADDPS   T, X \
	MOVAPS  X, T \
	SHUFPS  $0x55, T, T \
	ADDSS   T, X

// RELU sets X to max(X, 0) exactly as Go's builtin max does on amd64: x for x > 0, +0 for x <= 0
// (-0 included), and a NaN with its sign bit cleared (payload kept). That is
// X & [!(X <= 0)] & 0x7fffffff, with T as scratch, Z = 0 and A = 0x7fffffff in every lane.
#define RELU(X, T, Z, A) \
	MOVAPS X, T \
	CMPPS  Z, T, $6 \
	ANDPS  A, T \
	ANDPS  T, X

// ABSMASK sets every lane of A to 0x7fffffff.
#define ABSMASK(A) \
	PCMPEQL A, A \
	PSRLL   $1, A

// func RowSums(x []float32, shift float32) (s1, s2 float32)
TEXT ·RowSums(SB), NOSPLIT, $0-40
	MOVQ   x_base+0(FP), SI
	MOVQ   x_len+8(FP), CX
	MOVSS  shift+24(FP), X8
	SHUFPS $0, X8, X8
	XORPS  X0, X0
	XORPS  X1, X1
	XORPS  X2, X2
	XORPS  X3, X3
	XORPS  X4, X4
	XORPS  X5, X5
	XORPS  X6, X6
	XORPS  X7, X7
	CMPQ   CX, $16
	JLT    rs_tail4

rs_loop16:
	MOVUPS (SI), X9
	MOVUPS 16(SI), X10
	MOVUPS 32(SI), X11
	MOVUPS 48(SI), X12
	SUBPS  X8, X9
	SUBPS  X8, X10
	SUBPS  X8, X11
	SUBPS  X8, X12
	ADDPS  X9, X0
	ADDPS  X10, X1
	ADDPS  X11, X2
	ADDPS  X12, X3
	MULPS  X9, X9
	MULPS  X10, X10
	MULPS  X11, X11
	MULPS  X12, X12
	ADDPS  X9, X4
	ADDPS  X10, X5
	ADDPS  X11, X6
	ADDPS  X12, X7
	ADDQ   $64, SI
	SUBQ   $16, CX
	CMPQ   CX, $16
	JGE    rs_loop16

rs_tail4:
	CMPQ   CX, $4
	JLT    rs_tail1
	MOVUPS (SI), X9
	SUBPS  X8, X9
	ADDPS  X9, X0
	MULPS  X9, X9
	ADDPS  X9, X4
	ADDQ   $16, SI
	SUBQ   $4, CX
	JMP    rs_tail4

rs_tail1:
	TESTQ CX, CX
	JEQ   rs_done
	MOVSS (SI), X9
	SUBSS X8, X9
	ADDSS X9, X1
	MULSS X9, X9
	ADDSS X9, X5
	ADDQ  $4, SI
	DECQ  CX
	JMP   rs_tail1

rs_done:
	ADDPS X1, X0
	ADDPS X3, X2
	ADDPS X2, X0
	ADDPS X5, X4
	ADDPS X7, X6
	ADDPS X6, X4
	HSUM(X0, X9)
	HSUM(X4, X10)
	MOVSS X0, s1+32(FP)
	MOVSS X4, s2+36(FP)
	RET

// func GradSums(g, x []float32, m float32) (s1, s2 float32)
TEXT ·GradSums(SB), NOSPLIT, $0-64
	MOVQ   g_base+0(FP), SI
	MOVQ   g_len+8(FP), CX
	MOVQ   x_base+24(FP), DI
	MOVSS  m+48(FP), X8
	SHUFPS $0, X8, X8
	XORPS  X0, X0
	XORPS  X1, X1
	XORPS  X2, X2
	XORPS  X3, X3
	XORPS  X4, X4
	XORPS  X5, X5
	XORPS  X6, X6
	XORPS  X7, X7
	CMPQ   CX, $16
	JLT    gs_tail4

gs_loop16:
	MOVUPS (SI), X9
	MOVUPS (DI), X10
	ADDPS  X9, X0
	SUBPS  X8, X10
	MULPS  X9, X10
	ADDPS  X10, X4
	MOVUPS 16(SI), X11
	MOVUPS 16(DI), X12
	ADDPS  X11, X1
	SUBPS  X8, X12
	MULPS  X11, X12
	ADDPS  X12, X5
	MOVUPS 32(SI), X9
	MOVUPS 32(DI), X10
	ADDPS  X9, X2
	SUBPS  X8, X10
	MULPS  X9, X10
	ADDPS  X10, X6
	MOVUPS 48(SI), X11
	MOVUPS 48(DI), X12
	ADDPS  X11, X3
	SUBPS  X8, X12
	MULPS  X11, X12
	ADDPS  X12, X7
	ADDQ   $64, SI
	ADDQ   $64, DI
	SUBQ   $16, CX
	CMPQ   CX, $16
	JGE    gs_loop16

gs_tail4:
	CMPQ   CX, $4
	JLT    gs_tail1
	MOVUPS (SI), X9
	MOVUPS (DI), X10
	ADDPS  X9, X0
	SUBPS  X8, X10
	MULPS  X9, X10
	ADDPS  X10, X4
	ADDQ   $16, SI
	ADDQ   $16, DI
	SUBQ   $4, CX
	JMP    gs_tail4

gs_tail1:
	TESTQ CX, CX
	JEQ   gs_done
	MOVSS (SI), X9
	MOVSS (DI), X10
	ADDSS X9, X1
	SUBSS X8, X10
	MULSS X9, X10
	ADDSS X10, X5
	ADDQ  $4, SI
	ADDQ  $4, DI
	DECQ  CX
	JMP   gs_tail1

gs_done:
	ADDPS X1, X0
	ADDPS X3, X2
	ADDPS X2, X0
	ADDPS X5, X4
	ADDPS X7, X6
	ADDPS X6, X4
	HSUM(X0, X9)
	HSUM(X4, X10)
	MOVSS X0, s1+56(FP)
	MOVSS X4, s2+60(FP)
	RET

// func MaskedGradSums(y, dy, x []float32, m float32) (s1, s2 float32)
TEXT ·MaskedGradSums(SB), NOSPLIT, $0-88
	MOVQ   y_base+0(FP), BX
	MOVQ   y_len+8(FP), CX
	MOVQ   dy_base+24(FP), SI
	MOVQ   x_base+48(FP), DI
	MOVSS  m+72(FP), X8
	SHUFPS $0, X8, X8
	XORPS  X0, X0
	XORPS  X1, X1
	XORPS  X2, X2
	XORPS  X3, X3
	XORPS  X4, X4
	XORPS  X5, X5
	XORPS  X6, X6
	XORPS  X7, X7
	XORPS  X13, X13
	CMPQ   CX, $16
	JLT    mgs_tail4

	// g = dy &^ [bits(y) == 0]
mgs_loop16:
	MOVUPS  (BX), X9
	MOVUPS  (DI), X10
	PCMPEQL X13, X9
	MOVUPS  (SI), X14
	ANDNPS  X14, X9
	ADDPS   X9, X0
	SUBPS   X8, X10
	MULPS   X9, X10
	ADDPS   X10, X4
	MOVUPS  16(BX), X11
	MOVUPS  16(DI), X12
	PCMPEQL X13, X11
	MOVUPS  16(SI), X14
	ANDNPS  X14, X11
	ADDPS   X11, X1
	SUBPS   X8, X12
	MULPS   X11, X12
	ADDPS   X12, X5
	MOVUPS  32(BX), X9
	MOVUPS  32(DI), X10
	PCMPEQL X13, X9
	MOVUPS  32(SI), X14
	ANDNPS  X14, X9
	ADDPS   X9, X2
	SUBPS   X8, X10
	MULPS   X9, X10
	ADDPS   X10, X6
	MOVUPS  48(BX), X11
	MOVUPS  48(DI), X12
	PCMPEQL X13, X11
	MOVUPS  48(SI), X14
	ANDNPS  X14, X11
	ADDPS   X11, X3
	SUBPS   X8, X12
	MULPS   X11, X12
	ADDPS   X12, X7
	ADDQ    $64, BX
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	CMPQ    CX, $16
	JGE     mgs_loop16

mgs_tail4:
	CMPQ    CX, $4
	JLT     mgs_tail1
	MOVUPS  (BX), X9
	MOVUPS  (DI), X10
	PCMPEQL X13, X9
	MOVUPS  (SI), X14
	ANDNPS  X14, X9
	ADDPS   X9, X0
	SUBPS   X8, X10
	MULPS   X9, X10
	ADDPS   X10, X4
	ADDQ    $16, BX
	ADDQ    $16, SI
	ADDQ    $16, DI
	SUBQ    $4, CX
	JMP     mgs_tail4

mgs_tail1:
	TESTQ   CX, CX
	JEQ     mgs_done
	MOVSS   (BX), X9
	MOVSS   (DI), X10
	PCMPEQL X13, X9
	MOVSS   (SI), X14
	ANDNPS  X14, X9
	ADDSS   X9, X1
	SUBSS   X8, X10
	MULSS   X9, X10
	ADDSS   X10, X5
	ADDQ    $4, BX
	ADDQ    $4, SI
	ADDQ    $4, DI
	DECQ    CX
	JMP     mgs_tail1

mgs_done:
	ADDPS X1, X0
	ADDPS X3, X2
	ADDPS X2, X0
	ADDPS X5, X4
	ADDPS X7, X6
	ADDPS X6, X4
	HSUM(X0, X9)
	HSUM(X4, X10)
	MOVSS X0, s1+80(FP)
	MOVSS X4, s2+84(FP)
	RET

// func AffineRow(x, y []float32, a, b float32)
TEXT ·AffineRow(SB), NOSPLIT, $0-56
	MOVQ   x_base+0(FP), SI
	MOVQ   x_len+8(FP), CX
	MOVQ   y_base+24(FP), DI
	MOVSS  a+48(FP), X8
	SHUFPS $0, X8, X8
	MOVSS  b+52(FP), X9
	SHUFPS $0, X9, X9
	CMPQ   CX, $16
	JLT    af_tail4

af_loop16:
	MOVUPS (SI), X0
	MOVUPS 16(SI), X1
	MOVUPS 32(SI), X2
	MOVUPS 48(SI), X3
	MULPS  X8, X0
	MULPS  X8, X1
	MULPS  X8, X2
	MULPS  X8, X3
	ADDPS  X9, X0
	ADDPS  X9, X1
	ADDPS  X9, X2
	ADDPS  X9, X3
	MOVUPS X0, (DI)
	MOVUPS X1, 16(DI)
	MOVUPS X2, 32(DI)
	MOVUPS X3, 48(DI)
	ADDQ   $64, SI
	ADDQ   $64, DI
	SUBQ   $16, CX
	CMPQ   CX, $16
	JGE    af_loop16

af_tail4:
	CMPQ   CX, $4
	JLT    af_tail1
	MOVUPS (SI), X0
	MULPS  X8, X0
	ADDPS  X9, X0
	MOVUPS X0, (DI)
	ADDQ   $16, SI
	ADDQ   $16, DI
	SUBQ   $4, CX
	JMP    af_tail4

af_tail1:
	TESTQ CX, CX
	JEQ   af_done
	MOVSS (SI), X0
	MULSS X8, X0
	ADDSS X9, X0
	MOVSS X0, (DI)
	ADDQ  $4, SI
	ADDQ  $4, DI
	DECQ  CX
	JMP   af_tail1

af_done:
	RET

// func AffineReLURow(x, y []float32, a, b float32)
TEXT ·AffineReLURow(SB), NOSPLIT, $0-56
	MOVQ   x_base+0(FP), SI
	MOVQ   x_len+8(FP), CX
	MOVQ   y_base+24(FP), DI
	MOVSS  a+48(FP), X8
	SHUFPS $0, X8, X8
	MOVSS  b+52(FP), X9
	SHUFPS $0, X9, X9
	XORPS  X10, X10
	ABSMASK(X11)
	CMPQ   CX, $16
	JLT    afr_tail4

afr_loop16:
	MOVUPS (SI), X0
	MOVUPS 16(SI), X1
	MOVUPS 32(SI), X2
	MOVUPS 48(SI), X3
	MULPS  X8, X0
	MULPS  X8, X1
	MULPS  X8, X2
	MULPS  X8, X3
	ADDPS  X9, X0
	ADDPS  X9, X1
	ADDPS  X9, X2
	ADDPS  X9, X3
	RELU(X0, X4, X10, X11)
	RELU(X1, X5, X10, X11)
	RELU(X2, X6, X10, X11)
	RELU(X3, X7, X10, X11)
	MOVUPS X0, (DI)
	MOVUPS X1, 16(DI)
	MOVUPS X2, 32(DI)
	MOVUPS X3, 48(DI)
	ADDQ   $64, SI
	ADDQ   $64, DI
	SUBQ   $16, CX
	CMPQ   CX, $16
	JGE    afr_loop16

afr_tail4:
	CMPQ   CX, $4
	JLT    afr_tail1
	MOVUPS (SI), X0
	MULPS  X8, X0
	ADDPS  X9, X0
	RELU(X0, X4, X10, X11)
	MOVUPS X0, (DI)
	ADDQ   $16, SI
	ADDQ   $16, DI
	SUBQ   $4, CX
	JMP    afr_tail4

afr_tail1:
	TESTQ CX, CX
	JEQ   afr_done
	MOVSS (SI), X0
	MULSS X8, X0
	ADDSS X9, X0
	RELU(X0, X4, X10, X11)
	MOVSS X0, (DI)
	ADDQ  $4, SI
	ADDQ  $4, DI
	DECQ  CX
	JMP   afr_tail1

afr_done:
	RET

// func BNDxRow(g, x, d []float32, kg, kx, k0 float32)
TEXT ·BNDxRow(SB), NOSPLIT, $0-84
	MOVQ   g_base+0(FP), SI
	MOVQ   g_len+8(FP), CX
	MOVQ   x_base+24(FP), DI
	MOVQ   d_base+48(FP), DX
	MOVSS  kg+72(FP), X8
	SHUFPS $0, X8, X8
	MOVSS  kx+76(FP), X9
	SHUFPS $0, X9, X9
	MOVSS  k0+80(FP), X10
	SHUFPS $0, X10, X10
	CMPQ   CX, $16
	JLT    dx_tail4

	// d = (kg*g + kx*x) + k0
dx_loop16:
	MOVUPS (SI), X0
	MOVUPS 16(SI), X1
	MOVUPS 32(SI), X2
	MOVUPS 48(SI), X3
	MOVUPS (DI), X4
	MOVUPS 16(DI), X5
	MOVUPS 32(DI), X6
	MOVUPS 48(DI), X7
	MULPS  X8, X0
	MULPS  X8, X1
	MULPS  X8, X2
	MULPS  X8, X3
	MULPS  X9, X4
	MULPS  X9, X5
	MULPS  X9, X6
	MULPS  X9, X7
	ADDPS  X4, X0
	ADDPS  X5, X1
	ADDPS  X6, X2
	ADDPS  X7, X3
	ADDPS  X10, X0
	ADDPS  X10, X1
	ADDPS  X10, X2
	ADDPS  X10, X3
	MOVUPS X0, (DX)
	MOVUPS X1, 16(DX)
	MOVUPS X2, 32(DX)
	MOVUPS X3, 48(DX)
	ADDQ   $64, SI
	ADDQ   $64, DI
	ADDQ   $64, DX
	SUBQ   $16, CX
	CMPQ   CX, $16
	JGE    dx_loop16

dx_tail4:
	CMPQ   CX, $4
	JLT    dx_tail1
	MOVUPS (SI), X0
	MOVUPS (DI), X4
	MULPS  X8, X0
	MULPS  X9, X4
	ADDPS  X4, X0
	ADDPS  X10, X0
	MOVUPS X0, (DX)
	ADDQ   $16, SI
	ADDQ   $16, DI
	ADDQ   $16, DX
	SUBQ   $4, CX
	JMP    dx_tail4

dx_tail1:
	TESTQ CX, CX
	JEQ   dx_done
	MOVSS (SI), X0
	MOVSS (DI), X4
	MULSS X8, X0
	MULSS X9, X4
	ADDSS X4, X0
	ADDSS X10, X0
	MOVSS X0, (DX)
	ADDQ  $4, SI
	ADDQ  $4, DI
	ADDQ  $4, DX
	DECQ  CX
	JMP   dx_tail1

dx_done:
	RET

// func MaskedBNDxRow(y, dy, x, d []float32, kg, kx, k0 float32)
TEXT ·MaskedBNDxRow(SB), NOSPLIT, $0-108
	MOVQ   y_base+0(FP), BX
	MOVQ   y_len+8(FP), CX
	MOVQ   dy_base+24(FP), SI
	MOVQ   x_base+48(FP), DI
	MOVQ   d_base+72(FP), DX
	MOVSS  kg+96(FP), X8
	SHUFPS $0, X8, X8
	MOVSS  kx+100(FP), X9
	SHUFPS $0, X9, X9
	MOVSS  k0+104(FP), X10
	SHUFPS $0, X10, X10
	XORPS  X11, X11
	CMPQ   CX, $8
	JLT    mdx_tail4

	// g = dy &^ [bits(y) == 0]; d = (kg*g + kx*x) + k0
mdx_loop8:
	MOVUPS  (BX), X0
	MOVUPS  16(BX), X1
	MOVUPS  (SI), X2
	MOVUPS  16(SI), X3
	PCMPEQL X11, X0
	PCMPEQL X11, X1
	ANDNPS  X2, X0
	ANDNPS  X3, X1
	MOVUPS  (DI), X4
	MOVUPS  16(DI), X5
	MULPS   X8, X0
	MULPS   X8, X1
	MULPS   X9, X4
	MULPS   X9, X5
	ADDPS   X4, X0
	ADDPS   X5, X1
	ADDPS   X10, X0
	ADDPS   X10, X1
	MOVUPS  X0, (DX)
	MOVUPS  X1, 16(DX)
	ADDQ    $32, BX
	ADDQ    $32, SI
	ADDQ    $32, DI
	ADDQ    $32, DX
	SUBQ    $8, CX
	CMPQ    CX, $8
	JGE     mdx_loop8

mdx_tail4:
	CMPQ    CX, $4
	JLT     mdx_tail1
	MOVUPS  (BX), X0
	MOVUPS  (SI), X2
	PCMPEQL X11, X0
	ANDNPS  X2, X0
	MOVUPS  (DI), X4
	MULPS   X8, X0
	MULPS   X9, X4
	ADDPS   X4, X0
	ADDPS   X10, X0
	MOVUPS  X0, (DX)
	ADDQ    $16, BX
	ADDQ    $16, SI
	ADDQ    $16, DI
	ADDQ    $16, DX
	SUBQ    $4, CX
	JMP     mdx_tail4

mdx_tail1:
	TESTQ   CX, CX
	JEQ     mdx_done
	MOVSS   (BX), X0
	MOVSS   (SI), X2
	PCMPEQL X11, X0
	ANDNPS  X2, X0
	MOVSS   (DI), X4
	MULSS   X8, X0
	MULSS   X9, X4
	ADDSS   X4, X0
	ADDSS   X10, X0
	MOVSS   X0, (DX)
	ADDQ    $4, BX
	ADDQ    $4, SI
	ADDQ    $4, DI
	ADDQ    $4, DX
	DECQ    CX
	JMP     mdx_tail1

mdx_done:
	RET

// func ReLU(a, y []float32)
TEXT ·ReLU(SB), NOSPLIT, $0-48
	MOVQ  a_base+0(FP), SI
	MOVQ  a_len+8(FP), CX
	MOVQ  y_base+24(FP), DI
	XORPS X10, X10
	ABSMASK(X11)
	CMPQ  CX, $16
	JLT   r_tail4

r_loop16:
	MOVUPS (SI), X0
	MOVUPS 16(SI), X1
	MOVUPS 32(SI), X2
	MOVUPS 48(SI), X3
	RELU(X0, X4, X10, X11)
	RELU(X1, X5, X10, X11)
	RELU(X2, X6, X10, X11)
	RELU(X3, X7, X10, X11)
	MOVUPS X0, (DI)
	MOVUPS X1, 16(DI)
	MOVUPS X2, 32(DI)
	MOVUPS X3, 48(DI)
	ADDQ   $64, SI
	ADDQ   $64, DI
	SUBQ   $16, CX
	CMPQ   CX, $16
	JGE    r_loop16

r_tail4:
	CMPQ   CX, $4
	JLT    r_tail1
	MOVUPS (SI), X0
	RELU(X0, X4, X10, X11)
	MOVUPS X0, (DI)
	ADDQ   $16, SI
	ADDQ   $16, DI
	SUBQ   $4, CX
	JMP    r_tail4

r_tail1:
	TESTQ CX, CX
	JEQ   r_done
	MOVSS (SI), X0
	RELU(X0, X4, X10, X11)
	MOVSS X0, (DI)
	ADDQ  $4, SI
	ADDQ  $4, DI
	DECQ  CX
	JMP   r_tail1

r_done:
	RET

// func Add(a, b, y []float32)
TEXT ·Add(SB), NOSPLIT, $0-72
	MOVQ a_base+0(FP), SI
	MOVQ a_len+8(FP), CX
	MOVQ b_base+24(FP), BX
	MOVQ y_base+48(FP), DI
	CMPQ CX, $16
	JLT  add_tail4

add_loop16:
	MOVUPS (SI), X0
	MOVUPS 16(SI), X1
	MOVUPS 32(SI), X2
	MOVUPS 48(SI), X3
	MOVUPS (BX), X4
	MOVUPS 16(BX), X5
	MOVUPS 32(BX), X6
	MOVUPS 48(BX), X7
	ADDPS  X4, X0
	ADDPS  X5, X1
	ADDPS  X6, X2
	ADDPS  X7, X3
	MOVUPS X0, (DI)
	MOVUPS X1, 16(DI)
	MOVUPS X2, 32(DI)
	MOVUPS X3, 48(DI)
	ADDQ   $64, SI
	ADDQ   $64, BX
	ADDQ   $64, DI
	SUBQ   $16, CX
	CMPQ   CX, $16
	JGE    add_loop16

add_tail4:
	CMPQ   CX, $4
	JLT    add_tail1
	MOVUPS (SI), X0
	MOVUPS (BX), X4
	ADDPS  X4, X0
	MOVUPS X0, (DI)
	ADDQ   $16, SI
	ADDQ   $16, BX
	ADDQ   $16, DI
	SUBQ   $4, CX
	JMP    add_tail4

add_tail1:
	TESTQ CX, CX
	JEQ   add_done
	MOVSS (SI), X0
	MOVSS (BX), X4
	ADDSS X4, X0
	MOVSS X0, (DI)
	ADDQ  $4, SI
	ADDQ  $4, BX
	ADDQ  $4, DI
	DECQ  CX
	JMP   add_tail1

add_done:
	RET

// func AddReLU(a, b, y []float32)
TEXT ·AddReLU(SB), NOSPLIT, $0-72
	MOVQ  a_base+0(FP), SI
	MOVQ  a_len+8(FP), CX
	MOVQ  b_base+24(FP), BX
	MOVQ  y_base+48(FP), DI
	XORPS X10, X10
	ABSMASK(X11)
	CMPQ  CX, $16
	JLT   ar_tail4

ar_loop16:
	MOVUPS (SI), X0
	MOVUPS 16(SI), X1
	MOVUPS 32(SI), X2
	MOVUPS 48(SI), X3
	MOVUPS (BX), X4
	MOVUPS 16(BX), X5
	MOVUPS 32(BX), X6
	MOVUPS 48(BX), X7
	ADDPS  X4, X0
	ADDPS  X5, X1
	ADDPS  X6, X2
	ADDPS  X7, X3
	RELU(X0, X4, X10, X11)
	RELU(X1, X5, X10, X11)
	RELU(X2, X6, X10, X11)
	RELU(X3, X7, X10, X11)
	MOVUPS X0, (DI)
	MOVUPS X1, 16(DI)
	MOVUPS X2, 32(DI)
	MOVUPS X3, 48(DI)
	ADDQ   $64, SI
	ADDQ   $64, BX
	ADDQ   $64, DI
	SUBQ   $16, CX
	CMPQ   CX, $16
	JGE    ar_loop16

ar_tail4:
	CMPQ   CX, $4
	JLT    ar_tail1
	MOVUPS (SI), X0
	MOVUPS (BX), X4
	ADDPS  X4, X0
	RELU(X0, X4, X10, X11)
	MOVUPS X0, (DI)
	ADDQ   $16, SI
	ADDQ   $16, BX
	ADDQ   $16, DI
	SUBQ   $4, CX
	JMP    ar_tail4

ar_tail1:
	TESTQ CX, CX
	JEQ   ar_done
	MOVSS (SI), X0
	MOVSS (BX), X4
	ADDSS X4, X0
	RELU(X0, X4, X10, X11)
	MOVSS X0, (DI)
	ADDQ  $4, SI
	ADDQ  $4, BX
	ADDQ  $4, DI
	DECQ  CX
	JMP   ar_tail1

ar_done:
	RET

// func ReLUMask(y, dy, dx []float32)
TEXT ·ReLUMask(SB), NOSPLIT, $0-72
	MOVQ  y_base+0(FP), BX
	MOVQ  y_len+8(FP), CX
	MOVQ  dy_base+24(FP), SI
	MOVQ  dx_base+48(FP), DI
	XORPS X10, X10
	CMPQ  CX, $16
	JLT   rm_tail4

	// dx = dy &^ [bits(y) == 0]; all loads of a block precede its stores (dx may alias y or dy)
rm_loop16:
	MOVUPS  (BX), X0
	MOVUPS  16(BX), X1
	MOVUPS  32(BX), X2
	MOVUPS  48(BX), X3
	MOVUPS  (SI), X4
	MOVUPS  16(SI), X5
	MOVUPS  32(SI), X6
	MOVUPS  48(SI), X7
	PCMPEQL X10, X0
	PCMPEQL X10, X1
	PCMPEQL X10, X2
	PCMPEQL X10, X3
	ANDNPS  X4, X0
	ANDNPS  X5, X1
	ANDNPS  X6, X2
	ANDNPS  X7, X3
	MOVUPS  X0, (DI)
	MOVUPS  X1, 16(DI)
	MOVUPS  X2, 32(DI)
	MOVUPS  X3, 48(DI)
	ADDQ    $64, BX
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	CMPQ    CX, $16
	JGE     rm_loop16

rm_tail4:
	CMPQ    CX, $4
	JLT     rm_tail1
	MOVUPS  (BX), X0
	MOVUPS  (SI), X4
	PCMPEQL X10, X0
	ANDNPS  X4, X0
	MOVUPS  X0, (DI)
	ADDQ    $16, BX
	ADDQ    $16, SI
	ADDQ    $16, DI
	SUBQ    $4, CX
	JMP     rm_tail4

rm_tail1:
	TESTQ   CX, CX
	JEQ     rm_done
	MOVSS   (BX), X0
	MOVSS   (SI), X4
	PCMPEQL X10, X0
	ANDNPS  X4, X0
	MOVSS   X0, (DI)
	ADDQ    $4, BX
	ADDQ    $4, SI
	ADDQ    $4, DI
	DECQ    CX
	JMP     rm_tail1

rm_done:
	RET
