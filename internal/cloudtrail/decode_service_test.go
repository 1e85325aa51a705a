package cloudtrail

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// Repositories that AWS services create (pull-through cache, replication,
// create-on-push) arrive as CreateRepository by an AWSService principal whose
// requestParameters are null or hold only the ARN.
func TestDecodeServiceCreatedRepositories(t *testing.T) {
	for _, tt := range []struct{ file, repo string }{
		{"create-repository-by-pull-through-cache.json", "docker-hub/library/nginx"}, // responseElements.repository
		{"create-repository-by-replication.json", "team-d/worker"},                   // requestParameters.repositoryArn
		{"create-repository-on-push.json", "team-e/batch"},                           // resources[].ARN
	} {
		t.Run(tt.file, func(t *testing.T) {
			e := decodeOK(t, sample(t, tt.file))
			if e.Name != guard.EventCreateRepository || e.Repository != tt.repo || e.RegistryID != "123456789012" ||
				e.Region != "us-east-1" || e.Account != "123456789012" || e.Time.IsZero() {
				t.Errorf("decoded %+v", e)
			}
			if p := e.Principal; p.Type != "AWSService" || p.InvokedBy != "ecr.amazonaws.com" || p.ARN != "" || p.SessionName != "" {
				t.Errorf("principal %+v", p)
			}
			if e.Request.Mutability != "" || len(e.Warnings) != 0 {
				t.Errorf("request %+v warnings %q", e.Request, e.Warnings)
			}
		})
	}
}

func TestDecodeCreatedRepositorySources(t *testing.T) {
	const created = "create-repository-by-pull-through-cache.json"
	repository := func(d map[string]any) map[string]any {
		return d["responseElements"].(map[string]any)["repository"].(map[string]any)
	}
	otherRepo := map[string]any{"accountId": "123456789012", "ARN": "arn:aws:ecr:us-east-1:123456789012:repository/other"}
	kmsKey := map[string]any{"accountId": "123456789012", "ARN": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}

	t.Run("requestParameters take precedence", func(t *testing.T) {
		e := decodeOK(t, edit(t, created, func(_, d map[string]any) {
			d["requestParameters"] = map[string]any{"repositoryName": "from-request"}
		}))
		if e.Repository != "from-request" {
			t.Errorf("repository %q", e.Repository)
		}
	})
	t.Run("responseElements.repository by name and registry only", func(t *testing.T) {
		e := decodeOK(t, edit(t, created, func(_, d map[string]any) {
			delete(repository(d), "repositoryArn")
			d["resources"] = []any{otherRepo}
		}))
		if e.Repository != "docker-hub/library/nginx" || e.RegistryID != "123456789012" {
			t.Errorf("repository %q registry %q", e.Repository, e.RegistryID)
		}
	})
	t.Run("resources after other kinds of resource", func(t *testing.T) {
		e := decodeOK(t, edit(t, "create-repository-on-push.json", func(_, d map[string]any) {
			d["resources"] = append([]any{kmsKey, "not an object"}, d["resources"].([]any)...)
		}))
		if e.Repository != "team-e/batch" || len(e.Warnings) != 1 {
			t.Errorf("repository %q warnings %q", e.Repository, e.Warnings)
		}
	})
	t.Run("response name and ARN disagree", func(t *testing.T) {
		wantRejection(t, edit(t, created, func(_, d map[string]any) { repository(d)["repositoryName"] = "other" }),
			ErrMalformed, `names repository "other" but its ARN names "docker-hub/library/nginx"`)
	})
	t.Run("response ARN that is not a repository", func(t *testing.T) {
		wantRejection(t, edit(t, created, func(_, d map[string]any) {
			repository(d)["repositoryArn"] = "arn:aws:ecr:us-east-1:123456789012:registry/x"
		}), ErrMalformed, "not an ECR repository ARN")
	})
	t.Run("request ARN of another service", func(t *testing.T) {
		wantRejection(t, edit(t, "create-repository-by-replication.json", func(_, d map[string]any) {
			params(d)["repositoryArn"] = "arn:aws:s3:::bucket"
		}), ErrMalformed, "not an ECR ARN")
	})
	t.Run("resources naming two repositories", func(t *testing.T) {
		wantRejection(t, edit(t, "create-repository-on-push.json", func(_, d map[string]any) {
			d["resources"] = append(d["resources"].([]any), otherRepo)
		}), ErrMalformed, "resources name more than one repository")
	})
	t.Run("no repository anywhere", func(t *testing.T) {
		wantRejection(t, edit(t, "create-repository-on-push.json", func(_, d map[string]any) { d["resources"] = []any{kmsKey} }),
			ErrMalformed, "no repository name in requestParameters, responseElements.repository or resources")
	})
	t.Run("resources not a list", func(t *testing.T) {
		wantRejection(t, edit(t, "create-repository-on-push.json", func(_, d map[string]any) { d["resources"] = "team-e/batch" }),
			ErrMalformed, "no repository name")
	})
	// Where the repository is comes from its ARN; guard.Scope, not the
	// decoder, decides whether the function may act there.
	for name, tt := range map[string]struct {
		raw               []byte
		registry, region  string
		outOfScopeBecause string
	}{
		"repository in another region": {edit(t, "create-repository-by-replication.json", func(_, d map[string]any) {
			params(d)["repositoryArn"] = "arn:aws:ecr:eu-west-1:123456789012:repository/team-d/worker"
		}), "123456789012", "eu-west-1", "repository is in region eu-west-1"},
		"repository in another account": {edit(t, "create-repository-on-push.json", func(_, d map[string]any) {
			d["resources"] = []any{map[string]any{"ARN": "arn:aws:ecr:us-east-1:210987654321:repository/team-e/batch"}}
		}), "210987654321", "us-east-1", "registry 210987654321"},
		"response repository in another account": {edit(t, created, func(_, d map[string]any) {
			repository(d)["repositoryArn"] = "arn:aws:ecr:us-east-1:210987654321:repository/docker-hub/library/nginx"
			repository(d)["registryId"] = "210987654321"
		}), "210987654321", "us-east-1", "registry 210987654321"},
	} {
		t.Run(name, func(t *testing.T) {
			e := decodeOK(t, tt.raw)
			if e.RegistryID != tt.registry || e.RepositoryRegion != tt.region {
				t.Fatalf("registry %q region %q", e.RegistryID, e.RepositoryRegion)
			}
			if got := sampleScope.OutOfScope(e); !strings.Contains(got, tt.outOfScopeBecause) {
				t.Fatalf("OutOfScope = %q, want %q", got, tt.outOfScopeBecause)
			}
		})
	}
}

