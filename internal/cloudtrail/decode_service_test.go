package cloudtrail

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

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

// The service event samples (events/pull-through-cache-action.json,
// replication-action.json) follow the documented examples,
// https://docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-eventbridge.html:
// detail-types, member names, sync-status and result "SUCCESS", the
// repository's ARN in the envelope's resources, and for a replication the
// envelope's region the destination's (the documented example's resources
// name the repository in us-east-1, its source-region is us-west-2).
// Inferred: that a cross-account replication's event goes to the
// destination account (the documented example replicates within one
// account), and what a failed pull through cache action's sync-status says
// ("FAILED" here; only "SUCCESS" is acted on).
func TestDecodeServiceEvents(t *testing.T) {
	for _, tt := range []struct {
		file, name, repo, id string
		when                 time.Time
		service              guard.ServiceAction
	}{
		{"pull-through-cache-action.json", guard.EventPullThroughCacheAction, "docker-hub/library/nginx", "6f1d8c2e-4b7a-2c1e-9d3f-0a1b2c3d4e24",
			time.Date(2025, 6, 10, 14, 52, 13, 0, time.UTC), guard.ServiceAction{
				ImageTag: "1.27.5", ImageDigest: "sha256:5ed8fcc66f4ed123c1b2560ed708dc148755b6e4cbd8b943fab094f2c6bfa91e",
				UpstreamRegistry: "registry-1.docker.io", CacheRulePrefix: "docker-hub",
			}},
		{"replication-action.json", guard.EventReplicationAction, "team-d/worker", "6f1d8c2e-4b7a-2c1e-9d3f-0a1b2c3d4e25",
			time.Date(2025, 6, 10, 14, 55, 34, 0, time.UTC), guard.ServiceAction{
				ImageTag: "v2.8.0", ImageDigest: "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
				SourceAccount: "123456789012", SourceRegion: "us-west-2",
			}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			e := decodeOK(t, sample(t, tt.file))
			if e.Name != tt.name || e.Repository != tt.repo || e.Template != "" || e.ID != tt.id || e.EventID != "" || !e.Time.Equal(tt.when) ||
				e.RegistryID != "123456789012" || e.RepositoryRegion != "us-east-1" || e.Region != "us-east-1" || e.Account != "123456789012" ||
				e.BusRegion != "us-east-1" || e.BusAccount != "123456789012" {
				t.Errorf("decoded %+v", e)
			}
			if want := (guard.Principal{Type: "AWSService", InvokedBy: "ecr.amazonaws.com"}); !reflect.DeepEqual(e.Principal, want) {
				t.Errorf("principal %+v", e.Principal)
			}
			if e.Service != tt.service {
				t.Errorf("service %+v, want %+v", e.Service, tt.service)
			}
			if !reflect.DeepEqual(e.Request, guard.Request{}) || len(e.Warnings) != 0 {
				t.Errorf("request %+v warnings %q", e.Request, e.Warnings)
			}
			if got := sampleScope.OutOfScope(e); got != "" {
				t.Errorf("out of scope: %s", got)
			}
		})
	}
}

func TestDecodeServiceEventRejects(t *testing.T) {
	const ptc, repl = "pull-through-cache-action.json", "replication-action.json"
	detail := func(change func(d map[string]any)) func(env, d map[string]any) {
		return func(_, d map[string]any) { change(d) }
	}
	for _, tt := range []struct {
		name, file string
		change     func(env, detail map[string]any)
		kind       error
		reason     string
	}{
		{"failed pull through cache action", ptc, detail(func(d map[string]any) {
			d["sync-status"], d["failure-code"], d["failure-reason"] = "FAILED", "UPSTREAM_UNAVAILABLE", "upstream registry unreachable"
			delete(d, "image-digest")
		}), ErrNotApplicable, `sync-status "FAILED", failure-code "UPSTREAM_UNAVAILABLE"), so it brought nothing`},
		{"failed replication", repl, detail(func(d map[string]any) { d["result"] = "FAILED" }), ErrNotApplicable, `ECR Replication Action did not succeed (result "FAILED")`},
		{"no sync-status", ptc, detail(func(d map[string]any) { delete(d, "sync-status") }), ErrMalformed, "no detail.sync-status"},
		{"no result", repl, detail(func(d map[string]any) { delete(d, "result") }), ErrMalformed, "no detail.result"},
		{"result as a boolean", repl, detail(func(d map[string]any) { d["result"] = true }), ErrMalformed, "detail.result is a boolean"},
		// The status of the other event type does not count.
		{"replication with a sync-status", repl, detail(func(d map[string]any) { delete(d, "result"); d["sync-status"] = "SUCCESS" }),
			ErrMalformed, "no detail.result"},
		{"no repository-name", repl, detail(func(d map[string]any) { delete(d, "repository-name") }), ErrMalformed, "no detail.repository-name"},
		{"repository-name as a number", ptc, detail(func(d map[string]any) { d["repository-name"] = json.RawMessage(`1`) }), ErrMalformed,
			"detail.repository-name is a number"},
		{"resources name another repository", repl, func(env, _ map[string]any) {
			env["resources"] = []any{"arn:aws:ecr:us-east-1:123456789012:repository/team-d/other"}
		}, ErrMalformed, `resources name repository "team-d/other", the detail names "team-d/worker"`},
		{"resources name the repository in two regions", repl, func(env, _ map[string]any) {
			env["resources"] = []any{"arn:aws:ecr:us-east-1:123456789012:repository/team-d/worker", "arn:aws:ecr:us-west-2:123456789012:repository/team-d/worker"}
		}, ErrMalformed, "in more than one registry or region"},
		{"resources not a list", ptc, func(env, _ map[string]any) { env["resources"] = "docker-hub/library/nginx" },
			ErrMalformed, "resources is a string, not a list"},
		{"no time", ptc, func(env, _ map[string]any) { delete(env, "time") }, ErrMalformed, `time "" is not an RFC 3339 time`},
		{"bad time", repl, func(env, _ map[string]any) { env["time"] = "Jun 10, 2025" }, ErrMalformed, `time "Jun 10, 2025" is not an RFC 3339 time`},
		{"no account", ptc, func(env, _ map[string]any) { delete(env, "account") }, ErrMalformed, "does not say in which account and region"},
		{"no region", repl, func(env, _ map[string]any) { env["region"] = "" }, ErrMalformed, "does not say in which account and region"},
		{"detail null", repl, func(env, _ map[string]any) { env["detail"] = nil }, ErrMalformed, "detail is not the detail of an ECR Replication Action"},
		{"detail-type of another ECR event", ptc, func(env, _ map[string]any) { env["detail-type"] = "ECR Image Action" }, ErrMalformed,
			`detail-type "ECR Image Action" are not "aws.ecr" and one of`},
		{"source of another service", repl, func(env, _ map[string]any) { env["source"] = "aws.s3" }, ErrMalformed, `source "aws.s3"`},
	} {
		t.Run(tt.name, func(t *testing.T) { wantRejection(t, edit(t, tt.file, tt.change), tt.kind, tt.reason) })
	}
}

