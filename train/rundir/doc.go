// Package rundir makes a run directory the property of one process at a time.
//
// Two trainings writing into one directory used to end with one run's settings and metrics
// beside the other's checkpoint, and a resume then reported one run's accuracy for the other's
// weights. Lock takes an advisory lock (flock) on DIR/.lock before anything in the directory is
// read or written; the kernel drops it when the process exits or is killed, so a crash never
// leaves a directory locked. The lock file holds the owner's process ID for the message a
// second process gets.
//
// Once it owns the directory, Lock also removes the temporary files (NAME.tmp-*) that a process
// killed in the middle of an atomic write left behind: no live writer can own them any more.
package rundir
