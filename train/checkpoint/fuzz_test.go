package checkpoint

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzDecode decodes a checkpoint file. One that is accepted must hold the elements its shapes
// announce, no more than the file's bytes, and saving it again must give a file that decodes to
// the same tensors and metadata. The seed corpus (testdata/fuzz/FuzzDecode) holds valid files,
// damaged ones and headers with overflowing shapes; plain go test runs it.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := decode(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			require.Nil(t, file)
			return
		}
		var bytesHeld int
		for _, tn := range file.Tensors {
			n, err := numElems(tn.Shape)
			require.NoError(t, err, tn.Name)
			switch tn.Dtype {
			case Float32:
				require.Len(t, tn.F32, n, tn.Name)
				require.Nil(t, tn.F64, tn.Name)
			case Float64:
				require.Len(t, tn.F64, n, tn.Name)
				require.Nil(t, tn.F32, tn.Name)
			default:
				t.Fatalf("tensor %q: dtype %q", tn.Name, tn.Dtype)
			}
			bytesHeld += n * elemSize(tn.Dtype)
		}
		require.LessOrEqual(t, bytesHeld, len(b), "tensors hold more than the file")

		h, err := validate(file)
		require.NoError(t, err)
		hdr, err := json.Marshal(h)
		require.NoError(t, err)
		var again bytes.Buffer
		require.NoError(t, encode(&again, hdr, file))
		got, err := decode(bytes.NewReader(again.Bytes()), int64(again.Len()))
		require.NoError(t, err)
		assert.Equal(t, canonicalJSON(t, file.Meta), canonicalJSON(t, got.Meta))
		require.Len(t, got.Tensors, len(file.Tensors))
		for i, want := range file.Tensors {
			g := got.Tensors[i]
			assert.Equal(t, want.Name, g.Name)
			assert.Equal(t, want.Shape, g.Shape)
			assert.Equal(t, want.Dtype, g.Dtype)
			assert.Equal(t, bits32(want.F32), bits32(g.F32), want.Name)
			assert.Equal(t, bits64(want.F64), bits64(g.F64), want.Name)
		}
	})
}

// canonicalJSON is m as Save stores it (compacted), nil for none.
func canonicalJSON(t *testing.T, m json.RawMessage) []byte {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}
