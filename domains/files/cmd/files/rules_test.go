package main

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	filesv1 "meshwork.dev/contracts/gen/go/mesh/files/v1"
	"meshwork.dev/domains/files/rpc"
)

// TestEveryRPCHasRules calls every FilesService method without a token (Unauthenticated),
// with a token holding no mesh role (PermissionDenied) and as an engineer (allowed: any code
// but those two). It fails if a method of the service is missing from the table or the rules.
func TestEveryRPCHasRules(t *testing.T) {
	env, iss := baseEnv(t)
	f := start(t, env, iss)
	owner := f.as(t, "alice", "engineer")
	stored, err := f.upload(owner, &filesv1.UploadMetadata{Name: "a", Size: 1, Store: true}, []byte{1})
	if err != nil {
		t.Fatal(err)
	}
	id := stored.GetId()
	calls := map[string]func(ctx context.Context) error{
		"Upload": func(ctx context.Context) error {
			_, err := f.upload(ctx, &filesv1.UploadMetadata{Name: "b", Size: 1}, []byte{1})
			return err
		},
		"Download": func(ctx context.Context) error { _, err := f.download(ctx, id); return err },
		"GetFile": func(ctx context.Context) error {
			_, err := f.client.GetFile(ctx, &filesv1.GetFileRequest{FileId: id})
			return err
		},
		"ListFiles": func(ctx context.Context) error {
			_, err := f.client.ListFiles(ctx, &filesv1.ListFilesRequest{})
			return err
		},
		"StoreFile": func(ctx context.Context) error {
			_, err := f.client.StoreFile(ctx, &filesv1.StoreFileRequest{FileId: id})
			return err
		},
		"ShareFile": func(ctx context.Context) error {
			_, err := f.client.ShareFile(ctx, &filesv1.ShareFileRequest{FileId: id, Share: &filesv1.Share{
				Grantee: &filesv1.Share_Role{Role: "analyst"}, ExpiresAt: timestamppb.New(time.Now().Add(time.Hour))}})
			return err
		},
		"CreatePresignedUpload": func(ctx context.Context) error {
			_, err := f.client.CreatePresignedUpload(ctx, &filesv1.CreatePresignedUploadRequest{Name: "c", MaxSize: 1})
			return err
		},
		"CreatePresignedDownload": func(ctx context.Context) error {
			_, err := f.client.CreatePresignedDownload(ctx, &filesv1.CreatePresignedDownloadRequest{FileId: id})
			return err
		},
		"DeleteFile": func(ctx context.Context) error {
			_, err := f.client.DeleteFile(ctx, &filesv1.DeleteFileRequest{FileId: id})
			return err
		},
	}
	methods := filesv1.FilesService_ServiceDesc.Methods
	names := map[string]bool{}
	for _, m := range methods {
		names[m.MethodName] = true
	}
	for _, s := range filesv1.FilesService_ServiceDesc.Streams {
		names[s.StreamName] = true
	}
	for name := range names {
		if calls[name] == nil {
			t.Errorf("method %s is missing from the table", name)
		}
		if _, ok := rpc.Rules["/mesh.files.v1.FilesService/"+name]; !ok {
			t.Errorf("method %s has no auth rule", name)
		}
	}
	order := []string{"Upload", "Download", "GetFile", "ListFiles", "StoreFile", "ShareFile", "CreatePresignedUpload", "CreatePresignedDownload", "DeleteFile"}
	for _, name := range order {
		call := calls[name]
		if code := status.Code(call(f.as(t, ""))); code != codes.Unauthenticated {
			t.Errorf("%s without a token: %s", name, code)
		}
		if code := status.Code(call(f.as(t, "alice"))); code != codes.PermissionDenied {
			t.Errorf("%s without a mesh role: %s", name, code)
		}
		if err := call(owner); status.Code(err) == codes.Unauthenticated || status.Code(err) == codes.PermissionDenied || err != nil {
			t.Errorf("%s as the owner: %v", name, err)
		}
	}
	// Per-file access: an analyst holds a share now (ShareFile above) but the file is deleted.
	if _, err := f.client.GetFile(f.as(t, "dave", "analyst"), &filesv1.GetFileRequest{FileId: id}); status.Code(err) != codes.NotFound {
		t.Errorf("analyst reads a deleted shared file: %v", err)
	}
}

// TestSharesAndOwnership: a share lets its grantee read until it expires, never change.
func TestSharesAndOwnership(t *testing.T) {
	env, iss := baseEnv(t)
	f := start(t, env, iss)
	owner := f.as(t, "alice", "engineer")
	up, err := f.upload(owner, &filesv1.UploadMetadata{Name: "a", Size: 1, Store: true}, []byte{1})
	if err != nil {
		t.Fatal(err)
	}
	bob := f.as(t, "bob", "dispatcher")
	if _, err := f.client.GetFile(bob, &filesv1.GetFileRequest{FileId: up.GetId()}); status.Code(err) != codes.NotFound {
		t.Fatalf("bob before the share: %v", err)
	}
	if _, err := f.client.ShareFile(bob, &filesv1.ShareFileRequest{FileId: up.GetId(), Share: &filesv1.Share{Grantee: &filesv1.Share_UserId{UserId: "bob"}, ExpiresAt: timestamppb.New(time.Now().Add(time.Hour))}}); status.Code(err) != codes.NotFound {
		t.Fatalf("bob shares alice's file with himself: %v", err)
	}
	if _, err := f.client.ShareFile(owner, &filesv1.ShareFileRequest{FileId: up.GetId(), Share: &filesv1.Share{Grantee: &filesv1.Share_UserId{UserId: "bob"}, ExpiresAt: timestamppb.New(time.Now().Add(time.Hour))}}); err != nil {
		t.Fatal(err)
	}
	if got, err := f.download(bob, up.GetId()); err != nil || len(got) != 1 {
		t.Fatalf("bob after the share: %v", err)
	}
	if _, err := f.client.DeleteFile(bob, &filesv1.DeleteFileRequest{FileId: up.GetId()}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("bob deletes a file shared with him: %v", err)
	}
	if _, err := f.client.DeleteFile(f.as(t, "root", "admin"), &filesv1.DeleteFileRequest{FileId: up.GetId()}); err != nil {
		t.Fatalf("admin deletes: %v", err)
	}
}
