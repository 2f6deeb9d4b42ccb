//go:build !purego

#include "textflag.h"

// func hasAVX2FMA() bool
// CPUID.1:ECX: FMA (bit 12), OSXSAVE (27), AVX (28); XGETBV(0): XMM and YMM state enabled
// (bits 1, 2); CPUID.(7,0):EBX: AVX2 (bit 5).
TEXT ·hasAVX2FMA(SB), NOSPLIT, $0-1
	MOVB $0, ret+0(FP)
	MOVL $0, AX
	CPUID
	CMPL AX, $7
	JB   done
	MOVL $1, AX
	MOVL $0, CX
	CPUID
	MOVL CX, R8
	ANDL $0x18001000, R8
	CMPL R8, $0x18001000
	JNE  done
	MOVL $0, CX
	XGETBV
	ANDL $6, AX
	CMPL AX, $6
	JNE  done
	MOVL $7, AX
	MOVL $0, CX
	CPUID
	ANDL $0x20, BX
	JZ   done
	MOVB $1, ret+0(FP)
done:
	RET

// func ConvTile4x24(k int, a *float32, lda int, b *float32, off *int, c *float32, ldc int, add bool)
// Y0-Y11: accumulators, row r in Y(3r)..Y(3r+2); Y12-Y14: 24 values of the second factor;
// Y15: one broadcast filter value. SI: a (row 0), R11 = lda and R12 = 3·lda in bytes.
TEXT ·ConvTile4x24(SB), NOSPLIT, $0-57
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R11
	SHLQ $2, R11
	LEAQ (R11)(R11*2), R12
	MOVQ b+24(FP), DX
	MOVQ off+32(FP), R8
	MOVQ c+40(FP), DI
	MOVQ ldc+48(FP), R9
	SHLQ $2, R9
	MOVB add+56(FP), AX
	TESTB AL, AL
	JNZ  load
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	JMP  loop

load:
	MOVQ    DI, R10
	VMOVUPS (R10), Y0
	VMOVUPS 32(R10), Y1
	VMOVUPS 64(R10), Y2
	ADDQ    R9, R10
	VMOVUPS (R10), Y3
	VMOVUPS 32(R10), Y4
	VMOVUPS 64(R10), Y5
	ADDQ    R9, R10
	VMOVUPS (R10), Y6
	VMOVUPS 32(R10), Y7
	VMOVUPS 64(R10), Y8
	ADDQ    R9, R10
	VMOVUPS (R10), Y9
	VMOVUPS 32(R10), Y10
	VMOVUPS 64(R10), Y11

loop:
	MOVQ         (R8), AX
	VMOVUPS      (DX)(AX*4), Y12
	VMOVUPS      32(DX)(AX*4), Y13
	VMOVUPS      64(DX)(AX*4), Y14
	VBROADCASTSS (SI), Y15
	VFMADD231PS  Y12, Y15, Y0
	VFMADD231PS  Y13, Y15, Y1
	VFMADD231PS  Y14, Y15, Y2
	VBROADCASTSS (SI)(R11*1), Y15
	VFMADD231PS  Y12, Y15, Y3
	VFMADD231PS  Y13, Y15, Y4
	VFMADD231PS  Y14, Y15, Y5
	VBROADCASTSS (SI)(R11*2), Y15
	VFMADD231PS  Y12, Y15, Y6
	VFMADD231PS  Y13, Y15, Y7
	VFMADD231PS  Y14, Y15, Y8
	VBROADCASTSS (SI)(R12*1), Y15
	VFMADD231PS  Y12, Y15, Y9
	VFMADD231PS  Y13, Y15, Y10
	VFMADD231PS  Y14, Y15, Y11
	ADDQ         $4, SI
	ADDQ         $8, R8
	DECQ         CX
	JNZ          loop

	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	ADDQ    R9, DI
	VMOVUPS Y3, (DI)
	VMOVUPS Y4, 32(DI)
	VMOVUPS Y5, 64(DI)
	ADDQ    R9, DI
	VMOVUPS Y6, (DI)
	VMOVUPS Y7, 32(DI)
	VMOVUPS Y8, 64(DI)
	ADDQ    R9, DI
	VMOVUPS Y9, (DI)
	VMOVUPS Y10, 32(DI)
	VMOVUPS Y11, 64(DI)
	VZEROUPPER
	RET

