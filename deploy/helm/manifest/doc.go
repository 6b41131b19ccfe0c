// Package manifest renders a Helm chart the way `helm template` does, through the Helm SDK
// and with no cluster, and checks every rendered object strictly against the Kubernetes API
// types: unknown fields, duplicate fields, wrong types and kinds the API does not know are
// errors, each naming the document and the template it came from.
package manifest
