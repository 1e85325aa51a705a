package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/scenario"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

// templateRIE runs the bootstrap under the RIE with the scenarios'
// configuration plus extra, against moto behind a proxy. moto 5.2.1 has no
// repository creation template API: the proxy serves those operations from
// testenv's fake in ECR's wire format, and everything else from moto. The
// returned client reaches templates through the same proxy.
func templateRIE(t *testing.T, extra ...string) (*testenv.RIE, *testenv.Proxy, *ecr.Client, *testenv.Inbox) {
	t.Helper()
	bootstrap := testenv.BuildBootstrap(t, "./functions/remediate")
	inbox := testenv.NewInbox(t, moto.AWSConfig(t, moto.URL()))
	proxy := testenv.NewProxy(t, moto.URL())
	env := moto.Env(proxy.URL())
	for k, v := range scenario.Env() {
		env = append(env, k+"="+v)
	}
	env = append(env, "SNS_TOPIC_ARN="+inbox.TopicARN())
	env = append(env, extra...)
	return testenv.StartRIE(t, bootstrap, env), proxy, ecr.NewFromConfig(moto.AWSConfig(t, proxy.URL())), inbox
}

func createTemplate(t *testing.T, api *ecr.Client, in *ecr.CreateRepositoryCreationTemplateInput) {
	t.Helper()
	if _, err := api.CreateRepositoryCreationTemplate(t.Context(), in); err != nil {
		t.Fatal(err)
	}
}

func readTemplate(t *testing.T, api *ecr.Client, prefix string) *types.RepositoryCreationTemplate {
	t.Helper()
	out, err := api.DescribeRepositoryCreationTemplates(t.Context(), &ecr.DescribeRepositoryCreationTemplatesInput{Prefixes: []string{prefix}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.RepositoryCreationTemplates) == 0 {
		return nil
	}
	return &out.RepositoryCreationTemplates[0]
}

func invokeSample(t *testing.T, rie *testenv.RIE, sample string) string {
	t.Helper()
	raw, err := scenario.ReadEvent(testenv.ModuleRoot(t), sample, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	status, body := rie.Invoke(t, raw)
	if status != 200 || strings.Contains(string(body), `"errorType"`) {
		t.Fatalf("%s: status %d: %s\n%s", sample, status, body, rie.Output())
	}
	return string(body)
}

func filters(t *types.RepositoryCreationTemplate) []string {
	var out []string
	for _, f := range t.ImageTagMutabilityExclusionFilters {
		out = append(out, aws.ToString(f.Filter))
	}
	return out
}

// The template events of events/, sent to the real bootstrap: each template
// ends as the rules say, with one notice about the template, every other
// field of it kept.
func TestTemplatesUnderRIE(t *testing.T) {
	rie, proxy, api, inbox := templateRIE(t)
	baseline := aws.String(guard.DefaultLifecyclePolicy)
	prod := &ecr.CreateRepositoryCreationTemplateInput{
		Prefix: aws.String("prod"), AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForReplication},
		ImageTagMutability: types.ImageTagMutabilityMutable, LifecyclePolicy: baseline,
		Description:      aws.String("Production repositories"),
		RepositoryPolicy: aws.String(`{"Version":"2012-10-17","Statement":[{"Sid":"pull","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":["ecr:BatchGetImage"]}]}`),
		ResourceTags:     []types.Tag{{Key: aws.String("team"), Value: aws.String("platform")}},
	}
	tests := []struct {
		name, sample   string
		seed           *ecr.CreateRepositoryCreationTemplateInput
		prefix         string
		wantKind       string
		wantMutability string // "" : the template does not exist afterwards
		wantFilters    []string
	}{
		{"a template made MUTABLE", "create-repository-creation-template-mutable.json", prod, "prod", "REMEDIATED", "IMMUTABLE", nil},
		{"a template with a filter not allowed", "update-repository-creation-template-disallowed-filter.json",
			&ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("prod"), AppliedFor: prod.AppliedFor, LifecyclePolicy: baseline,
				ImageTagMutability: types.ImageTagMutabilityImmutableWithExclusion,
				ImageTagMutabilityExclusionFilters: []types.ImageTagMutabilityExclusionFilter{
					{FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard, Filter: aws.String("latest")},
					{FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard, Filter: aws.String("release-*")}}},
			"prod", "REMEDIATED", "IMMUTABLE_WITH_EXCLUSION", []string{"latest"}},
		{"an exempt template", "create-repository-creation-template-exempt.json",
			&ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("dev"), AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForCreateOnPush},
				ImageTagMutability: types.ImageTagMutabilityMutable, LifecyclePolicy: baseline,
				ResourceTags: []types.Tag{{Key: aws.String("environment"), Value: aws.String("dev")}}},
			"dev", "EXEMPT", "MUTABLE", nil},
		{"a deleted template", "delete-repository-creation-template.json", nil, "prod", "OBSERVED", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if existing := readTemplate(t, api, tt.prefix); existing != nil {
				if _, err := api.DeleteRepositoryCreationTemplate(t.Context(), &ecr.DeleteRepositoryCreationTemplateInput{Prefix: aws.String(tt.prefix)}); err != nil {
					t.Fatal(err)
				}
			}
			if tt.seed != nil {
				createTemplate(t, api, tt.seed)
			}
			proxy.Reset()
			invokeSample(t, rie, tt.sample)
			got := readTemplate(t, api, tt.prefix)
			switch {
			case tt.wantMutability == "" && got != nil:
				t.Fatalf("template %s exists: %+v", tt.prefix, got)
			case tt.wantMutability != "" && (got == nil || string(got.ImageTagMutability) != tt.wantMutability || strings.Join(filters(got), ",") != strings.Join(tt.wantFilters, ",")):
				t.Fatalf("template %+v, want %s %v", got, tt.wantMutability, tt.wantFilters)
			}
			if got != nil && tt.seed != nil {
				// Only mutability, filters and lifecycle are ecr-guard's.
				if aws.ToString(got.Description) != aws.ToString(tt.seed.Description) || aws.ToString(got.RepositoryPolicy) != aws.ToString(tt.seed.RepositoryPolicy) ||
					len(got.ResourceTags) != len(tt.seed.ResourceTags) || len(got.AppliedFor) != len(tt.seed.AppliedFor) {
					t.Errorf("other fields changed: %+v, seeded %+v", got, tt.seed)
				}
			}
			notices := inbox.Receive(t, 1, 5*time.Second)
			n := notices[0]
			if n.Attributes["kind"] != tt.wantKind || n.Attributes["resourceType"] != "template" || !strings.Contains(n.Subject, "template "+tt.prefix) {
				t.Fatalf("notice %q %v, want %s about template %s", n.Subject, n.Attributes, tt.wantKind, tt.prefix)
			}
			var doc struct {
				Template struct {
					Prefix string `json:"prefix"`
				} `json:"template"`
			}
			if err := json.Unmarshal([]byte(n.Message), &doc); err != nil || doc.Template.Prefix != tt.prefix {
				t.Fatalf("document %s: template %+v (%v)", n.Message, doc.Template, err)
			}
			if n := proxy.Count("Publish"); n != 1 {
				t.Fatalf("%d Publish calls, want 1", n)
			}
		})
	}
}