// func ConvTile4x8(k int, a *float32, lda int, b *float32, off *int, c *float32, ldc int, add bool)
// ConvTile4x24 over one register of positions. Y0-Y3: accumulators, row r in Y(r); Y4: 8 values
// of the second factor; Y5-Y8: the four rows' broadcast filter values.
TEXT ·ConvTile4x8(SB), NOSPLIT, $0-57
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R11
	SHLQ $2, R11
	LEAQ (R11)(R11*2), R12
	MOVQ b+24(FP), DX
	MOVQ off+32(FP), R8
	MOVQ c+40(FP), DI
	MOVQ ldc+48(FP), R9
	SHLQ $2, R9
	LEAQ (R9)(R9*2), R10
	MOVB add+56(FP), AX
	TESTB AL, AL
	JNZ  load8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	JMP  loop8

load8:
	VMOVUPS (DI), Y0
	VMOVUPS (DI)(R9*1), Y1
	VMOVUPS (DI)(R9*2), Y2
	VMOVUPS (DI)(R10*1), Y3

loop8:
	MOVQ         (R8), AX
	VMOVUPS      (DX)(AX*4), Y4
	VBROADCASTSS (SI), Y5
	VBROADCASTSS (SI)(R11*1), Y6
	VBROADCASTSS (SI)(R11*2), Y7
	VBROADCASTSS (SI)(R12*1), Y8
	VFMADD231PS  Y4, Y5, Y0
	VFMADD231PS  Y4, Y6, Y1
	VFMADD231PS  Y4, Y7, Y2
	VFMADD231PS  Y4, Y8, Y3
	ADDQ         $4, SI
	ADDQ         $8, R8
	DECQ         CX
	JNZ          loop8

	VMOVUPS Y0, (DI)
	VMOVUPS Y1, (DI)(R9*1)
	VMOVUPS Y2, (DI)(R9*2)
	VMOVUPS Y3, (DI)(R10*1)
	VZEROUPPER
	RET

// func DotTile4x3(n int, dy *float32, ldy int, x *float32, off *[3]int, acc *[96]float32)
// Y0-Y11: accumulators, (r, j) in Y(3r+j); Y12-Y14: x at the three offsets; Y15: a row of dy.
TEXT ·DotTile4x3(SB), NOSPLIT, $0-48
	MOVQ n+0(FP), CX
	SHRQ $3, CX
	MOVQ dy+8(FP), SI
	MOVQ ldy+16(FP), R9
	SHLQ $2, R9
	LEAQ (R9)(R9*2), R10
	MOVQ x+24(FP), DX
	MOVQ off+32(FP), R8
	MOVQ (R8), R11
	MOVQ 8(R8), R12
	MOVQ 16(R8), R13
	LEAQ (DX)(R11*4), R11
	LEAQ (DX)(R12*4), R12
	LEAQ (DX)(R13*4), R13
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	XORQ   AX, AX

dloop:
	VMOVUPS     (R11)(AX*1), Y12
	VMOVUPS     (R12)(AX*1), Y13
	VMOVUPS     (R13)(AX*1), Y14
	VMOVUPS     (SI), Y15
	VFMADD231PS Y12, Y15, Y0
	VFMADD231PS Y13, Y15, Y1
	VFMADD231PS Y14, Y15, Y2
	VMOVUPS     (SI)(R9*1), Y15
	VFMADD231PS Y12, Y15, Y3
	VFMADD231PS Y13, Y15, Y4
	VFMADD231PS Y14, Y15, Y5
	VMOVUPS     (SI)(R9*2), Y15
	VFMADD231PS Y12, Y15, Y6
	VFMADD231PS Y13, Y15, Y7
	VFMADD231PS Y14, Y15, Y8
	VMOVUPS     (SI)(R10*1), Y15
	VFMADD231PS Y12, Y15, Y9
	VFMADD231PS Y13, Y15, Y10
	VFMADD231PS Y14, Y15, Y11
	ADDQ        $32, SI
	ADDQ        $32, AX
	DECQ        CX
	JNZ         dloop

	MOVQ    acc+40(FP), DI
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	VMOVUPS Y8, 256(DI)
	VMOVUPS Y9, 288(DI)
	VMOVUPS Y10, 320(DI)
	VMOVUPS Y11, 352(DI)
	VZEROUPPER
	RET

