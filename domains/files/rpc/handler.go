package rpc

import (
	"context"
	"io"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	filesv1 "meshwork.dev/contracts/gen/go/mesh/files/v1"
	"meshwork.dev/domains/files/crypt"
	"meshwork.dev/domains/files/file"
	"meshwork.dev/domains/files/mongo"
	"meshwork.dev/domains/files/presign"
	"meshwork.dev/domains/files/stream"
	"meshwork.dev/platform/auth"
	"meshwork.dev/platform/errs"
)

// Store is what the handlers need from the store (implemented by *mongo.Store).
type Store interface {
	Upload(ctx context.Context, p file.Principal, m mongo.Meta, r io.Reader) (*file.File, error)
	Create(ctx context.Context, p file.Principal, m mongo.Meta, maxSize int64) (*file.File, error)
	Open(ctx context.Context, p file.Principal, id string) (*file.File, *crypt.Reader, error)
	Get(ctx context.Context, p file.Principal, id string) (*file.File, error)
	List(ctx context.Context, p file.Principal, size int, token string, withDeleted bool) ([]*file.File, string, error)
	Update(ctx context.Context, p file.Principal, id string, kind stream.Kind, change func(*file.File, time.Time) error) (*file.File, error)
}

var _ Store = (*mongo.Store)(nil)

// Handler implements filesv1.FilesServiceServer.
type Handler struct {
	filesv1.UnimplementedFilesServiceServer
	store  Store
	signer *presign.Signer
	now    func() time.Time
}

// New returns the handlers over store, signing presigned URLs with signer.
func New(store Store, signer *presign.Signer) *Handler {
	return &Handler{store: store, signer: signer, now: time.Now}
}

// downloadChunk is the size of the chunks Download sends.
const downloadChunk = 256 << 10

func principal(ctx context.Context) file.Principal {
	c, _ := auth.FromContext(ctx)
	if c == nil {
		return file.Principal{}
	}
	return file.Principal{Subject: c.Subject, Roles: c.Roles, Scopes: c.Scopes}
}

// Upload implements FilesService.Upload.
func (h *Handler) Upload(st filesv1.FilesService_UploadServer) error {
	const op = "rpc.Upload"
	first, err := st.Recv()
	if err != nil {
		return errs.Errorf(op, errs.Invalid, "no metadata: %w", err)
	}
	md := first.GetMetadata()
	if md == nil {
		return errs.BadRequest(op, errs.Violation{Field: "metadata", Description: "the first message must carry the metadata"})
	}
	r := &chunkReader{recv: st.Recv}
	f, err := h.store.Upload(st.Context(), principal(st.Context()), mongo.Meta{
		Name: md.GetName(), DeclaredType: md.GetContentType(), Size: md.GetSize(), SHA256: md.GetSha256(),
		IdempotencyKey: md.GetIdempotencyKey(), Labels: md.GetLabels(), Store: md.GetStore(),
	}, r)
	if err != nil {
		if r.err != nil && errs.Is(r.err, errs.Invalid) {
			return r.err
		}
		return err
	}
	return st.SendAndClose(&filesv1.UploadResponse{File: toProto(f)})
}

// chunkReader reads the chunks of an upload stream.
type chunkReader struct {
	recv func() (*filesv1.UploadRequest, error)
	buf  []byte
	err  error
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		m, err := c.recv()
		if err != nil {
			c.err = err
			return 0, err
		}
		if m.GetMetadata() != nil {
			c.err = errs.BadRequest("rpc.Upload", errs.Violation{Field: "metadata", Description: "only the first message may carry metadata"})
			return 0, c.err
		}
		c.buf = m.GetChunk()
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

// Download implements FilesService.Download.
func (h *Handler) Download(req *filesv1.DownloadRequest, st filesv1.FilesService_DownloadServer) error {
	f, r, err := h.store.Open(st.Context(), principal(st.Context()), req.GetFileId())
	if err != nil {
		return err
	}
	defer r.Close()
	if err := st.Send(&filesv1.DownloadResponse{Part: &filesv1.DownloadResponse_File{File: toProto(f)}}); err != nil {
		return err
	}
	buf := make([]byte, downloadChunk)
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if serr := st.Send(&filesv1.DownloadResponse{Part: &filesv1.DownloadResponse_Chunk{Chunk: buf[:n]}}); serr != nil {
				return serr
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return errs.Wrap("rpc.Download", err)
		}
	}
}

// GetFile implements FilesService.GetFile.
func (h *Handler) GetFile(ctx context.Context, req *filesv1.GetFileRequest) (*filesv1.GetFileResponse, error) {
	f, err := h.store.Get(ctx, principal(ctx), req.GetFileId())
	if err != nil {
		return nil, err
	}
	return &filesv1.GetFileResponse{File: toProto(f)}, nil
}

