package notice

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// HTTPSFormat is what the https protocol of a notice carries
// (HTTPS_NOTICE_FORMAT): the JSON document, like sqs, lambda and http, or
// an Amazon Q Developer in chat applications (formerly AWS Chatbot) custom
// notification, the only SNS message it shows in Slack, Teams or Chime.
type HTTPSFormat string

// The https formats.
const (
	HTTPSJSON HTTPSFormat = "json"
	HTTPSChat HTTPSFormat = "chat"
)

// ParseHTTPSFormat reads HTTPS_NOTICE_FORMAT; blank means json.
func ParseHTTPSFormat(s string) (HTTPSFormat, error) {
	switch f := HTTPSFormat(strings.ToLower(strings.TrimSpace(s))); f {
	case "", HTTPSJSON:
		return HTTPSJSON, nil
	case HTTPSChat:
		return HTTPSChat, nil
	}
	return "", fmt.Errorf("%q is not json or chat", s)
}

// The custom notification's fixed values and the bounds ecr-guard keeps
// (AWS's "Custom notifications using Amazon Q Developer in chat
// applications", Event schema and Parameter details: version must be 1.0,
// source must be custom, only the client-markdown textType is supported).
// The page gives no length for title and description that we could find,
// so the bounds are conservative: a title a person reads at a glance, a
// description within Slack's 3,000 characters for one block of text, a few
// next steps and keywords.
const (
	ChatVersion        = "1.0"
	ChatSource         = "custom"
	ChatTextType       = "client-markdown"
	MaxChatTitle       = 250  // characters
	MaxChatDescription = 3000 // characters
	MaxChatNextSteps   = 5
	MaxChatKeywords    = 5
	MaxChatThreadID    = 256 // characters

	chatImages  = 10  // images to verify listed in the description
	chatTags    = 5   // tags shown for one image
	chatChanges = 20  // repositories listed in one sweep report part
	chatTargets = 10  // registries listed in one sweep report part
	chatLine    = 600 // characters of one line of the description
)

// ChatNotification is a custom notification of Amazon Q Developer in chat
// applications.
type ChatNotification struct {
	Version  string        `json:"version"`
	Source   string        `json:"source"`
	Content  ChatContent   `json:"content"`
	Metadata *ChatMetadata `json:"metadata,omitempty"`
}

// ChatContent is what the chat channel shows.
type ChatContent struct {
	TextType    string   `json:"textType"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	NextSteps   []string `json:"nextSteps,omitempty"`
	Keywords    []string `json:"keywords,omitempty"`
}

// ChatMetadata threads and describes the notification: the notices of one
// repository (or the parts of one sweep report) share a threadId.
type ChatMetadata struct {
	ThreadID          string            `json:"threadId,omitempty"`
	Summary           string            `json:"summary,omitempty"`
	EventType         string            `json:"eventType,omitempty"`
	RelatedResources  []string          `json:"relatedResources,omitempty"`
	AdditionalContext map[string]string `json:"additionalContext,omitempty"`
}

// chatMark replaces what would make a value from outside ecr-guard format
// the message, link it or mention someone in a chat channel by look-alikes.
// (Slack's links and mentions start with "<" or "@"; "*", "~" and "`"
// format.)
var chatMark = strings.NewReplacer("`", "ˋ", "<", "‹", "@", "＠", "*", "∗", "~", "∼")

// chatText is a value from outside ecr-guard (already capped) made inert.
func chatText(s string) string { return chatMark.Replace(s) }

// chatCode shows such a value as code.
func chatCode(s string) string {
	if s == "" {
		return "-"
	}
	return "`" + chatText(s) + "`"
}

var severityMarks = map[string]string{"CRITICAL": "🚨", "HIGH": "🔴", "MEDIUM": "🟠", "LOW": "🔵", SeverityInfo: "🟢"}

// chatTitleName names what a notice is about in its title: a repository
// by its name, a template as "template PREFIX".
func chatTitleName(resourceType, name string) string {
	if resourceType == ResourceTemplate {
		return "template " + chatText(name)
	}
	return chatText(name)
}

func chatTitle(severity, s string) string {
	return cutRunes(cmp.Or(severityMarks[severity], "⚪")+" ["+severity+"] "+s, MaxChatTitle)
}

// cutRunes keeps at most n characters of s, ending with "…" when cut.
func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	runes := []rune(s)
	return string(runes[:n-1]) + "…"
}

