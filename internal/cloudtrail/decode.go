// Package cloudtrail decodes EventBridge-wrapped CloudTrail ECR records, and
// the events ECR sends EventBridge itself about repositories it fills on its
// own, into the facts ecr-guard decides on. It makes no AWS call.
//
// Decoding is strict where it decides and tolerant elsewhere. The members
// that decide (source and detail-type, eventName, errorCode, eventTime,
// awsRegion and recipientAccountId, the envelope's account and region, the
// repository's identity or the template's prefix, the requested mutability,
// and the tags or tag keys of TagResource and UntagResource) must be
// well-formed, or the event is rejected as malformed. Any other member of an
// unexpected type (a userAgent that is an object, CreateRepository tags given
// as a string, ...) is ignored, and Event.Warnings says so.
package cloudtrail

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

const (
	detailType  = "AWS API Call via CloudTrail"
	eventSource = "aws.ecr"
)

// serviceDetailTypes are the events ECR sends EventBridge itself that
// ecr-guard handles
// (https://docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-eventbridge.html).
// Each is about one image ECR pulled through its cache or replicated, into a
// repository it may just have created from a creation template, and says
// where the image came from. They are a second source, beside CloudTrail's
// CreateRepository by ecr.amazonaws.com (whose shape no real record
// confirms), for a repository ECR created mutable: the first event about it
// gets it fixed and reported, every later one finds it compliant and, asking
// for nothing, reports nothing. They come once per image brought in (a cached
// tag is checked upstream at most once a day), so each costs one read.
// "ECR Image Action" is not handled: ECR sends it for every push, delete and
// archive in every repository, it says nothing about how the repository came
// to be, and the repositories create-on-push makes arrive as CloudTrail's
// CreateRepository by ecr.amazonaws.com.
var serviceDetailTypes = []string{guard.EventPullThroughCacheAction, guard.EventReplicationAction}

var (
	// ErrMalformed marks an event that is not a readable CloudTrail ECR
	// record or event ECR sent itself.
	ErrMalformed = errors.New("malformed event")
	// ErrNotApplicable marks a well-formed event that asks for no action:
	// a failed call or an event ecr-guard does not handle.
	ErrNotApplicable = errors.New("event not applicable")
)

// Rejection says why an event was rejected; it wraps ErrMalformed or ErrNotApplicable.
type Rejection struct {
	ID      string // EventBridge envelope id, when readable
	EventID string // CloudTrail eventID, when readable
	Reason  string
	kind    error
}

func (r *Rejection) Error() string { return r.kind.Error() + ": " + r.Reason }
func (r *Rejection) Unwrap() error { return r.kind }

func rejection(kind error, id, eventID, format string, args ...any) *Rejection {
	return &Rejection{ID: id, EventID: eventID, Reason: fmt.Sprintf(format, args...), kind: kind}
}

// repositoryRef is the repository an event names, and where it came from.
type repositoryRef struct {
	name       string
	registryID string
	region     string // from an ARN; "" when the name came without one
}

