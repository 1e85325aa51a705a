package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// Formats of the report on stdout.
var formats = []string{"table", "json", "csv"}

// Write renders the report in format (table, json or csv).
func (r Report) Write(w io.Writer, format string) error {
	switch format {
	case "table":
		return r.table(w)
	case "json":
		return r.json(w)
	case "csv":
		return r.csv(w)
	}
	return fmt.Errorf("unknown format %q (want %s)", format, strings.Join(formats, ", "))
}

// would is the row's WOULD column: the kinds, "nothing", or ERROR.
func (row Row) would() string {
	kinds := make([]string, 0, len(row.Would)+1)
	for _, k := range row.Would {
		kinds = append(kinds, string(k))
	}
	if row.Error != "" {
		kinds = append(kinds, "ERROR")
	}
	if len(kinds) == 0 {
		return "nothing"
	}
	return strings.Join(kinds, ",")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// table: one line per template and repository, then the errors and the
// missing ROOT templates in full (their rows have no state to show), and a
// summary.
func (r Report) table(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tREGION\tTYPE\tNAME\tMUTABILITY\tEXCLUSIONS\tLIFECYCLE\tEXEMPTION\tEXPIRES\tWOULD")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.Account, row.Region, row.Type, dash(row.Name),
			dash(row.Mutability), dash(strings.Join(row.ExclusionFilters, ",")), dash(row.Lifecycle),
			dash(row.Exemption), dash(row.Expires), row.would())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, row := range r.Rows {
		if row.Error != "" {
			fmt.Fprintf(w, "ERROR %s %s %s %s: %s\n", row.Account, row.Region, row.Type, dash(row.Name), row.Error)
		}
	}
	for _, row := range r.Rows {
		if row.Missing && row.Error == "" {
			fmt.Fprintf(w, "MISSING %s %s %s %s: %s\n", row.Account, row.Region, row.Type, row.Name, strings.Join(row.Details, "; "))
		}
	}
	s := r.Summary()
	fmt.Fprintf(w, "\n%s in %s: %s\n", plural(s.Repositories.Total, "repository", "repositories"),
		plural(s.Registries, "registry", "registries"), s.Repositories)
	rootless := ""
	if s.WithoutRootTemplate > 0 {
		rootless = "; " + plural(s.WithoutRootTemplate, "registry", "registries") + " without a ROOT template"
	}
	_, err := fmt.Fprintf(w, "%s: %s%s\n", plural(s.Templates.Total, "template", "templates"), s.Templates, rootless)
	return err
}

// String is the count as the table's summary says it.
func (c Count) String() string {
	return fmt.Sprintf("%d compliant (%d exempt), %d would change, %s",
		c.Compliant, c.Exempt, c.WouldChange, plural(c.Errors, "error", "errors"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// json: {"rows": [rows], "summary": {...}}.
func (r Report) json(w io.Writer) error {
	rows := r.Rows
	if rows == nil {
		rows = []Row{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Rows    []Row   `json:"rows"`
		Summary Summary `json:"summary"`
	}{rows, r.Summary()})
}

// csv: a header and one record per row; lists are joined with ";".
func (r Report) csv(w io.Writer) error {
	c := csv.NewWriter(w)
	_ = c.Write([]string{"account", "region", "type", "name", "mutability", "exclusion_filters", "lifecycle",
		"exemption", "exemption_tag", "expires", "applied_for", "missing", "would", "details", "error"})
	for _, row := range r.Rows {
		_ = c.Write([]string{row.Account, row.Region, row.Type, row.Name, row.Mutability,
			strings.Join(row.ExclusionFilters, ";"), row.Lifecycle, row.Exemption, row.ExemptionTag, row.Expires,
			strings.Join(row.AppliedFor, ";"), strconv.FormatBool(row.Missing), joinKinds(row.Would), strings.Join(row.Details, "; "), row.Error})
	}
	c.Flush()
	return c.Error()
}

func joinKinds(kinds []guard.Kind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ";")
}
