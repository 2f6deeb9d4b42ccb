package runlog

import (
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func rec(epoch int, trainLoss float64) Record {
	r := NewRecord(epoch, 391*epoch)
	r.LR, r.TrainLoss, r.TrainErr = 0.1, trainLoss, 0.5
	return r
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := string(b)
	require.True(t, s == "" || strings.HasSuffix(s, "\n"), "%s must end with a newline", path)
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// writeRun writes the records of a run into dir and closes the log.
func writeRun(t *testing.T, dir string, recs ...Record) {
	t.Helper()
	l, err := Open(dir, 0)
	require.NoError(t, err)
	for _, r := range recs {
		require.NoError(t, l.Write(r))
	}
	require.NoError(t, l.Close())
}

func TestLogFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "nested") // Open creates it
	r2 := rec(2, 1.5)
	r2.ValLoss, r2.ValErr = 1.75, 0.25
	writeRun(t, dir, rec(1, 2), r2)

	assert.Equal(t, []string{
		`{"epoch":1,"step":391,"lr":0.1,"train_loss":2,"train_error":0.5,"val_loss":null,"val_error":null,"test_loss":null,"test_error":null,"img_per_s":null,"epoch_s":null,"wall_s":null}`,
		`{"epoch":2,"step":782,"lr":0.1,"train_loss":1.5,"train_error":0.5,"val_loss":1.75,"val_error":0.25,"test_loss":null,"test_error":null,"img_per_s":null,"epoch_s":null,"wall_s":null}`,
	}, readLines(t, filepath.Join(dir, JSONLName)))
	assert.Equal(t, []string{
		"epoch,step,lr,train_loss,train_error,val_loss,val_error,test_loss,test_error,img_per_s,epoch_s,wall_s",
		"1,391,0.1,2,0.5,,,,,,,",
		"2,782,0.1,1.5,0.5,1.75,0.25,,,,,",
	}, readLines(t, filepath.Join(dir, CSVName)))

	got, err := ReadRecords(filepath.Join(dir, JSONLName))
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, fields(r2), fields(got[1]))
	assert.True(t, math.IsNaN(got[0].ValLoss))
}

func TestOpenResume(t *testing.T) {
	tests := []struct {
		name       string
		keep       int
		wantEpochs []int // in the files after Open and one more Write
	}{
		{"fresh start truncates", 0, []int{9}},
		{"resume after epoch 2 drops epoch 3", 2, []int{1, 2, 9}},
		{"resume after the last epoch keeps all", 3, []int{1, 2, 3, 9}},
		{"resume past the log keeps all", 5, []int{1, 2, 3, 9}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeRun(t, dir, rec(1, 2), rec(2, 1.5), rec(3, 1.25))

			l, err := Open(dir, tc.keep)
			require.NoError(t, err)
			kept := l.Records()
			require.Len(t, kept, len(tc.wantEpochs)-1)
			next := rec(9, 0.5)
			require.NoError(t, l.Write(next))
			require.NoError(t, l.Close())
			recs := append(kept, next)
			assert.Equal(t, epochs(recs), epochs(l.Records()))

			got, err := ReadRecords(filepath.Join(dir, JSONLName))
			require.NoError(t, err)
			assert.Equal(t, tc.wantEpochs, epochs(got))
			lines := readLines(t, filepath.Join(dir, CSVName))
			require.Len(t, lines, 1+len(tc.wantEpochs))
			assert.Equal(t, CSVHeader, lines[0])
			for i, e := range tc.wantEpochs {
				assert.True(t, strings.HasPrefix(lines[1+i], strings.Split(recs[i].csvLine(), ",")[0]+","), lines[1+i])
				assert.Equal(t, e, recs[i].Epoch)
			}
			matches, err := filepath.Glob(filepath.Join(dir, "*.tmp-*"))
			require.NoError(t, err)
			assert.Empty(t, matches)
		})
	}
}

func epochs(recs []Record) []int {
	var e []int
	for _, r := range recs {
		e = append(e, r.Epoch)
	}
	return e
}

func TestRecordsIsACopy(t *testing.T) {
	l, err := Open(t.TempDir(), 0)
	require.NoError(t, err)
	defer l.Close()
	require.NoError(t, l.Write(rec(1, 2)))
	got := l.Records()
	got[0].Epoch = 99
	assert.Equal(t, 1, l.Records()[0].Epoch)
}

func TestReadRecordsDamage(t *testing.T) {
	good := `{"epoch":1,"step":391,"train_loss":2}` + "\n"
	tests := []struct {
		name    string
		content string
		epochs  []int
		wantErr string
	}{
		{"torn last line is ignored", good + `{"epoch":2,"st`, []int{1}, ""},
		{"blank lines are skipped", "\n" + good + "  \n", []int{1}, ""},
		{"empty file", "", nil, ""},
		{"malformed line", good + "not json\n" + good, nil, ":2: malformed record"},
		{"complete but malformed last line", good + `{"epoch":2,"st` + "\n", nil, ":2: malformed record"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), JSONLName)
			require.NoError(t, os.WriteFile(path, []byte(tc.content), 0o644))
			got, err := ReadRecords(path)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.ErrorContains(t, err, path+tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.epochs, epochs(got))
		})
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) string // returns the dir to open
		keep    int
		wantErr string
		is      error
	}{
		{"malformed metrics.jsonl", func(t *testing.T, dir string) string {
			require.NoError(t, os.WriteFile(filepath.Join(dir, JSONLName), []byte("{\"epoch\":1}\n{oops}\n"), 0o644))
			return dir
		}, 1, filepath.Join("", JSONLName) + ":2: malformed record", nil},
		{"missing metrics.jsonl on resume", func(t *testing.T, dir string) string { return dir }, 2, JSONLName, fs.ErrNotExist},
		{"dir is a regular file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "file")
			require.NoError(t, os.WriteFile(p, nil, 0o644))
			return p
		}, 0, "file", nil},
		{"negative keepEpochs", func(t *testing.T, dir string) string { return dir }, -1, "keepEpochs is -1", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.setup(t, t.TempDir())
			l, err := Open(dir, tc.keep)
			require.Error(t, err)
			assert.Nil(t, l)
			assert.ErrorContains(t, err, dir)
			assert.ErrorContains(t, err, tc.wantErr)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
		})
	}
}

func TestMalformedLogIsLeftAlone(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, JSONLName)
	content := []byte("{\"epoch\":1}\n{oops}\n")
	require.NoError(t, os.WriteFile(path, content, 0o644))
	_, err := Open(dir, 1)
	require.Error(t, err)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, content, after, "a log Open cannot read must not be overwritten")
}

func TestWriteAfterClose(t *testing.T) {
	l, err := Open(t.TempDir(), 0)
	require.NoError(t, err)
	require.NoError(t, l.Close())
	assert.NoError(t, l.Close(), "Close is idempotent")
	err = l.Write(rec(1, 2))
	require.Error(t, err)
	assert.ErrorContains(t, err, "closed")
	assert.Empty(t, l.Records())
}
