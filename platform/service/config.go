package service

import (
	"encoding"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Config is the configuration every service shares, read from the environment by LoadConfig.
// Embed it in a service's own config struct.
type Config struct {
	// GRPCAddr is the gRPC listen address. It has no default: each service has its own port
	// (see Defaults); New refuses an empty one.
	GRPCAddr string `env:"GRPC_ADDR"`
	// HTTPAddr is the listen address for /healthz, /readyz, /metrics and the service's extras.
	// Like GRPCAddr it has no default.
	HTTPAddr string `env:"HTTP_ADDR"`
	// NATSURL is the NATS server (or comma-separated servers) to connect to.
	NATSURL string `env:"NATS_URL" default:"nats://127.0.0.1:4222"`
	// NATSReplicas is the replica count of the data product streams the service provisions
	// (1..5): 1 on a single server, 3 on `meshctl up --ha`'s cluster. LoadConfig hands it to
	// dataproduct.SetStreamReplicas.
	NATSReplicas int `env:"NATS_REPLICAS" default:"1"`
	// JWKSURL is identity's key set, used to verify callers' tokens.
	JWKSURL string `env:"JWKS_URL" default:"http://127.0.0.1:8001/.well-known/jwks.json"`
	// JWTIssuer is the issuer tokens must name.
	JWTIssuer string `env:"JWT_ISSUER" default:"meshwork-identity"`
	// JWTAudience is the audience tokens must include.
	JWTAudience string `env:"JWT_AUDIENCE" default:"meshwork"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `env:"LOG_LEVEL" default:"info"`
	// ShutdownTimeout bounds graceful shutdown: draining RPCs and the OnShutdown hooks.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" default:"10s"`
	// OTLPEndpoint, when set, exports traces over OTLP/gRPC (the other OTEL_* variables are
	// read by the exporter itself).
	OTLPEndpoint string `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
}

// Defaults returns a Config whose listen addresses are a service's own ports, e.g.
// Defaults(":7003", ":8003") for quality. Assign it before LoadConfig: the environment still
// overrides it, and LoadConfig fills every other field from its default.
func Defaults(grpcAddr, httpAddr string) Config {
	return Config{GRPCAddr: grpcAddr, HTTPAddr: httpAddr}
}

// ConfigProblem is one thing wrong with one environment variable.
type ConfigProblem struct {
	// Var is the environment variable's name.
	Var string
	// Problem says what is wrong, e.g. `"abc" is not host:port`.
	Problem string
}

// ConfigError lists every problem found in the environment. Its message is one line; Main
// prints it and exits with status 2.
type ConfigError struct {
	Problems []ConfigProblem
}

// Error returns e.g. `config: GRPC_ADDR: "abc" is not host:port; DATABASE_URL: required but not set`.
func (e *ConfigError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Var + ": " + p.Problem
	}
	return "config: " + strings.Join(parts, "; ")
}

func (e *ConfigError) add(name, format string, args ...any) {
	e.Problems = append(e.Problems, ConfigProblem{Var: name, Problem: fmt.Sprintf(format, args...)})
}

// LoadConfig fills the struct dst points to from getenv, and returns a *ConfigError naming
// every missing or malformed variable.
//
// A field is read when it has an `env:"NAME"` tag; `env:"NAME,required"` makes it required,
// and `default:"..."` gives the value to use when NAME is unset or empty. A field that already
// holds a non-zero value keeps it when NAME is unset (so Defaults wins over default tags).
// Embedded structs are read too. Supported types: string, bool, all integer and float types,
// time.Duration, []string (comma-separated), url.URL and *url.URL (absolute), and anything
// implementing encoding.TextUnmarshaler. Variables whose names end in _ADDR must be host:port.
//
// Values that fail to parse are quoted in the message, except URLs, which may hold passwords.
func LoadConfig(getenv func(string) string, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("service.LoadConfig: dst must be a non-nil pointer to a struct, not %T", dst)
	}
	var ce ConfigError
	if err := loadStruct(getenv, rv.Elem(), &ce); err != nil {
		return err
	}
	if len(ce.Problems) == 0 {
		applyReplicas(rv.Elem(), &ce)
	}
	if len(ce.Problems) > 0 {
		return &ce
	}
	return nil
}

func loadStruct(getenv func(string) string, v reflect.Value, ce *ConfigError) error {
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		tag, tagged := f.Tag.Lookup("env")
		if !tagged {
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				if err := loadStruct(getenv, fv, ce); err != nil {
					return err
				}
			}
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if !f.IsExported() || name == "" {
			return fmt.Errorf("service.LoadConfig: field %s: env tag needs an exported field and a name", f.Name)
		}
		raw, source := getenv(name), ""
		if raw == "" {
			def, hasDefault := f.Tag.Lookup("default")
			switch {
			case !fv.IsZero():
				continue // preset by the caller
			case hasDefault:
				raw, source = def, "default "
			case opts == "required":
				ce.add(name, "required but not set")
				continue
			default:
				continue
			}
		}
		problem, err := setField(fv, raw)
		if err != nil {
			return fmt.Errorf("service.LoadConfig: field %s (%s): %w", f.Name, name, err)
		}
		if problem == "" && strings.HasSuffix(name, "_ADDR") && fv.Kind() == reflect.String {
			problem = checkAddr(raw)
		}
		if problem != "" {
			ce.add(name, "%s%s", source, problem)
		}
	}
	return nil
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	urlType      = reflect.TypeFor[url.URL]()
	textType     = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// setField parses raw into fv. It returns a problem for a malformed value, or an error for a
// field type LoadConfig cannot fill (a bug in the caller).
func setField(fv reflect.Value, raw string) (problem string, err error) {
	switch {
	case fv.Type() == durationType:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Sprintf("%q is not a duration (like 10s or 1m30s)", raw), nil
		}
		fv.SetInt(int64(d))
		return "", nil
	case fv.Type() == urlType || (fv.Kind() == reflect.Pointer && fv.Type().Elem() == urlType):
		u, err := url.Parse(raw)
		if err != nil || u.Scheme == "" || u.Opaque != "" || (u.Host == "" && u.Path == "") {
			return "is not an absolute URL", nil
		}
		if fv.Kind() == reflect.Pointer {
			fv.Set(reflect.ValueOf(u))
		} else {
			fv.Set(reflect.ValueOf(*u))
		}
		return "", nil
	case reflect.PointerTo(fv.Type()).Implements(textType):
		if err := fv.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(raw)); err != nil {
			return fmt.Sprintf("%q is not valid: %v", raw, err), nil
		}
		return "", nil
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Sprintf("%q is not a boolean (true or false)", raw), nil
		}
		fv.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, fv.Type().Bits())
		if err != nil {
			return fmt.Sprintf("%q is not an integer", raw), nil
		}
		fv.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(raw, 10, fv.Type().Bits())
		if err != nil {
			return fmt.Sprintf("%q is not a non-negative integer", raw), nil
		}
		fv.SetUint(n)
	case reflect.Float32, reflect.Float64:
		x, err := strconv.ParseFloat(raw, fv.Type().Bits())
		if err != nil {
			return fmt.Sprintf("%q is not a number", raw), nil
		}
		fv.SetFloat(x)
	case reflect.Slice:
		if fv.Type().Elem().Kind() != reflect.String {
			return "", fmt.Errorf("unsupported type %s", fv.Type())
		}
		var items []string
		for s := range strings.SplitSeq(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		fv.Set(reflect.ValueOf(items).Convert(fv.Type()))
	default:
		return "", fmt.Errorf("unsupported type %s", fv.Type())
	}
	return "", nil
}

// checkAddr returns a problem unless addr is host:port with a numeric port (the host may be
// empty, meaning every interface).
func checkAddr(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("%q is not host:port", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Sprintf("%q is not host:port (port must be 0-65535)", addr)
	}
	return ""
}
