package localserver

import (
	"context"
	"io"
	"log/slog"
	"strings"
)

// ferretLogger returns FerretDB's logger. With a writer it logs at info level. Without one it
// logs warnings to stderr, except for client connections: FerretDB logs every error response
// it sends a client as a warning (MongoDB drivers routinely trigger some, such as
// endSessions), so per-connection loggers only pass errors.
func ferretLogger(w io.Writer, stderr io.Writer) *slog.Logger {
	if w != nil {
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	h := slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})
	return slog.New(&levelByName{Handler: h, min: slog.LevelWarn})
}

// levelByName raises the minimum level to Error for loggers named after a connection, which
// FerretDB names "// client -> server".
type levelByName struct {
	slog.Handler
	min slog.Level
}

// Enabled reports whether level reaches this logger's minimum.
func (h *levelByName) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= h.min && h.Handler.Enabled(ctx, level)
}

// WithAttrs keeps the minimum, raising it when the attributes name a connection logger.
func (h *levelByName) WithAttrs(attrs []slog.Attr) slog.Handler {
	min := h.min
	for _, a := range attrs {
		if a.Key == "name" && strings.HasPrefix(a.Value.String(), "// ") {
			min = slog.LevelError
		}
	}
	return &levelByName{Handler: h.Handler.WithAttrs(attrs), min: min}
}

// WithGroup keeps the minimum.
func (h *levelByName) WithGroup(name string) slog.Handler {
	return &levelByName{Handler: h.Handler.WithGroup(name), min: h.min}
}