// Decode turns raw EventBridge event JSON into an Event, or returns a *Rejection.
// Members it ignored are listed in the Event's Warnings. A template call's
// Event names the template (Template) and no repository.
func Decode(raw []byte) (guard.Event, error) {
	var env object
	if err := json.Unmarshal(raw, &env); err != nil {
		return guard.Event{}, &Rejection{ID: bestEffortID(raw), Reason: "not a JSON EventBridge event: " + err.Error(), kind: ErrMalformed}
	}
	d := &decoder{}
	id := d.text(env, "id")
	eventID := ""
	reject := func(kind error, format string, args ...any) (guard.Event, error) {
		return guard.Event{}, rejection(kind, id, eventID, format, args...)
	}
	malformed := func(err error) (guard.Event, error) { return reject(ErrMalformed, "%v", err) }

	source, err := strictText(env, "source")
	if err != nil {
		return malformed(err)
	}
	dtype, err := strictText(env, "detail-type")
	if err != nil {
		return malformed(err)
	}
	service := slices.Contains(serviceDetailTypes, dtype)
	if source != eventSource || dtype != detailType && !service {
		return reject(ErrMalformed, "source %q and detail-type %q are not %q and one of %q", source, dtype, eventSource,
			append([]string{detailType}, serviceDetailTypes...))
	}
	busAccount, err := accountID(env, "account")
	if err != nil {
		return malformed(err)
	}
	busRegion, err := strictText(env, "region")
	if err != nil {
		return malformed(err)
	}
	detail, err := strictObject(env, "detail")
	if err == nil && detail == nil {
		err = fmt.Errorf("detail is %s", kindOf(env.member("detail")))
	}
	if err != nil {
		if service {
			return reject(ErrMalformed, "detail is not the detail of an %s: %v", dtype, err)
		}
		return reject(ErrMalformed, "detail is not a CloudTrail record: %v", err)
	}
	if service {
		return d.serviceEvent(dtype, id, env, detail, busAccount, busRegion)
	}

	eventID = d.text(detail, "detail.eventID")
	errorCode, err := strictText(detail, "detail.errorCode")
	if err != nil {
		return malformed(err)
	}
	if errorCode != "" {
		return reject(ErrNotApplicable, "the call failed with %s, so nothing changed", errorCode)
	}
	name, err := strictText(detail, "detail.eventName")
	if err != nil {
		return malformed(err)
	}
	if !guard.IsHandled(name) {
		return reject(ErrNotApplicable, "eventName %q is not handled", name)
	}
	eventTime, err := strictText(detail, "detail.eventTime")
	if err != nil {
		return malformed(err)
	}
	when, err := time.Parse(time.RFC3339, eventTime)
	if err != nil {
		return reject(ErrMalformed, "eventTime %q is not an RFC 3339 time", eventTime)
	}
	region, err := strictText(detail, "detail.awsRegion")
	if err != nil {
		return malformed(err)
	}
	account, err := accountID(detail, "detail.recipientAccountId")
	if err != nil {
		return malformed(err)
	}
	req, err := strictObject(detail, "detail.requestParameters")
	if err != nil {
		return malformed(err)
	}

	var (
		repo     repositoryRef
		template string
		request  guard.Request
	)
	switch {
	case name == guard.EventCreateRepository:
		// AWS services (pull-through cache, replication, create-on-push)
		// create repositories with requestParameters null or holding only
		// the ARN: the response and the resources name it too.
		repo, err = d.createdRepository(req, detail)
	case req == nil && guard.IsTemplateEvent(name):
		return reject(ErrMalformed, "no requestParameters, so no template")
	case req == nil:
		return reject(ErrMalformed, "no requestParameters, so no repository")
	case guard.IsTemplateEvent(name):
		template, repo.registryID, request, err = d.templateCall(name, req, detail)
	case name == guard.EventTagResource, name == guard.EventUntagResource:
		repo, err = repositoryFromARN(req, "requestParameters.resourceArn")
	default:
		repo, err = repositoryFromName(req, "requestParameters")
		if err == nil && repo.name == "" {
			err = errors.New("no repository name in requestParameters")
		}
	}
	if err == nil && !guard.IsTemplateEvent(name) {
		request, err = d.request(name, req)
	}
	if err != nil {
		return malformed(err)
	}

	return guard.Event{
		ID:         id,
		EventID:    eventID,
		Name:       name,
		Time:       when,
		Region:     region,
		Account:    account,
		BusAccount: busAccount,
		BusRegion:  busRegion,
		SourceIP:   d.text(detail, "detail.sourceIPAddress"),
		UserAgent:  d.text(detail, "detail.userAgent"),
		Repository: repo.name,
		Template:   template,
		RegistryID: repo.registryID,
		// Where the repository is, as far as its ARN says: guard.Scope
		// decides whether that is where the function may act.
		RepositoryRegion: repo.region,
		Principal:        d.principal(detail),
		Request:          request,
		Warnings:         d.warnings,
	}, nil
}

// templateCall reads which repository creation template a template call
// was about (its prefix, which decides), in which registry (the response's
// registryId: the request has none), and what it asked for
// (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepositoryCreationTemplate.html,
// API_UpdateRepositoryCreationTemplate.html, API_DeleteRepositoryCreationTemplate.html).
// The requested mutability and its filters decide, as for a repository; the
// lifecycle policy, resourceTags and appliedFor only describe the call (the
// rules read the live template), so bad ones are ignored.
func (d *decoder) templateCall(name string, req, detail object) (prefix, registryID string, r guard.Request, err error) {
	if prefix, err = strictText(req, "requestParameters.prefix"); err == nil && prefix == "" {
		err = errors.New("no prefix in requestParameters")
	}
	if err != nil {
		return "", "", r, err
	}
	resp := d.object(detail, "detail.responseElements")
	if registryID, err = accountID(resp, "responseElements.registryId"); err != nil {
		return "", "", r, err
	}
	if name != guard.EventDeleteRepositoryCreationTemplate {
		if r.Mutability, r.ExclusionFilters, err = mutabilityOf(req); err != nil {
			return "", "", r, err
		}
		r.LifecyclePolicy = d.text(req, "requestParameters.lifecyclePolicy")
		tags, err := tagsOf(req, "requestParameters.resourceTags")
		if err != nil {
			d.warnings = append(d.warnings, err.Error()+": resourceTags ignored")
		}
		r.Tags = tags
	}
	// An update may leave appliedFor as it was, and a delete never names
	// it: the template in the response has it.
	if r.AppliedFor = d.strings(req, "requestParameters.appliedFor"); r.AppliedFor == nil {
		const path = "detail.responseElements.repositoryCreationTemplate"
		r.AppliedFor = d.strings(d.object(resp, path), path+".appliedFor")
	}
	return prefix, registryID, r, nil
}

