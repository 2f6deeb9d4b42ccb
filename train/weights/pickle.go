package weights

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// This file is a small pickle virtual machine: the opcodes of protocols 2 to 4 that torch.save
// emits for a state_dict and for the usual checkpoint dicts around one (dicts, lists, tuples,
// numbers, strings), and none that runs code: a global is resolved by a callback that allows
// only what a state_dict needs, and REDUCE calls only what that callback returned.

// maxValues bounds the values a pickle may push and memoize (each object, number, string, mark
// and memo entry counts one), so that a hostile pickle cannot build an unbounded heap: 2 Mi
// empty dicts, the costliest values, take about 150 MB (300 MB allocated in all, as the stack
// grows). torch.save's pickle of a
// state_dict counts about 30 per tensor, so this allows some 70,000 tensors (about 30,000
// in a checkpoint that also holds an optimizer state).
const maxValues = 1 << 21

// Python values, as the unpickler builds them: pyNone, bool, int64, float64, string, []byte,
// pyTuple, *pyList, *pyDict, and whatever the callbacks return.
type (
	pyNone  struct{}
	pyTuple []any
	pyList  struct{ items []any }
	// pyDict is a dict or an OrderedDict: keys in insertion order, as both keep them.
	pyDict struct {
		keys, vals []any
		index      map[any]int
	}
)

// set is d[k] = v. Only keys that Go can hash as Python does are allowed: None, bools, ints,
// floats and strings.
func (d *pyDict) set(k, v any) error {
	switch k.(type) {
	case pyNone, bool, int64, float64, string:
	default:
		return fmt.Errorf("a dict key of type %s is not supported", pyType(k))
	}
	if d.index == nil {
		d.index = map[any]int{}
	}
	if i, ok := d.index[k]; ok {
		d.vals[i] = v
		return nil
	}
	d.index[k] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return nil
}

