package manifest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

// Object is one rendered document, decoded into its Kubernetes API type.
type Object struct {
	// Source is the template it came from (Helm's "# Source:" line), or "" if none.
	Source string
	// GVK is its apiVersion and kind.
	GVK schema.GroupVersionKind
	// Obj is the typed object, e.g. *appsv1.Deployment.
	Obj runtime.Object
}

// Name is the object's metadata.name.
func (o Object) Name() string {
	m, err := meta.Accessor(o.Obj)
	if err != nil {
		return ""
	}
	return m.GetName()
}

// strict decodes with unknown and duplicate fields as errors.
var strict = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// Validate splits a multi-document YAML stream and decodes every non-empty document strictly
// into the Kubernetes API type its apiVersion and kind name (client-go's scheme: the built-in
// types only). It fails on an unknown field, a duplicate field, a value of the wrong type, a
// kind the scheme does not know, and a metadata name, namespace or label that the API server
// would refuse. The error lists every bad document, each with its index and source template.
func Validate(stream []byte) ([]Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	var objs []Object
	var errs []error
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("manifest.Validate: document %d: %w", i, err)
		}
		src := source(doc)
		if empty(doc) {
			continue
		}
		o, err := decode(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d (%s): %w", i, or(src, "no source"), err))
			continue
		}
		o.Source = src
		objs = append(objs, o)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("manifest.Validate: %w", errors.Join(errs...))
	}
	return objs, nil
}

func decode(doc []byte) (Object, error) {
	obj, gvk, err := strict.Decode(doc, nil, nil)
	if err != nil {
		// A strict error comes with the decoded object; either way the document is refused.
		return Object{}, err
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return Object{}, fmt.Errorf("%s: no metadata: %w", gvk.Kind, err)
	}
	var problems []string
	if m.GetName() == "" {
		problems = append(problems, "metadata.name: required")
	}
	for _, p := range validation.IsDNS1123Subdomain(m.GetName()) {
		problems = append(problems, fmt.Sprintf("metadata.name %q: %s", m.GetName(), p))
	}
	if ns := m.GetNamespace(); ns != "" {
		for _, p := range validation.IsDNS1123Label(ns) {
			problems = append(problems, fmt.Sprintf("metadata.namespace %q: %s", ns, p))
		}
	}
	for k, v := range m.GetLabels() {
		for _, p := range validation.IsQualifiedName(k) {
			problems = append(problems, fmt.Sprintf("label key %q: %s", k, p))
		}
		for _, p := range validation.IsValidLabelValue(v) {
			problems = append(problems, fmt.Sprintf("label %s value %q: %s", k, v, p))
		}
	}
	if len(problems) > 0 {
		return Object{}, fmt.Errorf("%s %s: %s", gvk.Kind, m.GetName(), strings.Join(problems, "; "))
	}
	return Object{GVK: *gvk, Obj: obj}, nil
}

// source is the template named by Helm's "# Source: path" comment in doc.
func source(doc []byte) string {
	for _, line := range strings.Split(string(doc), "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "# Source:"); ok {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

// empty reports whether doc holds only comments and blank lines.
func empty(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		t := strings.TrimSpace(line)
		if t != "" && !strings.HasPrefix(t, "#") && t != "---" {
			return false
		}
	}
	return true
}
