package guard

// Event names ecr-guard handles. template.yaml's EventBridge pattern must list
// exactly these (a test checks it), so the two cannot drift apart.
const (
	EventCreateRepository      = "CreateRepository"
	EventPutImageTagMutability = "PutImageTagMutability"
	EventPutLifecyclePolicy    = "PutLifecyclePolicy"
	EventDeleteLifecyclePolicy = "DeleteLifecyclePolicy"
	EventTagResource           = "TagResource"
	EventUntagResource         = "UntagResource"
)

// HandledEventNames lists the handled events in a stable order.
var HandledEventNames = []string{
	EventCreateRepository,
	EventPutImageTagMutability,
	EventPutLifecyclePolicy,
	EventDeleteLifecyclePolicy,
	EventTagResource,
	EventUntagResource,
}