// chatLines joins the description's lines within MaxChatDescription: a
// line longer than chatLine is shortened (closing an open code span), and
// the lines that do not fit are left out, saying how many.
func chatLines(lines []string) string {
	for i, l := range lines {
		if utf8.RuneCountInString(l) > chatLine {
			l = cutRunes(l, chatLine-1)
			if strings.Count(l, "`")%2 == 1 {
				l += "`"
			}
			lines[i] = l
		}
	}
	const tail = 80 // room for the cut line
	var b strings.Builder
	size := 0
	for i, l := range lines {
		n := utf8.RuneCountInString(l) + 1
		if size+n > MaxChatDescription-tail && (i < len(lines)-1 || size+n > MaxChatDescription) {
			fmt.Fprintf(&b, "… %d more line(s): see the email report", len(lines)-i)
			return b.String()
		}
		b.WriteString(l)
		if i < len(lines)-1 {
			b.WriteString("\n")
		}
		size += n
	}
	return b.String()
}

func chatKeywords(kind, severity string, dryRun bool) []string {
	k := []string{"ecr-guard", kind, severity}
	if dryRun {
		k = append(k, "DRY_RUN")
	}
	return k
}

func firstSteps(steps []string) []string {
	if len(steps) > MaxChatNextSteps {
		steps = steps[:MaxChatNextSteps]
	}
	return steps
}

// eventChat renders an event notice for a chat channel: who did what,
// what ecr-guard did, the images to verify, the console link; now is the
// state after ecr-guard's writes, in words.
func eventChat(doc EventDocument, e *guard.Event, account, subject, now string) *ChatNotification {
	kind, sev := string(doc.Kind), doc.Severity
	resourceType, name, region := doc.resource()
	var lines []string
	if doc.DryRun {
		lines = append(lines, "*DRY RUN:* nothing was changed.")
	}
	if t := doc.Template; t != nil {
		lines = append(lines, "*Applies to:* "+chatText(appliesTo(*t)))
	}
	if s := doc.ShapedBy; s != nil {
		lines = append(lines, "*Created by:* "+chatText(createdBy(*s)))
	}
	switch t := doc.Trigger; {
	case t == nil:
		lines = append(lines, "*What changed:* scheduled sweep (no CloudTrail event)")
	case doc.Stale:
		lines = append(lines, fmt.Sprintf("*What changed:* nothing this event says: CloudTrail event %s (%s at %s) is older than this %s, so it was about a deleted %s of the same name. ecr-guard found this %s so.",
			chatCode(t.EventID), chatText(t.EventName), t.EventTime, resourceType, resourceType, resourceType))
	default:
		lines = append(lines,
			"*What changed:* "+chatCode(capText(describeRequest(*e), capLine)),
			"*Who:* "+chatCode(who(*t)))
		if t.SourceIPAddress != "" || e.UserAgent != "" {
			lines = append(lines, "*From:* "+chatCode(t.SourceIPAddress)+", "+chatCode(capText(e.UserAgent, capAgentLine)))
		}
		ref, id, _ := strings.Cut(eventRef(*t), " event ")
		lines = append(lines, "*When:* "+t.EventTime+" ("+ref+" event "+chatCode(id)+")")
	}
	lines = append(lines, "*ecr-guard:*")
	for _, a := range doc.Actions {
		lines = append(lines, "• *"+string(a.Kind)+"* "+chatText(a.Summary))
	}
	lines = append(lines, "*Now:* "+chatText(now))
	if x := doc.Exemption; x != nil {
		l := "*Exemption:* " + string(x.Status)
		if x.Tag != "" {
			l += ", tag " + chatCode(x.Tag)
		}
		if x.Expires != "" {
			l += ", expires " + chatCode(x.Expires)
		}
		lines = append(lines, l)
	}
	var steps []string
	if pw := doc.PushedWhileMutable; pw != nil {
		switch {
		case pw.Error != "" && len(pw.Images) == 0:
			lines = append(lines, "*Pushed while tags were mutable:* could not list the images pushed since "+pw.Since+" ("+chatText(pw.Error)+")")
			steps = append(steps, "List the images pushed since "+pw.Since+" by hand: ecr-guard could not")
		case len(pw.Images) == 0 && pw.Truncated:
			lines = append(lines, "*Pushed while tags were mutable:* images were pushed since "+pw.Since+", too many to list here")
			steps = append(steps, "List the images pushed since "+pw.Since+" by hand and verify them before anything deploys them")
		case len(pw.Images) == 0:
			lines = append(lines, "*Pushed while tags were mutable:* no new image pushed since "+pw.Since)
		default:
			lines = append(lines, "*Pushed while tags were mutable (since "+pw.Since+"), verify these:*")
			for i, img := range pw.Images {
				if i == chatImages {
					break
				}
				tags := "untagged"
				if len(img.Tags) > 0 {
					tags = "tags " + chatCode(strings.Join(capList(img.Tags, chatTags, capTagKey), ", "))
				}
				lines = append(lines, "• "+chatCode(capText(img.Digest, capShort))+" "+tags+", pushed "+img.PushedAt)
			}
			if more := len(pw.Images) - chatImages; more > 0 || pw.Truncated {
				lines = append(lines, "• … more images were pushed: see the email report or the console")
			}
			if pw.Error != "" {
				lines = append(lines, "• the list may be incomplete: "+chatText(pw.Error))
				steps = append(steps, "List the images pushed since "+pw.Since+" by hand: ecr-guard's list may be incomplete")
			}
			steps = append(steps, "Verify the images pushed while tags were mutable before anything deploys them")
		}
		if pw.Error == "" {
			steps = append(steps, "Check CloudTrail PutImage calls since "+pw.Since+": a tag moved to an image already in the repository is not listed")
		}
	}
	switch doc.Kind {
	case "FAILED":
		steps = append(steps, "Fix what refused ecr-guard (see the actions): the "+resourceType+" may still not be compliant")
	case "EXEMPTION_REJECTED":
		steps = append(steps, "Ask who tagged it why: only names matching EXEMPT_REPOSITORY_PATTERNS can be exempt")
	case "EXEMPT", "EXEMPTION_GRANTED":
		steps = append(steps, "Check that the exemption is intended and carries an expiry date")
	}
	if slices.ContainsFunc(doc.Actions, func(a Action) bool { return a.Area == guard.AreaTemplate }) {
		steps = append(steps, "Check that the template is meant to be gone: the repositories ECR creates under it now get another template's settings, or ECR's defaults (MUTABLE)")
	}
	// Repository names hold only [a-z0-9._/-], so "template:" keeps a
	// template's thread apart from any repository's.
	thread, console := "ecr-guard/"+account+"/"+region+"/"+name, "Open the repository in the ECR console: "
	if resourceType == ResourceTemplate {
		thread, console = "ecr-guard/"+account+"/"+region+"/template:"+name, "Open the repository creation templates in the ECR console: "
	}
	if doc.ConsoleURL != "" {
		lines = append(lines, "*Console:* "+doc.ConsoleURL)
		steps = append(steps, console+doc.ConsoleURL)
	}
	meta := &ChatMetadata{
		ThreadID:  cutRunes(thread, MaxChatThreadID),
		Summary:   subject,
		EventType: kind,
		AdditionalContext: map[string]string{
			"kind": kind, "severity": sev, "account": account, "region": region, "resourceType": resourceType, resourceType: name,
		},
	}
	if arn := doc.Repository.ARN; arn != "" {
		meta.RelatedResources = []string{arn}
	}
	if t := doc.Trigger; t != nil {
		meta.AdditionalContext["eventName"], meta.AdditionalContext["eventID"] = t.EventName, t.EventID
	}
	return &ChatNotification{
		Version: ChatVersion,
		Source:  ChatSource,
		Content: ChatContent{
			TextType:    ChatTextType,
			Title:       chatTitle(sev, kind+" "+chatTitleName(resourceType, name)+" ("+chatText(account)+" "+chatText(region)+")"),
			Description: chatLines(lines),
			NextSteps:   firstSteps(steps),
			Keywords:    chatKeywords(kind, sev, doc.DryRun),
		},
		Metadata: meta,
	}
}