// ListFiles implements FilesService.ListFiles.
func (h *Handler) ListFiles(ctx context.Context, req *filesv1.ListFilesRequest) (*filesv1.ListFilesResponse, error) {
	size := int(req.GetPageSize())
	switch {
	case size < 0 || size > 500:
		return nil, errs.BadRequest("rpc.ListFiles", errs.Violation{Field: "page_size", Description: "must be between 0 and 500"})
	case size == 0:
		size = 50
	}
	files, next, err := h.store.List(ctx, principal(ctx), size, req.GetPageToken(), req.GetIncludeDeleted())
	if err != nil {
		return nil, err
	}
	out := &filesv1.ListFilesResponse{NextPageToken: next}
	for _, f := range files {
		out.Files = append(out.Files, toProto(f))
	}
	return out, nil
}

// StoreFile implements FilesService.StoreFile.
func (h *Handler) StoreFile(ctx context.Context, req *filesv1.StoreFileRequest) (*filesv1.StoreFileResponse, error) {
	f, err := h.store.Update(ctx, principal(ctx), req.GetFileId(), stream.Stored, (*file.File).Store)
	if err != nil {
		return nil, err
	}
	return &filesv1.StoreFileResponse{File: toProto(f)}, nil
}

// DeleteFile implements FilesService.DeleteFile.
func (h *Handler) DeleteFile(ctx context.Context, req *filesv1.DeleteFileRequest) (*filesv1.DeleteFileResponse, error) {
	f, err := h.store.Update(ctx, principal(ctx), req.GetFileId(), stream.Deleted, (*file.File).Delete)
	if err != nil {
		return nil, err
	}
	return &filesv1.DeleteFileResponse{File: toProto(f)}, nil
}

// ShareFile implements FilesService.ShareFile.
func (h *Handler) ShareFile(ctx context.Context, req *filesv1.ShareFileRequest) (*filesv1.ShareFileResponse, error) {
	s := req.GetShare()
	share := file.Share{UserID: s.GetUserId(), Role: s.GetRole(), Expires: s.GetExpiresAt().AsTime()}
	if s.GetExpiresAt() == nil {
		return nil, errs.BadRequest("rpc.ShareFile", errs.Violation{Field: "share.expires_at", Description: "is required"})
	}
	f, err := h.store.Update(ctx, principal(ctx), req.GetFileId(), stream.Shared, func(f *file.File, now time.Time) error {
		return f.AddShare(share, now)
	})
	if err != nil {
		return nil, err
	}
	return &filesv1.ShareFileResponse{File: toProto(f)}, nil
}

func ttl(field string, secs int64) (time.Duration, error) {
	switch {
	case secs == 0:
		return 15 * time.Minute, nil
	case secs < 0 || secs > 86400:
		return 0, errs.BadRequest("rpc.ttl", errs.Violation{Field: field, Description: "must be between 1 and 86400"})
	}
	return time.Duration(secs) * time.Second, nil
}

// CreatePresignedUpload implements FilesService.CreatePresignedUpload.
func (h *Handler) CreatePresignedUpload(ctx context.Context, req *filesv1.CreatePresignedUploadRequest) (*filesv1.CreatePresignedUploadResponse, error) {
	d, err := ttl("ttl_seconds", req.GetTtlSeconds())
	if err != nil {
		return nil, err
	}
	f, err := h.store.Create(ctx, principal(ctx), mongo.Meta{Name: req.GetName(), DeclaredType: req.GetContentType(), Labels: req.GetLabels()}, req.GetMaxSize())
	if err != nil {
		return nil, err
	}
	exp := h.now().Add(d).Truncate(time.Second)
	u := h.signer.URL(presign.Grant{Method: "PUT", FileID: f.ID, Expires: exp, MaxSize: req.GetMaxSize(), Store: req.GetStore()})
	return &filesv1.CreatePresignedUploadResponse{File: toProto(f), Url: u, ExpiresAt: timestamppb.New(exp)}, nil
}

// CreatePresignedDownload implements FilesService.CreatePresignedDownload.
func (h *Handler) CreatePresignedDownload(ctx context.Context, req *filesv1.CreatePresignedDownloadRequest) (*filesv1.CreatePresignedDownloadResponse, error) {
	d, err := ttl("ttl_seconds", req.GetTtlSeconds())
	if err != nil {
		return nil, err
	}
	f, err := h.store.Get(ctx, principal(ctx), req.GetFileId())
	if err != nil {
		return nil, err
	}
	if f.State != file.Stored {
		return nil, errs.Errorf("rpc.CreatePresignedDownload", errs.FailedPrecondition, "the file is %s", f.State)
	}
	exp := h.now().Add(d).Truncate(time.Second)
	u := h.signer.URL(presign.Grant{Method: "GET", FileID: f.ID, Expires: exp})
	return &filesv1.CreatePresignedDownloadResponse{Url: u, ExpiresAt: timestamppb.New(exp)}, nil
}
