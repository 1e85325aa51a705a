package deploy

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

type policyKind int

const (
	identityPolicy policyKind = iota // attached to an IAM role
	trustPolicy                      // a role's AssumeRolePolicyDocument
	resourcePolicy                   // SNS topic / SQS queue policy
	keyPolicy                        // KMS key policy
)

type policyDoc struct {
	where string     // human-readable location
	kind  policyKind // what the document is
	role  string     // logical ID of the role an identity policy is attached to
	doc   any
}

// roleOf returns the logical ID of a role referenced as {"Ref": id}.
func roleOf(v any) string {
	if m, ok := v.(map[string]any); ok {
		if s, ok := m["Ref"].(string); ok {
			return s
		}
	}
	return ""
}

// policyDocuments returns every IAM policy document in the template.
func policyDocuments(tmpl map[string]any) ([]policyDoc, error) {
	all, err := Resources(tmpl)
	if err != nil {
		return nil, err
	}
	var docs []policyDoc
	for _, id := range sortedKeys(all) {
		r := all[id]
		props := Properties(r)
		switch r["Type"] {
		case "AWS::IAM::Role":
			docs = append(docs, policyDoc{id + ".AssumeRolePolicyDocument", trustPolicy, id, props["AssumeRolePolicyDocument"]})
			for i, p := range valueList(props["Policies"]) {
				pm, _ := p.(map[string]any)
				docs = append(docs, policyDoc{fmt.Sprintf("%s.Policies[%d]", id, i), identityPolicy, id, pm["PolicyDocument"]})
			}
		case "AWS::IAM::RolePolicy":
			docs = append(docs, policyDoc{id, identityPolicy, roleOf(props["RoleName"]), props["PolicyDocument"]})
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			roles := valueList(props["Roles"])
			if len(roles) == 0 {
				docs = append(docs, policyDoc{id, identityPolicy, "", props["PolicyDocument"]})
			}
			for _, rl := range roles {
				docs = append(docs, policyDoc{id, identityPolicy, roleOf(rl), props["PolicyDocument"]})
			}
		case "AWS::Serverless::Function":
			// SAM inline policies (only used with a SAM-generated role).
			for i, p := range valueList(props["Policies"]) {
				if pm, ok := p.(map[string]any); ok {
					if _, ok := pm["Statement"]; ok {
						docs = append(docs, policyDoc{fmt.Sprintf("%s.Policies[%d]", id, i), identityPolicy, id + "Role", pm})
					}
				}
			}
		case "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy":
			docs = append(docs, policyDoc{id, resourcePolicy, "", props["PolicyDocument"]})
		case "AWS::Events::EventBusPolicy":
			// One statement, given as the Statement property.
			docs = append(docs, policyDoc{id, resourcePolicy, "", map[string]any{"Statement": props["Statement"]}})
		case "AWS::KMS::Key":
			docs = append(docs, policyDoc{id + ".KeyPolicy", keyPolicy, "", props["KeyPolicy"]})
		}
	}
	return docs, nil
}

type statement struct {
	where    string
	doc      policyDoc
	effect   string
	actions  []string
	resource []any
	raw      map[string]any
}

func statements(d policyDoc) ([]statement, error) {
	dm, ok := d.doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: policy document is %T, not a mapping", d.where, d.doc)
	}
	var out []statement
	for i, s := range valueList(dm["Statement"]) {
		sm, ok := s.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: Statement[%d] is %T, not a mapping", d.where, i, s)
		}
		where := fmt.Sprintf("%s Statement[%d]", d.where, i)
		if sid, ok := sm["Sid"].(string); ok {
			where += " (" + sid + ")"
		}
		actions, ok := stringList(sm["Action"])
		if !ok {
			return nil, fmt.Errorf("%s: Action must be a string or list of strings, got %v", where, sm["Action"])
		}
		effect, _ := sm["Effect"].(string)
		out = append(out, statement{where, d, effect, actions, valueList(sm["Resource"]), sm})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no statements", d.where)
	}
	return out, nil
}

