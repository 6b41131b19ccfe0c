package rpc

import (
	"strings"
	"time"

	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/rule"
	"meshwork.dev/platform/catalog"
)

func findings(fs []rule.Finding) []*platformv1.Finding {
	out := make([]*platformv1.Finding, len(fs))
	for i, f := range fs {
		out[i] = &platformv1.Finding{RuleId: f.RuleID, Field: f.Field, Message: f.Message, Hint: f.Hint}
	}
	return out
}

func filter(f *platformv1.ProductFilter) catalog.Filter {
	out := catalog.Filter{Domain: f.GetDomain(), Owner: f.GetOwner(), Classification: f.GetClassification()}
	if f != nil && f.HasPii != nil {
		pii := *f.HasPii
		out.HasPII = &pii
	}
	return out
}

func summaries(ss []catalog.Summary) []*platformv1.ProductSummary {
	out := make([]*platformv1.ProductSummary, len(ss))
	for i, s := range ss {
		out[i] = &platformv1.ProductSummary{
			Name: s.Name, Domain: s.Domain, Owner: s.Owner, Description: s.Description,
			Classification: s.Classification, HasPii: s.HasPII, Tags: s.Tags, MessageName: s.MessageName,
			Revision: s.Revision, UpdatedAt: timestamp(s.UpdatedAt),
		}
	}
	return out
}

// timestamp converts t, leaving a zero time unset.
func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

var freshnessStates = map[catalog.FreshnessState]platformv1.FreshnessState{
	catalog.Unknown: platformv1.FreshnessState_FRESHNESS_STATE_UNKNOWN,
	catalog.Fresh:   platformv1.FreshnessState_FRESHNESS_STATE_FRESH,
	catalog.Stale:   platformv1.FreshnessState_FRESHNESS_STATE_STALE,
	catalog.Empty:   platformv1.FreshnessState_FRESHNESS_STATE_EMPTY,
}

func observed(o catalog.Observed, f catalog.Freshness) *platformv1.ObservedState {
	out := &platformv1.ObservedState{
		StreamExists:    o.StreamExists,
		Messages:        o.Messages,
		Bytes:           o.Bytes,
		FirstSequence:   o.FirstSeq,
		LastSequence:    o.LastSeq,
		LastMessageTime: timestamp(o.LastTime),
		Freshness:       &platformv1.Freshness{State: freshnessStates[f.State]},
		ObservedAt:      timestamp(o.At),
	}
	if f.State == catalog.Fresh || f.State == catalog.Stale {
		out.Freshness.Age = durationpb.New(f.Age)
	}
	if f.Objective > 0 {
		out.Freshness.Objective = durationpb.New(f.Objective)
	}
	for _, c := range o.Consumers {
		out.Consumers = append(out.Consumers, &platformv1.ConsumerState{
			Name: c.Name, ConsumerDomain: c.Domain, FilterSubjects: c.FilterSubjects,
			NumPending: c.NumPending, NumAckPending: c.NumAckPending, NumRedelivered: c.NumRedelivered,
			LastActive: timestamp(c.LastActive),
		})
	}
	for _, v := range o.Violations {
		out.RuleViolations = append(out.RuleViolations, &platformv1.RuleViolationCount{
			RuleId: v.Rule, Side: v.Side, Reporter: v.Reporter, Count: v.Count,
		})
	}
	return out
}

var (
	nodeKinds = map[catalog.NodeKind]platformv1.LineageNodeKind{
		catalog.ProductNode: platformv1.LineageNodeKind_LINEAGE_NODE_KIND_PRODUCT,
		catalog.DomainNode:  platformv1.LineageNodeKind_LINEAGE_NODE_KIND_DOMAIN,
	}
	edgeStatuses = map[catalog.EdgeStatus]platformv1.LineageEdgeStatus{
		catalog.Confirmed:    platformv1.LineageEdgeStatus_LINEAGE_EDGE_STATUS_CONFIRMED,
		catalog.DeclaredOnly: platformv1.LineageEdgeStatus_LINEAGE_EDGE_STATUS_DECLARED_ONLY,
		catalog.ObservedOnly: platformv1.LineageEdgeStatus_LINEAGE_EDGE_STATUS_OBSERVED_ONLY,
	}
)

func lineage(g catalog.Graph) *platformv1.GetLineageResponse {
	out := &platformv1.GetLineageResponse{}
	for _, n := range g.Nodes {
		out.Nodes = append(out.Nodes, &platformv1.LineageNode{Id: n.ID, Kind: nodeKinds[n.Kind], Name: n.Name})
	}
	for _, e := range g.Edges {
		out.Edges = append(out.Edges, &platformv1.LineageEdge{From: e.From, To: e.To, Status: edgeStatuses[e.Status]})
	}
	return out
}

// declares reports whether a file of package pkg with top-level messages msgs declares the
// message called full (possibly nested).
func declares(pkg string, msgs []*descriptorpb.DescriptorProto, full string) bool {
	prefix := ""
	if pkg != "" {
		prefix = pkg + "."
	}
	rest, ok := strings.CutPrefix(full, prefix)
	if !ok {
		return false
	}
	top, _, _ := strings.Cut(rest, ".")
	for _, m := range msgs {
		if m.GetName() == top {
			return true
		}
	}
	return false
}