// get returns d[k].
func (d *pyDict) get(k any) (any, bool) {
	i, ok := d.index[k]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// pyType names the Python type of v, for error messages (never its value, which may be cyclic
// or huge).
func pyType(v any) string {
	switch v := v.(type) {
	case pyNone:
		return "None"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case *pyTensor:
		return "tensor"
	case *pyStorage:
		return "storage"
	case *pyGlobal:
		return v.String()
	}
	return fmt.Sprintf("%T", v)
}

// unpickler runs a pickle. global resolves GLOBAL and STACK_GLOBAL (or refuses them), reduce
// applies REDUCE to what global returned, persistent resolves BINPERSID.
type unpickler struct {
	in     []byte
	pos    int
	op     int // offset of the opcode being run, for errors
	stack  []any
	marks  []int // stack heights at each MARK
	memo   map[int64]any
	values int

	global     func(module, name string) (any, error)
	reduce     func(callable any, args pyTuple) (any, error)
	persistent func(pid any) (any, error)
}

// Pickle opcodes (Python's Lib/pickle.py).
const (
	opMark           = '('
	opStop           = '.'
	opPop            = '0'
	opPopMark        = '1'
	opDup            = '2'
	opBinFloat       = 'G'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opBinInt2        = 'M'
	opNone           = 'N'
	opBinPersID      = 'Q'
	opReduce         = 'R'
	opBinString      = 'T'
	opShortBinString = 'U'
	opBinUnicode     = 'X'
	opAppend         = 'a'
	opBuild          = 'b'
	opGlobal         = 'c'
	opDict           = 'd'
	opEmptyDict      = '}'
	opAppends        = 'e'
	opBinGet         = 'h'
	opLongBinGet     = 'j'
	opList           = 'l'
	opEmptyList      = ']'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opSetItem        = 's'
	opTuple          = 't'
	opEmptyTuple     = ')'
	opSetItems       = 'u'
	opProto          = 0x80
	opTuple1         = 0x85
	opTuple2         = 0x86
	opTuple3         = 0x87
	opNewTrue        = 0x88
	opNewFalse       = 0x89
	opLong1          = 0x8a
	opBinBytes       = 'B'
	opShortBinBytes  = 'C'
	opShortBinUni    = 0x8c
	opBinUnicode8    = 0x8d
	opStackGlobal    = 0x93
	opMemoize        = 0x94
	opFrame          = 0x95
)

// opNames names the opcodes this unpickler refuses, for the error.
var opNames = map[byte]string{
	'I': "INT", 'L': "LONG", 'S': "STRING", 'V': "UNICODE", 'F': "FLOAT", 'P': "PERSID",
	'g': "GET", 'p': "PUT", 'i': "INST", 'o': "OBJ", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2",
	0x84: "EXT4", 0x8b: "LONG4", 0x8e: "BINBYTES8", 0x8f: "EMPTY_SET", 0x90: "ADDITEMS",
	0x91: "FROZENSET", 0x92: "NEWOBJ_EX", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER",
	0x98: "READONLY_BUFFER",
}

// run executes the pickle up to STOP and returns the value it leaves.
func (u *unpickler) run() (any, error) {
	v, err := u.exec()
	if err != nil {
		return nil, fmt.Errorf("pickle byte %d: %w", u.op, err)
	}
	return v, nil
}

func (u *unpickler) exec() (any, error) {
	if u.memo == nil {
		u.memo = map[int64]any{}
	}
	for {
		u.op = u.pos
		b, err := u.next(1)
		if err != nil {
			return nil, errors.New("the pickle ends without STOP")
		}
		op := b[0]
		switch op {
		case opProto:
			p, err := u.next(1)
			if err != nil {
				return nil, err
			}
			if p[0] > 5 {
				return nil, fmt.Errorf("pickle protocol %d is not supported (want at most 5)", p[0])
			}
		case opFrame:
			if _, err := u.next(8); err != nil {
				return nil, err
			}
		case opStop:
			// Python ignores unclosed marks and values left below the result; torch.save
			// leaves neither, so they mark a damaged or crafted pickle.
			if len(u.marks) > 0 {
				return nil, fmt.Errorf("STOP with %d MARKs unclosed", len(u.marks))
			}
			if len(u.stack) != 1 {
				return nil, fmt.Errorf("STOP with %d values on the stack, want 1", len(u.stack))
			}
			return u.stack[0], nil
		case opMark:
			if err := u.count(); err != nil {
				return nil, err
			}
			u.marks = append(u.marks, len(u.stack))
		case opPop:
			if len(u.stack) > u.base() {
				u.stack = u.stack[:len(u.stack)-1]
			} else if _, err := u.popMark(); err != nil {
				return nil, err
			}
		case opPopMark:
			if _, err := u.popMark(); err != nil {
				return nil, err
			}
		case opDup:
			v, err := u.top()
			if err != nil {
				return nil, err
			}
			err = u.push(v)
			if err != nil {
				return nil, err
			}

		case opNone:
			err = u.push(pyNone{})
		case opNewTrue:
			err = u.push(true)
		case opNewFalse:
			err = u.push(false)
		case opBinInt:
			var b []byte
			if b, err = u.next(4); err == nil {
				err = u.push(int64(int32(binary.LittleEndian.Uint32(b))))
			}
		case opBinInt1:
			var b []byte
			if b, err = u.next(1); err == nil {
				err = u.push(int64(b[0]))
			}
		case opBinInt2:
			var b []byte
			if b, err = u.next(2); err == nil {
				err = u.push(int64(binary.LittleEndian.Uint16(b)))
			}
		case opLong1:
			err = u.long1()
		case opBinFloat:
			var b []byte
			if b, err = u.next(8); err == nil {
				err = u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
			}

		case opShortBinUni, opShortBinString, opShortBinBytes:
			err = u.bytesOp(op, 1)
		case opBinUnicode, opBinString, opBinBytes:
			err = u.bytesOp(op, 4)
		case opBinUnicode8:
			err = u.bytesOp(op, 8)

		case opEmptyTuple:
			err = u.push(pyTuple{})
		case opTuple1, opTuple2, opTuple3:
			n := int(op-opTuple1) + 1
			if len(u.stack)-u.base() < n {
				return nil, fmt.Errorf("TUPLE%d on a stack of %d values", n, len(u.stack)-u.base())
			}
			t := append(pyTuple{}, u.stack[len(u.stack)-n:]...)
			u.stack = u.stack[:len(u.stack)-n]
			err = u.push(t)
		case opTuple:
			var items []any
			if items, err = u.popMark(); err == nil {
				err = u.push(pyTuple(items))
			}
		case opEmptyList:
			err = u.push(&pyList{})
		case opList:
			var items []any
			if items, err = u.popMark(); err == nil {
				err = u.push(&pyList{items: items})
			}
		case opAppend, opAppends:
			var items []any
			if op == opAppend {
				var v any
				v, err = u.pop()
				items = []any{v}
			} else {
				items, err = u.popMark()
			}
			if err != nil {
				return nil, err
			}
			top, err := u.top()
			if err != nil {
				return nil, err
			}
			l, ok := top.(*pyList)
			if !ok {
				return nil, fmt.Errorf("APPEND to a %s, not a list", pyType(top))
			}
			l.items = append(l.items, items...)
		case opEmptyDict:
			err = u.push(&pyDict{})
		case opDict:
			var items []any
			if items, err = u.popMark(); err == nil {
				d := &pyDict{}
				if err = setItems(d, items); err == nil {
					err = u.push(d)
				}
			}
		case opSetItem, opSetItems:
			var items []any
			if op == opSetItem {
				if len(u.stack)-u.base() < 2 {
					return nil, errors.New("SETITEM without a key and a value")
				}
				items = append([]any(nil), u.stack[len(u.stack)-2:]...)
				u.stack = u.stack[:len(u.stack)-2]
			} else if items, err = u.popMark(); err != nil {
				return nil, err
			}
			top, err := u.top()
			if err != nil {
				return nil, err
			}
			d, ok := top.(*pyDict)
			if !ok {
				return nil, fmt.Errorf("SETITEM on a %s, not a dict", pyType(top))
			}
			if err := setItems(d, items); err != nil {
				return nil, err
			}

		case opGlobal:
			module, err := u.line()
			if err != nil {
				return nil, err
			}
			name, err := u.line()
			if err != nil {
				return nil, err
			}
			err = u.pushGlobal(module, name)
			if err != nil {
				return nil, err
			}
		case opStackGlobal:
			nv, err := u.pop()
			if err != nil {
				return nil, err
			}
			mv, err := u.pop()
			if err != nil {
				return nil, err
			}
			module, ok1 := mv.(string)
			name, ok2 := nv.(string)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("STACK_GLOBAL of a %s and a %s, not two strings", pyType(mv), pyType(nv))
			}
			err = u.pushGlobal(module, name)
			if err != nil {
				return nil, err
			}
		case opReduce:
			args, err := u.pop()
			if err != nil {
				return nil, err
			}
			callable, err := u.pop()
			if err != nil {
				return nil, err
			}
			t, ok := args.(pyTuple)
			if !ok {
				return nil, fmt.Errorf("REDUCE with arguments of type %s, not a tuple", pyType(args))
			}
			v, err := u.reduce(callable, t)
			if err != nil {
				return nil, err
			}
			err = u.push(v)
			if err != nil {
				return nil, err
			}
		case opBuild:
			state, err := u.pop()
			if err != nil {
				return nil, err
			}
			top, err := u.top()
			if err != nil {
				return nil, err
			}
			// torch.save pickles a state_dict's _metadata attribute (the versions of its
			// modules) this way; the tensors do not depend on it.
			if _, ok := top.(*pyDict); !ok {
				return nil, fmt.Errorf("BUILD of a %s from a %s: only a dict's attributes may be set", pyType(top), pyType(state))
			}
		case opBinPersID:
			pid, err := u.pop()
			if err != nil {
				return nil, err
			}
			v, err := u.persistent(pid)
			if err != nil {
				return nil, err
			}
			err = u.push(v)
			if err != nil {
				return nil, err
			}

		case opBinPut, opLongBinPut, opMemoize:
			var i int64
			switch op {
			case opBinPut:
				var b []byte
				if b, err = u.next(1); err != nil {
					return nil, err
				}
				i = int64(b[0])
			case opLongBinPut:
				var b []byte
				if b, err = u.next(4); err != nil {
					return nil, err
				}
				i = int64(binary.LittleEndian.Uint32(b))
			default:
				i = int64(len(u.memo))
			}
			v, err := u.top()
			if err != nil {
				return nil, err
			}
			if err := u.count(); err != nil {
				return nil, err
			}
			u.memo[i] = v
		case opBinGet, opLongBinGet:
			var i int64
			if op == opBinGet {
				var b []byte
				if b, err = u.next(1); err != nil {
					return nil, err
				}
				i = int64(b[0])
			} else {
				var b []byte
				if b, err = u.next(4); err != nil {
					return nil, err
				}
				i = int64(binary.LittleEndian.Uint32(b))
			}
			v, ok := u.memo[i]
			if !ok {
				return nil, fmt.Errorf("memo entry %d was never stored", i)
			}
			err = u.push(v)

		default:
			if name, ok := opNames[op]; ok {
				return nil, fmt.Errorf("pickle opcode %s is not supported (torch.save does not emit it for a state_dict)", name)
			}
			return nil, fmt.Errorf("unknown pickle opcode 0x%02x", op)
		}
		if err != nil {
			return nil, err
		}
	}
}

