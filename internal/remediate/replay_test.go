package remediate_test

// Replay (GitHub issue 4, "Production hardening"): 1,000 events, valid ones
// duplicated and shuffled among malformed and not-applicable ones, against
// moto. The expected end state of every repository follows from which kinds
// of valid event named it, not from the decision core.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/scenario"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

const replayTotal = 1000

// sample is an events/ file and the repository name it carries (replaced
// everywhere: request, response, ARNs, URIs).
type sample struct {
	file, repo string
	mutability bool // the event triggers the mutability rule
	lifecycle  bool // the event triggers the lifecycle rule
}

// validSamples are the handled events a target repository may receive.
var validSamples = []sample{
	{"create-repository-mutable.json", "team-a/web", true, true},
	{"create-repository-immutable.json", "team-b/api", true, true},
	{"create-repository-mutable-with-dev-tag.json", "team-c/sandbox", true, true},
	{"put-image-tag-mutability-mutable.json", "team-b/api", true, false},
	{"put-image-tag-mutability-mutable-with-exclusion.json", "team-b/api", true, false},
	{"put-image-tag-mutability-immutable-with-exclusion-not-allowed.json", "team-b/api", true, false},
	{"put-image-tag-mutability-immutable-with-exclusion-allowed.json", "team-b/api", true, false},
	{"tag-resource-adds-exemption.json", "team-a/web", true, false},
	{"untag-resource-removes-exemption.json", "team-c/sandbox", true, false},
	{"put-lifecycle-policy.json", "team-b/api", false, true},
	{"delete-lifecycle-policy.json", "team-a/web", false, true},
}

// profile is a starting state and what the mutability rule makes of it,
// written out by hand from the README's rules (ALLOWED_MUTABLE_TAG_FILTERS
// is latest,dev-*; EXEMPT_TAGS environment=dev).
type profile struct {
	name   string
	seed   scenario.State
	exempt bool   // an active exemption: mutability is left alone
	fixed  string // the compliant setting a mutability check leaves: "IMMUTABLE" or "IMMUTABLE_WITH_EXCLUSION:f1,f2"
	count  int    // target repositories with this profile
}

var (
	devTag     = map[string]string{"environment": "dev"}
	devFuture  = map[string]string{"environment": "dev", "exemption-expires": "2099-12-31"}
	devExpired = map[string]string{"environment": "dev", "exemption-expires": "2020-01-01"}
)

var profiles = []profile{
	{"mutable, no lifecycle", scenario.State{Mutability: guard.Mutable, Lifecycle: "absent"}, false, "IMMUTABLE", 3},
	{"mutable, weak lifecycle", scenario.State{Mutability: guard.Mutable, Lifecycle: "other"}, false, "IMMUTABLE", 3},
	{"mutable, baseline", scenario.State{Mutability: guard.Mutable, Lifecycle: "baseline"}, false, "IMMUTABLE", 3},
	{"mutable with exclusion", scenario.State{Mutability: guard.MutableWithExclusion, Filters: []string{"release-*"}, Lifecycle: "absent"}, false, "IMMUTABLE", 3},
	{"mutable with exclusion, one allowed filter", scenario.State{Mutability: guard.MutableWithExclusion, Filters: []string{"latest", "release-*"}, Lifecycle: "other"}, false, "IMMUTABLE", 2}, // its filters named immutable tags
	{"immutable with a disallowed filter", scenario.State{Mutability: guard.ImmutableWithExclusion, Filters: []string{"latest", "v*"}, Lifecycle: "baseline"}, false, "IMMUTABLE_WITH_EXCLUSION:latest", 3},
	{"immutable with only a disallowed filter", scenario.State{Mutability: guard.ImmutableWithExclusion, Filters: []string{"v*"}, Lifecycle: "other"}, false, "IMMUTABLE", 3},
	{"immutable, no lifecycle", scenario.State{Mutability: guard.Immutable, Lifecycle: "absent"}, false, "IMMUTABLE", 3},
	{"immutable with allowed filters, weak lifecycle", scenario.State{Mutability: guard.ImmutableWithExclusion, Filters: []string{"latest", "dev-*"}, Lifecycle: "other"}, false, "IMMUTABLE_WITH_EXCLUSION:latest,dev-*", 2},
	{"exempt dev", scenario.State{Mutability: guard.Mutable, Tags: devTag, Lifecycle: "absent"}, true, "", 2},
	{"exempt dev until 2099", scenario.State{Mutability: guard.Mutable, Tags: devFuture, Lifecycle: "other"}, true, "", 1},
	{"dev with an expired exemption", scenario.State{Mutability: guard.Mutable, Tags: devExpired, Lifecycle: "baseline"}, false, "IMMUTABLE", 1},
}

