package rpc

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	filesv1 "meshwork.dev/contracts/gen/go/mesh/files/v1"
	"meshwork.dev/domains/files/file"
)

var states = map[file.State]filesv1.FileState{
	file.Pending: filesv1.FileState_FILE_STATE_PENDING,
	file.Stored:  filesv1.FileState_FILE_STATE_STORED,
	file.Deleted: filesv1.FileState_FILE_STATE_DELETED,
}

func toProto(f *file.File) *filesv1.File {
	out := &filesv1.File{
		Id: f.ID, Name: f.Name, OwnerId: f.OwnerID, State: states[f.State], Size: f.Size, Sha256: f.SHA256,
		ContentType: f.ContentType, DeclaredContentType: f.DeclaredContentType, Labels: f.Labels,
		CreatedAt: timestamppb.New(f.Created), UpdatedAt: timestamppb.New(f.Updated),
	}
	for _, s := range f.Shares {
		ps := &filesv1.Share{ExpiresAt: timestamppb.New(s.Expires)}
		if s.UserID != "" {
			ps.Grantee = &filesv1.Share_UserId{UserId: s.UserID}
		} else {
			ps.Grantee = &filesv1.Share_Role{Role: s.Role}
		}
		out.Shares = append(out.Shares, ps)
	}
	return out
}
