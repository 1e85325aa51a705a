package cloudtrail

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

func sample(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestDecodeSamples(t *testing.T) {
	tests := []struct {
		file      string
		name      string
		repo      string
		registry  string
		principal string
		issuer    string
		check     func(t *testing.T, e guard.Event)
	}{
		{file: "create-repository-mutable.json", name: "CreateRepository", repo: "team-a/web", principal: "arn:aws:iam::123456789012:user/alice",
			check: func(t *testing.T, e guard.Event) {
				if e.Request.Mutability != guard.Mutable || e.Principal.Type != "IAMUser" {
					t.Errorf("request %+v principal %+v", e.Request, e.Principal)
				}
			}},
		{file: "create-repository-mutable-with-dev-tag.json", name: "CreateRepository", repo: "team-c/sandbox",
			issuer: "arn:aws:iam::123456789012:role/github-actions-ecr-deployer",
			check: func(t *testing.T, e guard.Event) {
				want := []guard.Tag{{Key: "environment", Value: "dev"}, {Key: "owner", Value: "team-c"}}
				if !slices.Equal(e.Request.Tags, want) {
					t.Errorf("tags = %+v, want %+v", e.Request.Tags, want)
				}
			}},
		{file: "put-image-tag-mutability-mutable.json", name: "PutImageTagMutability", repo: "team-b/api", registry: "123456789012",
			issuer: "arn:aws:iam::123456789012:role/AWSReservedSSO_AdministratorAccess_0123456789abcdef"},
		{file: "put-image-tag-mutability-immutable-with-exclusion-allowed.json", name: "PutImageTagMutability", repo: "team-b/api",
			check: func(t *testing.T, e guard.Event) {
				if !slices.Equal(e.Request.ExclusionFilters, []string{"latest", "dev-*"}) || e.Request.Mutability != guard.ImmutableWithExclusion {
					t.Errorf("request %+v", e.Request)
				}
			}},
		{file: "put-lifecycle-policy.json", name: "PutLifecyclePolicy", repo: "team-b/api", registry: "123456789012",
			check: func(t *testing.T, e guard.Event) {
				if !strings.Contains(e.Request.LifecyclePolicy, "Keep last 1000 images") {
					t.Errorf("policy %q", e.Request.LifecyclePolicy)
				}
			}},
		{file: "delete-lifecycle-policy.json", name: "DeleteLifecyclePolicy", repo: "team-a/web", registry: "123456789012"},
		{file: "tag-resource-adds-exemption.json", name: "TagResource", repo: "team-a/web", registry: "123456789012",
			check: func(t *testing.T, e guard.Event) {
				if !slices.Equal(e.Request.Tags, []guard.Tag{{Key: "environment", Value: "dev"}}) {
					t.Errorf("tags = %+v", e.Request.Tags)
				}
			}},
		{file: "untag-resource-removes-exemption.json", name: "UntagResource", repo: "team-c/sandbox", registry: "123456789012",
			check: func(t *testing.T, e guard.Event) {
				if !slices.Equal(e.Request.TagKeys, []string{"environment"}) {
					t.Errorf("tag keys = %v", e.Request.TagKeys)
				}
			}},
		{file: "put-image-tag-mutability-by-remediator-role.json", name: "PutImageTagMutability", repo: "team-a/web",
			issuer: "arn:aws:iam::123456789012:role/ecr-guard-RemediatorFunctionRole-1A2B3C4D5E6F"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			e, err := Decode(sample(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if e.Name != tt.name || e.Repository != tt.repo || e.ID == "" || e.EventID == "" ||
				e.Region != "us-east-1" || e.Account != "123456789012" || e.Time.IsZero() || e.UserAgent == "" || e.SourceIP == "" {
				t.Errorf("decoded %+v", e)
			}
			if tt.registry != "" && e.RegistryID != tt.registry {
				t.Errorf("registry = %q, want %q", e.RegistryID, tt.registry)
			}
			if tt.principal != "" && e.Principal.ARN != tt.principal {
				t.Errorf("principal = %q, want %q", e.Principal.ARN, tt.principal)
			}
			if tt.issuer != "" && e.Principal.IssuerARN != tt.issuer {
				t.Errorf("issuer = %q, want %q", e.Principal.IssuerARN, tt.issuer)
			}
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}
}

func TestDecodeAcceptsBothTagCasings(t *testing.T) {
	for _, tags := range []string{`[{"key":"environment","value":"dev"}]`, `[{"Key":"environment","Value":"dev"}]`} {
		raw := strings.Replace(string(sample(t, "tag-resource-adds-exemption.json")), `[
        {
          "key": "environment",
          "value": "dev"
        }
      ]`, tags, 1)
		if !strings.Contains(raw, tags) {
			t.Fatal("sample layout changed; update the test")
		}
		e, err := Decode([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(e.Request.Tags, []guard.Tag{{Key: "environment", Value: "dev"}}) {
			t.Errorf("%s: tags = %+v", tags, e.Request.Tags)
		}
	}
}

func TestDecodeEventTime(t *testing.T) {
	e, err := Decode(sample(t, "put-image-tag-mutability-mutable.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2025, 6, 10, 14, 20, 11, 0, time.UTC); !e.Time.Equal(want) {
		t.Errorf("time = %v, want %v", e.Time, want)
	}
}

func TestDecodeRejects(t *testing.T) {
	valid := string(sample(t, "put-image-tag-mutability-mutable.json"))
	tagging := string(sample(t, "tag-resource-adds-exemption.json"))
	tests := []struct {
		name    string
		raw     string
		kind    error
		reason  string
		eventID string
	}{
		{"not JSON", `{"id": "abc", `, ErrMalformed, "not a JSON EventBridge event", ""},
		{"JSON of the wrong shape", `["a"]`, ErrMalformed, "not a JSON EventBridge event", ""},
		{"other source", strings.Replace(valid, `"source": "aws.ecr"`, `"source": "aws.s3"`, 1), ErrMalformed, `source "aws.s3"`, ""},
		{"other detail-type", strings.Replace(valid, `"AWS API Call via CloudTrail"`, `"ECR Image Action"`, 1), ErrMalformed, `detail-type "ECR Image Action"`, ""},
		{"detail not an object", strings.Replace(valid, `"detail": {`, `"detail": 7, "x": {`, 1), ErrMalformed, "detail is not a CloudTrail record", ""},
		{"failed call", string(sample(t, "put-image-tag-mutability-failed.json")), ErrNotApplicable, "failed with AccessDenied", "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d07"},
		{"unhandled event", string(sample(t, "delete-repository.json")), ErrNotApplicable, `"DeleteRepository" is not handled`, "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d12"},
		{"no repository name", strings.Replace(valid, `"repositoryName": "team-b/api",`, ``, 1), ErrMalformed, "no repository name", "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d04"},
		{"no requestParameters", strings.Replace(valid, `"requestParameters": {`, `"requestParameters": null, "x": {`, 1), ErrMalformed, "no requestParameters", "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d04"},
		{"bad eventTime", strings.Replace(valid, `"eventTime": "2025-06-10T14:20:11Z"`, `"eventTime": "Jun 10, 2025"`, 1), ErrMalformed, "eventTime", "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d04"},
		{"ARN of another service", strings.Replace(tagging, `"resourceArn": "arn:aws:ecr:us-east-1:123456789012:repository/team-a/web"`, `"resourceArn": "arn:aws:s3:::bucket"`, 1), ErrMalformed, "not an ECR ARN", "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d11"},
		{"ECR ARN that is not a repository", strings.Replace(tagging, `repository/team-a/web"`, `registry/x"`, 1), ErrMalformed, "not an ECR repository ARN", "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d11"},
		{"ARN without a name", strings.Replace(tagging, `repository/team-a/web"`, `repository/"`, 1), ErrMalformed, "not an ECR repository ARN", "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d11"},
		{"no ARN", strings.Replace(tagging, `"resourceArn"`, `"otherArn"`, 1), ErrMalformed, "is not an ECR ARN", "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d11"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.raw))
			var rej *Rejection
			if !errors.As(err, &rej) {
				t.Fatalf("err = %v, want a *Rejection", err)
			}
			if !errors.Is(err, tt.kind) || !strings.Contains(rej.Reason, tt.reason) {
				t.Errorf("err = %v, want kind %v and reason containing %q", err, tt.kind, tt.reason)
			}
			if rej.EventID != tt.eventID {
				t.Errorf("eventID = %q, want %q", rej.EventID, tt.eventID)
			}
			if tt.name != "not JSON" && tt.name != "JSON of the wrong shape" && rej.ID == "" {
				t.Errorf("rejection lost the envelope id")
			}
		})
	}
}

func TestRepositoryNameWithSlashesFromARN(t *testing.T) {
	ref, err := parseRepositoryARN("arn:aws-us-gov:ecr:us-gov-west-1:111122223333:repository/org/team/app")
	if err != nil || ref.name != "org/team/app" || ref.region != "us-gov-west-1" || ref.registryID != "111122223333" {
		t.Fatalf("got %+v %v", ref, err)
	}
}

// FuzzDecode checks that no input panics the decoder, and that whatever it
// accepts is a handled event that names either a repository or, for a
// template call, a template.
func FuzzDecode(f *testing.F) {
	entries, err := os.ReadDir(filepath.Join("..", "..", "events"))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		f.Add(sample(f, e.Name()))
	}
	f.Add([]byte(`{"source":"aws.ecr","detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"TagResource","eventTime":"2025-01-01T00:00:00Z","requestParameters":{"resourceArn":"arn:aws:ecr:r:a:repository/x"}}}`))
	f.Add([]byte(`{"source":"aws.ecr","detail-type":"AWS API Call via CloudTrail","account":1,"detail":{"eventName":"CreateRepository","eventTime":"2025-01-01T00:00:00Z","recipientAccountId":12,"userAgent":{},"requestParameters":{"repositoryName":"x","registryId":12,"tags":"a=b"}}}`))
	f.Add([]byte(`{"source":"aws.ecr","detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"CreateRepository","eventTime":"2025-01-01T00:00:00Z","requestParameters":null,"responseElements":{"repository":{"repositoryArn":"arn:aws:ecr:r:1:repository/x","repositoryName":"x"}},"resources":[{"ARN":"arn:aws:ecr:r:1:repository/y"},7]}}`))
	f.Add([]byte(`{"source":"aws.ecr","detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"UpdateRepositoryCreationTemplate","eventTime":"2025-01-01T00:00:00Z","requestParameters":{"prefix":"p","appliedFor":"X","resourceTags":[{"Key":1}]},"responseElements":{"registryId":1,"repositoryCreationTemplate":{"appliedFor":[2]}}}}`))
	f.Add([]byte(`{"source":"aws.ecr","detail-type":"ECR Replication Action","account":"1","region":"r","time":"2025-01-01T00:00:00Z","resources":["arn:aws:ecr:r:1:repository/x"],"detail":{"result":"SUCCESS","repository-name":"x","image-tag":{}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := Decode(raw)
		if err != nil {
			var rej *Rejection
			if !errors.As(err, &rej) || rej.Reason == "" {
				t.Fatalf("error %v is not a *Rejection with a reason", err)
			}
			return
		}
		handled := guard.IsHandled(e.Name) || e.Name == guard.EventPullThroughCacheAction || e.Name == guard.EventReplicationAction
		namesOne := guard.IsTemplateEvent(e.Name) == (e.Template != "") && (e.Template == "") == (e.Repository != "")
		if !handled || !namesOne {
			t.Fatalf("accepted an unhandled event, or one that does not name exactly one repository or template: %+v", e)
		}
	})
}