// victimSeeds are non-compliant on purpose: any side effect would show.
var victimSeeds = []scenario.State{
	{Mutability: guard.Mutable, Lifecycle: "absent"},
	{Mutability: guard.Mutable, Lifecycle: "other"},
	{Mutability: guard.MutableWithExclusion, Filters: []string{"release-*"}, Lifecycle: "baseline"},
	{Mutability: guard.ImmutableWithExclusion, Filters: []string{"v*"}, Lifecycle: "absent"},
	{Mutability: guard.Mutable, Tags: devExpired, Lifecycle: "other"},
}

type target struct {
	name    string
	profile profile
	// which kinds of valid event it received (set while building the replay)
	gotMutability, gotLifecycle bool
}

// expected is the end state, by simple reasoning: a mutability-triggering
// event makes a non-exempt repository compliant; a lifecycle-triggering one
// (CreateRepository included) puts the baseline; nothing else changes.
func (tg *target) expected() *scenario.State {
	want := tg.profile.seed
	if tg.gotMutability && !tg.profile.exempt {
		mut, filters, _ := strings.Cut(tg.profile.fixed, ":")
		want.Mutability, want.Filters = mut, nil
		if filters != "" {
			want.Filters = strings.Split(filters, ",")
		}
	}
	if tg.gotLifecycle {
		want.Lifecycle = "baseline"
	}
	return &want
}

func (tg *target) mutabilityChanges() bool {
	w := tg.expected()
	return w.Mutability != tg.profile.seed.Mutability || !slices.Equal(w.Filters, tg.profile.seed.Filters)
}

func (tg *target) lifecycleChanges() bool {
	return tg.expected().Lifecycle != tg.profile.seed.Lifecycle
}

// delivery is one invocation of the replay.
type delivery struct {
	raw      []byte
	label    string // what it is, for failure messages
	repo     string // the repository it names ("" when none can be read)
	valid    bool   // a handled event that must be acted on (nil error, calls allowed)
	rejectOK bool   // rejected as not applicable: nil error, no call
}

// replayBuilder makes events from the samples with fresh names and ids.
type replayBuilder struct {
	t       *testing.T
	rng     *rand.Rand
	samples map[string]string // file -> text
}

func (b *replayBuilder) uuid() string {
	r := b.rng
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, 0x8000|r.Uint32()&0x3fff, r.Uint64()&0xffffffffffff)
}

