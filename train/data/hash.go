package data

// splitmix64 is the finaliser of the SplitMix64 generator: a cheap, well-mixed hash of x. Hashing
// (seed, epoch, position) gives each example its own augmentation without sharing a generator
// between goroutines, so the result never depends on scheduling.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// hash3 mixes three values into one.
func hash3(a, b, c uint64) uint64 {
	return splitmix64(splitmix64(splitmix64(a)^b) ^ c)
}
