package remediate

import (
	"context"
	"fmt"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// The template half of fakeRepos: templates by prefix.

func (f *fakeRepos) Templates(context.Context) ([]guard.Template, error) {
	err := f.op("Templates")
	defer f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var out []guard.Template
	for _, t := range f.templates {
		out = append(out, *t)
	}
	return out, nil
}

func (f *fakeRepos) Template(_ context.Context, prefix string) (guard.Template, error) {
	err := f.op("Template")
	defer f.mu.Unlock()
	if err != nil {
		return guard.Template{}, err
	}
	t, ok := f.templates[prefix]
	if !ok {
		return guard.Template{}, fmt.Errorf("template %s: %w", prefix, guard.ErrTemplateNotFound)
	}
	return *t, nil
}

func (f *fakeRepos) UpdateTemplate(_ context.Context, prefix string, c guard.TemplateChange) error {
	err := f.op("UpdateTemplate")
	defer f.mu.Unlock()
	if err != nil {
		return err
	}
	t, ok := f.templates[prefix]
	if !ok {
		return fmt.Errorf("template %s: %w", prefix, guard.ErrTemplateNotFound)
	}
	if c.Mutability != nil {
		t.Mutability, t.ExclusionFilters = c.Mutability.Mutability, c.Mutability.ExclusionFilters
	}
	if c.LifecyclePolicy != "" {
		t.Lifecycle = guard.Lifecycle{Exists: true, Text: c.LifecyclePolicy}
	}
	t.AppliedFor = append(t.AppliedFor, c.AddAppliedFor...)
	return nil
}

func (f *fakeRepos) CreateTemplate(_ context.Context, t guard.Template) error {
	err := f.op("CreateTemplate")
	defer f.mu.Unlock()
	if err != nil {
		return err
	}
	if _, ok := f.templates[t.Prefix]; ok {
		return fmt.Errorf("template %s: %w", t.Prefix, guard.ErrTemplateExists)
	}
	f.templates[t.Prefix] = &t
	return nil
}