// functionRole returns the logical ID of the role the function runs as
// (from its Role: !GetAtt X.Arn).
func functionRole(tmpl map[string]any, functionID string) (string, error) {
	all, err := Resources(tmpl)
	if err != nil {
		return "", err
	}
	fn, ok := all[functionID]
	if !ok {
		return "", fmt.Errorf("no %s resource", functionID)
	}
	role, ok := Properties(fn)["Role"].(map[string]any)
	if !ok {
		return "", fmt.Errorf("%s has no explicit Role", functionID)
	}
	ga, ok := role["Fn::GetAtt"].([]any)
	if !ok || len(ga) != 2 || ga[1] != "Arn" {
		return "", fmt.Errorf("%s Role is %v, want !GetAtt <role>.Arn", functionID, role)
	}
	id, _ := ga[0].(string)
	if all[id]["Type"] != "AWS::IAM::Role" {
		return "", fmt.Errorf("%s Role %q is not an AWS::IAM::Role in the template", functionID, id)
	}
	return id, nil
}

// checkLeastPrivilege returns every least-privilege violation in the template.
func checkLeastPrivilege(tmpl map[string]any) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	specs := map[string]functionSpec{} // role logical ID -> its function
	for _, f := range functionSpecs {
		role, err := functionRole(tmpl, f.function)
		if err != nil {
			return []string{err.Error()}
		}
		if _, dup := specs[role]; dup {
			bad("%s shares its role %s with another function; each function gets its own", f.function, role)
		}
		specs[role] = f
	}
	docs, err := policyDocuments(tmpl)
	if err != nil {
		return []string{err.Error()}
	}

	org := isOrganization(tmpl)
	ecrActions := map[string]map[string]bool{} // role -> ECR actions allowed
	hasPublish, hasLogs, hasInvoke := map[string]bool{}, map[string]bool{}, map[string]bool{}
	hasAssume, hasListAccounts, hasImport, hasReadFindings := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, d := range docs {
		stmts, err := statements(d)
		if err != nil {
			bad("%v", err)
			continue
		}
		for _, s := range stmts {
			if s.effect != "Allow" && s.effect != "Deny" {
				bad("%s: Effect %q", s.where, s.effect)
			}
			if _, ok := s.raw["NotAction"]; ok {
				bad("%s: NotAction is not allowed", s.where)
			}
			if len(s.actions) == 0 {
				bad("%s: no Action", s.where)
			}
			for _, a := range s.actions {
				if a == "*" || strings.HasSuffix(a, ":*") {
					bad("%s: wildcard action %q", s.where, a)
				}
				// Identity policies get no wildcard at all, not even a prefix one.
				if d.kind == identityPolicy && strings.Contains(a, "*") {
					bad("%s: wildcard in action %q", s.where, a)
				}
			}
			if d.kind == identityPolicy && s.effect == "Allow" {
				if _, ok := s.raw["NotResource"]; ok {
					bad("%s: NotResource is not allowed", s.where)
				}
				if len(s.resource) == 0 {
					bad("%s: no Resource", s.where)
				}
				for _, r := range s.resource {
					// organizations:ListAccounts has no resource-level
					// permissions; it is checked below.
					// Nor do repository creation templates.
					if r == "*" && !reflect.DeepEqual(s.actions, []string{"organizations:ListAccounts"}) && !isTemplateStatement(s.actions) {
						bad("%s: Resource \"*\" in an identity policy", s.where)
					}
				}
			}
			if d.kind == keyPolicy {
				continue // key policies are excluded from the service-specific checks
			}
			hasECR := false
			for _, a := range s.actions {
				if strings.HasPrefix(strings.ToLower(a), "ecr:") {
					hasECR = true
					if s.effect == "Allow" {
						if ecrActions[d.role] == nil {
							ecrActions[d.role] = map[string]bool{}
						}
						ecrActions[d.role][a] = true
					}
				}
			}
			if hasECR && isTemplateStatement(s.actions) {
				if !(len(s.resource) == 1 && s.resource[0] == "*") {
					bad("%s: template statement Resource is %v, want exactly \"*\"", s.where, s.resource)
				}
			} else if want := ownECRResource(tmpl); hasECR && !(len(s.resource) == 1 && equal(s.resource[0], sub(want))) {
				bad("%s: ECR statement Resource is %v, want exactly !Sub %s", s.where, s.resource, want)
			}
			if d.kind != identityPolicy {
				continue
			}
			spec, isFunctionRole := specs[d.role]
			for _, a := range s.actions {
				switch {
				case strings.HasPrefix(strings.ToLower(a), "lambda:"):
					// Only the sweep may invoke a function, and only itself.
					if !isFunctionRole || !spec.invokeSelf || a != "lambda:InvokeFunction" {
						bad("%s: %s granted to %s; only the sweep role may lambda:InvokeFunction, on itself", s.where, a, d.role)
						continue
					}
					hasInvoke[d.role] = true
					if !(len(s.resource) == 1 && equal(s.resource[0], sub(sweepFunctionARN))) {
						bad("%s: lambda:InvokeFunction Resource is %v, want exactly !Sub %s (the sweep itself)", s.where, s.resource, sweepFunctionARN)
					}
				case a == "sts:AssumeRole":
					// Scope=organization only: the member role, in any account.
					if !isFunctionRole || !org {
						bad("%s: sts:AssumeRole granted to %s; only the function roles may assume, and only with Scope=organization", s.where, d.role)
						continue
					}
					hasAssume[d.role] = true
					if !(len(s.resource) == 1 && equal(s.resource[0], sub(memberRoleARN))) {
						bad("%s: sts:AssumeRole Resource is %v, want exactly !Sub %s (the member role)", s.where, s.resource, memberRoleARN)
					}
					// The role name is ecr-guard's only in the organization's
					// accounts: nowhere else may it be assumed.
					want := map[string]any{"StringEquals": map[string]any{"aws:ResourceOrgID": map[string]any{"Ref": "OrganizationId"}}}
					if !equal(s.raw["Condition"], want) {
						bad("%s: sts:AssumeRole Condition is %v, want %v (the organization's accounts only)", s.where, s.raw["Condition"], want)
					}
				case strings.HasPrefix(strings.ToLower(a), "sts:"):
					bad("%s: unexpected STS action %q", s.where, a)
				case a == "organizations:ListAccounts":
					// Scope=organization only: the sweep lists the accounts.
					if !isFunctionRole || !spec.listAccounts || !org {
						bad("%s: organizations:ListAccounts granted to %s; only the sweep role may list accounts, and only with Scope=organization", s.where, d.role)
						continue
					}
					hasListAccounts[d.role] = true
					if !(len(s.actions) == 1 && len(s.resource) == 1 && s.resource[0] == "*") {
						bad("%s: organizations:ListAccounts must be alone in its statement, on Resource \"*\" (actions %v, Resource %v)", s.where, s.actions, s.resource)
					}
				case strings.HasPrefix(strings.ToLower(a), "organizations:"):
					bad("%s: unexpected Organizations action %q", s.where, a)
				case strings.HasPrefix(strings.ToLower(a), "securityhub:"):
					// SecurityHubFindings=on only: import into this account's
					// default product, and read the CreatedAt of its
					// findings from its hub, in the functions' regions.
					want, ok := map[string]string{"securityhub:BatchImportFindings": "product/${AWS::AccountId}/default", "securityhub:GetFindings": "hub/default"}[a]
					if !isFunctionRole || !ok || lookup(tmpl, "Conditions", "ImportsFindings") != true {
						bad("%s: %s granted to %s; only the function roles may securityhub:BatchImportFindings and securityhub:GetFindings, and only with SecurityHubFindings=on", s.where, a, d.role)
						continue
					}
					if a == "securityhub:BatchImportFindings" {
						hasImport[d.role] = true
					} else {
						hasReadFindings[d.role] = true
					}
					if want := ownFindingsResource(tmpl, want); !(len(s.actions) == 1 && len(s.resource) == 1 && equal(s.resource[0], sub(want))) {
						bad("%s: %s must be alone, on exactly !Sub %s (actions %v, Resource %v)", s.where, a, want, s.actions, s.resource)
					}
				case !isFunctionRole:
				case a == "sns:Publish":
					hasPublish[d.role] = true
					if !(len(s.resource) == 1 && equal(s.resource[0], ref(topicID))) {
						bad("%s: sns:Publish Resource is %v, want exactly !Ref %s", s.where, s.resource, topicID)
					}
				case strings.HasPrefix(a, "sns:"):
					bad("%s: unexpected SNS action %q for the function role", s.where, a)
				case strings.HasPrefix(a, "logs:"):
					hasLogs[d.role] = true
					if a != "logs:CreateLogStream" && a != "logs:PutLogEvents" {
						bad("%s: unexpected logs action %q", s.where, a)
					}
					if !(len(s.resource) == 1 && equal(s.resource[0], getAtt(spec.logGroup, "Arn"))) {
						bad("%s: logs Resource is %v, want exactly !GetAtt %s.Arn", s.where, s.resource, spec.logGroup)
					}
				}
			}
		}
	}
	for _, role := range sortedKeys(ecrActions) {
		if _, ok := specs[role]; !ok {
			bad("role %q holds ECR actions %v but runs no ecr-guard function", role, sortedKeys(ecrActions[role]))
		}
	}
	all, _ := Resources(tmpl)
	for _, role := range sortedKeys(specs) {
		spec := specs[role]
		if got := sortedKeys(ecrActions[role]); !reflect.DeepEqual(got, spec.ecr) {
			bad("ECR actions granted to %s are %v, want exactly %v", role, got, spec.ecr)
		}
		if !hasPublish[role] {
			bad("function role %s cannot sns:Publish to %s", role, topicID)
		}
		if !hasLogs[role] {
			bad("function role %s cannot write to its log group %s", role, spec.logGroup)
		}
		if spec.invokeSelf && !hasInvoke[role] {
			bad("function role %s cannot invoke its own function to continue the sweep", role)
		}
		if org && !hasAssume[role] {
			bad("function role %s cannot assume the member role with Scope=organization", role)
		}
		if lookup(tmpl, "Conditions", "ImportsFindings") == true && (!hasImport[role] || !hasReadFindings[role]) {
			bad("function role %s cannot import findings into Security Hub, or read them, with SecurityHubFindings=on", role)
		}
		if org && spec.listAccounts && !hasListAccounts[role] {
			bad("function role %s cannot list the organization's accounts with Scope=organization", role)
		}
		// The function roles must not pick up broad AWS-managed policies.
		if mp := Properties(all[role])["ManagedPolicyArns"]; mp != nil {
			bad("%s has ManagedPolicyArns %v; use scoped inline policies", role, mp)
		}
	}
	// The invoke grant names the sweep's ARN, so the sweep must carry that name.
	if name := Properties(all[sweepFunctionID])["FunctionName"]; !equal(name, sub(sweepFunctionName)) {
		bad("%s FunctionName is %v, want !Sub %s (its role may invoke only that name)", sweepFunctionID, name, sweepFunctionName)
	}
	return problems
}

// ownFindingsResource is the functions' Security Hub resource (the
// default product, or the hub) in tmpl.
func ownFindingsResource(tmpl map[string]any, resource string) string {
	if lookup(tmpl, "Conditions", "HasTargetRegions") == true {
		return "arn:${AWS::Partition}:securityhub:*:${AWS::AccountId}:" + resource
	}
	return "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:" + resource
}

func TestTemplateIAMIsLeastPrivilege(t *testing.T) {
	org := map[string]string{"SecurityHubFindings": "on"}
	for k, v := range organizationParams {
		org[k] = v
	}
	views := append(scopeViews(t),
		scopeView{"Scope=account SecurityHubFindings=on", loadTemplateWith(t, map[string]string{"SecurityHubFindings": "on"})},
		scopeView{"Scope=organization SecurityHubFindings=on", loadTemplateWith(t, org)})
	for _, v := range views {
		for _, p := range checkLeastPrivilege(v.tmpl) {
			t.Errorf("%s: %s", v.name, p)
		}
	}
}
