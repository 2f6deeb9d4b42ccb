package weights

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzSafetensors reads a safetensors file. One that is accepted must hold well-formed tensors
// of no more elements than its bytes allow, and must write out to a file that reads back equal
// (floats bit for bit) and writes out to the same bytes again. The seed corpus
// (testdata/fuzz/FuzzSafetensors, made by testdata/gen_weights.py) holds valid files and hostile
// headers: a length past the end, overlapping and out-of-range offsets, a gap, an unknown dtype,
// duplicate names, shapes whose product overflows.
func FuzzSafetensors(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := decode(b)
		if err != nil {
			require.Nil(t, file)
			return
		}
		held := 0
		for i := range file.Tensors {
			tn := &file.Tensors[i]
			require.NoError(t, tn.check())
			held += (len(tn.F32) + len(tn.F64) + len(tn.I64)) * tn.Dtype.size()
		}
		require.LessOrEqual(t, held, 2*len(b), "tensors hold more than twice the file")

		again := encode(t, file)
		back, err := decode(again)
		require.NoError(t, err, "a written file does not read back")
		assertSameFile(t, file, back)
		require.Equal(t, again, encode(t, back), "writing is not deterministic")
	})
}

// FuzzPTH reads a .pth file built from a pickle (data.pkl) and storages (the entries data/KEY;
// see parseStorages for their framing), so that the fuzzer mutates what the reader interprets
// rather than zip checksums. One that is accepted must hold well-formed tensors within the
// reader's allocation bound, which write to safetensors and read back equal. The seed corpus
// (testdata/fuzz/FuzzPTH, made by testdata/gen_weights.py) holds the golden files' parts and
// hostile pickles: a forbidden global, a huge memo index, a string past the end, a list holding
// itself, strides and offsets past the storage, sizes whose product overflows, a storage of the
// wrong size or missing, an unsupported storage type.
func FuzzPTH(f *testing.F) {
	f.Fuzz(func(t *testing.T, pkl, storages []byte) {
		b := buildPTH("archive", pkl, parseStorages(storages))
		file, err := ReadPTH(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			require.Nil(t, file)
			return
		}
		held := 0
		for i := range file.Tensors {
			tn := &file.Tensors[i]
			require.NoError(t, tn.check())
			held += (len(tn.F32) + len(tn.F64) + len(tn.I64)) * tn.Dtype.size()
		}
		require.LessOrEqual(t, held, outFactor*len(b)+(1<<20), "tensors hold more than the bound")

		var st bytes.Buffer
		if err := WriteSafetensors(&st, file); err != nil {
			// The one thing a state_dict may hold that safetensors cannot: a tensor called
			// "__metadata__".
			_, meta := file.Get(metadataKey)
			require.True(t, meta, "an accepted .pth does not write as safetensors: %v", err)
			return
		}
		back, err := decode(st.Bytes())
		require.NoError(t, err)
		assertSameFile(t, file, back)
	})
}
