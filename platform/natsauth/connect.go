package natsauth

import (
	"log/slog"

	"github.com/nats-io/nats.go"
)

// Credentials is how a client proves who it is to the callout.
type Credentials struct {
	// Subject is the principal the token names (a service account's client id, a user id);
	// the connection's inbox prefix follows from it (InboxPrefix).
	Subject string
	// Token returns a current credential: a mesh access token (renewed by its source before it
	// expires), or identity's <id>:<password>. It is asked at every (re)connect.
	Token func() (string, error)
	// Streams are the streams a service manages, declared at connect (Declare).
	Streams []string
	// Log receives token failures; nil means slog.Default().
	Log *slog.Logger
}

// Options are the nats.Options that authenticate a connection with c: the token at every
// connect, the declared streams, and the principal's own inbox prefix.
func (c Credentials) Options() []nats.Option {
	log := c.Log
	if log == nil {
		log = slog.Default()
	}
	opts := []nats.Option{
		nats.TokenHandler(func() string {
			t, err := c.Token()
			if err != nil {
				// The server refuses the empty token; the client retries on its reconnect.
				log.Warn("nats: no access token", "principal", c.Subject, "err", err)
				return ""
			}
			return t
		}),
		nats.CustomInboxPrefix(InboxPrefix(c.Subject)),
	}
	if len(c.Streams) > 0 {
		opts = append(opts, nats.UserInfo(Declare(c.Streams...), ""))
	}
	return opts
}
