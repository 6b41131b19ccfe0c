// Package stream declares the files domain's data product, files.file-events.v1, and builds
// its events. Events carry metadata only — never content, a data key or key material; the
// file name is classified confidential in the schema.
package stream

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/types/known/timestamppb"

	filesv1 "meshwork.dev/contracts/gen/go/mesh/files/v1"
	"meshwork.dev/domains/files/file"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/errs"
)

// FileEvents is files.file-events.v1: one mesh.files.v1.FileEvent per lifecycle transition
// of a file, keyed by file id.
var FileEvents = dataproduct.Product{
	Domain:  "files",
	Name:    "file-events",
	Major:   1,
	Owner:   "files-team",
	Contact: "#meshwork-files",
	Description: "Every lifecycle transition of a stored file — uploaded, stored, shared, deleted, " +
		"purged, expired — keyed by file id, with the metadata the server computed (size, " +
		"SHA-256, sniffed MIME type). Never content or key material; file names are confidential.",
	Tags:            []string{"files", "documents", "audit"},
	Message:         &filesv1.FileEvent{},
	Classification:  dataproduct.ClassConfidential,
	Retention:       365 * 24 * time.Hour,
	DuplicateWindow: 10 * time.Minute,
	Freshness:       24 * time.Hour,
	KeyDescription:  "file id",
	ServedBy:        []string{"mesh.files.v1.FilesService"},
}

// Kind is a lifecycle transition.
type Kind = filesv1.FileEventKind

// The transitions.
const (
	Uploaded = filesv1.FileEventKind_FILE_EVENT_KIND_UPLOADED
	Stored   = filesv1.FileEventKind_FILE_EVENT_KIND_STORED
	Shared   = filesv1.FileEventKind_FILE_EVENT_KIND_SHARED
	Deleted  = filesv1.FileEventKind_FILE_EVENT_KIND_DELETED
	Purged   = filesv1.FileEventKind_FILE_EVENT_KIND_PURGED
	Expired  = filesv1.FileEventKind_FILE_EVENT_KIND_EXPIRED
)

// Event is the payload announcing transition k of f by actor at t.
func Event(f *file.File, k Kind, actor string, t time.Time) *filesv1.FileEvent {
	return &filesv1.FileEvent{
		FileId: f.ID, Kind: k, Name: f.Name, OwnerId: f.OwnerID, ActorId: actor,
		Size: f.Size, ContentType: f.ContentType, Sha256: f.SHA256, Labels: f.Labels,
		OccurredAt: timestamppb.New(t),
	}
}

// Message builds the event message for transition k of f, ready for the outbox: subject
// dp.files.file-events.v1.<file id>, CloudEvents headers and a fresh event id.
func Message(ctx context.Context, f *file.File, k Kind, actor string, t time.Time) (*nats.Msg, error) {
	msg, err := dataproduct.NewMessage(ctx, FileEvents, f.ID, Event(f, k, actor, t), dataproduct.WithEventTime(t))
	return msg, errs.Wrap("stream.Message", err)
}
