package guard

import (
	"errors"
	"time"
)

// ECR image tag mutability settings, as the ECR API spells them.
const (
	Mutable                = "MUTABLE"
	Immutable              = "IMMUTABLE"
	ImmutableWithExclusion = "IMMUTABLE_WITH_EXCLUSION"
	MutableWithExclusion   = "MUTABLE_WITH_EXCLUSION"
)

// Tag is a repository tag.
type Tag struct {
	Key   string
	Value string
}

// Repository is the live state of one repository, as read from ECR.
type Repository struct {
	Name             string
	ARN              string
	RegistryID       string
	Mutability       string
	ExclusionFilters []string
	// CreatedAt is when this incarnation of the repository was created
	// (zero when unknown): an event older than it was about a deleted
	// repository of the same name.
	CreatedAt time.Time
	// Tags is nil when the tags were not read.
	Tags      []Tag
	Lifecycle Lifecycle
}

// Lifecycle is a repository's lifecycle policy as read from ECR.
type Lifecycle struct {
	Exists bool
	Text   string
}

// MutabilitySetting is what PutImageTagMutability writes.
type MutabilitySetting struct {
	Mutability       string
	ExclusionFilters []string
}

// Event holds the facts of one CloudTrail record that ecr-guard acts on.
// The event only says which repository to look at, who changed it and what
// they asked for; decisions come from the live Repository.
type Event struct {
	ID         string // EventBridge envelope id
	EventID    string // CloudTrail eventID ("" for an event ECR sent itself)
	Name       string // CloudTrail eventName, or the detail-type of an event ECR sent itself
	Time       time.Time
	Region     string // awsRegion (the envelope's region for an event ECR sent itself)
	Account    string // recipientAccountId (the envelope's account for an event ECR sent itself)
	BusAccount string // the EventBridge envelope's account
	BusRegion  string // the EventBridge envelope's region
	// RepositoryRegion is the region of the repository's ARN, when the event
	// named the repository by ARN.
	RepositoryRegion string
	ErrorCode        string
	Principal        Principal
	SourceIP         string
	UserAgent        string
	Repository       string
	// Template is the prefix of the repository creation template a template
	// call (IsTemplateEvent) was about; Repository is then "".
	Template   string
	RegistryID string
	Request    Request
	// Service is what an event ECR sent itself (EventPullThroughCacheAction,
	// EventReplicationAction) says about the image it brought into the
	// repository; zero for a CloudTrail record.
	Service ServiceAction
	// Warnings name the members of the record the decoder ignored because
	// they had an unexpected type; none of them decides.
	Warnings []string
}

// ServiceAction is the image ECR pulled through its cache or replicated
// into a repository, and where it came from. Each field is "" when the event
// does not give it.
type ServiceAction struct {
	ImageTag    string
	ImageDigest string
	// UpstreamRegistry is the registry a pull through cache rule pulled
	// from (upstream-registry-url); CacheRulePrefix is that rule's
	// ecr-repository-prefix, which AWS recommends as the prefix of the
	// template for the repositories it creates.
	UpstreamRegistry string
	CacheRulePrefix  string
	// SourceAccount and SourceRegion are the registry a replication copied
	// the image from.
	SourceAccount string
	SourceRegion  string
}

// Principal is who made the call (CloudTrail's userIdentity).
type Principal struct {
	Type      string
	ARN       string
	AccountID string
	IssuerARN string // sessionContext.sessionIssuer.arn for assumed roles
	InvokedBy string // the AWS service that made the call for the principal, e.g. ecr.amazonaws.com
	// PrincipalID and AccessKeyID identify the credentials used.
	PrincipalID string
	AccessKeyID string
	// SessionName is the session of an assumed role (the last element of
	// its ARN): the caller chooses it, so it identifies nobody on its own.
	SessionName string
	// SourceIdentity is sessionContext.sourceIdentity, set when the role
	// was assumed: it survives role chaining.
	SourceIdentity string
	// MFAAuthenticated is sessionContext.attributes.mfaAuthenticated; nil
	// when the record does not say.
	MFAAuthenticated *bool
}

// Request is what the call asked for, as far as the rules care.
type Request struct {
	Mutability       string // PutImageTagMutability, CreateRepository ("" = not given)
	ExclusionFilters []string
	Tags             []Tag    // TagResource, CreateRepository; a template call's resourceTags
	TagKeys          []string // UntagResource
	LifecyclePolicy  string   // PutLifecyclePolicy, template calls
	// AppliedFor is a template call's appliedFor.
	AppliedFor []string
}

// ErrRepositoryNotFound means the repository no longer exists; adapters
// return it (wrapped) so callers need not know the ECR error types.
var ErrRepositoryNotFound = errors.New("repository not found")

// PushedImages are the images pushed since the change that made tags
// mutable: any of them may have overwritten a trusted tag.
type PushedImages struct {
	Since     time.Time
	Images    []Image
	Truncated bool
	Error     string // the listing failed
}

// Image is an image in a repository, listed for incident response.
type Image struct {
	Digest   string
	Tags     []string
	PushedAt time.Time
}