// func CopyRows(dst *float32, ldd int, src *float32, lds int, rows, w int, pad bool)
// Y0: 8 values; Y1: zeros. AX: the byte offset in a row; R10: the offset of its last 8 values.
TEXT ·CopyRows(SB), NOSPLIT, $0-49
	MOVQ    dst+0(FP), DI
	MOVQ    ldd+8(FP), R8
	SHLQ    $2, R8
	MOVQ    src+16(FP), SI
	MOVQ    lds+24(FP), R9
	SHLQ    $2, R9
	MOVQ    rows+32(FP), CX
	MOVQ    w+40(FP), DX
	SHLQ    $2, DX
	LEAQ    -32(DX), R10
	MOVBQZX pad+48(FP), R11
	VXORPS  Y1, Y1, Y1
	TESTQ   CX, CX
	JZ      copydone

copyrow:
	XORQ AX, AX

copychunk:
	CMPQ    AX, R10
	JGE     copylast
	VMOVUPS (SI)(AX*1), Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ    $32, AX
	JMP     copychunk

copylast:
	VMOVUPS (SI)(R10*1), Y0
	VMOVUPS Y0, (DI)(R10*1)
	TESTQ   R11, R11
	JZ      copynext
	VMOVUPS Y1, (DI)(DX*1)

copynext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ CX
	JNZ  copyrow

copydone:
	VZEROUPPER
	RET

// func AddRows(dst *float32, ldd int, src *float32, lds int, rows, w int, bias float32)
// Y0: 8 values; Y2: the bias broadcast. AX: the byte offset in a row; R10: the offset of its last
// 8 values.
TEXT ·AddRows(SB), NOSPLIT, $0-52
	MOVQ         dst+0(FP), DI
	MOVQ         ldd+8(FP), R8
	SHLQ         $2, R8
	MOVQ         src+16(FP), SI
	MOVQ         lds+24(FP), R9
	SHLQ         $2, R9
	MOVQ         rows+32(FP), CX
	MOVQ         w+40(FP), DX
	SHLQ         $2, DX
	LEAQ         -32(DX), R10
	VBROADCASTSS bias+48(FP), Y2
	TESTQ        CX, CX
	JZ           adddone

addrow:
	XORQ AX, AX

addchunk:
	CMPQ    AX, R10
	JGE     addlast
	VADDPS  (SI)(AX*1), Y2, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ    $32, AX
	JMP     addchunk

addlast:
	VADDPS  (SI)(R10*1), Y2, Y0
	VMOVUPS Y0, (DI)(R10*1)
	ADDQ    R8, DI
	ADDQ    R9, SI
	DECQ    CX
	JNZ     addrow

adddone:
	VZEROUPPER
	RET

// func GatherEvenRows(dst *float32, ldd int, src *float32, lds int, rows, w int, pad bool)
// Y0, Y2: 16 values of a source row, then the 8 even ones; Y1: zeros. AX: the byte offset in a
// destination row (2·AX in the source row); R10: the offset of its last 8 values.
TEXT ·GatherEvenRows(SB), NOSPLIT, $0-49
	MOVQ    dst+0(FP), DI
	MOVQ    ldd+8(FP), R8
	SHLQ    $2, R8
	MOVQ    src+16(FP), SI
	MOVQ    lds+24(FP), R9
	SHLQ    $2, R9
	MOVQ    rows+32(FP), CX
	MOVQ    w+40(FP), DX
	SHLQ    $2, DX
	LEAQ    -32(DX), R10
	MOVBQZX pad+48(FP), R11
	VXORPS  Y1, Y1, Y1
	TESTQ   CX, CX
	JZ      evendone

evenrow:
	XORQ AX, AX

evenchunk:
	CMPQ    AX, R10
	JGE     evenlast
	VMOVUPS (SI)(AX*2), Y0
	VMOVUPS 32(SI)(AX*2), Y2
	VSHUFPS $0x88, Y2, Y0, Y0
	VPERMPD $0xD8, Y0, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ    $32, AX
	JMP     evenchunk

evenlast:
	VMOVUPS (SI)(R10*2), Y0
	VMOVUPS 32(SI)(R10*2), Y2
	VSHUFPS $0x88, Y2, Y0, Y0
	VPERMPD $0xD8, Y0, Y0
	VMOVUPS Y0, (DI)(R10*1)
	TESTQ   R11, R11
	JZ      evennext
	VMOVUPS Y1, (DI)(DX*1)

evennext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ CX
	JNZ  evenrow

evendone:
	VZEROUPPER
	RET