// ROOT_TEMPLATE=ensure: deleting the ROOT template makes ecr-guard create
// it again, once; a replay of the event finds it there and writes nothing.
func TestRootTemplateEnsuredOnceUnderRIE(t *testing.T) {
	rie, proxy, api, inbox := templateRIE(t, "ROOT_TEMPLATE=ensure")
	invokeSample(t, rie, "delete-repository-creation-template-root.json")
	root := readTemplate(t, api, guard.RootPrefix)
	if root == nil || root.ImageTagMutability != types.ImageTagMutabilityImmutable || aws.ToString(root.LifecyclePolicy) == "" ||
		len(root.AppliedFor) != 2 || root.AppliedFor[0] != types.RCTAppliedForReplication || root.AppliedFor[1] != types.RCTAppliedForPullThroughCache {
		t.Fatalf("ROOT template %+v", root)
	}
	notices := inbox.Receive(t, 1, 5*time.Second)
	if notices[0].Attributes["kind"] != "REMEDIATED" || notices[0].Attributes["resourceType"] != "template" {
		t.Fatalf("notice %+v", notices[0])
	}
	invokeSample(t, rie, "delete-repository-creation-template-root.json")
	if n := proxy.Count("CreateRepositoryCreationTemplate"); n != 1 {
		t.Fatalf("%d CreateRepositoryCreationTemplate calls, want 1", n)
	}
	if n := proxy.Count("UpdateRepositoryCreationTemplate") + proxy.Count("Publish"); n != 1 {
		t.Fatalf("the replay wrote or published: %d Update/Publish calls, want only the first notice", n)
	}
}

// A repository ECR created on its own (pull-through cache, MUTABLE by
// ECR's default without a template) is fixed and reported once, whichever
// of its two events comes first.
func TestServiceCreatedRepositoryUnderRIE(t *testing.T) {
	rie, proxy, _, inbox := templateRIE(t)
	api := ecr.NewFromConfig(moto.AWSConfig(t, moto.URL()))
	name := "docker-hub/library/nginx"
	if err := scenario.Seed(t.Context(), api, name, &scenario.State{Mutability: guard.Mutable, Lifecycle: "absent"}, guard.DefaultLifecyclePolicy); err != nil {
		t.Fatal(err)
	}
	invokeSample(t, rie, "pull-through-cache-action.json")
	invokeSample(t, rie, "create-repository-by-pull-through-cache.json")
	out, err := api.DescribeRepositories(context.Background(), &ecr.DescribeRepositoriesInput{RepositoryNames: []string{name}})
	if err != nil {
		t.Fatal(err)
	}
	if m := out.Repositories[0].ImageTagMutability; m != types.ImageTagMutabilityImmutable {
		t.Fatalf("%s is %s", name, m)
	}
	if n := proxy.Count("Publish"); n != 1 {
		t.Fatalf("%d notices, want one", n)
	}
	n := inbox.Receive(t, 1, 5*time.Second)[0]
	if n.Attributes["kind"] != "REMEDIATED" || n.Attributes["resourceType"] != "repository" || !strings.Contains(n.Message, "ecr.amazonaws.com") {
		t.Fatalf("notice %q %v: want REMEDIATED naming the service as who acted\n%s", n.Subject, n.Attributes, n.Message)
	}
	// The registry has no template: the notice says ECR's defaults shaped it.
	var doc struct {
		ShapedBy *struct {
			AppliedFor string          `json:"appliedFor"`
			Template   json.RawMessage `json:"template"`
		} `json:"shapedBy"`
	}
	if err := json.Unmarshal([]byte(n.Message), &doc); err != nil || doc.ShapedBy == nil ||
		doc.ShapedBy.AppliedFor != guard.AppliedForPullThroughCache || (len(doc.ShapedBy.Template) > 0 && string(doc.ShapedBy.Template) != "null") {
		t.Fatalf("shapedBy %+v (%v), want pull through cache with no template\n%s", doc.ShapedBy, err, n.Message)
	}
}