// What only describes the image may be of any type; the resources may name
// other kinds of resource, or nothing (the repository is then where the
// envelope says).
func TestDecodeServiceEventMembers(t *testing.T) {
	for _, tt := range []struct {
		name, file string
		change     func(env, detail map[string]any)
		warn       string
		check      func(t *testing.T, e guard.Event)
	}{
		{name: "image-tag as a number", file: "replication-action.json", change: func(_, d map[string]any) { d["image-tag"] = json.RawMessage(`42`) },
			check: func(t *testing.T, e guard.Event) {
				if e.Service.ImageTag != "42" {
					t.Errorf("tag %q", e.Service.ImageTag)
				}
			}},
		{name: "upstream-registry-url as an object", file: "pull-through-cache-action.json",
			change: func(_, d map[string]any) { d["upstream-registry-url"] = map[string]any{"url": "x"} },
			warn:   "detail.upstream-registry-url is an object, not a string: ignored"},
		{name: "no resources", file: "pull-through-cache-action.json", change: func(env, _ map[string]any) { delete(env, "resources") },
			check: func(t *testing.T, e guard.Event) {
				if e.Repository != "docker-hub/library/nginx" || e.RegistryID != "" || e.RepositoryRegion != "" || sampleScope.OutOfScope(e) != "" {
					t.Errorf("decoded %+v", e)
				}
			}},
		{name: "resources of another kind too", file: "replication-action.json", change: func(env, _ map[string]any) {
			env["resources"] = []any{"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws:ecr:us-east-1:123456789012:repository/team-d/worker"}
		}, check: func(t *testing.T, e guard.Event) {
			if e.RegistryID != "123456789012" || e.RepositoryRegion != "us-east-1" {
				t.Errorf("decoded %+v", e)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := decodeOK(t, edit(t, tt.file, tt.change))
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

// Where the repository is comes from the envelope and the repository's
// ARN; guard.Scope decides whether the function may act there.
func TestDecodeServiceEventScope(t *testing.T) {
	for _, tt := range []struct {
		name, file        string
		change            func(env, detail map[string]any)
		outOfScopeBecause string
	}{
		{"sent in another account", "replication-action.json", func(env, _ map[string]any) { env["account"] = "210987654321" },
			"recorded in account 210987654321"},
		{"sent in another region", "pull-through-cache-action.json", func(env, _ map[string]any) {
			env["region"] = "eu-west-1"
			env["resources"] = []any{"arn:aws:ecr:eu-west-1:123456789012:repository/docker-hub/library/nginx"}
		}, "made in region eu-west-1"},
		{"repository in another region than the envelope's", "replication-action.json", func(env, _ map[string]any) {
			env["resources"] = []any{"arn:aws:ecr:us-west-2:123456789012:repository/team-d/worker"}
		}, "repository is in region us-west-2"},
		{"repository in another account than the envelope's", "pull-through-cache-action.json", func(env, _ map[string]any) {
			env["resources"] = []any{"arn:aws:ecr:us-east-1:210987654321:repository/docker-hub/library/nginx"}
		}, "registry 210987654321"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := decodeOK(t, edit(t, tt.file, tt.change))
			if got := sampleScope.OutOfScope(e); !strings.Contains(got, tt.outOfScopeBecause) {
				t.Fatalf("OutOfScope = %q, want %q", got, tt.outOfScopeBecause)
			}
		})
	}
}
