// Package data reads the image classification sets that the trainer learns on (MNIST and
// Fashion-MNIST IDX files, the binary CIFAR-10 and CIFAR-100 records, a learnable synthetic set and
// an embedded Fashion-MNIST subset) into memory as bytes, and turns them into normalised,
// augmented tensor batches for training.
//
// Every reader returns an *Images: images are kept as CHW bytes, 0..255, so that a whole set stays
// small (CIFAR-10 is 150 MB as bytes, 600 MB as float32) and conversion happens per batch, through
// a lookup table, in a Loader.
//
// A Loader is deterministic so that a run resumed from a checkpoint reproduces the original
// exactly: the order of epoch e depends only on (Seed, e), and the augmentation of the example at
// position p of epoch e only on (Seed, e, p), never on goroutine scheduling. Its Iter prepares the
// next batch in a background goroutine while the caller trains on the current one.
//
// Errors name the file, record, shape or value at fault, e.g.
//
//	data: /x/train-labels-idx1-ubyte.gz: label 12 of record 7 is outside [0, 10)
package data
