package guard

// Scope is where ecr-guard may act: the account and region it runs in.
type Scope struct {
	Account string
	Region  string
}

// OutOfScope says why e concerns a repository outside s, or "" when e is
// inside it. Every account and region the event names must be s's: acting on
// the same-named repository here would fix the wrong repository and report a
// state the real one does not have. An event that does not say where the
// call was made cannot be shown to be inside s.
func (s Scope) OutOfScope(e Event) string {
	switch {
	case e.Region == "":
		return "the event has no awsRegion"
	case e.Region != s.Region:
		return "the call was made in region " + e.Region + ", this function guards " + s.Region
	case e.RepositoryRegion != "" && e.RepositoryRegion != s.Region:
		return "the repository is in region " + e.RepositoryRegion + ", this function guards " + s.Region
	case e.BusRegion != "" && e.BusRegion != s.Region:
		return "the event was delivered from region " + e.BusRegion + ", this function guards " + s.Region
	case e.Account == "":
		return "the event has no recipientAccountId"
	case e.Account != s.Account:
		return "the call was recorded in account " + e.Account + ", this function guards " + s.Account
	case e.BusAccount != "" && e.BusAccount != s.Account:
		return "the event was delivered from account " + e.BusAccount + ", this function guards " + s.Account
	case e.RegistryID != "" && e.RegistryID != s.Account:
		return "the repository is in registry " + e.RegistryID + ", this function guards " + s.Account
	}
	return ""
}
