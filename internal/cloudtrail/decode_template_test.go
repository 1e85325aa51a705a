package cloudtrail

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// The template samples (events/*-repository-creation-template*.json) are
// real-shaped, not recorded. Verified: the request members and their names
// (prefix, appliedFor, imageTagMutability, imageTagMutabilityExclusionFilters
// [{filter, filterType}], lifecyclePolicy, resourceTags, description,
// encryptionConfiguration; Delete takes only prefix) and the response
// (registryId, repositoryCreationTemplate) from the API reference,
// https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepositoryCreationTemplate.html
// (and API_UpdateRepositoryCreationTemplate, API_DeleteRepositoryCreationTemplate)
// and the Go SDK's model; the CloudTrail envelope as for every other ECR call.
// Inferred, no real record seen: that CloudTrail copies the request members
// into requestParameters under these names, the resourceTags spelled
// {"key","value"} (both casings are accepted), responseElements times as
// display strings, and no resources list (a template has no ARN).
func TestDecodeTemplateCalls(t *testing.T) {
	tests := []struct {
		file, name, prefix string
		mutability         string
		filters            []string
		tags               []guard.Tag
		appliedFor         []string
		lifecycle          bool
		issuer             string
	}{
		{file: "create-repository-creation-template-mutable.json", name: guard.EventCreateRepositoryCreationTemplate, prefix: "prod",
			mutability: guard.Mutable, appliedFor: []string{"REPLICATION", "CREATE_ON_PUSH"}, lifecycle: true,
			issuer: "arn:aws:iam::123456789012:role/AWSReservedSSO_AdministratorAccess_0123456789abcdef"},
		// appliedFor left out of the update: taken from the response's template.
		{file: "update-repository-creation-template-disallowed-filter.json", name: guard.EventUpdateRepositoryCreationTemplate, prefix: "prod",
			mutability: guard.ImmutableWithExclusion, filters: []string{"latest", "release-*"}, appliedFor: []string{"REPLICATION", "CREATE_ON_PUSH"},
			lifecycle: true, issuer: "arn:aws:iam::123456789012:role/platform-terraform"},
		{file: "create-repository-creation-template-exempt.json", name: guard.EventCreateRepositoryCreationTemplate, prefix: "dev",
			mutability: guard.Mutable, tags: []guard.Tag{{Key: "environment", Value: "dev"}, {Key: "owner", Value: "team-c"}},
			appliedFor: []string{"CREATE_ON_PUSH"}, lifecycle: true, issuer: "arn:aws:iam::123456789012:role/platform-terraform"},
		{file: "create-repository-creation-template-pull-through-cache.json", name: guard.EventCreateRepositoryCreationTemplate, prefix: "docker-hub",
			mutability: guard.ImmutableWithExclusion, filters: []string{"latest"}, appliedFor: []string{"PULL_THROUGH_CACHE"}, lifecycle: true,
			issuer: "arn:aws:iam::123456789012:role/platform-terraform"},
		// A delete asks for nothing; appliedFor is the deleted template's.
		{file: "delete-repository-creation-template.json", name: guard.EventDeleteRepositoryCreationTemplate, prefix: "prod",
			appliedFor: []string{"REPLICATION", "CREATE_ON_PUSH"}},
		{file: "delete-repository-creation-template-root.json", name: guard.EventDeleteRepositoryCreationTemplate, prefix: guard.RootPrefix,
			appliedFor: []string{"REPLICATION", "PULL_THROUGH_CACHE"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			e := decodeOK(t, sample(t, tt.file))
			if e.Name != tt.name || e.Template != tt.prefix || e.Repository != "" || e.RegistryID != "123456789012" || e.RepositoryRegion != "" ||
				e.Region != "us-east-1" || e.Account != "123456789012" || e.ID == "" || e.EventID == "" || e.Time.IsZero() {
				t.Errorf("decoded %+v", e)
			}
			r := e.Request
			if r.Mutability != tt.mutability || !slices.Equal(r.ExclusionFilters, tt.filters) || !slices.Equal(r.Tags, tt.tags) ||
				!slices.Equal(r.AppliedFor, tt.appliedFor) || (r.LifecyclePolicy != "") != tt.lifecycle {
				t.Errorf("request %+v", r)
			}
			if tt.lifecycle && !strings.Contains(r.LifecyclePolicy, `"rulePriority":2`) {
				t.Errorf("lifecycle policy %q", r.LifecyclePolicy)
			}
			if tt.issuer != "" && e.Principal.IssuerARN != tt.issuer {
				t.Errorf("issuer %q", e.Principal.IssuerARN)
			}
			if len(e.Warnings) != 0 {
				t.Errorf("warnings %q", e.Warnings)
			}
			if got := sampleScope.OutOfScope(e); got != "" {
				t.Errorf("out of scope: %s", got)
			}
		})
	}
}

