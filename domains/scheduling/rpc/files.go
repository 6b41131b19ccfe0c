package rpc

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	filesv1 "meshwork.dev/contracts/gen/go/mesh/files/v1"
	"meshwork.dev/platform/errs"
)

// FileChecker checks that a report file exists and the caller can read it.
type FileChecker func(ctx context.Context, fileID string) error

// FilesChecker asks mesh.files.v1.FilesService.GetFile with the caller's own bearer token, so
// a report must be a file the completing caller can read. A missing or unreadable file is
// an Invalid error naming report_file_id; files being down is Unavailable.
func FilesChecker(api filesv1.FilesServiceClient) FileChecker {
	return func(ctx context.Context, fileID string) error {
		const op = "rpc.CompleteJob"
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			if a := md.Get("authorization"); len(a) > 0 {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", a[0])
			}
		}
		_, err := api.GetFile(ctx, &filesv1.GetFileRequest{FileId: fileID})
		switch status.Code(err) {
		case codes.OK:
			return nil
		case codes.NotFound, codes.PermissionDenied, codes.InvalidArgument:
			return errs.BadRequest(op, errs.Violation{Field: "report_file_id", Description: "is not a file you can read: " + status.Convert(err).Message()})
		}
		return &errs.Error{Op: op, Kind: errs.Unavailable, Msg: "files cannot check the report", Err: err}
	}
}
