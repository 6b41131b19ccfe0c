// Package readings is the quality domain's filtering core, with no I/O: per-sensor filter
// state and its checks (physical range, Hampel spikes over a rolling median and MAD,
// stuck-at/flat-line, dropout, rate of change, drift against peers), the fault detector that
// declares a sensor faulty after repeated failed checks and clears it after recovery, the
// silent-sensor check that declares a sensor dropped out once its machine's other sensors
// have moved on in event time (silence.go), and machine health from clean data with
// corroboration. All state is plain exported data and serialises as JSON, so the service
// persists it and resumes after a restart.
package readings
