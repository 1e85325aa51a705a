// Package cloudtrail decodes EventBridge-wrapped CloudTrail ECR records into
// the facts ecr-guard decides on. It makes no AWS call.
package cloudtrail

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

const (
	detailType  = "AWS API Call via CloudTrail"
	eventSource = "aws.ecr"
)

var (
	// ErrMalformed marks an event that is not a readable CloudTrail ECR record.
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

type envelope struct {
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Detail     json.RawMessage `json:"detail"`
}

type record struct {
	EventID            string `json:"eventID"`
	EventName          string `json:"eventName"`
	EventTime          string `json:"eventTime"`
	AWSRegion          string `json:"awsRegion"`
	RecipientAccountID string `json:"recipientAccountId"`
	ErrorCode          string `json:"errorCode"`
	SourceIPAddress    string `json:"sourceIPAddress"`
	UserAgent          string `json:"userAgent"`
	UserIdentity       struct {
		Type           string `json:"type"`
		ARN            string `json:"arn"`
		AccountID      string `json:"accountId"`
		InvokedBy      string `json:"invokedBy"`
		SessionContext struct {
			SessionIssuer struct {
				ARN string `json:"arn"`
			} `json:"sessionIssuer"`
		} `json:"sessionContext"`
	} `json:"userIdentity"`
	RequestParameters *requestParameters `json:"requestParameters"`
}

type requestParameters struct {
	RepositoryName     string   `json:"repositoryName"`
	RegistryID         string   `json:"registryId"`
	ResourceARN        string   `json:"resourceArn"`
	ImageTagMutability string   `json:"imageTagMutability"`
	ExclusionFilters   []filter `json:"imageTagMutabilityExclusionFilters"`
	// encoding/json matches keys case-insensitively, so both the wire API's
	// {"Key","Value"} and CloudTrail's {"key","value"} decode here.
	Tags                []tag    `json:"tags"`
	TagKeys             []string `json:"tagKeys"`
	LifecyclePolicyText string   `json:"lifecyclePolicyText"`
}

type filter struct {
	Filter     string `json:"filter"`
	FilterType string `json:"filterType"`
}

type tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Decode turns raw EventBridge event JSON into an Event, or returns a *Rejection.
func Decode(raw []byte) (guard.Event, error) {
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return guard.Event{}, &Rejection{ID: bestEffortID(raw), Reason: "not a JSON EventBridge event: " + err.Error(), kind: ErrMalformed}
	}
	reject := func(kind error, eventID, format string, args ...any) (guard.Event, error) {
		return guard.Event{}, &Rejection{ID: env.ID, EventID: eventID, Reason: fmt.Sprintf(format, args...), kind: kind}
	}
	if env.Source != eventSource || env.DetailType != detailType {
		return reject(ErrMalformed, "", "source %q and detail-type %q are not %q and %q", env.Source, env.DetailType, eventSource, detailType)
	}
	var rec record
	if err := json.Unmarshal(env.Detail, &rec); err != nil {
		return reject(ErrMalformed, "", "detail is not a CloudTrail record: %v", err)
	}
	if rec.ErrorCode != "" {
		return reject(ErrNotApplicable, rec.EventID, "the call failed with %s, so nothing changed", rec.ErrorCode)
	}
	if !guard.IsHandled(rec.EventName) {
		return reject(ErrNotApplicable, rec.EventID, "eventName %q is not handled", rec.EventName)
	}
	when, err := time.Parse(time.RFC3339, rec.EventTime)
	if err != nil {
		return reject(ErrMalformed, rec.EventID, "eventTime %q is not an RFC 3339 time", rec.EventTime)
	}
	if rec.RequestParameters == nil {
		return reject(ErrMalformed, rec.EventID, "no requestParameters, so no repository")
	}
	req := rec.RequestParameters
	name, registryID := req.RepositoryName, req.RegistryID
	if rec.EventName == guard.EventTagResource || rec.EventName == guard.EventUntagResource {
		var region string
		name, region, registryID, err = parseRepositoryARN(req.ResourceARN)
		if err != nil {
			return reject(ErrMalformed, rec.EventID, "%v", err)
		}
		if rec.AWSRegion != "" && region != rec.AWSRegion {
			return reject(ErrNotApplicable, rec.EventID, "repository %s is in region %s, not %s where the call was made", name, region, rec.AWSRegion)
		}
	}
	if name == "" {
		return reject(ErrMalformed, rec.EventID, "no repository name in requestParameters")
	}
	// A call on another account's registry (cross-account access) is that
	// account's business: acting on it here would touch what these rules do
	// not cover.
	if registryID != "" && rec.RecipientAccountID != "" && registryID != rec.RecipientAccountID {
		return reject(ErrNotApplicable, rec.EventID, "repository %s is in registry %s, not in this account %s", name, registryID, rec.RecipientAccountID)
	}

	e := guard.Event{
		ID:         env.ID,
		EventID:    rec.EventID,
		Name:       rec.EventName,
		Time:       when,
		Region:     rec.AWSRegion,
		Account:    rec.RecipientAccountID,
		SourceIP:   rec.SourceIPAddress,
		UserAgent:  rec.UserAgent,
		Repository: name,
		RegistryID: registryID,
		Principal: guard.Principal{
			Type:      rec.UserIdentity.Type,
			ARN:       rec.UserIdentity.ARN,
			AccountID: rec.UserIdentity.AccountID,
			IssuerARN: rec.UserIdentity.SessionContext.SessionIssuer.ARN,
			InvokedBy: rec.UserIdentity.InvokedBy,
		},
		Request: guard.Request{
			Mutability:      req.ImageTagMutability,
			TagKeys:         req.TagKeys,
			LifecyclePolicy: req.LifecyclePolicyText,
		},
	}
	for _, f := range req.ExclusionFilters {
		e.Request.ExclusionFilters = append(e.Request.ExclusionFilters, f.Filter)
	}
	for _, t := range req.Tags {
		e.Request.Tags = append(e.Request.Tags, guard.Tag{Key: t.Key, Value: t.Value})
	}
	return e, nil
}

// parseRepositoryARN splits arn:PARTITION:ecr:REGION:ACCOUNT:repository/NAME;
// NAME may itself contain "/".
func parseRepositoryARN(arn string) (name, region, account string, err error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] != "ecr" || parts[3] == "" || parts[4] == "" {
		return "", "", "", fmt.Errorf("resourceArn %q is not an ECR ARN", arn)
	}
	name, ok := strings.CutPrefix(parts[5], "repository/")
	if !ok || name == "" {
		return "", "", "", fmt.Errorf("resourceArn %q is not an ECR repository ARN", arn)
	}
	return name, parts[3], parts[4], nil
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
