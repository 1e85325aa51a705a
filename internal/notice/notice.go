// Package notice renders what ecr-guard did into the messages the security
// team reads: a plain-text report for people and a versioned JSON document
// for machines, in one SNS message (MessageStructure json).
package notice

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SchemaVersion is the version of the JSON documents: the major on any
// incompatible change, the minor when fields or values are added (1.1: the
// template notice's template, the sweep report's template counts, template
// changes and rootTemplates, shapedBy, and the lifecyclePolicy state
// contains-baseline).
const SchemaVersion = "1.1"

// The values of the resourceType message attribute, which every notice
// carries so that a subscription filter policy can tell them apart: an
// event notice is about a repository or a repository creation template;
// the sweep report covers registries (an account in a region), their
// repositories and their templates.
const (
	ResourceRepository = "repository"
	ResourceTemplate   = "template"
	ResourceRegistry   = "registry"
)

// MaxSubjectLength is SNS's limit on Subject.
const MaxSubjectLength = 100

// MaxSNSMessageBytes is SNS's limit on a published message (body and
// message attributes together).
const MaxSNSMessageBytes = 256 * 1024

// messageBudget is the room for the message body: the limit less a margin
// for the attributes and the subject.
const messageBudget = MaxSNSMessageBytes - 4*1024

// fitting returns build(n) for the largest n <= max whose message fits SNS's
// size limit; build(0) must always fit. It cuts lists (images, repositories)
// so a notice is shortened rather than refused.
func fitting(max int, build func(n int) Message) Message {
	fits := fitsSNS
	if m := build(max); fits(m) {
		return m
	}
	lo, hi := 0, max-1 // binary search for the longest list that fits
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if fits(build(mid)) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return build(lo)
}

// Limits on the text a notice takes from an event (or from anything else
// outside ecr-guard: AWS error messages, repository tags), in bytes of JSON
// string content (capText). They are far above what AWS lets these fields
// hold, so a genuine value is never cut, and low enough that a notice whose
// every such field is at its limit still fits SNS's 256 KB with room for the
// image list. The JSON document holds about 20 KB of such text and is sent
// four times, escaped once more (at most doubled: all quotes); the text
// report holds about 19 KB and is sent twice: at most about 200 KB. The
// largest TestEveryNoticeFitsSNS finds without images is 171 KB (149 KB
// before shapedBy).
const (
	capShort         = 128  // ids, regions, accounts, IP addresses, event names, principal types
	capSetting       = 64   // image tag mutability settings
	capFilter        = 128  // one exclusion filter (ECR: 128)
	capFilters       = 10   // exclusion filters listed (ECR allows 5)
	capAppliedFor    = 10   // a template's appliedFor values listed (ECR has 3)
	capARN           = 600  // ARNs (IAM allows 2,048 only for paths nobody uses)
	capName          = 300  // repository names (ECR: 256)
	capSession       = 128  // session names, source identities, invokedBy (STS: 64)
	capPrincipalID   = 256  // principalId: a role id and a session name
	capExemptionTags = 5    // conflicting exemption or expiry tags listed
	capUserAgent     = 1024 // the JSON document's userAgent
	capAgentLine     = 160  // the text report's user agent
	capTagKey        = 128  // ECR: 128
	capTagValue      = 256  // ECR: 256
	capTags          = 50   // tags or tag keys listed (ECR: 50 a call)
	capImageTags     = 20   // tags listed of one pushed image (ECR allows 1,000)
	capImageTag      = 300  // an image tag (ECR: 300) or digest
	capExemption     = 400  // the exemption tag, key=value
	capSummary       = 1024 // one action's summary (it may quote an AWS error or an ARN)
	capRootDetail    = 300  // what is wrong with a ROOT template, in the sweep report
	capRegistry      = 64   // an account id or a region, as a sweep's continuation carries them
	capLine          = 4096 // one line of the text report built from the request
)

// capText makes s safe and bounded for a notice: control characters, line
// and paragraph separators and invalid UTF-8 become U+FFFD (so a value
// cannot forge lines of the text report), and when its JSON-escaped length
// exceeds n bytes it is cut at a character boundary and ends with
// "…[cut N chars]", N being the characters left out. The result's
// JSON-escaped length never exceeds n (for n >= 32).
func capText(s string, n int) string {
	size, clean, cut := 0, true, false
	for i, r := range s {
		c, ok := runeCost(s, i, r)
		size += c
		clean = clean && ok
		if size > n {
			cut = true
			break
		}
	}
	if clean && !cut {
		return s
	}
	var b strings.Builder
	room, runes := n, 0
	if cut {
		runes = utf8.RuneCountInString(s)
		room -= len(cutMarker(runes)) // at least as long as the marker written
	}
	kept := 0
	for i, r := range s {
		c, ok := runeCost(s, i, r)
		if cut && c > room {
			break
		}
		room -= c
		kept++
		if ok {
			b.WriteRune(r)
		} else {
			b.WriteRune(utf8.RuneError)
		}
	}
	if cut {
		b.WriteString(cutMarker(runes - kept))
	}
	return b.String()
}