// sampleScope is where the samples were recorded.
var sampleScope = guard.Scope{Account: "123456789012", Region: "us-east-1"}

func TestDecodeKeepsWhereTheRepositoryIs(t *testing.T) {
	valid := string(sample(t, "put-image-tag-mutability-mutable.json"))
	tagging := string(sample(t, "tag-resource-adds-exemption.json"))
	for _, tt := range []struct{ name, raw, outOfScopeBecause string }{
		{"repository of another account", strings.Replace(valid, `"registryId": "123456789012"`, `"registryId": "210987654321"`, 1), "registry 210987654321"},
		{"ARN of another account", strings.Replace(tagging, `arn:aws:ecr:us-east-1:123456789012:repository/team-a/web"`, `arn:aws:ecr:us-east-1:210987654321:repository/team-a/web"`, 1), "registry 210987654321"},
		{"ARN of another region", strings.Replace(tagging, `arn:aws:ecr:us-east-1:123456789012:repository/team-a/web"`, `arn:aws:ecr:eu-west-1:123456789012:repository/team-a/web"`, 1), "repository is in region eu-west-1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := decodeOK(t, []byte(tt.raw))
			if got := sampleScope.OutOfScope(e); !strings.Contains(got, tt.outOfScopeBecause) {
				t.Fatalf("OutOfScope = %q, want %q", got, tt.outOfScopeBecause)
			}
		})
	}
}

// The notice must say who really acted: the role, the credentials and the
// source identity, not only the session's ARN whose name the caller chose.
func TestDecodePrincipalDetails(t *testing.T) {
	e := decodeOK(t, edit(t, "put-image-tag-mutability-mutable.json", func(_, d map[string]any) {
		sc := userIdentity(d)["sessionContext"].(map[string]any)
		sc["sourceIdentity"] = "jane"
		userIdentity(d)["invokedBy"] = "cloudformation.amazonaws.com"
	}))
	p := e.Principal
	if p.Type != "AssumedRole" || p.PrincipalID != "AROA3XFRBF535EXAMPLE2:jane.doe@example.com" || p.AccessKeyID != "ASIA3XFRBF53EXAMPLE02" ||
		p.IssuerARN != "arn:aws:iam::123456789012:role/AWSReservedSSO_AdministratorAccess_0123456789abcdef" ||
		p.SessionName != "jane.doe@example.com" || p.SourceIdentity != "jane" || p.InvokedBy != "cloudformation.amazonaws.com" ||
		p.MFAAuthenticated == nil || *p.MFAAuthenticated {
		t.Errorf("principal %+v", p)
	}

	e = decodeOK(t, edit(t, "put-image-tag-mutability-mutable.json", func(_, d map[string]any) {
		sc := userIdentity(d)["sessionContext"].(map[string]any)
		sc["attributes"].(map[string]any)["mfaAuthenticated"] = json.RawMessage(`true`)
	}))
	if m := e.Principal.MFAAuthenticated; m == nil || !*m {
		t.Errorf("mfaAuthenticated as a JSON boolean: %v", m)
	}

	e = decodeOK(t, sample(t, "create-repository-mutable.json"))
	if p := e.Principal; p.Type != "IAMUser" || p.SessionName != "" || p.MFAAuthenticated != nil || p.AccessKeyID != "AKIAIOSFODNN7EXAMPLE" {
		t.Errorf("IAM user %+v", p)
	}
}

func TestSessionName(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:sts::123456789012:assumed-role/deployer/jane.doe@example.com": "jane.doe@example.com",
		"arn:aws-cn:sts::123456789012:assumed-role/r/s":                        "s",
		"arn:aws:iam::123456789012:user/alice":                                 "",
		"arn:aws:sts::123456789012:federated-user/bob":                         "",
		"arn:aws:sts::123456789012:assumed-role/no-session":                    "",
		"not an arn": "",
	} {
		if got := sessionName(arn); got != want {
			t.Errorf("sessionName(%q) = %q, want %q", arn, got, want)
		}
	}
}