// event returns the sample file with its repository renamed to repo, fresh
// envelope and CloudTrail ids, and edit applied to the decoded JSON.
func (b *replayBuilder) event(file, sampleRepo, repo string, edit func(ev, detail map[string]any)) map[string]any {
	b.t.Helper()
	text, ok := b.samples[file]
	if !ok {
		text = string(readEvent(b.t, file))
		b.samples[file] = text
	}
	if !strings.Contains(text, sampleRepo) {
		b.t.Fatalf("%s does not name %s", file, sampleRepo)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(strings.ReplaceAll(text, sampleRepo, repo)), &ev); err != nil {
		b.t.Fatal(err)
	}
	detail := ev["detail"].(map[string]any)
	ev["id"], detail["eventID"], detail["requestID"] = b.uuid(), b.uuid(), b.uuid()
	if edit != nil {
		edit(ev, detail)
	}
	return ev
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// rejected makes one malformed or not-applicable event naming repo.
func (b *replayBuilder) rejected(repo string) delivery {
	t := b.t
	malformed := func(label string, ev map[string]any) delivery {
		return delivery{raw: mustJSON(t, ev), label: label, repo: repo}
	}
	switch k := b.rng.IntN(11); k {
	case 0: // broken JSON: a strict prefix of a JSON object never parses
		raw := mustJSON(t, b.event("put-image-tag-mutability-mutable.json", "team-b/api", repo, nil))
		return delivery{raw: raw[:1+b.rng.IntN(len(raw)-1)], label: "truncated JSON", repo: repo}
	case 1:
		return malformed("another source", b.event("put-image-tag-mutability-mutable.json", "team-b/api", repo, func(ev, _ map[string]any) { ev["source"] = "aws.s3" }))
	case 2:
		return malformed("another detail-type", b.event("create-repository-mutable.json", "team-a/web", repo, func(ev, _ map[string]any) { ev["detail-type"] = "AWS Console Sign In via CloudTrail" }))
	case 3:
		return malformed("no repositoryName", b.event("put-image-tag-mutability-mutable.json", "team-b/api", repo, func(_, d map[string]any) {
			delete(d["requestParameters"].(map[string]any), "repositoryName")
		}))
	case 4:
		return malformed("no requestParameters", b.event("delete-lifecycle-policy.json", "team-a/web", repo, func(_, d map[string]any) { d["requestParameters"] = nil }))
	case 5:
		return malformed("non-ECR ARN", b.event("tag-resource-adds-exemption.json", "team-a/web", repo, func(_, d map[string]any) {
			d["requestParameters"].(map[string]any)["resourceArn"] = "arn:aws:s3:::" + strings.ReplaceAll(repo, "/", "-")
		}))
	case 6:
		return malformed("ECR ARN that is not a repository", b.event("untag-resource-removes-exemption.json", "team-c/sandbox", repo, func(_, d map[string]any) {
			arn := d["requestParameters"].(map[string]any)["resourceArn"].(string)
			d["requestParameters"].(map[string]any)["resourceArn"] = strings.Replace(arn, ":repository/", ":registry/", 1)
		}))
	case 7:
		return malformed("detail not an object", b.event("create-repository-mutable.json", "team-a/web", repo, func(ev, _ map[string]any) { ev["detail"] = "CreateRepository " + repo }))
	case 8:
		return malformed("eventTime not RFC 3339", b.event("put-image-tag-mutability-mutable.json", "team-b/api", repo, func(_, d map[string]any) { d["eventTime"] = "yesterday" }))
	case 9: // not applicable: a failed call
		return delivery{raw: mustJSON(t, b.event("put-image-tag-mutability-failed.json", "team-b/api", repo, nil)), label: "errorCode", repo: repo, rejectOK: true}
	default: // not applicable: an eventName ecr-guard does not handle
		return delivery{raw: mustJSON(t, b.event("delete-repository.json", "team-c/sandbox", repo, nil)), label: "DeleteRepository", repo: repo, rejectOK: true}
	}
}

// echoes are the CloudTrail events of ecr-guard's own writes among calls, as
// EventBridge would deliver them back: made with its role, asking for what
// the write asked for.
func (b *replayBuilder) echoes(calls []testenv.Call) [][]byte {
	t := b.t
	own := b.event("put-image-tag-mutability-by-remediator-role.json", "team-a/web", "team-a/web", nil)["detail"].(map[string]any)["userIdentity"]
	var out [][]byte
	for _, c := range calls {
		if c.Operation != "PutImageTagMutability" && c.Operation != "PutLifecyclePolicy" {
			continue
		}
		var in struct {
			RepositoryName      string
			ImageTagMutability  string
			ExclusionFilters    []map[string]string `json:"imageTagMutabilityExclusionFilters"`
			LifecyclePolicyText string
		}
		if err := json.Unmarshal(c.Body, &in); err != nil {
			t.Fatalf("%s body: %v", c.Operation, err)
		}
		switch c.Operation {
		case "PutImageTagMutability":
			out = append(out, mustJSON(t, b.event("put-image-tag-mutability-by-remediator-role.json", "team-a/web", in.RepositoryName, func(_, d map[string]any) {
				req := d["requestParameters"].(map[string]any)
				req["imageTagMutability"] = in.ImageTagMutability
				if len(in.ExclusionFilters) > 0 {
					req["imageTagMutabilityExclusionFilters"] = in.ExclusionFilters
				}
			})))
		case "PutLifecyclePolicy":
			out = append(out, mustJSON(t, b.event("put-lifecycle-policy.json", "team-b/api", in.RepositoryName, func(_, d map[string]any) {
				d["userIdentity"] = own
				d["requestParameters"].(map[string]any)["lifecyclePolicyText"] = in.LifecyclePolicyText
			})))
		}
	}
	return out
}

// snapshot is a repository as ECR returns it, for a byte-for-byte comparison.
func snapshot(t *testing.T, api *ecr.Client, name string) string {
	t.Helper()
	ctx := context.Background()
	out, err := api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{name}})
	if err != nil {
		t.Fatal(err)
	}
	tags, err := api.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: out.Repositories[0].RepositoryArn})
	if err != nil {
		t.Fatal(err)
	}
	policy := "(none)"
	lc, err := api.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String(name)})
	var none *ecrtypes.LifecyclePolicyNotFoundException
	switch {
	case err == nil:
		policy = aws.ToString(lc.LifecyclePolicyText)
	case !errors.As(err, &none):
		t.Fatal(err)
	}
	return string(mustJSON(t, out.Repositories)) + "\n" + string(mustJSON(t, tags.Tags)) + "\n" + policy
}

