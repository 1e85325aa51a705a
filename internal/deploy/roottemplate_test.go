package deploy

import (
	"slices"
	"testing"
)

// TestCreateTemplateOnlyWithEnsure: ecr:CreateRepositoryCreationTemplate is
// the one template action the functions use only with RootTemplate=ensure,
// so the function roles and the member role hold it then, and only then,
// in the template statement.
func TestCreateTemplateOnlyWithEnsure(t *testing.T) {
	f := loadOrgFixture(t)
	const create = "ecr:CreateRepositoryCreationTemplate"
	for _, mode := range []string{"report", "ensure", "off"} {
		want := mode == "ensure"
		view, err := Resolve(f.raw, map[string]string{"RootTemplate": mode})
		if err != nil {
			t.Fatal(err)
		}
		docs, err := policyDocuments(view)
		if err != nil {
			t.Fatal(err)
		}
		holders := map[string]bool{}
		for _, d := range docs {
			stmts, err := statements(d)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range stmts {
				if slices.Contains(s.actions, create) {
					holders[d.role] = true
					if !isTemplateStatement(s.actions) || len(s.resource) != 1 || s.resource[0] != "*" {
						t.Errorf("RootTemplate=%s: %s holds %s in %v on %v, want it in the template statement", mode, d.role, create, s.actions, s.resource)
					}
				}
			}
		}
		for _, role := range []string{roleID, sweepRoleID} {
			if holders[role] != want {
				t.Errorf("RootTemplate=%s: %s may %s: %v, want %v", mode, role, create, holders[role], want)
			}
		}
		member, err := Resolve(f.member, map[string]string{"AWS::AccountId": "222222222222", "AWS::Region": "us-east-1", "IamRegion": "us-east-1", "RootTemplate": mode})
		if err != nil {
			t.Fatal(err)
		}
		all, _ := Resources(member)
		_, allowed := roleStatements(all["MemberRole"])
		got := slices.ContainsFunc(allowed, func(s map[string]any) bool {
			acts, _ := stringList(s["Action"])
			return slices.Contains(acts, create)
		})
		if got != want {
			t.Errorf("RootTemplate=%s: the member role may %s: %v, want %v", mode, create, got, want)
		}
	}
}
