// Package launcher runs the whole mesh on one machine without Docker: it is what `meshctl up`
// (and so `make run`) does.
//
// Run starts, in order:
//
//  1. the infrastructure, with its data kept in a directory (.mesh by default) so that it
//     survives restarts: NATS with JetStream and MQTT and FerretDB (both inside this process),
//     Postgres and Redis (child processes from the machine's Debian packages), on the
//     non-default ports of DefaultPorts. Postgres gets one database per owner (Databases) and
//     Redis its append-only file. Their logs go to <dir>/logs/*.log and every URL to
//     <dir>/endpoints.json (mode 0644, so without passwords). With Options.HA NATS is a
//     three-node cluster instead (docs/adr/0006-nats-durability.md): one child process per
//     node (`meshctl nats-node --name nats-N`, RunNATSNode), started before the catalog,
//     supervised like every child and waited for until each node's /healthz answers 200
//     (JetStream current with a meta leader); every process gets NATS_URL naming the three
//     nodes and NATS_REPLICAS=3;
//  2. the catalog, and waits until its HTTP /readyz answers 200;
//  3. identity, if its binary exists, and waits for it. Then, on first start, it bootstraps the
//     first admin with `identity bootstrap-admin` and writes its dev credentials to
//     <dir>/admin.json, and makes sure every service and simulator with Account set has a
//     service account (`identity create-service-account`, kept in <dir>/service-accounts.json);
//  4. every other service of the mesh's table (Services) whose binary exists, and waits for all
//     of them; a missing binary is skipped with a note, since domains arrive one by one;
//  5. the simulators, unless NoSim.
//
// With Options.Replicas N above 1 every service but the catalog runs N times (see
// ReplicaPortStep for the replicas' ports; each gets REPLICA=r); a stage's replicas start
// together (migrations and stream provisioning are safe side by side) and the next stage
// waits until all of them are ready. endpoints.json lists every
// process (Endpoints.Processes) with its pid, rewritten when one restarts.
//
// Then it prints one line starting with "mesh ready", the endpoints and example commands, and
// supervises until its context is cancelled.
//
// Children are configured through the environment only, with the names the architecture fixes
// (GRPC_ADDR, HTTP_ADDR, NATS_URL, DATABASE_URL, REDIS_URL, MONGODB_URI, CATALOG_ADDR,
// IDENTITY_ADDR, JWKS_URL, OTEL_SERVICE_NAME) plus PATH and HOME; nothing else of the launcher's
// environment leaks into them. Secrets go only to the process they belong to: the variables a
// service lists in Secrets (identity's KEY_ENCRYPTION_KEY), generated on first start as base64 of
// 32 random bytes and kept in <dir>/secrets.json, and SERVICE_CLIENT_ID and
// SERVICE_CLIENT_SECRET to each process with a service account. The files holding secrets are
// mode 0600; deleting <dir> starts a mesh afresh. Each line a child writes is copied to the
// launcher's output with the child's name in front ("[quality]    ..."); the launcher's own
// lines start with "[mesh]".
//
// Supervision: a child that exits after start-up is reported and restarted after a backoff
// (1 s, doubling), at most Options.MaxRestarts times in a row; a child that ran for a minute
// before dying starts a fresh count. When a child exhausts its restarts the launcher stops the
// whole mesh and Run returns an *ExitError, so a broken service is never silently missing.
// A child that exits during start-up fails Run at once with an *ExitError holding its last lines.
//
// Stopping (Run's context cancelled): SIGTERM goes to the simulators, then the domain services,
// then the catalog, each group waited for (up to its share of the time left, so that one stuck
// child cannot deny the catalog its graceful stop) before the next; whatever still runs when
// Options.StopTimeout (8 s) has passed since the stop began is killed; the --ha NATS nodes,
// started first, are the last group. Then Redis, Postgres and FerretDB stop side by side, then
// the single NATS server, within 4 s more. Children run in their own process group, so a Ctrl-C in the terminal
// reaches them only through the launcher, and have a parent-death signal (Linux), so a killed
// launcher leaves no orphans.
//
// No store trusts its clients. Postgres (its superuser postgres, SCRAM-SHA-256 on the socket and
// 127.0.0.1) and Redis (requirepass) get passwords generated on first start and kept under
// "stores" in <dir>/secrets.json; the services get them in DATABASE_URL and REDIS_URL. A .mesh
// from before passwords is switched over on its next start. FerretDB v1, embedded, has no
// authentication of its own (its SCRAM support is an experimental flag of its command, not of
// the embedded API), so it listens on no TCP port at all, only on the Unix socket
// <dir>/run/ferretdb.sock in a 0700 directory: only the launcher's OS user (and root) can
// connect. When that path is too long for a socket it is under the temporary directory instead.
//
// As root, Postgres runs as the postgres OS user, which must be able to enter every directory
// above its data directory. When it cannot (a clone under /root, mode 0700) the launcher does
// not change the modes of the user's directories: it keeps the Postgres data under
// /var/tmp/meshwork-<hash of the absolute dir>/postgres instead, says so, and finds it again on
// the next run.
package launcher
