// Package notebooks holds the project's Jupyter notebooks (gonb/ and gophernotes/, one set per Go
// kernel), the scripts that build the kernels and run the notebooks (make notebooks), and the
// tests that check the committed notebooks: executed, with the cells make notebooks ran, and
// importing only packages whose exported API is free of generics (gophernotes cannot import
// generic functions or types).
package notebooks
