package weights

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// unpickle runs a pickle with no globals, REDUCE or persistent ids allowed.
func unpickle(b []byte) (any, error) {
	refuse := errors.New("refused")
	u := &unpickler{
		in:         b,
		global:     func(string, string) (any, error) { return nil, refuse },
		reduce:     func(any, pyTuple) (any, error) { return nil, refuse },
		persistent: func(any) (any, error) { return nil, refuse },
	}
	return u.run()
}

// TestPickleValues: the plain values of the opcodes torch.save emits (checked against Python's
// pickle: the comments give what pickle.dumps(value, protocol=2) starts with).
func TestPickleValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want any
	}{
		{"None", []byte("\x80\x02N."), pyNone{}},
		{"True", []byte("\x80\x02\x88."), true},
		{"False", []byte("\x80\x02\x89."), false},
		{"BININT1 255", []byte("\x80\x02K\xff."), int64(255)},
		{"BININT2 65535", []byte("\x80\x02M\xff\xff."), int64(65535)},
		{"BININT -1", []byte("\x80\x02J\xff\xff\xff\xff."), int64(-1)},
		{"LONG1 2**40", []byte("\x80\x02\x8a\x06\x00\x00\x00\x00\x00\x01."), int64(1 << 40)},
		{"LONG1 -2**40", []byte("\x80\x02\x8a\x06\x00\x00\x00\x00\x00\xff."), int64(-1 << 40)},
		{"LONG1 -1", []byte("\x80\x02\x8a\x01\xff."), int64(-1)},
		{"LONG1 0", []byte("\x80\x02\x8a\x00."), int64(0)},
		{"LONG1 max int64", []byte("\x80\x02\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f."), int64(math.MaxInt64)},
		{"LONG1 min int64", []byte("\x80\x02\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80."), int64(math.MinInt64)},
		{"BINFLOAT 0.1", []byte("\x80\x02G?\xb9\x99\x99\x99\x99\x99\x9a."), 0.1},
		{"BINUNICODE", []byte("\x80\x02X\x05\x00\x00\x00h\xc3\xa9llq\x00."), "héll"},
		{"SHORT_BINUNICODE (protocol 4)", []byte("\x80\x04\x95\x07\x00\x00\x00\x00\x00\x00\x00\x8c\x03abc\x94."), "abc"},
		{"BINUNICODE8", []byte("\x80\x04\x8d\x02\x00\x00\x00\x00\x00\x00\x00ab."), "ab"},
		{"SHORT_BINSTRING", []byte("\x80\x02U\x02ab."), "ab"},
		{"BINSTRING", []byte("\x80\x02T\x02\x00\x00\x00ab."), "ab"},
		{"SHORT_BINBYTES", []byte("\x80\x03C\x02\x00\xff."), []byte{0, 0xff}},
		{"BINBYTES", []byte("\x80\x03B\x01\x00\x00\x00\x07."), []byte{7}},
		{"tuples", []byte("\x80\x02()K\x01\x85K\x02K\x03\x86K\x04K\x05K\x06\x87t."),
			pyTuple{pyTuple{}, pyTuple{int64(1)}, pyTuple{int64(2), int64(3)}, pyTuple{int64(4), int64(5), int64(6)}}},
		{"list, APPEND, APPENDS, LIST", []byte("\x80\x02]q\x00K\x01a(K\x02K\x03e(K\x04l\x86."),
			pyTuple{&pyList{items: []any{int64(1), int64(2), int64(3)}}, &pyList{items: []any{int64(4)}}}},
		{"memo", []byte("\x80\x02X\x01\x00\x00\x00aq\x05r\x00\x01\x00\x00h\x05j\x00\x01\x00\x00\x87."), pyTuple{"a", "a", "a"}},
		{"DUP, POP, POP_MARK", []byte("\x80\x02K\x012K\x020(K\x03K\x041\x86."), pyTuple{int64(1), int64(1)}},
		{"POP of a mark", []byte("\x80\x02K\x01(0."), int64(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := unpickle(tc.b)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestPickleDicts(t *testing.T) {
	// {'b': 1, 'a': [None], 'b': 2} via SETITEMS, then SETITEM, then DICT: insertion order, and
	// a key set twice keeps its place.
	got, err := unpickle([]byte("\x80\x02}(X\x01\x00\x00\x00bK\x01X\x01\x00\x00\x00a]Nauq\x00X\x01\x00\x00\x00bK\x02s."))
	require.NoError(t, err)
	d := got.(*pyDict)
	assert.Equal(t, []any{"b", "a"}, d.keys)
	assert.Equal(t, int64(2), d.vals[0])
	got, err = unpickle([]byte("\x80\x02(K\x01N\x89G?\xf0\x00\x00\x00\x00\x00\x00d."))
	require.NoError(t, err)
	d = got.(*pyDict)
	assert.Equal(t, []any{int64(1), false}, d.keys)
	v, ok := d.get(false)
	assert.True(t, ok)
	assert.Equal(t, 1.0, v)
}

// TestPickleBad: malformed and hostile pickles are refused with an error, never a panic or an
// unbounded allocation.
func TestPickleBad(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "pickle byte 0: the pickle ends without STOP"},
		{"no STOP", []byte("\x80\x02N"), "pickle byte 3: the pickle ends without STOP"},
		{"STOP on empty stack", []byte("\x80\x02."), "STOP with 0 values on the stack, want 1"},
		{"STOP with two values", []byte("\x80\x02NN."), "STOP with 2 values on the stack, want 1"},
		{"STOP inside a mark", []byte("\x80\x02N(N."), "STOP with 1 MARKs unclosed"},
		{"protocol 6", []byte("\x80\x06N."), "pickle protocol 6 is not supported"},
		{"string past the end", []byte("\x80\x02X\xff\xff\xff\xffab."), "4294967295 bytes announced, 3 left in the pickle"},
		{"BINUNICODE8 past the end", []byte("\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xff."), "18446744073709551615 bytes announced, 1 left"},
		{"negative BINSTRING", []byte("\x80\x02T\xff\xff\xff\xff."), "BINSTRING with a negative length"},
		{"string not UTF-8", []byte("\x80\x02X\x02\x00\x00\x00\xc3\x28."), `string "\xc3(" is not valid UTF-8`},
		{"LONG1 of 9 bytes", []byte("\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01."), "integer of 9 bytes does not fit in 64 bits"},
		{"LONG1 cut short", []byte("\x80\x02\x8a\x04\x00."), "4 bytes announced, 2 left"},
		{"BININT cut short", []byte("\x80\x02J\x00"), "4 bytes announced, 1 left"},
		{"memo never stored", []byte("\x80\x02h\x07."), "pickle byte 2: memo entry 7 was never stored"},
		{"memo huge index", []byte("\x80\x02j\xff\xff\xff\xff."), "memo entry 4294967295 was never stored"},
		{"PUT on empty stack", []byte("\x80\x02q\x00."), "stack underflow"},
		{"REDUCE on empty stack", []byte("\x80\x02R."), "stack underflow"},
		{"REDUCE with a list", []byte("\x80\x02N]R."), "REDUCE with arguments of type list, not a tuple"},
		{"SETITEM below a mark", []byte("\x80\x02}(NNs."), "pickle byte 6: stack underflow"}, // as in Python: the dict is out of reach
		{"SETITEM without a key", []byte("\x80\x02}N s."), "unknown pickle opcode 0x20"},
		{"SETITEM on a list", []byte("\x80\x02]NNs."), "SETITEM on a list, not a dict"},
		{"SETITEMS odd", []byte("\x80\x02}(Nu."), "1 values to set as dict items, not key-value pairs"},
		{"unhashable key", []byte("\x80\x02}]Ns."), "a dict key of type list is not supported"},
		{"APPEND to a dict", []byte("\x80\x02}Na."), "APPEND to a dict, not a list"},
		{"APPENDS without a mark", []byte("\x80\x02]e."), "no MARK to pop"},
		{"TUPLE3 of two", []byte("\x80\x02NN\x87."), "TUPLE3 on a stack of 2 values"},
		{"TUPLE2 across a mark", []byte("\x80\x02N(N\x86."), "TUPLE2 on a stack of 1 values"},
		{"GLOBAL without newline", []byte("\x80\x02cos\nsystem"), "GLOBAL without a newline-terminated name"},
		{"STACK_GLOBAL of numbers", []byte("\x80\x04K\x01K\x02\x93."), "STACK_GLOBAL of a int and a int, not two strings"},
		{"refused global", []byte("\x80\x02cos\nsystem\n."), "refused"},
		{"BUILD on a number", []byte("\x80\x02K\x01}b."), "BUILD of a int from a dict"},
		{"INST", []byte("\x80\x02(ios\nsystem\n."), "pickle opcode INST is not supported"},
		{"text INT", []byte("I1\n."), "pickle opcode INT is not supported"},
		{"EMPTY_SET", []byte("\x80\x04\x8f."), "pickle opcode EMPTY_SET is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := unpickle(tc.b)
			require.Error(t, err)
			assert.Nil(t, v)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestPickleValueCap: a pickle may not push more than maxValues values, even when it pops them
// as it goes.
func TestPickleValueCap(t *testing.T) {
	b := append([]byte("\x80\x02"), bytes.Repeat([]byte("N0"), maxValues)...)
	_, err := unpickle(append(b, "N."...))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the pickle builds more than 2097152 values")
	_, err = unpickle(append(b[:len(b)-2], "N."...))
	assert.NoError(t, err, "exactly maxValues values")
}

// TestPickleCycle: a list holding itself is built without recursing, and reported by type.
func TestPickleCycle(t *testing.T) {
	v, err := unpickle([]byte("\x80\x02]q\x00h\x00a."))
	require.NoError(t, err)
	l := v.(*pyList)
	assert.Same(t, l, l.items[0])
	_, err = stateDict(v)
	assert.EqualError(t, err, "the pickle holds a list, not a state_dict (a dict of tensors)")
}
