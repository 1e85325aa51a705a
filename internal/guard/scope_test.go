package guard

import (
	"strings"
	"testing"
)

func TestOutOfScope(t *testing.T) {
	here := Scope{Account: "123456789012", Region: "us-east-1"}
	inside := Event{Region: "us-east-1", Account: "123456789012", BusAccount: "123456789012", BusRegion: "us-east-1", RegistryID: "123456789012"}
	tests := []struct {
		name string
		edit func(*Event)
		want string // "" inside, else a part of the reason
	}{
		{"every field says here", func(*Event) {}, ""},
		{"no registryId and no envelope fields (as in the samples of some calls)", func(e *Event) { e.RegistryID, e.BusAccount, e.BusRegion = "", "", "" }, ""},
		{"awsRegion of another region", func(e *Event) { e.Region = "us-west-2" }, "region us-west-2"},
		{"repository ARN of another region", func(e *Event) { e.RepositoryRegion = "eu-west-1" }, "repository is in region eu-west-1"},
		{"envelope region of another region", func(e *Event) { e.BusRegion = "eu-west-1" }, "delivered from region eu-west-1"},
		{"recipientAccountId of another account", func(e *Event) { e.Account = "222222222222" }, "recorded in account 222222222222"},
		{"envelope account of another account", func(e *Event) { e.BusAccount = "222222222222" }, "delivered from account 222222222222"},
		{"registryId of another registry", func(e *Event) { e.RegistryID = "333333333333" }, "registry 333333333333"},
		{"no awsRegion", func(e *Event) { e.Region = "" }, "no awsRegion"},
		{"no recipientAccountId", func(e *Event) { e.Account = "" }, "no recipientAccountId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := inside
			tt.edit(&e)
			got := here.OutOfScope(e)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Fatalf("OutOfScope = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOutOfScopeInAnOrganization(t *testing.T) {
	org := Scope{Partition: "aws", Account: "123456789012", Region: "us-east-1", Organization: true, Regions: []string{"us-east-1", "eu-west-1"}}
	member := Event{Region: "eu-west-1", Account: "222222222222", BusAccount: "222222222222", BusRegion: "eu-west-1", RegistryID: "222222222222"}
	tests := []struct {
		name string
		edit func(*Event)
		want string
	}{
		{"a member account in a target region", func(*Event) {}, ""},
		{"the function's own account", func(e *Event) { e.Account, e.BusAccount, e.RegistryID = "123456789012", "123456789012", "" }, ""},
		{"a region that is not a target", func(e *Event) { e.Region, e.BusRegion = "ap-south-1", "ap-south-1" }, "region ap-south-1"},
		{"envelope account disagrees with recipientAccountId", func(e *Event) { e.BusAccount = "333333333333" }, "delivered from account 333333333333"},
		{"registry of another account", func(e *Event) { e.RegistryID = "333333333333" }, "registry 333333333333"},
		{"envelope region disagrees with awsRegion", func(e *Event) { e.BusRegion = "us-east-1" }, "delivered from region us-east-1"},
		{"repository ARN of another region", func(e *Event) { e.RepositoryRegion = "us-east-1" }, "repository is in region us-east-1"},
		{"no recipientAccountId", func(e *Event) { e.Account, e.BusAccount, e.RegistryID = "", "", "" }, "no recipientAccountId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := member
			tt.edit(&e)
			got := org.OutOfScope(e)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Fatalf("OutOfScope = %q, want %q", got, tt.want)
			}
		})
	}
}

// Region names as the SDK's partitions have them, the European Sovereign
// Cloud's four-letter prefix included; what is not one is refused.
func TestValidRegionAndAccount(t *testing.T) {
	for _, r := range []string{"us-east-1", "eu-west-1", "us-gov-west-1", "cn-north-1", "ap-southeast-5", "eusc-de-east-1", "us-isob-east-1"} {
		if !ValidRegion(r) {
			t.Errorf("ValidRegion(%q) = false", r)
		}
	}
	for _, r := range []string{"", "us-east", "EU-WEST-1", "us-east-1\nx", "useast1", "abcde-x-1", "*"} {
		if ValidRegion(r) {
			t.Errorf("ValidRegion(%q) = true", r)
		}
	}
	if !ValidAccount("123456789012") || ValidAccount("12345678901") || ValidAccount("12345678901x") || ValidAccount("1234567890123") {
		t.Error("ValidAccount does not take exactly 12 digits")
	}
}
