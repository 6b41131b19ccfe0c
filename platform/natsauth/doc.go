// Package natsauth makes every NATS connection of the mesh authenticate, with permissions the
// mesh computes: nats-server's auth callout asks a Callout about each connecting client, the
// Callout verifies the client's mesh access token against identity's key set and answers with
// a user JWT whose permissions follow from who the client is and which grants it holds
// (Permissions).
//
// Configure sets a server up (accounts, the static users of the callout, the governance
// service and the system account, and the callout itself); Connect opens a client connection
// the way every service does.
package natsauth
