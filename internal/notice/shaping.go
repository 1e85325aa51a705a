package notice

import (
	"cmp"
	"strings"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// ShapedBy is how ECR created a repository on its own and the repository
// creation template that gave it its settings (schema 1.1).
type ShapedBy struct {
	// AppliedFor is how ECR created it: REPLICATION, PULL_THROUGH_CACHE or
	// CREATE_ON_PUSH; absent when the event does not say (a CloudTrail
	// CreateRepository by ecr.amazonaws.com), and Template is then the
	// template matching the name, whatever it is applied for.
	AppliedFor string `json:"appliedFor,omitempty"`
	// Template is null when no template applies: the repository got ECR's
	// defaults, MUTABLE tags and no lifecycle policy.
	Template *ShapingTemplate `json:"template"`
}

// ShapingTemplate identifies the template that shaped a repository, and
// the tag mutability it gives.
type ShapingTemplate struct {
	Prefix             string   `json:"prefix"`
	AppliedFor         []string `json:"appliedFor,omitempty"`
	ImageTagMutability string   `json:"imageTagMutability,omitempty"`
	ExclusionFilters   []string `json:"imageTagMutabilityExclusionFilters,omitempty"`
}

func shapedBy(s guard.Shaping) *ShapedBy {
	d := &ShapedBy{AppliedFor: capText(s.AppliedFor, capShort)}
	if t := s.Template; t != nil {
		d.Template = &ShapingTemplate{
			Prefix:             capText(t.Prefix, capName),
			AppliedFor:         capList(t.AppliedFor, capAppliedFor, capShort),
			ImageTagMutability: capText(t.Mutability, capSetting),
			ExclusionFilters:   capList(t.ExclusionFilters, capFilters, capFilter),
		}
	}
	return d
}

// creations name the ways ECR creates repositories on its own.
var creations = map[string]string{
	guard.AppliedForReplication:      "replication",
	guard.AppliedForPullThroughCache: "pull-through cache",
	guard.AppliedForCreateOnPush:     "create-on-push",
}

// ecrDefaults is what a repository ECR creates without a template gets, in
// the words guard uses for a deleted template. A repository's tag
// mutability defaults to MUTABLE (CreateRepository, imageTagMutability:
// https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html);
// that ECR's own creations take that default is the premise, not a
// sentence found in ECR's documentation.
const ecrDefaults = "ECR's defaults (MUTABLE tags, no lifecycle policy)"

// createdBy says who created the repository and what shaped it: "ECR
// (pull-through cache) from template docker-hub [PULL_THROUGH_CACHE],
// image tag mutability MUTABLE".
func createdBy(s ShapedBy) string {
	who := "ECR on its own"
	if s.AppliedFor != "" {
		who = "ECR (" + cmp.Or(creations[s.AppliedFor], s.AppliedFor) + ")"
	}
	t := s.Template
	switch {
	case t == nil && s.AppliedFor == "":
		return who + "; no template matches its name: " + ecrDefaults
	case t == nil:
		return who + " with no template: " + ecrDefaults
	}
	ref := t.Prefix
	if len(t.AppliedFor) > 0 {
		ref += " [" + strings.Join(t.AppliedFor, ", ") + "]"
	}
	ref += ", image tag mutability " + guard.DescribeMutability(t.ImageTagMutability, t.ExclusionFilters)
	if s.AppliedFor == "" {
		return who + "; the template matching its name: " + ref
	}
	return who + " from template " + ref
}
