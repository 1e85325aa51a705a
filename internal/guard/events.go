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

	EventCreateRepositoryCreationTemplate = "CreateRepositoryCreationTemplate"
	EventUpdateRepositoryCreationTemplate = "UpdateRepositoryCreationTemplate"
	EventDeleteRepositoryCreationTemplate = "DeleteRepositoryCreationTemplate"
)

// EventBridge events ECR itself sends (their detail-type, which
// Event.Name then holds) about a repository it created or filled on its own:
// they carry no CloudTrail record and no caller, ECR is who acted.
const (
	EventPullThroughCacheAction = "ECR Pull Through Cache Action"
	EventReplicationAction      = "ECR Replication Action"
)

// HandledEventNames lists the handled events in a stable order.
var HandledEventNames = []string{
	EventCreateRepository,
	EventPutImageTagMutability,
	EventPutLifecyclePolicy,
	EventDeleteLifecyclePolicy,
	EventTagResource,
	EventUntagResource,
	EventCreateRepositoryCreationTemplate,
	EventUpdateRepositoryCreationTemplate,
	EventDeleteRepositoryCreationTemplate,
}

// IsTemplateEvent reports whether eventName is a call on a repository
// creation template.
func IsTemplateEvent(eventName string) bool {
	switch eventName {
	case EventCreateRepositoryCreationTemplate, EventUpdateRepositoryCreationTemplate, EventDeleteRepositoryCreationTemplate:
		return true
	}
	return false
}
