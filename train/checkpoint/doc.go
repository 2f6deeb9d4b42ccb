// Package checkpoint stores named float32/float64 tensors plus the caller's JSON metadata in one
// self-checking file, written atomically so that a crash mid-write never destroys the previous
// checkpoint.
//
// # File format (version 1)
//
// All integers are little-endian.
//
//	magic        14 bytes  "RESNETGO-CKPT\n"
//	version      uint32    1
//	headerLen    uint64    length in bytes of the JSON header that follows
//	header       JSON      {"meta": <caller's JSON>, "tensors": [{"name", "shape", "dtype", "offset", "length"}, ...]}
//	data         bytes     the raw tensor elements, IEEE 754 little-endian
//	crc          uint32    CRC-32C (Castagnoli) of every byte before it
//
// In the header, dtype is "float32" or "float64"; offset and length are in bytes, and offset counts
// from the first byte of the data section (so the header need not know its own size). Save lays
// the tensors out contiguously in order, without padding; Load accepts any layout whose tensors lie
// inside the data section and do not overlap, and whose length equals the product of the shape
// times the element size. A scalar has shape [] and one element.
//
// The magic lets a reader reject an unrelated file with a clear message; the version lets a later
// format be told apart; the trailing CRC catches both bit rot and a file cut short by a crash or a
// full disk, since a file is only trusted once every byte has been checked.
package checkpoint
