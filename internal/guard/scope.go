package guard

import (
	"regexp"
	"slices"
	"strings"
)

// The forms of an AWS account id and a region name (us-east-1,
// us-gov-west-1, eusc-de-east-1), for what configuration or a sweep's
// continuation names.
var (
	accountPattern = regexp.MustCompile(`^\d{12}$`)
	regionPattern  = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-\d+$`)
)

// ValidAccount reports whether s is an AWS account id: 12 digits.
func ValidAccount(s string) bool { return accountPattern.MatchString(s) }

// ValidRegion reports whether s has the form of an AWS region name.
func ValidRegion(s string) bool { return regionPattern.MatchString(s) }

// Scope is where ecr-guard may act. For one account (the default) that is
// the account and region it runs in. For an organization (MEMBER_ROLE_NAME
// set) it is any account whose events reach it, which the central event
// bus's policy limits to the organization, in the regions it targets.
type Scope struct {
	Partition string // aws, aws-cn, aws-us-gov...: what ARNs there carry
	Account   string // the function's own account
	Region    string // the function's own region
	// Organization: the function acts in the event's account (through the
	// member role there), not only in its own.
	Organization bool
	// Regions are the regions acted in; empty means Region only.
	Regions []string
}

// InRegion reports whether s acts in region.
func (s Scope) InRegion(region string) bool {
	if len(s.Regions) == 0 {
		return region == s.Region
	}
	return slices.Contains(s.Regions, region)
}

// OutOfScope says why e concerns a repository outside s, or "" when e is
// inside it. Every account and region the event names must agree and be
// s's: acting on the same-named repository elsewhere would fix the wrong
// repository and report a state the real one does not have. An event that
// does not say where the call was made cannot be shown to be inside s.
func (s Scope) OutOfScope(e Event) string {
	where := s.Region
	if len(s.Regions) > 0 {
		where = "regions " + strings.Join(s.Regions, ",")
	}
	account := s.Account
	if s.Organization {
		account = e.Account // any account, but every field must name the same one
	}
	switch {
	case e.Region == "":
		return "the event has no awsRegion"
	case !s.InRegion(e.Region):
		return "the call was made in region " + e.Region + ", this function guards " + where
	case e.RepositoryRegion != "" && e.RepositoryRegion != e.Region:
		return "the repository is in region " + e.RepositoryRegion + ", the call was made in " + e.Region
	case e.BusRegion != "" && e.BusRegion != e.Region:
		return "the event was delivered from region " + e.BusRegion + ", the call was made in " + e.Region
	case e.Account == "":
		return "the event has no recipientAccountId"
	case e.Account != account:
		return "the call was recorded in account " + e.Account + ", this function guards " + s.Account
	case e.BusAccount != "" && e.BusAccount != e.Account:
		return "the event was delivered from account " + e.BusAccount + ", the call was recorded in " + e.Account
	case e.RegistryID != "" && e.RegistryID != e.Account:
		return "the repository is in registry " + e.RegistryID + ", the call was recorded in " + e.Account
	}
	return ""
}