// serviceEvent decodes an event ECR sent itself (serviceDetailTypes) about
// an image it brought into a repository. The envelope's account and region
// are the repository's: for a replication, the destination's, and
// detail.source-account and source-region say where the image came from (the
// documented example's region and resources are the destination's; that a
// cross-account replication's event goes to the destination account is
// inferred). Only a successful action is acted on: a failed one may have
// brought nothing.
func (d *decoder) serviceEvent(name, id string, env, detail object, busAccount, busRegion string) (guard.Event, error) {
	reject := func(kind error, format string, args ...any) (guard.Event, error) {
		return guard.Event{}, rejection(kind, id, "", format, args...)
	}
	statusPath := "detail.result"
	if name == guard.EventPullThroughCacheAction {
		statusPath = "detail.sync-status"
	}
	status, err := strictText(detail, statusPath)
	if err == nil && status == "" {
		err = fmt.Errorf("no %s", statusPath)
	}
	if err != nil {
		return reject(ErrMalformed, "%v", err)
	}
	if status != "SUCCESS" {
		reason := fmt.Sprintf("the %s did not succeed (%s %q", name, lastKey(statusPath), status)
		if code := d.text(detail, "detail.failure-code"); code != "" {
			reason += fmt.Sprintf(", failure-code %q", code)
		}
		return reject(ErrNotApplicable, "%s), so it brought nothing", reason)
	}
	if busAccount == "" || busRegion == "" {
		return reject(ErrMalformed, "the envelope does not say in which account and region ECR sent the event")
	}
	eventTime, err := strictText(env, "time")
	if err != nil {
		return reject(ErrMalformed, "%v", err)
	}
	when, err := time.Parse(time.RFC3339, eventTime)
	if err != nil {
		return reject(ErrMalformed, "time %q is not an RFC 3339 time", eventTime)
	}
	repo, err := serviceRepository(env, detail)
	if err != nil {
		return reject(ErrMalformed, "%v", err)
	}
	return guard.Event{
		ID:               id,
		Name:             name,
		Time:             when,
		Region:           busRegion,
		Account:          busAccount,
		BusAccount:       busAccount,
		BusRegion:        busRegion,
		RepositoryRegion: repo.region,
		Principal:        guard.Principal{Type: "AWSService", InvokedBy: "ecr.amazonaws.com"},
		Repository:       repo.name,
		RegistryID:       repo.registryID,
		Service: guard.ServiceAction{
			ImageTag:         d.text(detail, "detail.image-tag"),
			ImageDigest:      d.text(detail, "detail.image-digest"),
			UpstreamRegistry: d.text(detail, "detail.upstream-registry-url"),
			CacheRulePrefix:  d.text(detail, "detail.ecr-repository-prefix"),
			SourceAccount:    d.text(detail, "detail.source-account"),
			SourceRegion:     d.text(detail, "detail.source-region"),
		},
		Warnings: d.warnings,
	}, nil
}

// serviceRepository reads the repository a service event is about: its
// detail's repository-name, and the envelope's resources, which name it by
// ARN (and so say in which registry and region it is).
func serviceRepository(env, detail object) (repositoryRef, error) {
	name, err := strictText(detail, "detail.repository-name")
	if err == nil && name == "" {
		err = errors.New("no detail.repository-name")
	}
	if err != nil {
		return repositoryRef{}, err
	}
	resources, err := strictStrings(env, "resources")
	if err != nil {
		return repositoryRef{}, err
	}
	found := repositoryRef{name: name}
	for _, text := range resources {
		ref, err := parseRepositoryARN(text)
		if err != nil {
			continue // another kind of resource
		}
		if ref.name != name {
			return repositoryRef{}, fmt.Errorf("resources name repository %q, the detail names %q", ref.name, name)
		}
		if found.region != "" && (ref.registryID != found.registryID || ref.region != found.region) {
			return repositoryRef{}, fmt.Errorf("resources name repository %q in more than one registry or region", name)
		}
		found = ref
	}
	return found, nil
}

