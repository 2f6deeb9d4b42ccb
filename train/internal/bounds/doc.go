// Package bounds does the size arithmetic of the headers that readers of outside bytes trust:
// the IDX and CIFAR readers and the PNG reader of train/data, and the checkpoint decoder.
//
// It exists because that arithmetic went wrong where each reader did its own: an IDX header of
// 1 × 0xFFFFFFFF × 0xFFFFFFFF images wrapped int64, passed the size check and panicked in make,
// and 2 images of 2147516416 × 4294901761 multiplied to 64 KiB and were accepted as a data set. A
// fuzzer finds such headers in seconds. Here the rule is written once: Product multiplies what a
// header announces (counts, sides, an element size) against a limit, checking before each
// multiplication, and its error names the product, so a header either gives a size that fits or
// an error a user can read, never a wrapped number.
//
// The second rule is MaxUnbacked: what a header alone may make a reader allocate before the data
// it announces has arrived. Readers of streams (a gzip'd IDX file has no size to check against)
// start their buffers at most this large and grow them as the data comes; readers of inputs of
// known size (a checkpoint file) check every announced size against that size instead.
package bounds
