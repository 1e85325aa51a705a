package deploy

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"testing"
)

func checkNotices(tmpl map[string]any) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	all, err := Resources(tmpl)
	if err != nil {
		return []string{err.Error()}
	}
	topic := all[topicID]
	if topic["Type"] != "AWS::SNS::Topic" {
		return []string{fmt.Sprintf("no AWS::SNS::Topic %s", topicID)}
	}
	keyID := ""
	if ga, ok := lookup(topic, "Properties", "KmsMasterKeyId", "Fn::GetAtt").([]any); ok && len(ga) == 2 {
		keyID, _ = ga[0].(string)
	} else if id := roleOf(lookup(topic, "Properties", "KmsMasterKeyId")); id != "" {
		keyID = id
	}
	if all[keyID]["Type"] != "AWS::KMS::Key" {
		bad("%s KmsMasterKeyId does not reference a customer-managed AWS::KMS::Key in the template", topicID)
	} else {
		// The key policy lets CloudWatch and the function role use the key.
		stmts, err := statements(policyDoc{keyID, keyPolicy, "", Properties(all[keyID])["KeyPolicy"]})
		if err != nil {
			bad("%v", err)
		}
		usable := map[string]bool{}
		for _, s := range stmts {
			if s.effect != "Allow" || !slices.Contains(s.actions, "kms:Decrypt") || !(slices.Contains(s.actions, "kms:GenerateDataKey") || slices.Contains(s.actions, "kms:GenerateDataKey*")) {
				continue
			}
			principal, _ := s.raw["Principal"].(map[string]any)
			if principal["Service"] == "cloudwatch.amazonaws.com" {
				usable["cloudwatch"] = true
			}
			if equal(principal["AWS"], getAtt(roleID, "Arn")) {
				usable["role"] = true
			}
			if equal(principal["AWS"], getAtt(sweepRoleID, "Arn")) {
				usable["sweep-role"] = true
			}
		}
		if !usable["cloudwatch"] || !usable["role"] || !usable["sweep-role"] {
			bad("%s key policy must let cloudwatch.amazonaws.com, %s and %s use the key (got %v)", keyID, roleID, sweepRoleID, usable)
		}
	}

	// Topic policy: Allow sns:Publish only to the function role and CloudWatch
	// (same account); deny non-TLS access.
	policies, _ := ResourcesOfType(tmpl, "AWS::SNS::TopicPolicy")
	var allowPrincipals []string
	denyTLS := false
	for _, id := range sortedKeys(policies) {
		p := Properties(policies[id])
		stmts, err := statements(policyDoc{id, resourcePolicy, "", p["PolicyDocument"]})
		if err != nil {
			bad("%v", err)
			continue
		}
		for _, s := range stmts {
			if s.effect == "Deny" {
				if equal(s.raw["Condition"], map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}) &&
					slices.Contains(s.actions, "sns:Publish") && slices.Contains(s.actions, "sns:Subscribe") {
					denyTLS = true
				}
				continue
			}
			if !reflect.DeepEqual(s.actions, []string{"sns:Publish"}) {
				bad("%s: topic policy allows %v, want only sns:Publish", s.where, s.actions)
			}
			principal, _ := s.raw["Principal"].(map[string]any)
			switch {
			case len(principal) == 1 && equal(principal["AWS"], getAtt(roleID, "Arn")):
				allowPrincipals = append(allowPrincipals, "role")
			case len(principal) == 1 && equal(principal["AWS"], getAtt(sweepRoleID, "Arn")):
				allowPrincipals = append(allowPrincipals, "sweep-role")
			case len(principal) == 1 && principal["Service"] == "cloudwatch.amazonaws.com":
				allowPrincipals = append(allowPrincipals, "cloudwatch")
				if !equal(lookup(s.raw, "Condition", "StringEquals", "aws:SourceAccount"), ref("AWS::AccountId")) {
					bad("%s: CloudWatch publish lacks the aws:SourceAccount condition", s.where)
				}
			default:
				bad("%s: topic policy allows principal %v", s.where, s.raw["Principal"])
			}
		}
	}
	sort.Strings(allowPrincipals)
	if !reflect.DeepEqual(allowPrincipals, []string{"cloudwatch", "role", "sweep-role"}) {
		bad("topic policy allows sns:Publish to %v, want exactly the two function roles and cloudwatch", allowPrincipals)
	}
	if !denyTLS {
		bad("topic policy does not deny requests without TLS (aws:SecureTransport false)")
	}

	// Optional e-mail subscription gated by HasNotificationEmail.
	subs, _ := ResourcesOfType(tmpl, "AWS::SNS::Subscription")
	email := false
	for _, id := range sortedKeys(subs) {
		p := Properties(subs[id])
		if p["Protocol"] == "email" {
			email = true
			if subs[id]["Condition"] != "HasNotificationEmail" || !equal(p["Endpoint"], ref("NotificationEmail")) {
				bad("%s: e-mail subscription must be conditional on HasNotificationEmail and use !Ref NotificationEmail", id)
			}
		}
	}
	want := map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{ref("NotificationEmail"), ""}}}}
	switch got := lookup(tmpl, "Conditions", "HasNotificationEmail"); got := got.(type) {
	case bool:
		// A Resolve'd template: the subscription exists exactly when the
		// condition holds.
		if email != got {
			bad("e-mail subscription present: %v, but condition HasNotificationEmail is %v", email, got)
		}
	default:
		if !email {
			bad("no e-mail AWS::SNS::Subscription")
		}
		if !equal(got, want) {
			bad("condition HasNotificationEmail is %v, want %v", got, want)
		}
	}
	return problems
}

func TestNoticeTopicEncryptedAndRestricted(t *testing.T) {
	views := append(scopeViews(t),
		scopeView{"as written", loadRawTemplate(t)},
		scopeView{"with NotificationEmail", loadTemplateWith(t, map[string]string{"NotificationEmail": "security@example.com"})})
	for _, v := range views {
		for _, p := range checkNotices(v.tmpl) {
			t.Errorf("%s: %s", v.name, p)
		}
	}
}