// createdRepository finds the repository a CreateRepository call created:
// in requestParameters (repositoryName, else repositoryArn), else in
// responseElements.repository, else in the record's resources.
func (d *decoder) createdRepository(req, detail object) (repositoryRef, error) {
	if ref, err := repositoryFromName(req, "requestParameters"); err != nil || ref.name != "" {
		return ref, err
	}
	if arnText, err := strictText(req, "requestParameters.repositoryArn"); err != nil || arnText != "" {
		if err != nil {
			return repositoryRef{}, err
		}
		return repositoryFromARN(req, "requestParameters.repositoryArn")
	}
	resp := d.object(detail, "detail.responseElements")
	if created := d.object(resp, "detail.responseElements.repository"); created != nil {
		const path = "responseElements.repository"
		byName, err := repositoryFromName(created, path)
		if err != nil {
			return repositoryRef{}, err
		}
		arnText, err := strictText(created, path+".repositoryArn")
		if err != nil {
			return repositoryRef{}, err
		}
		if arnText == "" {
			if byName.name != "" {
				return byName, nil
			}
		} else {
			byARN, err := repositoryFromARN(created, path+".repositoryArn")
			if err != nil {
				return repositoryRef{}, err
			}
			if byName.name != "" && byName.name != byARN.name {
				return repositoryRef{}, fmt.Errorf("%s names repository %q but its ARN names %q", path, byName.name, byARN.name)
			}
			if byName.registryID != "" && byName.registryID != byARN.registryID {
				return repositoryRef{}, fmt.Errorf("%s names registry %q but its ARN names %q", path, byName.registryID, byARN.registryID)
			}
			return byARN, nil
		}
	}
	var found repositoryRef
	for i, item := range d.list(detail, "detail.resources") {
		path := fmt.Sprintf("detail.resources[%d]", i)
		var res object
		if kindOf(item) != kindObject || json.Unmarshal(item, &res) != nil {
			d.ignore(path, kindObject, kindOf(item))
			continue
		}
		arnText := d.text(res, path+".ARN")
		ref, err := parseRepositoryARN(arnText)
		if err != nil {
			continue // another kind of resource, such as a KMS key
		}
		if found.name != "" && (found.name != ref.name || found.registryID != ref.registryID || found.region != ref.region) {
			return repositoryRef{}, fmt.Errorf("resources name more than one repository (%s and %s)", found.name, ref.name)
		}
		found = ref
	}
	if found.name == "" {
		return repositoryRef{}, errors.New("no repository name in requestParameters, responseElements.repository or resources")
	}
	return found, nil
}

// repositoryFromName reads repositoryName and registryId from o.
func repositoryFromName(o object, path string) (repositoryRef, error) {
	name, err := strictText(o, path+".repositoryName")
	if err != nil {
		return repositoryRef{}, err
	}
	registryID, err := accountID(o, path+".registryId")
	if err != nil {
		return repositoryRef{}, err
	}
	return repositoryRef{name: name, registryID: registryID}, nil
}

// repositoryFromARN reads the repository ARN at path.
func repositoryFromARN(o object, path string) (repositoryRef, error) {
	text, err := strictText(o, path)
	if err != nil {
		return repositoryRef{}, err
	}
	ref, err := parseRepositoryARN(text)
	if err != nil {
		return repositoryRef{}, fmt.Errorf("%s: %w", lastKey(path), err)
	}
	return ref, nil
}

// parseRepositoryARN reads arn:PARTITION:ecr:REGION:ACCOUNT:repository/NAME;
// NAME may itself contain "/".
func parseRepositoryARN(text string) (repositoryRef, error) {
	a, err := arn.Parse(text)
	if err != nil || a.Partition == "" || a.Service != "ecr" || a.Region == "" || a.AccountID == "" {
		return repositoryRef{}, fmt.Errorf("%q is not an ECR ARN", text)
	}
	name, ok := strings.CutPrefix(a.Resource, "repository/")
	if !ok || name == "" {
		return repositoryRef{}, fmt.Errorf("%q is not an ECR repository ARN", text)
	}
	return repositoryRef{name: name, registryID: a.AccountID, region: a.Region}, nil
}

