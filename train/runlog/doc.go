// Package runlog records a training run: one Record per epoch, appended to metrics.jsonl (the
// machine-readable log a resumed run reads back) and metrics.csv (for spreadsheets and pandas);
// PlotCurves draws the loss and error curves from the records, and Progress shows progress within
// an epoch, as a redrawn bar on a terminal and as occasional plain lines in a log file.
//
// A value that was not measured (for example the test error of an epoch that was not evaluated on
// the test set) is NaN in a Record, null in metrics.jsonl and an empty field in metrics.csv. An
// infinite value (a diverged loss) is the string "+Inf" or "-Inf" in metrics.jsonl, because JSON
// has no number for it, and +Inf or -Inf in metrics.csv.
//
// On resume, Open keeps the records of the epochs the checkpoint covers and drops any written
// after it, so the files never hold an epoch twice.
package runlog
