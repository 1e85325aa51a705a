package testenv

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/ecr-guard/ecr-guard/internal/fault"
	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// MemTemplates is an in-memory registry of repository creation templates
// for unit tests, behind reconcile.Templates; the real adapter is tested
// against the template fake beside moto (templates.go). Hook, when set,
// runs first on every call with the operation's name ("Templates",
// "Template", "UpdateTemplate", "CreateTemplate") and the prefix ("" for
// Templates): record the call there, or fail it by returning an error.
type MemTemplates struct {
	Hook func(op, prefix string) error

	mu       sync.Mutex
	byPrefix map[string]*guard.Template
	changes  []guard.TemplateChange
}

// Put stores t, replacing the template with its prefix.
func (m *MemTemplates) Put(t guard.Template) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byPrefix == nil {
		m.byPrefix = map[string]*guard.Template{}
	}
	m.byPrefix[t.Prefix] = &t
}

// Get returns a copy of the template with prefix; nil when there is none.
func (m *MemTemplates) Get(prefix string) *guard.Template {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.byPrefix[prefix]; ok {
		c := *t
		return &c
	}
	return nil
}

// Changes are the changes UpdateTemplate wrote, in order.
func (m *MemTemplates) Changes() []guard.TemplateChange {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.changes)
}

func (m *MemTemplates) hook(op, prefix string) error {
	if m.Hook == nil {
		return nil
	}
	return m.Hook(op, prefix)
}

// Templates lists every template, by prefix.
func (m *MemTemplates) Templates(context.Context) ([]guard.Template, error) {
	if err := m.hook("Templates", ""); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []guard.Template
	for _, t := range m.byPrefix {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b guard.Template) int { return cmp.Compare(a.Prefix, b.Prefix) })
	return out, nil
}

// Template reads one template; a missing one is guard.ErrTemplateNotFound.
func (m *MemTemplates) Template(_ context.Context, prefix string) (guard.Template, error) {
	if err := m.hook("Template", prefix); err != nil {
		return guard.Template{}, err
	}
	if t := m.Get(prefix); t != nil {
		return *t, nil
	}
	return guard.Template{}, fmt.Errorf("template %s: %w", prefix, guard.ErrTemplateNotFound)
}

// UpdateTemplate applies c as ecrrepo.UpdateTemplate does: only mutability,
// lifecycle policy and added appliedFor values.
func (m *MemTemplates) UpdateTemplate(_ context.Context, prefix string, c guard.TemplateChange) error {
	if err := m.hook("UpdateTemplate", prefix); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.byPrefix[prefix]
	if !ok {
		return fmt.Errorf("template %s: %w", prefix, guard.ErrTemplateNotFound)
	}
	if c.Basis != nil && !t.SameForTheRules(*c.Basis) {
		return &fault.Error{Err: fmt.Errorf("template %s: %w", prefix, guard.ErrTemplateChanged), Code: "TemplateChanged", Retryable: true}
	}
	m.changes = append(m.changes, c)
	if c.Mutability != nil {
		t.Mutability, t.ExclusionFilters = c.Mutability.Mutability, c.Mutability.ExclusionFilters
	}
	if c.LifecyclePolicy != "" {
		t.Lifecycle = guard.Lifecycle{Exists: true, Text: c.LifecyclePolicy}
	}
	for _, a := range c.AddAppliedFor {
		if !slices.Contains(t.AppliedFor, a) {
			t.AppliedFor = append(t.AppliedFor, a)
		}
	}
	return nil
}

// CreateTemplate stores t; one with its prefix already there is
// guard.ErrTemplateExists.
func (m *MemTemplates) CreateTemplate(_ context.Context, t guard.Template) error {
	if err := m.hook("CreateTemplate", t.Prefix); err != nil {
		return err
	}
	if m.Get(t.Prefix) != nil {
		return fmt.Errorf("template %s: %w", t.Prefix, guard.ErrTemplateExists)
	}
	m.Put(t)
	return nil
}