// sweepChat renders one part of the sweep report for a chat channel: the
// counts, the registries that failed, the repositories changed (the first
// of this part's; the email report lists them all).
func sweepChat(doc SweepDocument, kind, headline, subject string) *ChatNotification {
	var lines []string
	switch {
	case doc.Interim:
		lines = append(lines, fmt.Sprintf("*Part %d*, sent while the sweep runs: the counts are so far.", doc.Part))
	case doc.Parts > 1:
		lines = append(lines, fmt.Sprintf("*Part %d of %d* of this report: each part repeats the counts.", doc.Part, doc.Parts))
	}
	if doc.DryRun {
		lines = append(lines, "*DRY RUN:* nothing was changed.")
	}
	if !doc.Complete && !doc.Interim {
		lines = append(lines, "*INCOMPLETE:* the sweep stopped before it covered every repository.")
	}
	duration := time.Duration(doc.DurationSeconds * float64(time.Second)).Round(time.Second)
	l := fmt.Sprintf("Scheduled sweep started %s, took %s in %d invocation(s)", doc.StartedAt, duration, doc.Invocations)
	if doc.ChainID != "" {
		l += " (chain " + chatCode(doc.ChainID) + ")"
	}
	lines = append(lines, l+".")
	c := doc.Counts
	remediated, restored := "Remediated", "Lifecycle restored"
	if doc.DryRun {
		remediated, restored = "Would remediate", "Would restore lifecycle"
	}
	lines = append(lines, fmt.Sprintf("*Scanned* %d · *Compliant* %d · *%s* %d (exemption expired %d, invalid %d) · *Exempt* %d · *%s* %d · *Failed* %d · *Deleted mid-sweep* %d · *Templates* %d (changed %d)",
		c.Scanned, c.Compliant, remediated, c.Remediated, c.ExpiredExemptions, c.InvalidExemptions, c.Exempt, restored, c.LifecycleRestored, c.Failed, c.Deleted, c.Templates, c.TemplatesChanged))
	var steps []string
	if doc.Targets > 0 {
		lines = append(lines, fmt.Sprintf("*Registries swept:* %d, %d could not be swept", doc.Targets, doc.failedTargets()))
		for i, f := range doc.FailedTargets {
			if i == chatTargets {
				break
			}
			lines = append(lines, "• "+chatCode(f.Account+" "+f.Region)+": "+chatText(f.Error))
		}
		if more := doc.failedTargets() - min(len(doc.FailedTargets), chatTargets); more > 0 {
			lines = append(lines, fmt.Sprintf("• … and %d more: see the email report", more))
		}
		if doc.failedTargets() > 0 {
			steps = append(steps, "Fix the registries that could not be swept (member role, permissions): they were not checked")
		}
	}
	if len(doc.RootTemplates) > 0 {
		lines = append(lines, "*ROOT templates:*")
		for i, r := range doc.RootTemplates {
			if i == chatTargets {
				lines = append(lines, fmt.Sprintf("• … and %d more: see the email report", len(doc.RootTemplates)-i+doc.RootTemplatesTruncated))
				break
			}
			lines = append(lines, "• "+chatText(r.line()))
		}
		if slices.ContainsFunc(doc.RootTemplates, RootTemplate.needsAttention) {
			steps = append(steps, "Create or fix the ROOT templates listed, or set ROOT_TEMPLATE=ensure: until then new repositories ECR creates there may be MUTABLE")
		}
	}
	if len(doc.Changed) > 0 {
		lines = append(lines, "*"+changedHeading(doc.Changed)+":*")
		for i, ch := range doc.Changed {
			if i == chatChanges {
				lines = append(lines, fmt.Sprintf("• … and %d more in this part: see the email report", len(doc.Changed)-i))
				break
			}
			acts := make([]string, len(ch.Actions))
			for j, a := range ch.Actions {
				acts[j] = string(a)
			}
			l := "• " + chatCode(ch.label()) + ": " + chatText(strings.Join(acts, ", "))
			if ch.Exemption != "" {
				l += " (exemption " + string(ch.Exemption) + ")"
			}
			lines = append(lines, l)
		}
	}
	if doc.Truncated > 0 && doc.Part == doc.Parts {
		lines = append(lines, "• … and "+strconv.Itoa(doc.Truncated)+" more lifecycle-only")
	}
	if c.Failed > 0 {
		steps = append(steps, "Look at the FAILED repositories: ecr-guard could not read or fix them")
	}
	if !doc.Complete && !doc.Interim {
		steps = append(steps, "The sweep did not finish: see the sweep function's logs")
	}
	if doc.Region != "" {
		url := "https://" + doc.Region + ".console.aws.amazon.com/ecr/private-registry/repositories?region=" + doc.Region
		lines = append(lines, "*Console:* "+url)
	}
	thread := "ecr-guard/sweep/" + doc.Account + "/" + doc.Region
	if doc.ChainID != "" {
		thread = "ecr-guard/sweep/" + doc.ChainID
	}
	return &ChatNotification{
		Version: ChatVersion,
		Source:  ChatSource,
		Content: ChatContent{
			TextType:    ChatTextType,
			Title:       chatTitle(doc.Severity, kind+" "+headline+" ("+chatText(doc.Account)+" "+chatText(doc.Region)+")"),
			Description: chatLines(lines),
			NextSteps:   firstSteps(steps),
			Keywords:    chatKeywords(KindSweepReport, doc.Severity, doc.DryRun),
		},
		Metadata: &ChatMetadata{
			ThreadID:  cutRunes(thread, MaxChatThreadID),
			Summary:   subject,
			EventType: KindSweepReport,
			AdditionalContext: map[string]string{
				"account": doc.Account, "region": doc.Region, "chainId": doc.ChainID,
				"part": strconv.Itoa(doc.Part), "parts": strconv.Itoa(doc.Parts),
			},
		},
	}
}
