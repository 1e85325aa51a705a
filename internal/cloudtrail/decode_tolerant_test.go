package cloudtrail

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// edit returns the events/ sample with change applied to its envelope and
// detail (decoded as generic JSON; json.RawMessage values are kept as written).
func edit(t *testing.T, file string, change func(env, detail map[string]any)) []byte {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal(sample(t, file), &env); err != nil {
		t.Fatal(err)
	}
	detail, _ := env["detail"].(map[string]any)
	change(env, detail)
	raw, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func params(detail map[string]any) map[string]any {
	return detail["requestParameters"].(map[string]any)
}

func userIdentity(detail map[string]any) map[string]any {
	return detail["userIdentity"].(map[string]any)
}

func decodeOK(t *testing.T, raw []byte) guard.Event {
	t.Helper()
	e, err := Decode(raw)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return e
}

func wantRejection(t *testing.T, raw []byte, kind error, reason string) {
	t.Helper()
	_, err := Decode(raw)
	var rej *Rejection
	if !errors.As(err, &rej) || !errors.Is(err, kind) || !strings.Contains(rej.Reason, reason) {
		t.Fatalf("err = %v, want %v with a reason containing %q", err, kind, reason)
	}
	if rej.ID == "" {
		t.Errorf("the rejection lost the envelope id")
	}
}

// Members that do not decide may have any type: the event is still acted
// on, and the warning names what was ignored.
func TestDecodeIgnoresUnexpectedTypesWhereTheyDoNotDecide(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		change func(env, detail map[string]any)
		warn   string // "" when the value is accepted as it is
		check  func(t *testing.T, e guard.Event)
	}{
		{name: "registryId as a number", file: "put-image-tag-mutability-mutable.json",
			change: func(_, d map[string]any) { params(d)["registryId"] = json.RawMessage(`123456789012`) },
			check: func(t *testing.T, e guard.Event) {
				if e.RegistryID != "123456789012" {
					t.Errorf("registry = %q", e.RegistryID)
				}
			}},
		{name: "registryId as a number loses leading zeros, which are restored", file: "put-image-tag-mutability-mutable.json",
			change: func(env, d map[string]any) {
				params(d)["registryId"] = json.RawMessage(`12345678901`)
				d["recipientAccountId"] = "012345678901"
				env["account"] = "012345678901"
			},
			check: func(t *testing.T, e guard.Event) {
				if e.RegistryID != "012345678901" || e.Account != "012345678901" {
					t.Errorf("registry %q account %q", e.RegistryID, e.Account)
				}
			}},
		{name: "recipientAccountId and account as numbers", file: "tag-resource-adds-exemption.json",
			change: func(env, d map[string]any) {
				d["recipientAccountId"] = json.RawMessage(`123456789012`)
				env["account"] = json.RawMessage(`123456789012`)
			},
			check: func(t *testing.T, e guard.Event) {
				if e.Account != "123456789012" || e.BusAccount != "123456789012" {
					t.Errorf("account %q bus account %q", e.Account, e.BusAccount)
				}
			}},
		{name: "CreateRepository tags as a string", file: "create-repository-mutable-with-dev-tag.json",
			change: func(_, d map[string]any) { params(d)["tags"] = "environment=dev" },
			warn:   "requestParameters.tags is a string, not a list",
			check: func(t *testing.T, e guard.Event) {
				if e.Request.Tags != nil || e.Request.Mutability != guard.Mutable {
					t.Errorf("request %+v", e.Request)
				}
			}},
		{name: "CreateRepository tag value as a number", file: "create-repository-mutable-with-dev-tag.json",
			change: func(_, d map[string]any) {
				params(d)["tags"] = []any{map[string]any{"key": "cost-center", "value": json.RawMessage(`42`)}}
			},
			warn: "requestParameters.tags[0].value is a number"},
		{name: "userAgent as an object", file: "put-image-tag-mutability-mutable.json",
			change: func(_, d map[string]any) { d["userAgent"] = map[string]any{"name": "x"} },
			warn:   "detail.userAgent is an object, not a string",
			check: func(t *testing.T, e guard.Event) {
				if e.UserAgent != "" || e.SourceIP != "203.0.113.25" {
					t.Errorf("user agent %q source %q", e.UserAgent, e.SourceIP)
				}
			}},
		{name: "sourceIPAddress as a list", file: "put-image-tag-mutability-mutable.json",
			change: func(_, d map[string]any) { d["sourceIPAddress"] = []any{"203.0.113.25"} },
			warn:   "detail.sourceIPAddress is a list"},
		{name: "eventID as a number", file: "put-image-tag-mutability-mutable.json",
			change: func(_, d map[string]any) { d["eventID"] = json.RawMessage(`42`) },
			check: func(t *testing.T, e guard.Event) {
				if e.EventID != "42" {
					t.Errorf("eventID %q", e.EventID)
				}
			}},
		{name: "userIdentity as a string", file: "put-image-tag-mutability-mutable.json",
			change: func(_, d map[string]any) { d["userIdentity"] = "jane" },
			warn:   "detail.userIdentity is a string, not an object",
			check: func(t *testing.T, e guard.Event) {
				if e.Principal.ARN != "" || e.Principal.Type != "" {
					t.Errorf("principal %+v", e.Principal)
				}
			}},
		{name: "sessionIssuer as a number", file: "put-image-tag-mutability-mutable.json",
			change: func(_, d map[string]any) {
				userIdentity(d)["sessionContext"].(map[string]any)["sessionIssuer"] = json.RawMessage(`7`)
			},
			warn: "detail.userIdentity.sessionContext.sessionIssuer is a number",
			check: func(t *testing.T, e guard.Event) {
				if e.Principal.IssuerARN != "" || e.Principal.SessionName != "jane.doe@example.com" {
					t.Errorf("principal %+v", e.Principal)
				}
			}},
		{name: "mfaAuthenticated neither true nor false", file: "put-image-tag-mutability-mutable.json",
			change: func(_, d map[string]any) {
				userIdentity(d)["sessionContext"].(map[string]any)["attributes"].(map[string]any)["mfaAuthenticated"] = "maybe"
			},
			warn: "mfaAuthenticated is \"maybe\"",
			check: func(t *testing.T, e guard.Event) {
				if e.Principal.MFAAuthenticated != nil {
					t.Errorf("mfa %v", *e.Principal.MFAAuthenticated)
				}
			}},
		{name: "lifecyclePolicyText as an object", file: "put-lifecycle-policy.json",
			change: func(_, d map[string]any) { params(d)["lifecyclePolicyText"] = map[string]any{"rules": []any{}} },
			warn:   "requestParameters.lifecyclePolicyText is an object"},
		{name: "envelope id as a number", file: "put-image-tag-mutability-mutable.json",
			change: func(env, _ map[string]any) { env["id"] = json.RawMessage(`17`) },
			check: func(t *testing.T, e guard.Event) {
				if e.ID != "17" {
					t.Errorf("id %q", e.ID)
				}
			}},
		{name: "responseElements.createdAt is never read as a time", file: "create-repository-mutable.json",
			change: func(_, d map[string]any) {
				d["responseElements"].(map[string]any)["repository"].(map[string]any)["createdAt"] = "Jun 10, 2025, 2:10:02 PM"
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := decodeOK(t, edit(t, tt.file, tt.change))
			if e.Repository == "" || !guard.IsHandled(e.Name) {
				t.Fatalf("decoded %+v", e)
			}
			if tt.warn == "" && len(e.Warnings) != 0 {
				t.Errorf("warnings %q, want none", e.Warnings)
			}
			if tt.warn != "" && !slices.ContainsFunc(e.Warnings, func(w string) bool { return strings.Contains(w, tt.warn) }) {
				t.Errorf("warnings %q, want one containing %q", e.Warnings, tt.warn)
			}
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}
}

// The members that decide must be well-formed: a repository identity, a
// requested mutability or tag change of an unexpected type cannot be acted on.
func TestDecodeIsStrictWhereItDecides(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		change func(env, detail map[string]any)
		reason string
	}{
		{"TagResource tags as a string", "tag-resource-adds-exemption.json",
			func(_, d map[string]any) { params(d)["tags"] = "environment=dev" }, "requestParameters.tags is a string, not a list"},
		{"TagResource tag value as a number", "tag-resource-adds-exemption.json",
			func(_, d map[string]any) {
				params(d)["tags"] = []any{map[string]any{"key": "environment", "value": json.RawMessage(`1`)}}
			}, "requestParameters.tags[0].value is a number, not a string"},
		{"TagResource tag as a string", "tag-resource-adds-exemption.json",
			func(_, d map[string]any) { params(d)["tags"] = []any{"environment=dev"} }, "requestParameters.tags[0] is a string, not an object"},
		{"UntagResource tagKeys as a string", "untag-resource-removes-exemption.json",
			func(_, d map[string]any) { params(d)["tagKeys"] = "environment" }, "requestParameters.tagKeys is a string, not a list"},
		{"UntagResource tag key as a number", "untag-resource-removes-exemption.json",
			func(_, d map[string]any) { params(d)["tagKeys"] = []any{json.RawMessage(`3`)} }, "requestParameters.tagKeys[0] is a number"},
		{"imageTagMutability as a number", "put-image-tag-mutability-mutable.json",
			func(_, d map[string]any) { params(d)["imageTagMutability"] = json.RawMessage(`1`) }, "requestParameters.imageTagMutability is a number"},
		{"exclusion filters as an object", "put-image-tag-mutability-immutable-with-exclusion-allowed.json",
			func(_, d map[string]any) { params(d)["imageTagMutabilityExclusionFilters"] = map[string]any{} }, "imageTagMutabilityExclusionFilters is an object, not a list"},
		{"exclusion filter as a number", "put-image-tag-mutability-immutable-with-exclusion-allowed.json",
			func(_, d map[string]any) {
				params(d)["imageTagMutabilityExclusionFilters"] = []any{map[string]any{"filter": json.RawMessage(`5`)}}
			}, "imageTagMutabilityExclusionFilters[0].filter is a number"},
		{"CreateRepository mutability as a list", "create-repository-mutable.json",
			func(_, d map[string]any) { params(d)["imageTagMutability"] = []any{"MUTABLE"} }, "requestParameters.imageTagMutability is a list"},
		{"repositoryName as a number", "put-image-tag-mutability-mutable.json",
			func(_, d map[string]any) { params(d)["repositoryName"] = json.RawMessage(`5`) }, "requestParameters.repositoryName is a number"},
		{"registryId a fraction", "put-image-tag-mutability-mutable.json",
			func(_, d map[string]any) { params(d)["registryId"] = json.RawMessage(`1.23456789012e11`) }, "not a 12-digit account id"},
		{"registryId of 13 digits", "put-image-tag-mutability-mutable.json",
			func(_, d map[string]any) { params(d)["registryId"] = json.RawMessage(`1234567890123`) }, "not a 12-digit account id"},
		{"registryId as an object", "put-image-tag-mutability-mutable.json",
			func(_, d map[string]any) { params(d)["registryId"] = map[string]any{} }, "requestParameters.registryId is an object"},
		{"resourceArn as a number", "tag-resource-adds-exemption.json",
			func(_, d map[string]any) { params(d)["resourceArn"] = json.RawMessage(`5`) }, "requestParameters.resourceArn is a number"},
		{"requestParameters as a string", "put-image-tag-mutability-mutable.json",
			func(_, d map[string]any) { d["requestParameters"] = "team-b/api" }, "detail.requestParameters is a string, not an object"},
		{"eventName as a number", "put-image-tag-mutability-mutable.json",
			func(_, d map[string]any) { d["eventName"] = json.RawMessage(`5`) }, "detail.eventName is a number"},
		{"errorCode as an object", "put-image-tag-mutability-mutable.json",
			func(_, d map[string]any) { d["errorCode"] = map[string]any{"code": "AccessDenied"} }, "detail.errorCode is an object"},
		{"awsRegion as a number", "put-image-tag-mutability-mutable.json",
			func(_, d map[string]any) { d["awsRegion"] = json.RawMessage(`1`) }, "detail.awsRegion is a number"},
		{"recipientAccountId as a list", "put-image-tag-mutability-mutable.json",
			func(_, d map[string]any) { d["recipientAccountId"] = []any{"123456789012"} }, "detail.recipientAccountId is a list"},
		{"envelope region as a number", "put-image-tag-mutability-mutable.json",
			func(env, _ map[string]any) { env["region"] = json.RawMessage(`1`) }, "region is a number"},
		{"source as a number", "put-image-tag-mutability-mutable.json",
			func(env, _ map[string]any) { env["source"] = json.RawMessage(`1`) }, "source is a number"},
		{"detail null", "put-image-tag-mutability-mutable.json",
			func(env, _ map[string]any) { env["detail"] = nil }, "detail is not a CloudTrail record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantRejection(t, edit(t, tt.file, tt.change), ErrMalformed, tt.reason)
		})
	}
}

func TestDecodeEnvelopeAccountAndRegion(t *testing.T) {
	e := decodeOK(t, edit(t, "put-image-tag-mutability-mutable.json", func(env, _ map[string]any) {
		env["account"], env["region"] = "210987654321", "eu-west-1"
	}))
	if e.BusAccount != "210987654321" || e.BusRegion != "eu-west-1" || e.Account != "123456789012" || e.Region != "us-east-1" {
		t.Errorf("bus %s %s, call %s %s", e.BusAccount, e.BusRegion, e.Account, e.Region)
	}
}
