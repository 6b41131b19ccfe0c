// Package tracking is the ingestion pipeline shared by the gRPC stream and the NATS consumer:
// validate a ping, drop duplicates, index it on H3, learn travel times from it, keep the live
// position and publish it. Storage and publishing are behind small interfaces.
package tracking

import (
	"context"
	"time"

	"github.com/uber/h3-go/v4"

	"meshwork.dev/domains/logistics/position"
	"meshwork.dev/domains/logistics/route"
	"meshwork.dev/platform/errs"
)

// Fix is an accepted ping with its H3 cell.
type Fix struct {
	position.Ping
	Cell       h3.Cell
	Resolution int
	Suspect    bool
}

// Live keeps each vehicle's latest position (redis.Live).
type Live interface {
	Set(ctx context.Context, f Fix) error
}

// Publisher publishes accepted positions (a logistics.vehicle-positions.v1 publisher).
type Publisher interface {
	Position(ctx context.Context, f Fix) error
}

// Outcome says what happened to one ping.
type Outcome int

// Outcomes of Pipeline.Ingest.
const (
	Accepted Outcome = iota + 1
	Duplicate
	Rejected
)

// Pipeline ingests pings. Safe for concurrent use.
type Pipeline struct {
	Limits     position.Limits
	Resolution int
	Filter     *position.Filter
	Tracker    *route.Tracker
	Live       Live
	Publish    Publisher
	Now        func() time.Time
}

// Ingest processes one ping. A ping failing validation returns Rejected and an errs.Invalid
// error naming the field; a failing store or publisher returns its error.
func (p *Pipeline) Ingest(ctx context.Context, ping position.Ping) (Outcome, bool, error) {
	const op = "tracking.Ingest"
	if err := p.Limits.Validate(ping, p.Now()); err != nil {
		return Rejected, false, err
	}
	chk := p.Filter.Check(ping)
	if chk.Verdict == position.Duplicate {
		return Duplicate, false, nil
	}
	f := Fix{Ping: ping, Cell: h3.LatLngToCell(h3.NewLatLng(ping.Lat, ping.Lng), p.Resolution), Resolution: p.Resolution, Suspect: chk.Suspect}
	if chk.Verdict == position.New {
		if err := p.Live.Set(ctx, f); err != nil {
			p.Filter.Undo(ping, chk) // a retry must not be dropped as a duplicate
			return Rejected, false, errs.Wrap(op, err)
		}
	}
	if err := p.Publish.Position(ctx, f); err != nil {
		p.Filter.Undo(ping, chk)
		return Rejected, false, errs.Wrap(op, err)
	}
	// Learn only from pings that were stored and published, so a retried ping counts once.
	if chk.Verdict == position.New && !chk.Suspect {
		p.Tracker.Observe(ping.Vehicle, f.Cell, ping.At)
	}
	return Accepted, chk.Suspect, nil
}
