// Package weights reads and writes named tensors in the files PyTorch users share:
// safetensors (read and write) and the .pth files of torch.save(model.state_dict()) (read).
//
// # safetensors
//
// The format of Hugging Face's safetensors library, which timm and the Hub load first:
//
//	N        uint64, little-endian: the length of the header
//	header   N bytes of JSON: {NAME: {"dtype": "F32", "shape": [64, 3, 7, 7], "data_offsets": [BEGIN, END]}, …,
//	                           "__metadata__": {KEY: VALUE, …}}   (optional, strings only)
//	data     the tensors' raw little-endian elements, row-major; BEGIN and END count from here
//
// The tensors' byte ranges tile the data section: no holes, no overlaps, nothing after the last
// one. WriteSafetensors writes the tensors in the order given, pads the header with spaces to a
// multiple of 8 bytes (so the data is aligned) and writes equal bytes for equal Files, so a
// written file can be compared or hashed. Readers accept F32, F64 and I64 (torchvision's
// num_batches_tracked is a 0-d I64), and F16 and BF16, which they widen to F32.
//
// # PyTorch .pth
//
// Since PyTorch 1.6, torch.save writes a zip archive: PREFIX/data.pkl is a pickle (protocol 2)
// of the saved object, and each tensor storage is an uncompressed entry PREFIX/data/KEY of raw
// little-endian elements, referred to from the pickle by a persistent id. ReadPTH reads a
// state_dict from such a file without Python, by running the small part of pickle that
// torch.save emits for one, and copies each tensor (which may be a strided view of a storage
// that other tensors share) into a contiguous Tensor. It never calls anything a pickle names:
// globals other than those of a state_dict are refused by name.
//
// # Hostile input
//
// Weights are downloaded from strangers, so both readers treat a file as hostile: every size,
// offset, shape, stride and length a file declares is checked, with overflow-checked arithmetic
// (train/internal/bounds), against the file's real size before anything is allocated from it or
// read at it. The tensors a reader returns take at most twice the file's size for safetensors
// (half precision is widened) and eight times it (plus 1 MiB) for .pth, where several names may
// view one storage; a pickle may build at most 2 Mi values (see maxValues) and data.pkl may
// take 64 MiB. A bad file gives an error that names the problem in the format's terms, never a
// panic. Both readers are fuzzed (FuzzSafetensors, FuzzPTH).
//
// The formats are small enough to own: the Go modules that read them (a safetensors reader that
// loads whole files; a general pickle machine) would add a dependency and leave the checks of
// hostile input to code this project does not fuzz. The package uses only the standard library.
package weights