// request reads what the call asked for, as far as the rules care. The
// requested mutability decides (OBSERVED, EXEMPT), and so do the tags of
// TagResource and the keys of UntagResource (exemption grants and removals);
// CreateRepository's tags are only shown in the notice (the exemption is
// read from the repository's live tags), so bad ones are ignored.
func (d *decoder) request(name string, req object) (guard.Request, error) {
	var r guard.Request
	var err error
	switch name {
	case guard.EventCreateRepository, guard.EventPutImageTagMutability:
		if r.Mutability, r.ExclusionFilters, err = mutabilityOf(req); err != nil {
			return r, err
		}
		if name == guard.EventCreateRepository {
			tags, err := tagsOf(req, "requestParameters.tags")
			if err != nil {
				d.warnings = append(d.warnings, err.Error()+": tags ignored")
			}
			r.Tags = tags
		}
	case guard.EventTagResource:
		if r.Tags, err = tagsOf(req, "requestParameters.tags"); err != nil {
			return r, err
		}
	case guard.EventUntagResource:
		if r.TagKeys, err = strictStrings(req, "requestParameters.tagKeys"); err != nil {
			return r, err
		}
	case guard.EventPutLifecyclePolicy:
		r.LifecyclePolicy = d.text(req, "requestParameters.lifecyclePolicyText")
	}
	return r, nil
}

// mutabilityOf reads the requested imageTagMutability and its exclusion
// filters, which decide.
func mutabilityOf(req object) (string, []string, error) {
	mutability, err := strictText(req, "requestParameters.imageTagMutability")
	if err != nil {
		return "", nil, err
	}
	items, err := strictObjects(req, "requestParameters.imageTagMutabilityExclusionFilters")
	if err != nil {
		return "", nil, err
	}
	var filters []string
	for i, f := range items {
		text, err := strictText(f, fmt.Sprintf("requestParameters.imageTagMutabilityExclusionFilters[%d].filter", i))
		if err != nil {
			return "", nil, err
		}
		filters = append(filters, text)
	}
	return mutability, filters, nil
}

// tagsOf reads the tags at path (requestParameters.tags, or a template's
// requestParameters.resourceTags): both the wire API's {"Key","Value"} and
// CloudTrail's {"key","value"} (member names match in any casing).
func tagsOf(req object, path string) ([]guard.Tag, error) {
	items, err := strictObjects(req, path)
	if err != nil || items == nil {
		return nil, err
	}
	tags := make([]guard.Tag, 0, len(items))
	for i, item := range items {
		itemPath := fmt.Sprintf("%s[%d]", path, i)
		key, err := strictText(item, itemPath+".key")
		if err != nil {
			return nil, err
		}
		value, err := strictText(item, itemPath+".value")
		if err != nil {
			return nil, err
		}
		tags = append(tags, guard.Tag{Key: key, Value: value})
	}
	return tags, nil
}

// principal reads who made the call. None of it decides except the session
// issuer (ecr-guard's own calls are skipped), and ignoring a malformed issuer
// only makes ecr-guard check a call it could have skipped.
func (d *decoder) principal(detail object) guard.Principal {
	const path = "detail.userIdentity"
	ui := d.object(detail, path)
	p := guard.Principal{
		Type:        d.text(ui, path+".type"),
		ARN:         d.text(ui, path+".arn"),
		AccountID:   d.text(ui, path+".accountId"),
		PrincipalID: d.text(ui, path+".principalId"),
		AccessKeyID: d.text(ui, path+".accessKeyId"),
		InvokedBy:   d.text(ui, path+".invokedBy"),
	}
	sc := d.object(ui, path+".sessionContext")
	p.IssuerARN = d.text(d.object(sc, path+".sessionContext.sessionIssuer"), path+".sessionContext.sessionIssuer.arn")
	p.MFAAuthenticated = d.boolean(d.object(sc, path+".sessionContext.attributes"), path+".sessionContext.attributes.mfaAuthenticated")
	p.SourceIdentity = d.text(sc, path+".sessionContext.sourceIdentity")
	if p.SourceIdentity == "" {
		p.SourceIdentity = d.text(ui, path+".sourceIdentity")
	}
	p.SessionName = sessionName(p.ARN)
	return p
}

// sessionName is the session of an assumed-role ARN
// (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION), which the caller chose.
func sessionName(text string) string {
	a, err := arn.Parse(text)
	if err != nil || a.Service != "sts" {
		return ""
	}
	rest, ok := strings.CutPrefix(a.Resource, "assumed-role/")
	if !ok {
		return ""
	}
	_, session, ok := strings.Cut(rest, "/")
	if !ok {
		return ""
	}
	return session
}

// bestEffortID finds the envelope id of an event that failed to decode as a
// whole, so even a broken event can be traced in the logs.
func bestEffortID(raw []byte) string {
	var probe struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return ""
	}
	var id string
	if json.Unmarshal(probe.ID, &id) != nil {
		return ""
	}
	return id
}
