package rule

// table is the rule table, in id order. Ids are stable; retired rules keep their id.
var table = []Rule{
	{
		ID:      "DP001",
		Summary: "name is `<domain>.<product>.v<major>` (lower-case domain, kebab-case product, major ≥ 1) and domain, product and major_version agree with it",
		Hint:    "name the product like `quality.clean-readings.v1` and set domain, product and major_version to its parts",
		check:   checkName,
	},
	{
		ID:      "DP002",
		Summary: "owner and contact are set",
		Hint:    "set owner to the owning team and contact to an email address or chat channel that reaches it",
		check:   checkOwnership,
	},
	{
		ID:      "DP003",
		Summary: "description is set and at least 20 characters (shorter is a warning)",
		Hint:    "say what the product holds and what it is for, in a sentence or two",
		check:   checkDescription,
	},
	{
		ID:      "DP004",
		Summary: "classification is set and at least as sensitive as the most sensitive field classification in the schema",
		Hint:    "set classification to PUBLIC, INTERNAL, CONFIDENTIAL or RESTRICTED, no lower than any (mesh.platform.v1.classification) or (mesh.platform.v1.message_classification) in the payload",
		check:   checkClassification,
	},
	{
		ID:      "DP005",
		Summary: "every payload field that can identify a person is marked `(mesh.platform.v1.pii) = true`, a product with PII is at least CONFIDENTIAL, and pii_fields (when given) lists exactly the marked fields",
		Hint:    "add `[(mesh.platform.v1.pii) = true]` to the field (or `= false` after review if it is not personal data), classify the product CONFIDENTIAL or RESTRICTED, and compute pii_fields with schema.Payload.PIIFields",
		check:   checkPII,
	},
	{
		ID:      "DP006",
		Summary: "freshness_objective is set and positive",
		Hint:    "set freshness_objective to how old the newest event may be while the producer is healthy, e.g. 1m",
		check:   checkFreshness,
	},
	{
		ID:      "DP007",
		Summary: "schema is present: a self-contained non-empty file_descriptor_set, a message_name resolvable in it, and schema_ref = `urn:meshwork:schema:<name>:<message_name>`",
		Hint:    "build the schema with schema.NewSchema(productID, (*pb.Msg)(nil).ProtoReflect().Descriptor()), which includes every imported file",
		check:   checkSchema,
	},
	{
		ID:      "DP008",
		Summary: "stream is a valid JetStream name and every subject is `dp.<domain>.<product>.v<major>.>` or lies under that prefix",
		Hint:    "set subjects to [\"dp.<domain>.<product>.v<major>.>\"] and give the stream a name without dots, wildcards, slashes or spaces",
		check:   checkSubjects,
	},
	{
		ID:      "DP009",
		Summary: "upstreams are valid product ids, not the product itself (duplicates are a warning)",
		Hint:    "list each product this one is derived from once, by its full id, e.g. `quality.clean-readings.v1`",
		check:   checkUpstreams,
	},
	{
		ID:      "DP010",
		Summary: "the payload message lives in a proto package ending in `.v<major>` of the product",
		Hint:    "declare a v1 product's payload in `mesh.<domain>.v1`, a v2 product's in `mesh.<domain>.v2`",
		check:   checkPayloadPackage,
	},
	{
		ID:       "DP011",
		Summary:  "a schema change that breaks consumers needs a new major version",
		Hint:     "make the change compatible (add fields, reserve removed numbers) or publish it as `<domain>.<product>.v<major+1>` side by side",
		Pairwise: true,
	},
}
