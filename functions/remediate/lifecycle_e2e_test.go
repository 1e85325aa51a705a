package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/scenario"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

// archivingBaseline is a baseline in ECR's current grammar: untagged images
// expire, images nobody pulled for 90 days go to archive, archived images
// are deleted a year later (no less than 90 days: "You cannot configure
// lifecycle policies that delete images that have been in archive for less
// than 90 days", https://docs.aws.amazon.com/AmazonECR/latest/userguide/archive-image.html;
// an any rule for each storage class as in "Combining archive and expire
// rules", https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_examples.html).
const archivingBaseline = `{"rules":[` +
	`{"rulePriority":1,"description":"Expire untagged images 7 days after push",` +
	`"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}},` +
	`{"rulePriority":2,"description":"Archive images nobody pulled for 90 days",` +
	`"selection":{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":90},` +
	`"action":{"type":"transition","targetStorageClass":"archive"}},` +
	`{"rulePriority":3,"description":"Delete images archived a year ago",` +
	`"selection":{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":365},` +
	`"action":{"type":"expire"}}]}`

// teamLifecyclePolicy is a team's policy with a rule of its own and none of
// the baseline's.
const teamLifecyclePolicy = `{"rules":[{"rulePriority":1,"description":"Keep 100 prod images",` +
	`"selection":{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":100},"action":{"type":"expire"}}]}`

// What a lifecycle mode makes of a template's policy.
type lifecycleOutcome int

const (
	keptAsIs      lifecycleOutcome = iota // no write, no notice
	setToBaseline                         // the baseline written, LIFECYCLE_RESTORED
	mergedIn                              // the baseline's rules added to the team's, LIFECYCLE_RESTORED
)