// runeCost is the JSON-escaped length of the rune r at s[i] after capText's
// replacements, and whether it is kept as it is.
func runeCost(s string, i int, r rune) (int, bool) {
	switch {
	case r == utf8.RuneError:
		_, width := utf8.DecodeRuneInString(s[i:])
		return 3, width == 3 // a genuine U+FFFD is kept
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0, r == '\u2028', r == '\u2029':
		return 3, false
	case r == '"', r == '\\':
		return 2, true
	}
	return utf8.RuneLen(r), true
}

func cutMarker(n int) string { return "…[cut " + strconv.Itoa(n) + " chars]" }

// capList caps every item and keeps at most max of them, saying how many
// more there were in a last item.
func capList(items []string, max, n int) []string {
	if items == nil {
		return nil
	}
	out := make([]string, 0, min(len(items), max+1))
	for i, it := range items {
		if i == max {
			out = append(out, "…["+strconv.Itoa(len(items)-max)+" more]")
			break
		}
		out = append(out, capText(it, n))
	}
	return out
}

// Message is one SNS notice. The renderers fill Text, Document and Chat;
// HTTPSFormat, set by the publisher from the configuration
// (notify.Notifier.WithHTTPSFormat), chooses what https carries.
type Message struct {
	Subject  string
	Text     string // for people: the default and email protocols
	Document any    // for machines: sqs, lambda, http, and https unless chat
	// Chat is the notice as an Amazon Q Developer in chat applications
	// custom notification: what https carries with HTTPSFormat chat.
	Chat        *ChatNotification
	HTTPSFormat HTTPSFormat       // "" means json
	Attributes  map[string]string // SNS String message attributes, for filter policies
}

// SNSMessage renders the Message parameter for Publish with MessageStructure json.
func (m Message) SNSMessage() (string, error) {
	doc, err := marshal(m.Document)
	if err != nil {
		return "", fmt.Errorf("encode notice document: %w", err)
	}
	https := doc
	if m.HTTPSFormat == HTTPSChat && m.Chat != nil {
		if https, err = marshal(m.Chat); err != nil {
			return "", fmt.Errorf("encode chat notification: %w", err)
		}
	}
	body, err := marshal(map[string]string{
		"default": m.Text,
		"email":   m.Text,
		"sqs":     doc,
		"lambda":  doc,
		"https":   https,
		"http":    doc,
	})
	if err != nil {
		return "", fmt.Errorf("encode notice: %w", err)
	}
	return body, nil
}

// marshal encodes v without HTML escaping, so "->" stays readable in logs.
func marshal(v any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// subject builds "[ecr-guard] KIND NAME SUFFIX" within SNS's limit, in
// printable ASCII, shortening the repository name when it must.
func subject(kind, name, suffix string) string {
	head := "[ecr-guard] " + kind + " "
	if suffix != "" {
		suffix = " " + suffix
	}
	head, name, suffix = printable(head), printable(name), printable(suffix)
	if room := MaxSubjectLength - len(head) - len(suffix); len(name) > room {
		if room < 4 {
			return (head + name + suffix)[:MaxSubjectLength]
		}
		name = name[:room-3] + "..."
	}
	return head + name + suffix
}

// printable replaces anything outside printable ASCII, which SNS rejects in
// a Subject (line breaks, control characters, non-ASCII).
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// TemplatesConsoleURL links to the ECR console's repository creation
// templates of region (a template has no page of its own). The ECR User
// Guide gives only the way there, Private registry, Features & settings,
// Repository creation templates
// (https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-creation-templates-create.html),
// not the address: this one follows the console's private-registry paths
// (private-registry/repositories is the registry's repository list) and
// could not be checked against the console.
func TemplatesConsoleURL(region string) string {
	if region == "" {
		return ""
	}
	return fmt.Sprintf("https://%s.console.aws.amazon.com/ecr/private-registry/repository-creation-templates?region=%s", region, region)
}

// ConsoleURL links to the repository in the ECR console. Repository names
// only hold [a-z0-9._/-], so they go into the path as they are.
func ConsoleURL(region, registryID, name string) string {
	if region == "" || registryID == "" || name == "" {
		return ""
	}
	return fmt.Sprintf("https://%s.console.aws.amazon.com/ecr/repositories/private/%s/%s?region=%s",
		region, registryID, name, region)
}
