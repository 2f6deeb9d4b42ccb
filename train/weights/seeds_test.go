package weights

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readSeed parses a file of Go's fuzz corpus format whose values are all []byte.
func readSeed(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	require.Equal(t, "go test fuzz v1", lines[0], path)
	var out [][]byte
	for _, l := range lines[1:] {
		lit, ok := strings.CutPrefix(l, "[]byte(")
		require.True(t, ok, "%s: %.40s", path, l)
		s, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
		require.NoError(t, err, path)
		out = append(out, []byte(s))
	}
	return out
}

// TestSeedCorpus checks that each seed of the fuzz corpora is what its name says: the valid ones
// are read, the hostile ones refused with the error that names their problem. (The fuzz targets
// run the seeds too, but accept either outcome.)
func TestSeedCorpus(t *testing.T) {
	st := map[string]string{
		"valid_golden":         "",
		"valid_small":          "",
		"valid_half":           "",
		"truncated":            "safetensors file of 5 bytes is shorter than its 8-byte header length",
		"header_past_end":      "safetensors header of 123456789 bytes does not fit in a file of 15 bytes",
		"header_huge":          "safetensors header of 18446744073709551615 bytes does not fit",
		"not_json":             "safetensors header is not a JSON object",
		"overlap":              `tensors "a" (data_offsets [0, 8]) and "b" ([4, 12]) overlap`,
		"out_of_range":         `tensor "a": data_offsets [0, 1600] are not a range inside the data section of 16 bytes`,
		"gap":                  `4 bytes of the data section before tensor "b" (data_offsets [8, 12]) belong to no tensor`,
		"unknown_dtype":        `tensor "a": dtype "I32" not supported`,
		"duplicate_name":       `safetensors header names tensor "a" twice`,
		"shape_overflow":       `tensor "a": shape [4294967296 4294967296 1024] of F64 needs more bytes than the data section's 0`,
		"shape_wraps_to_16":    `tensor "a": shape [2 2305843009213693954] of F32 needs more bytes than the data section's 16`,
		"negative_dim":         `tensor "a": shape [-4] has a negative dimension`,
		"trailing_garbage":     "safetensors header has 1 bytes after its JSON object",
		"metadata_not_strings": `safetensors "__metadata__" is not an object of strings`,
	}
	pth := map[string]string{
		"valid_golden":         "",
		"valid_checkpoint":     "",
		"valid_strided":        "",
		"valid_model_key":      "",
		"stride_out_of_bounds": `tensor "t": size [3 3], stride [3 1] at offset 0 reach past the end of storage "0" of 4 elements`,
		"offset_past_end":      `tensor "t": offset 4 is past the end of storage "0" of 4 elements`,
		"size_overflow":        `tensor "t": size [2147483648 2147483648 2147483648]: 2147483648 x 2147483648 x 2147483648 = 9903520314283042199192993792, more than`,
		"huge_expand":          `tensor "t": size [1048576 1048576]: 1048576 x 1048576 = 1099511627776, more than`,
		"numel_mismatch":       `storage "0": 1000 elements of torch.FloatStorage do not fill its zip entry of 16 bytes`,
		"missing_storage":      `storage "9": the zip archive has no entry archive/data/9`,
		"int_storage":          "storage type torch.IntStorage is not supported",
		"forbidden_global":     "the pickle refers to posix.system, which a state_dict does not need",
		"forbidden_reduce":     "the pickle refers to os.system, which a state_dict does not need",
		"memo_huge_index":      "memo entry 4294967295 was never stored",
		"string_past_end":      "2147483647 bytes announced, 4 left in the pickle",
		"list_contains_itself": "the pickle holds a list, not a state_dict",
		"deep_marks":           "STOP with 4000 MARKs unclosed",
		"not_a_dict":           "the pickle holds a list, not a state_dict",
		"no_stop":              "the pickle ends without STOP",
	}
	for _, target := range []struct {
		name string
		want map[string]string
		read func(args [][]byte) (*File, error)
	}{
		{"FuzzSafetensors", st, func(a [][]byte) (*File, error) { return decode(a[0]) }},
		{"FuzzPTH", pth, func(a [][]byte) (*File, error) {
			b := buildPTH("archive", a[0], parseStorages(a[1]))
			return ReadPTH(bytes.NewReader(b), int64(len(b)))
		}},
	} {
		paths, err := filepath.Glob(filepath.Join("testdata", "fuzz", target.name, "*"))
		require.NoError(t, err)
		require.Len(t, paths, len(target.want), "seeds of %s", target.name)
		for _, path := range paths {
			name := filepath.Base(path)
			t.Run(target.name+"/"+name, func(t *testing.T) {
				want, ok := target.want[name]
				require.True(t, ok, "no expectation for seed %s", name)
				info, err := os.Stat(path)
				require.NoError(t, err)
				assert.Less(t, info.Size(), int64(20_000), "seed file too large")
				f, err := target.read(readSeed(t, path))
				if want == "" {
					require.NoError(t, err)
					assert.NotEmpty(t, f.Tensors)
					return
				}
				require.Error(t, err)
				assert.Contains(t, err.Error(), want)
				assert.True(t, strings.HasPrefix(err.Error(), "weights: "), err.Error())
			})
		}
	}
}