// The prefix says which template, the requested mutability what it was
// made: they must be well-formed. What only describes the call may be of
// any type, with a warning.
func TestDecodeTemplateCallMembers(t *testing.T) {
	const create, del = "create-repository-creation-template-exempt.json", "delete-repository-creation-template.json"
	const update = "update-repository-creation-template-disallowed-filter.json"
	template := func(d map[string]any) map[string]any {
		return d["responseElements"].(map[string]any)["repositoryCreationTemplate"].(map[string]any)
	}
	t.Run("malformed", func(t *testing.T) {
		for _, tt := range []struct {
			name, file string
			change     func(env, detail map[string]any)
			reason     string
		}{
			{"no prefix", create, func(_, d map[string]any) { delete(params(d), "prefix") }, "no prefix in requestParameters"},
			{"empty prefix", del, func(_, d map[string]any) { params(d)["prefix"] = "" }, "no prefix in requestParameters"},
			{"prefix as a number", del, func(_, d map[string]any) { params(d)["prefix"] = json.RawMessage(`7`) }, "requestParameters.prefix is a number"},
			{"prefix as a list", create, func(_, d map[string]any) { params(d)["prefix"] = []any{"dev"} }, "requestParameters.prefix is a list"},
			{"no requestParameters", del, func(_, d map[string]any) { d["requestParameters"] = nil }, "no requestParameters, so no template"},
			{"requestParameters as a string", create, func(_, d map[string]any) { d["requestParameters"] = "dev" }, "detail.requestParameters is a string"},
			{"imageTagMutability as a number", create, func(_, d map[string]any) { params(d)["imageTagMutability"] = json.RawMessage(`0`) },
				"requestParameters.imageTagMutability is a number"},
			{"exclusion filters as an object", update, func(_, d map[string]any) { params(d)["imageTagMutabilityExclusionFilters"] = map[string]any{} },
				"imageTagMutabilityExclusionFilters is an object, not a list"},
			{"exclusion filter as a number", update, func(_, d map[string]any) {
				params(d)["imageTagMutabilityExclusionFilters"] = []any{map[string]any{"filter": json.RawMessage(`1`)}}
			}, "imageTagMutabilityExclusionFilters[0].filter is a number"},
			{"registryId as an object", create, func(_, d map[string]any) { d["responseElements"].(map[string]any)["registryId"] = map[string]any{} },
				"responseElements.registryId is an object"},
		} {
			t.Run(tt.name, func(t *testing.T) { wantRejection(t, edit(t, tt.file, tt.change), ErrMalformed, tt.reason) })
		}
	})
	t.Run("failed call", func(t *testing.T) {
		wantRejection(t, edit(t, create, func(_, d map[string]any) {
			d["errorCode"], d["responseElements"] = "TemplateAlreadyExistsException", nil
		}), ErrNotApplicable, "failed with TemplateAlreadyExistsException")
	})

	for _, tt := range []struct {
		name, file string
		change     func(env, detail map[string]any)
		warn       string // "" when nothing is ignored
		check      func(t *testing.T, e guard.Event)
	}{
		{name: "resourceTags as a string", file: create, change: func(_, d map[string]any) { params(d)["resourceTags"] = "environment=dev" },
			warn: "requestParameters.resourceTags is a string, not a list: resourceTags ignored",
			check: func(t *testing.T, e guard.Event) {
				if e.Request.Tags != nil || e.Request.Mutability != guard.Mutable {
					t.Errorf("request %+v", e.Request)
				}
			}},
		{name: "resourceTags in the wire API's casing", file: create, change: func(_, d map[string]any) {
			params(d)["resourceTags"] = []any{map[string]any{"Key": "environment", "Value": "dev"}}
		}, check: func(t *testing.T, e guard.Event) {
			if !slices.Equal(e.Request.Tags, []guard.Tag{{Key: "environment", Value: "dev"}}) {
				t.Errorf("tags %+v", e.Request.Tags)
			}
		}},
		{name: "appliedFor as a string", file: create, change: func(_, d map[string]any) { params(d)["appliedFor"] = "CREATE_ON_PUSH" },
			warn: "requestParameters.appliedFor is a string, not a list: ignored",
			check: func(t *testing.T, e guard.Event) {
				if !slices.Equal(e.Request.AppliedFor, []string{"CREATE_ON_PUSH"}) { // the response's
					t.Errorf("appliedFor %q", e.Request.AppliedFor)
				}
			}},
		{name: "appliedFor given nowhere", file: del, change: func(_, d map[string]any) { delete(template(d), "appliedFor") },
			check: func(t *testing.T, e guard.Event) {
				if e.Request.AppliedFor != nil || e.Template != "prod" {
					t.Errorf("decoded %+v", e)
				}
			}},
		{name: "no responseElements", file: del, change: func(_, d map[string]any) { d["responseElements"] = nil },
			check: func(t *testing.T, e guard.Event) {
				if e.RegistryID != "" || e.Template != "prod" {
					t.Errorf("decoded %+v", e)
				}
			}},
		{name: "responseElements as a string", file: del, change: func(_, d map[string]any) { d["responseElements"] = "deleted" },
			warn: "detail.responseElements is a string, not an object: ignored"},
		{name: "lifecyclePolicy as an object", file: create, change: func(_, d map[string]any) { params(d)["lifecyclePolicy"] = map[string]any{"rules": []any{}} },
			warn: "requestParameters.lifecyclePolicy is an object"},
		{name: "registryId as a number", file: update, change: func(_, d map[string]any) {
			d["responseElements"].(map[string]any)["registryId"] = json.RawMessage(`123456789012`)
		}, check: func(t *testing.T, e guard.Event) {
			if e.RegistryID != "123456789012" {
				t.Errorf("registry %q", e.RegistryID)
			}
		}},
		// A delete's request holds only the prefix: anything else is not read.
		{name: "delete with a mutability", file: del, change: func(_, d map[string]any) { params(d)["imageTagMutability"] = json.RawMessage(`1`) },
			check: func(t *testing.T, e guard.Event) {
				if e.Request.Mutability != "" {
					t.Errorf("request %+v", e.Request)
				}
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := decodeOK(t, edit(t, tt.file, tt.change))
			if e.Template == "" || e.Repository != "" || !guard.IsTemplateEvent(e.Name) {
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

// A template call in another registry (the response's registryId) is out
// of scope, like a repository call.
func TestDecodeTemplateCallOfAnotherRegistry(t *testing.T) {
	e := decodeOK(t, edit(t, "create-repository-creation-template-mutable.json", func(_, d map[string]any) {
		d["responseElements"].(map[string]any)["registryId"] = "210987654321"
	}))
	if got := sampleScope.OutOfScope(e); !strings.Contains(got, "registry 210987654321") {
		t.Fatalf("OutOfScope = %q", got)
	}
}
