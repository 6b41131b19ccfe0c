package stream

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/uber/h3-go/v4"
	"google.golang.org/protobuf/types/known/timestamppb"

	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	"meshwork.dev/domains/logistics/route"
	"meshwork.dev/domains/logistics/tracking"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/errs"
)

// positionIDs is the UUID namespace of position event ids.
var positionIDs = uuid.MustParse("6f0b8e9a-3c51-4d0e-9a8e-2f6f1b7c5d40")

// PositionEvent is the payload for an accepted fix.
func PositionEvent(f tracking.Fix) *logisticsv1.VehiclePosition {
	return &logisticsv1.VehiclePosition{
		VehicleId:    f.Vehicle,
		RecordedAt:   timestamppb.New(f.At),
		Position:     &logisticsv1.LatLng{Lat: f.Lat, Lng: f.Lng},
		SpeedMps:     f.SpeedMPS,
		HeadingDeg:   f.HeadingDeg,
		H3Cell:       f.Cell.String(),
		H3Resolution: int32(f.Resolution),
		Suspect:      f.Suspect,
	}
}

// PositionPublisher publishes fixes on logistics.vehicle-positions.v1, asynchronously. The
// event id is a UUIDv5 of vehicle and time, so a ping re-sent within the duplicate window
// is stored once.
type PositionPublisher struct{ P *dataproduct.Publisher }

var _ tracking.Publisher = PositionPublisher{}

// Position publishes f.
func (p PositionPublisher) Position(ctx context.Context, f tracking.Fix) error {
	id := uuid.NewSHA1(positionIDs, []byte(f.Vehicle+"@"+f.At.UTC().Format(time.RFC3339Nano))).String()
	return p.P.PublishAsync(ctx, f.Vehicle, PositionEvent(f), dataproduct.WithEventID(id), dataproduct.WithEventTime(f.At))
}

// TravelTimesMessages builds one logistics.cell-travel-times.v1 message per origin cell in
// cells, from the model's learned edges, for outbox.Enqueue; it also returns the rows to store.
func TravelTimesMessages(ctx context.Context, m *route.Model, cells []h3.Cell, asOf time.Time) ([]*nats.Msg, map[route.EdgeKey]route.EdgeStat, error) {
	const op = "stream.TravelTimesMessages"
	snap := m.Snapshot()
	want := make(map[h3.Cell]*logisticsv1.CellTravelTimes, len(cells))
	for _, c := range cells {
		want[c] = &logisticsv1.CellTravelTimes{H3Cell: c.String(), H3Resolution: int32(c.Resolution()), AsOf: timestamppb.New(asOf)}
	}
	rows := map[route.EdgeKey]route.EdgeStat{}
	bm := int32(m.Config().BucketMinutes)
	for k, s := range snap {
		ev, ok := want[k.From]
		if !ok {
			continue
		}
		rows[k] = s
		ev.Edges = append(ev.Edges, &logisticsv1.EdgeTravelTime{
			ToCell: k.To.String(), Bucket: int32(k.Bucket), BucketMinutes: bm, Seconds: s.Seconds, Samples: s.Samples,
		})
	}
	msgs := make([]*nats.Msg, 0, len(want))
	for _, c := range cells {
		ev := want[c]
		slices.SortFunc(ev.Edges, func(a, b *logisticsv1.EdgeTravelTime) int {
			if a.ToCell != b.ToCell {
				if a.ToCell < b.ToCell {
					return -1
				}
				return 1
			}
			return int(a.Bucket - b.Bucket)
		})
		msg, err := dataproduct.NewMessage(ctx, TravelTimes, ev.H3Cell, ev, dataproduct.WithEventTime(asOf))
		if err != nil {
			return nil, nil, errs.Wrap(op, err)
		}
		msgs = append(msgs, msg)
	}
	return msgs, rows, nil
}

// RoutePublisher publishes planned routes on logistics.routes.v1 directly (routes are not
// stored, so there is no transaction for an outbox to join); the route id is the event id.
type RoutePublisher struct{ P *dataproduct.Publisher }

// Route publishes r.
func (p RoutePublisher) Route(ctx context.Context, r *logisticsv1.PlannedRoute) error {
	return p.P.PublishAsync(ctx, r.GetRouteId(), r, dataproduct.WithEventID(r.GetRouteId()))
}
