// Package quality is scheduling's client of mesh.quality.v1.QualityService: where a machine
// stands and how critical it is, from quality's machine registry (GetMachine, called with the
// service account's token).
package quality

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/scheduling/job"
	"meshwork.dev/domains/scheduling/postgres"
	"meshwork.dev/platform/errs"
)

// Client looks machines up in quality's registry.
type Client struct {
	api qualityv1.QualityServiceClient
}

// New returns a client over api (qualityv1.NewQualityServiceClient(conn)).
func New(api qualityv1.QualityServiceClient) *Client { return &Client{api: api} }

// Machine returns quality's machine id: its site, criticality and location. A machine quality
// does not know, or knows without a location, is an errs.NotFound error: scheduling cannot
// route an engineer to it.
func (c *Client) Machine(ctx context.Context, id string) (postgres.Machine, error) {
	const op = "quality.Client.Machine"
	resp, err := c.api.GetMachine(ctx, &qualityv1.GetMachineRequest{MachineId: id})
	if status.Code(err) == codes.NotFound {
		return postgres.Machine{}, errs.E(op, errs.NotFound, "quality has no machine "+id)
	}
	if err != nil {
		return postgres.Machine{}, fmt.Errorf("%s: GetMachine %s: %w", op, id, err)
	}
	m := resp.GetMachine()
	if m.GetLocation() == nil {
		return postgres.Machine{}, errs.E(op, errs.NotFound, "quality has no location for machine "+id)
	}
	return postgres.Machine{
		ID: id, Site: m.GetSite(), Criticality: Criticality(m.GetCriticality()),
		Location: job.LatLng{Lat: m.GetLocation().GetLat(), Lng: m.GetLocation().GetLng()},
	}, nil
}

// Criticality maps quality's criticality; unspecified is medium.
func Criticality(c qualityv1.Criticality) job.Criticality {
	switch c {
	case qualityv1.Criticality_CRITICALITY_LOW:
		return job.Low
	case qualityv1.Criticality_CRITICALITY_HIGH:
		return job.High
	}
	return job.Medium
}
