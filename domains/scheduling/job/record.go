package job

import "time"

// Record is a job as stored: the plannable Job with its lifecycle.
type Record struct {
	Job
	// State is the lifecycle state.
	State State
	// Health is the machine health the job was opened or last reprioritised for (maintenance).
	Health Health
	// Cause is why the job exists.
	Cause Cause
	// Reason is the human-readable reason.
	Reason string
	// ReportFileID is the report attached on completion.
	ReportFileID string
	// EngineerID is the engineer assigned; empty when open.
	EngineerID string
	// Starts and Ends bound the assigned slot on site.
	Starts, Ends time.Time
	// Travel is the planned travel time to the site.
	Travel time.Duration
	// Created is when the job was opened.
	Created time.Time
	// Located tells whether the machine's location is known (Location is zero otherwise):
	// the dispatcher plans only located jobs.
	Located bool
}

// Savings is what avoided call-outs saved for one cause.
type Savings struct {
	// Cause of the avoided call-outs.
	Cause Cause
	// CalloutsAvoided counts emergency call-outs avoided.
	CalloutsAvoided int64
	// HoursSaved is engineer hours saved.
	HoursSaved float64
	// Failures counts the declarations of this cause that were failures (wrongly) declared
	// faults: their machine's health became WARN or CRITICAL within FailureWindow. They are
	// not in CalloutsAvoided or HoursSaved.
	Failures int64
}

// FailureWindow is how far apart, in sample time, a fault's start and its machine's WARN or
// CRITICAL health may be for the fault to count as a failure declared a fault.
const FailureWindow = 24 * time.Hour