func TestReplayThousandEvents(t *testing.T) {
	start := time.Now()
	w := newProductionWorld(t, false)
	t.Cleanup(func() {
		if t.Failed() {
			lines := w.logs.JSONLines(t)
			t.Logf("last handler log lines (of %d):", len(lines))
			for _, l := range lines[max(0, len(lines)-40):] {
				t.Log(string(mustJSON(t, l)))
			}
		}
	})
	b := &replayBuilder{t: t, rng: rand.New(rand.NewPCG(20250610, 4)), samples: map[string]string{}}

	// Repositories.
	var targets []*target
	for _, p := range profiles {
		for range p.count {
			tg := &target{name: fmt.Sprintf("replay/target-%02d", len(targets)), profile: p}
			targets = append(targets, tg)
			w.seed(t, tg.name, &tg.profile.seed)
		}
	}
	victims := map[string]string{} // name -> snapshot
	var victimNames []string
	for i, s := range victimSeeds {
		name := fmt.Sprintf("replay/victim-%d", i)
		w.seed(t, name, &s)
		victims[name] = snapshot(t, w.ecr, name)
		victimNames = append(victimNames, name)
	}

	// Valid events: each target gets a few distinct events, from one of
	// four mixes so that some receive only mutability-triggering or only
	// lifecycle-triggering events; each is delivered one to three times.
	var mutSamples, lcSamples []sample
	for _, s := range validSamples {
		if s.mutability && !s.lifecycle {
			mutSamples = append(mutSamples, s)
		}
		if s.lifecycle && !s.mutability {
			lcSamples = append(lcSamples, s)
		}
	}
	var deliveries []delivery
	for i, tg := range targets {
		var pool []sample
		switch i % 4 {
		case 0:
			pool = mutSamples
		case 1:
			pool = lcSamples
		case 2:
			pool = validSamples
		case 3:
			pool = validSamples[:3] // CreateRepository only
		}
		for range 4 + b.rng.IntN(5) {
			s := pool[b.rng.IntN(len(pool))]
			tg.gotMutability = tg.gotMutability || s.mutability
			tg.gotLifecycle = tg.gotLifecycle || s.lifecycle
			raw := mustJSON(t, b.event(s.file, s.repo, tg.name, nil))
			for range 1 + b.rng.IntN(3) {
				deliveries = append(deliveries, delivery{raw: raw, label: s.file, repo: tg.name, valid: true})
			}
		}
	}
	valid := len(deliveries)
	if valid < replayTotal/4 || valid > replayTotal*2/3 {
		t.Fatalf("%d valid deliveries: want a mix of valid and rejected ones", valid)
	}
	// Rejected events, mostly naming victims, some naming targets.
	for len(deliveries) < replayTotal {
		repo := victimNames[b.rng.IntN(len(victimNames))]
		if b.rng.IntN(4) == 0 {
			repo = targets[b.rng.IntN(len(targets))].name
		}
		deliveries = append(deliveries, b.rejected(repo))
	}
	b.rng.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })
	built := time.Since(start)

	// Replay.
	w.proxy.Reset()
	ctx := context.Background()
	kinds := map[string]int{}
	for i, d := range deliveries {
		before := len(w.proxy.Calls())
		err := w.handler.Handle(ctx, d.raw)
		kinds[d.label]++
		switch {
		case d.valid && err != nil:
			t.Fatalf("delivery %d (%s for %s): Handle = %v, want nil", i, d.label, d.repo, err)
		case !d.valid && d.rejectOK && err != nil:
			t.Fatalf("delivery %d (%s for %s): Handle = %v, want nil for a not-applicable event", i, d.label, d.repo, err)
		case !d.valid && !d.rejectOK && err == nil:
			t.Fatalf("delivery %d (%s for %s): Handle = nil, want an error for a malformed event\n%s", i, d.label, d.repo, d.raw)
		}
		if calls := w.proxy.Calls(); !d.valid && len(calls) != before {
			t.Fatalf("delivery %d (%s for %s) made AWS calls: %+v", i, d.label, d.repo, calls[before:])
		}
	}
	replayed := time.Since(start) - built

	// End state of every repository.
	for _, tg := range targets {
		if got, want := w.state(t, tg.name), tg.expected(); !scenario.Equal(got, want) {
			t.Errorf("%s (%s; mutability events %v, lifecycle events %v): state = %v, want %v",
				tg.name, tg.profile.name, tg.gotMutability, tg.gotLifecycle, got, want)
		}
	}
	for _, name := range victimNames {
		if got := snapshot(t, w.ecr, name); got != victims[name] {
			t.Errorf("victim %s changed:\nbefore %s\nafter  %s", name, victims[name], got)
		}
	}

	// Writes: at most one of each per repository, however often and in
	// whatever order its events came; none for victims.
	writes := map[string]map[string]int{} // operation -> repository -> count
	for _, c := range w.proxy.Calls() {
		if c.Operation != "PutImageTagMutability" && c.Operation != "PutLifecyclePolicy" {
			continue
		}
		var in struct{ RepositoryName string }
		if err := json.Unmarshal(c.Body, &in); err != nil {
			t.Fatalf("%s body: %v", c.Operation, err)
		}
		if writes[c.Operation] == nil {
			writes[c.Operation] = map[string]int{}
		}
		writes[c.Operation][in.RepositoryName]++
	}
	for _, tg := range targets {
		if got, want := writes["PutImageTagMutability"][tg.name], b2i(tg.mutabilityChanges()); got != want {
			t.Errorf("%s: %d PutImageTagMutability, want %d", tg.name, got, want)
		}
		if got, want := writes["PutLifecyclePolicy"][tg.name], b2i(tg.lifecycleChanges()); got != want {
			t.Errorf("%s: %d PutLifecyclePolicy, want %d", tg.name, got, want)
		}
	}
	for op, perRepo := range writes {
		for _, v := range victimNames {
			if perRepo[v] != 0 {
				t.Errorf("victim %s got %d %s", v, perRepo[v], op)
			}
		}
	}

	// The echo of every write ecr-guard made: each own call is checked
	// against the live state, finds it compliant, and writes and tells
	// nothing, so there is no loop.
	echoes := b.echoes(w.proxy.Calls())
	if len(echoes) == 0 {
		t.Fatal("the replay made no write to echo")
	}
	echoFrom := len(w.proxy.Calls())
	for i, raw := range echoes {
		if err := w.handler.Handle(ctx, raw); err != nil {
			t.Fatalf("echo %d: %v\n%s", i, err, raw)
		}
	}
	for _, c := range w.proxy.Calls()[echoFrom:] {
		if c.Operation != "DescribeRepositories" && c.Operation != "ListTagsForResource" && c.Operation != "GetLifecyclePolicy" {
			t.Errorf("an echo of ecr-guard's own write led to %s %s", c.Operation, c.Body)
		}
	}
	if got := strings.Count(w.logs.String(), "own call: compliant"); got != len(echoes) {
		t.Errorf("%d of %d echoes were logged as compliant own calls", got, len(echoes))
	}

	// Notices: one per Publish, all well-formed, none about a victim, and
	// each fix reported exactly once.
	publishes := w.proxy.Forwarded("sns.Publish")
	if publishes == 0 {
		t.Fatalf("no Publish reached moto")
	}
	notices := w.inbox.Receive(t, publishes, 10*time.Second)
	actions := map[string]map[guard.Kind]int{} // repository -> action kind -> count
	mutabilityObserved := map[string]int{}     // repository -> OBSERVED actions about mutability
	noticeKinds := map[string]int{}
	for _, n := range notices {
		checkReplayNotice(t, n, victimNames)
		var doc notice.EventDocument
		if err := json.Unmarshal([]byte(n.Message), &doc); err != nil {
			t.Errorf("notice body is not the JSON document: %v", err)
			continue
		}
		if actions[doc.Repository.Name] == nil {
			actions[doc.Repository.Name] = map[guard.Kind]int{}
		}
		for _, a := range doc.Actions {
			actions[doc.Repository.Name][a.Kind]++
			if a.Kind == guard.KindObserved && a.Area == guard.AreaMutability {
				mutabilityObserved[doc.Repository.Name]++
			}
		}
		noticeKinds[n.Attributes["kind"]]++
	}
	for _, tg := range targets {
		got := actions[tg.name]
		if got[guard.KindRemediated] != b2i(tg.mutabilityChanges()) || got[guard.KindLifecycleRestored] != b2i(tg.lifecycleChanges()) {
			t.Errorf("%s (%s): notice actions %v, want REMEDIATED %d and LIFECYCLE_RESTORED %d",
				tg.name, tg.profile.name, got, b2i(tg.mutabilityChanges()), b2i(tg.lifecycleChanges()))
		}
		if tg.profile.exempt && mutabilityObserved[tg.name] != 0 {
			t.Errorf("%s is exempt but %d notices report an observed mutability window", tg.name, mutabilityObserved[tg.name])
		}
		if got[guard.KindFailed] != 0 {
			t.Errorf("%s: FAILED actions %v", tg.name, got)
		}
	}

	t.Logf("%d deliveries (%d valid, %d rejected): built in %v, replayed in %v, checked in %v; %d AWS calls; %d notices %v",
		len(deliveries), valid, len(deliveries)-valid, built.Round(time.Millisecond), replayed.Round(time.Millisecond),
		(time.Since(start) - built - replayed).Round(time.Millisecond), len(w.proxy.Calls()), len(notices), noticeKinds)
	t.Logf("deliveries by kind: %v", kinds)
}

// checkReplayNotice checks a notice's form: subject within SNS's limits, the
// attributes filter policies use, and not about a victim.
func checkReplayNotice(t *testing.T, n testenv.Notice, victims []string) {
	t.Helper()
	if len(n.Subject) == 0 || len(n.Subject) > 100 || strings.ContainsFunc(n.Subject, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
		t.Errorf("subject %q is not 1-100 printable ASCII characters", n.Subject)
	}
	for _, k := range []string{"kind", "severity", "repository", "account", "region", "eventName"} {
		if n.Attributes[k] == "" {
			t.Errorf("notice %q lacks attribute %s: %v", n.Subject, k, n.Attributes)
		}
	}
	if !strings.HasPrefix(n.Subject, "[ecr-guard] "+n.Attributes["kind"]+" "+n.Attributes["repository"]) {
		t.Errorf("subject %q does not match attributes %v", n.Subject, n.Attributes)
	}
	for _, v := range victims {
		if strings.Contains(n.Raw, v) {
			t.Errorf("a notice names victim %s: %s", v, n.Subject)
		}
	}
	if !strings.HasPrefix(n.Attributes["repository"], "replay/target-") {
		t.Errorf("notice about %q, which no valid event named", n.Attributes["repository"])
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