// Each LIFECYCLE_MODE with a baseline that archives, through the real
// bootstrap under the RIE: a repository creation template without a
// policy, with a team's policy lacking the baseline's rules, and with the
// baseline, each then named by a template event.
//
// Templates carry this proof because moto 5.2.1's PutLifecyclePolicy
// refuses the archive grammar (storageClass, transition,
// sinceImagePulled, sinceImageTransitioned; see
// internal/reconcile/lifecycle_moto_test.go), so a repository could only
// show the refusal (the last subtest). The template API is served by
// testenv's fake in ECR's wire format, which stores lifecycle text
// without validating it, as moto has no template API at all; so what this
// proves is ecr-guard's side: the baseline is accepted at cold start and
// each mode writes, merges or keeps what it should, with the notice to
// match. That ECR accepts the baseline is what its documentation says
// (internal/guard's TestLifecycleGrammar).
//
// The sample is the pull-through cache template's creation, whose
// mutability is compliant (IMMUTABLE_WITH_EXCLUSION [latest], latest
// allowed), so the lifecycle policy is the only rule at play.
func TestLifecycleModesWithAnArchivingBaselineUnderRIE(t *testing.T) {
	const sample, prefix = "create-repository-creation-template-pull-through-cache.json", "docker-hub"
	baseline, err := guard.ParseLifecyclePolicy(archivingBaseline)
	if err != nil {
		t.Fatalf("the baseline is not valid: %v", err)
	}
	team, err := guard.ParseLifecyclePolicy(teamLifecyclePolicy)
	if err != nil {
		t.Fatal(err)
	}
	seeds := []struct {
		name   string
		policy string // "": none
	}{
		{"no lifecycle policy", ""},
		{"a team's policy without the baseline's rules", teamLifecyclePolicy},
		{"the baseline", archivingBaseline},
	}
	tests := []struct {
		mode string
		want [3]lifecycleOutcome // for each seed
	}{
		{"enforce", [3]lifecycleOutcome{setToBaseline, setToBaseline, keptAsIs}},
		{"contains", [3]lifecycleOutcome{setToBaseline, mergedIn, keptAsIs}},
		{"missing", [3]lifecycleOutcome{setToBaseline, keptAsIs, keptAsIs}},
		{"off", [3]lifecycleOutcome{keptAsIs, keptAsIs, keptAsIs}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			rie, proxy, api, inbox := templateRIE(t, "LIFECYCLE_POLICY="+archivingBaseline, "LIFECYCLE_MODE="+tt.mode)
			for i, seed := range seeds {
				t.Run(seed.name, func(t *testing.T) {
					if readTemplate(t, api, prefix) != nil {
						if _, err := api.DeleteRepositoryCreationTemplate(t.Context(), &ecr.DeleteRepositoryCreationTemplateInput{Prefix: aws.String(prefix)}); err != nil {
							t.Fatal(err)
						}
					}
					in := &ecr.CreateRepositoryCreationTemplateInput{
						Prefix: aws.String(prefix), AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForPullThroughCache},
						ImageTagMutability: types.ImageTagMutabilityImmutableWithExclusion,
						ImageTagMutabilityExclusionFilters: []types.ImageTagMutabilityExclusionFilter{
							{FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard, Filter: aws.String("latest")}},
					}
					if seed.policy != "" {
						in.LifecyclePolicy = aws.String(seed.policy)
					}
					createTemplate(t, api, in)
					proxy.Reset()
					invokeSample(t, rie, sample)

					got := readTemplate(t, api, prefix)
					if got == nil {
						t.Fatalf("template %s is gone", prefix)
					}
					text := aws.ToString(got.LifecyclePolicy)
					want := tt.want[i]
					if want == keptAsIs {
						if text != seed.policy {
							t.Fatalf("the policy changed to %s, want it kept: %q", text, seed.policy)
						}
						if n := proxy.Count("UpdateRepositoryCreationTemplate") + proxy.Count("Publish"); n != 0 {
							t.Fatalf("%d template updates and notices, want none", n)
						}
						return
					}
					switch {
					case want == setToBaseline && !baseline.Equal(text):
						t.Fatalf("the policy is %s, want the baseline", text)
					case want == mergedIn && (baseline.Equal(text) || !baseline.ContainedIn(text) || !team.ContainedIn(text)):
						t.Fatalf("the policy is %s, want the team's rule and the baseline's", text)
					}
					checkLifecycleNotice(t, inbox.Receive(t, 1, 5*time.Second)[0], seed.policy != "", want)
				})
			}

			if tt.mode != "enforce" {
				return
			}
			// On a repository (moto), the same baseline is refused by
			// moto's validator: one FAILED notice that says so, and a
			// failed invocation, as for every permanent error.
			t.Run("a repository, where moto refuses the archive grammar", func(t *testing.T) {
				direct := ecr.NewFromConfig(moto.AWSConfig(t, moto.URL()))
				const name = "team-b/api"
				if err := scenario.Seed(t.Context(), direct, name, &scenario.State{Mutability: guard.Immutable, Lifecycle: "absent"}, ""); err != nil {
					t.Fatal(err)
				}
				raw, err := scenario.ReadEvent(testenv.ModuleRoot(t), "create-repository-immutable.json", time.Now())
				if err != nil {
					t.Fatal(err)
				}
				proxy.Reset()
				if status, body := rie.Invoke(t, raw); status != 200 || !strings.Contains(string(body), `"errorType"`) || !strings.Contains(string(body), "InvalidParameterException") {
					t.Fatalf("status %d: %s, want a failed invocation naming InvalidParameterException\n%s", status, body, rie.Output())
				}
				if n := proxy.Count("PutLifecyclePolicy"); n != 1 {
					t.Fatalf("%d PutLifecyclePolicy calls, want 1", n)
				}
				n := inbox.Receive(t, 1, 5*time.Second)[0]
				if n.Attributes["kind"] != string(guard.KindFailed) || !strings.Contains(n.Message, "InvalidParameterException") {
					t.Fatalf("notice %q %v, want FAILED naming moto's InvalidParameterException\n%s", n.Subject, n.Attributes, n.Message)
				}
			})
		})
	}
}

// checkLifecycleNotice checks the notice of a lifecycle fix: its kind, the
// policy's state before and after in the notice's words, and for a merge
// the baseline rules it names as added.
func checkLifecycleNotice(t *testing.T, n testenv.Notice, hadPolicy bool, want lifecycleOutcome) {
	t.Helper()
	var doc notice.EventDocument
	if err := json.Unmarshal([]byte(n.Message), &doc); err != nil {
		t.Fatalf("document %s: %v", n.Message, err)
	}
	wantBefore, wantAfter := guard.PolicyAbsent, guard.PolicyBaseline
	if hadPolicy {
		wantBefore = guard.PolicyOther
	}
	if want == mergedIn {
		wantAfter = guard.PolicyContainsBaseline
	}
	if doc.Kind != guard.KindLifecycleRestored || doc.Template == nil || doc.Template.Prefix != "docker-hub" ||
		doc.Before.LifecyclePolicy != wantBefore || doc.After.LifecyclePolicy != wantAfter {
		t.Fatalf("notice %s %+v: lifecycle %q -> %q, want LIFECYCLE_RESTORED on template docker-hub, %q -> %q",
			doc.Kind, doc.Template, doc.Before.LifecyclePolicy, doc.After.LifecyclePolicy, wantBefore, wantAfter)
	}
	if want != mergedIn {
		return
	}
	summary := doc.Actions[0].Summary
	for _, added := range []string{"added baseline rules: ", "Expire untagged images 7 days after push", "Archive images nobody pulled for 90 days", "Delete images archived a year ago"} {
		if !strings.Contains(summary, added) {
			t.Errorf("the finding %q does not name %q", summary, added)
		}
	}
}