// Indices duplicating the lower and the upper four values of a register (VPERMPS), and the
// lanes ScatterHalfRows keeps (sign bit set): the odd ones when it writes the even ones, the even
// ones when it writes the odd ones.
DATA scatterIdx<>+0(SB)/4, $0
DATA scatterIdx<>+4(SB)/4, $0
DATA scatterIdx<>+8(SB)/4, $1
DATA scatterIdx<>+12(SB)/4, $1
DATA scatterIdx<>+16(SB)/4, $2
DATA scatterIdx<>+20(SB)/4, $2
DATA scatterIdx<>+24(SB)/4, $3
DATA scatterIdx<>+28(SB)/4, $3
DATA scatterIdx<>+32(SB)/4, $4
DATA scatterIdx<>+36(SB)/4, $4
DATA scatterIdx<>+40(SB)/4, $5
DATA scatterIdx<>+44(SB)/4, $5
DATA scatterIdx<>+48(SB)/4, $6
DATA scatterIdx<>+52(SB)/4, $6
DATA scatterIdx<>+56(SB)/4, $7
DATA scatterIdx<>+60(SB)/4, $7
GLOBL scatterIdx<>(SB), RODATA|NOPTR, $64

DATA scatterKeep<>+0(SB)/4, $0
DATA scatterKeep<>+4(SB)/4, $0xffffffff
DATA scatterKeep<>+8(SB)/4, $0
DATA scatterKeep<>+12(SB)/4, $0xffffffff
DATA scatterKeep<>+16(SB)/4, $0
DATA scatterKeep<>+20(SB)/4, $0xffffffff
DATA scatterKeep<>+24(SB)/4, $0
DATA scatterKeep<>+28(SB)/4, $0xffffffff
DATA scatterKeep<>+32(SB)/4, $0xffffffff
DATA scatterKeep<>+36(SB)/4, $0
DATA scatterKeep<>+40(SB)/4, $0xffffffff
DATA scatterKeep<>+44(SB)/4, $0
DATA scatterKeep<>+48(SB)/4, $0xffffffff
DATA scatterKeep<>+52(SB)/4, $0
DATA scatterKeep<>+56(SB)/4, $0xffffffff
DATA scatterKeep<>+60(SB)/4, $0
GLOBL scatterKeep<>(SB), RODATA|NOPTR, $64

// func ScatterHalfRows(dst *float32, ldd int, src *float32, lds int, rows, w int, odd bool)
// Y0: 8 source values; Y1, Y2: them duplicated, lower and upper four; Y3, Y4: blended with 16
// destination values; Y6, Y7: the indices; Y8: the lanes kept. AX: the byte offset in a source
// row (2·AX in the destination row); R10: the offset of its last 8 values.
TEXT ·ScatterHalfRows(SB), NOSPLIT, $0-49
	MOVQ    dst+0(FP), DI
	MOVQ    ldd+8(FP), R8
	SHLQ    $2, R8
	MOVQ    src+16(FP), SI
	MOVQ    lds+24(FP), R9
	SHLQ    $2, R9
	MOVQ    rows+32(FP), CX
	MOVQ    w+40(FP), DX
	SHLQ    $2, DX
	LEAQ    -32(DX), R10
	MOVBQZX odd+48(FP), AX
	SHLQ    $5, AX
	LEAQ    scatterKeep<>(SB), R11
	VMOVUPS (R11)(AX*1), Y8
	VMOVUPS scatterIdx<>+0(SB), Y6
	VMOVUPS scatterIdx<>+32(SB), Y7
	TESTQ   CX, CX
	JZ      scatterdone

scatterrow:
	XORQ AX, AX

scatterchunk:
	CMPQ      AX, R10
	JGE       scatterlast
	VMOVUPS   (SI)(AX*1), Y0
	VPERMPS   Y0, Y6, Y1
	VPERMPS   Y0, Y7, Y2
	VBLENDVPS Y8, (DI)(AX*2), Y1, Y3
	VBLENDVPS Y8, 32(DI)(AX*2), Y2, Y4
	VMOVUPS   Y3, (DI)(AX*2)
	VMOVUPS   Y4, 32(DI)(AX*2)
	ADDQ      $32, AX
	JMP       scatterchunk

scatterlast:
	VMOVUPS   (SI)(R10*1), Y0
	VPERMPS   Y0, Y6, Y1
	VPERMPS   Y0, Y7, Y2
	VBLENDVPS Y8, (DI)(R10*2), Y1, Y3
	VBLENDVPS Y8, 32(DI)(R10*2), Y2, Y4
	VMOVUPS   Y3, (DI)(R10*2)
	VMOVUPS   Y4, 32(DI)(R10*2)
	ADDQ      R8, DI
	ADDQ      R9, SI
	DECQ      CX
	JNZ       scatterrow

scatterdone:
	VZEROUPPER
	RET
