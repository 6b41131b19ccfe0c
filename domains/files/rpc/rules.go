// Package rpc serves mesh.files.v1.FilesService: the gRPC handlers, their auth rules and the
// conversion between the contract and the file package. Per-file access (owner, admin,
// shares) is decided by file.File.CanRead/CanChange inside the store.
package rpc

import (
	filesv1 "meshwork.dev/contracts/gen/go/mesh/files/v1"
	"meshwork.dev/platform/auth"
)

// Members are the roles that may use the files service at all: every role identity issues.
// A token with none of them (e.g. an enrolment-only session) is refused.
var members = []string{"admin", "dispatcher", "engineer", "analyst", "service"}

// member is the rule of every FilesService RPC.
var member = auth.AnyRole(members...)

// Rules says who may call each FilesService RPC: any member of the mesh; which files they
// see and change is decided per file (owner, admin, shares, scopes).
var Rules = auth.Rules{
	filesv1.FilesService_Upload_FullMethodName:                  member,
	filesv1.FilesService_Download_FullMethodName:                member,
	filesv1.FilesService_GetFile_FullMethodName:                 member,
	filesv1.FilesService_ListFiles_FullMethodName:               member,
	filesv1.FilesService_StoreFile_FullMethodName:               member,
	filesv1.FilesService_DeleteFile_FullMethodName:              member,
	filesv1.FilesService_ShareFile_FullMethodName:               member,
	filesv1.FilesService_CreatePresignedUpload_FullMethodName:   member,
	filesv1.FilesService_CreatePresignedDownload_FullMethodName: member,
}