// setItems sets d[k] = v for the pairs k, v of items.
func setItems(d *pyDict, items []any) error {
	if len(items)%2 != 0 {
		return fmt.Errorf("%d values to set as dict items, not key-value pairs", len(items))
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(items[i], items[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// next consumes n bytes of input.
func (u *unpickler) next(n uint64) ([]byte, error) {
	if n > uint64(len(u.in)-u.pos) {
		return nil, fmt.Errorf("%d bytes announced, %d left in the pickle", n, len(u.in)-u.pos)
	}
	b := u.in[u.pos : u.pos+int(n)]
	u.pos += int(n)
	return b, nil
}

// line consumes a newline-terminated line (GLOBAL's arguments).
func (u *unpickler) line() (string, error) {
	for i := u.pos; i < len(u.in); i++ {
		if u.in[i] == '\n' {
			s := string(u.in[u.pos:i])
			u.pos = i + 1
			return s, nil
		}
	}
	return "", errors.New("GLOBAL without a newline-terminated name")
}

// bytesOp pushes a string or bytes value whose length takes the next lenSize bytes.
func (u *unpickler) bytesOp(op byte, lenSize uint64) error {
	lb, err := u.next(lenSize)
	if err != nil {
		return err
	}
	var n uint64
	switch lenSize {
	case 1:
		n = uint64(lb[0])
	case 4:
		n = uint64(binary.LittleEndian.Uint32(lb))
		if op == opBinString && int32(n) < 0 {
			return errors.New("BINSTRING with a negative length")
		}
	default:
		n = binary.LittleEndian.Uint64(lb)
	}
	b, err := u.next(n)
	if err != nil {
		return err
	}
	switch op {
	case opShortBinBytes, opBinBytes:
		return u.push(append([]byte(nil), b...))
	}
	// torch.load decodes both unicode and Python 2 strings as UTF-8.
	if !utf8.Valid(b) {
		return fmt.Errorf("string %s is not valid UTF-8", strconv.QuoteToASCII(string(b[:min(len(b), 32)])))
	}
	return u.push(string(b))
}

// long1 pushes a LONG1 integer: a length byte, then that many bytes of little-endian two's
// complement.
func (u *unpickler) long1() error {
	nb, err := u.next(1)
	if err != nil {
		return err
	}
	n := int(nb[0])
	if n > 8 {
		return fmt.Errorf("integer of %d bytes does not fit in 64 bits", n)
	}
	b, err := u.next(uint64(n))
	if err != nil {
		return err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	if n > 0 && n < 8 && b[n-1]&0x80 != 0 { // negative: sign-extend
		v |= ^uint64(0) << (8 * n)
	}
	return u.push(int64(v))
}

// pushGlobal pushes what the global callback makes of module.name, or fails with its refusal.
func (u *unpickler) pushGlobal(module, name string) error {
	g, err := u.global(module, name)
	if err != nil {
		return err
	}
	return u.push(g)
}

// count charges one value against maxValues.
func (u *unpickler) count() error {
	u.values++
	if u.values > maxValues {
		return fmt.Errorf("the pickle builds more than %d values", maxValues)
	}
	return nil
}

func (u *unpickler) push(v any) error {
	if err := u.count(); err != nil {
		return err
	}
	u.stack = append(u.stack, v)
	return nil
}

// base is the height of the stack at the last MARK: as in Python, what lies below a mark is out
// of reach until the mark is popped.
func (u *unpickler) base() int {
	if len(u.marks) == 0 {
		return 0
	}
	return u.marks[len(u.marks)-1]
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) <= u.base() {
		return nil, errors.New("stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

func (u *unpickler) pop() (any, error) {
	v, err := u.top()
	if err != nil {
		return nil, err
	}
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

// popMark removes the last mark and returns a copy of the values above it.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, errors.New("no MARK to pop")
	}
	m := u.base()
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}
