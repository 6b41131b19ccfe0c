package web

import (
	"net/http"
	"net/http/httptest"

	"google.golang.org/protobuf/reflect/protoreflect"
)

func httptestRequest(target string) *http.Request {
	return httptest.NewRequest(http.MethodGet, target, nil)
}

func protoValue(s string) protoreflect.Value { return protoreflect.ValueOfString(s) }
