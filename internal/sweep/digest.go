package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/notice"
)

// fitPayload keeps the continuation payload within Options.MaxPayloadBytes
// without losing a change above LOW: when the changes above LOW alone do
// not fit, it publishes them as interim parts of the report and carries
// only their number; then it drops lifecycle-only entries (counted in
// omitted) until the payload fits. It returns the ids of the parts
// published, and an error when a part could not be (logged in full, like
// every unpublished notice): the link then fails before continuing.
func (s *Sweeper) fitPayload(ctx context.Context, log *slog.Logger, st *state) ([]string, error) {
	size := func() int {
		b, err := json.Marshal(s.payload(st))
		if err != nil {
			return math.MaxInt
		}
		return len(b)
	}
	if size() <= s.opt.MaxPayloadBytes {
		return nil, nil
	}
	var must, low []Change
	for _, c := range st.changed {
		if c.MustName() {
			must = append(must, c)
		} else {
			low = append(low, c)
		}
	}
	var ids []string
	omitted := st.omitted
	st.changed, st.omitted = must, omitted+len(low) // with no lifecycle-only entry
	if size() > s.opt.MaxPayloadBytes {
		in := s.digest(st, must)
		in.Omitted, in.Interim = 0, true
		msgs := notice.ForSweep(in)
		var err error
		ids, err = s.publishParts(ctx, log, msgs)
		if err != nil {
			st.changed, st.omitted = append(must, low...), omitted
			return ids, err
		}
		st.partsSent += len(msgs)
		st.changed = nil
		log.Warn("sweep report: interim parts published to keep the continuation payload under its limit",
			"parts", len(msgs), "listed", len(must), "report_parts_sent", st.partsSent, "max_payload_bytes", s.opt.MaxPayloadBytes)
	}
	// Lifecycle-only entries, as many as fit: an estimate from their sizes,
	// then checked (the "changed" key and the omitted count grow too).
	room := s.opt.MaxPayloadBytes - size()
	kept := 0
	for _, c := range low {
		b, _ := json.Marshal(c)
		if room -= len(b) + 1; room < 0 {
			break
		}
		kept++
	}
	base := len(st.changed)
	for {
		st.changed = append(st.changed[:base], low[:kept]...)
		st.low, st.omitted = kept, omitted+len(low)-kept
		if kept == 0 || size() <= s.opt.MaxPayloadBytes {
			break
		}
		kept--
	}
	return ids, nil
}

// publishParts publishes every part of a report, even after one fails;
// each that cannot be published is logged in full and counted.
func (s *Sweeper) publishParts(ctx context.Context, log *slog.Logger, msgs []notice.Message) ([]string, error) {
	var ids []string
	var errs []error
	for i, msg := range msgs {
		id, err := s.notices.Send(ctx, log, msg)
		if err != nil {
			errs = append(errs, fmt.Errorf("part %d of %d: %w", i+1, len(msgs), err))
			continue
		}
		ids = append(ids, id)
	}
	return ids, errors.Join(errs...)
}

// finish publishes the chain's digest.
func (s *Sweeper) finish(ctx context.Context, log *slog.Logger, st *state, res Result, begin time.Time, status string) (Result, error) {
	res = s.result(res, st, status)
	complete := status == StatusComplete
	if !complete {
		log.Error("sweep chain stopped before covering every repository: it reached the maximum number of links",
			"max_links", s.opt.MaxLinks, "stop_lanes", st.lanes, "next_target", st.nextTarget)
	}
	in := s.digest(st, st.changed)
	in.Complete = complete
	msgs := notice.ForSweep(in)
	ids, err := s.publishParts(ctx, log, msgs)
	res.MessageIDs = ids
	if len(ids) > 0 {
		res.MessageID = ids[0]
	}
	if err != nil {
		return res, fmt.Errorf("sweep chain %s: publish the report: %w", st.chainID, err)
	}
	msg := msgs[0]
	id := res.MessageID
	log.Info("sweep link stopped", "status", status, "reason", status, "stop_lanes", st.lanes,
		"scanned", st.scanned, "duration_ms", s.opt.Now().Sub(begin).Milliseconds())
	log.Info("sweep finished", "status", status, "dry_run", st.dryRun, "invocations", st.link,
		"duration_seconds", s.opt.Now().Sub(st.startedAt).Seconds(), "counts", st.counts,
		"changed_omitted", st.omitted, "severity", msg.Attributes["severity"], "message_id", id,
		"report_parts", st.partsSent+len(msgs))
	return res, nil
}

// digest is the chain's report so far, in the notice's terms.
func (s *Sweeper) digest(st *state, changed []Change) notice.SweepInput {
	in := notice.SweepInput{
		Account: s.opt.Scope.Account, Region: s.opt.Scope.Region, ChainID: st.chainID, DryRun: st.dryRun,
		StartedAt: st.startedAt, Duration: s.opt.Now().Sub(st.startedAt), Invocations: st.link,
		Counts: notice.SweepCounts(st.counts), Omitted: st.omitted, PartsSent: st.partsSent,
		Changed: make([]notice.SweepChange, len(changed)),
	}
	for i, c := range changed {
		if len(st.targets) == 1 {
			c.Account, c.Region = "", "" // the digest's own account and region
		}
		in.Changed[i] = notice.SweepChange(c)
	}
	in.Targets = len(st.targets)
	for i, counts := range st.perTarget {
		t := st.targets[i]
		in.PerTarget = append(in.PerTarget, notice.SweepTarget{Account: t.Account, Region: t.Region, Counts: notice.SweepCounts(counts)})
	}
	notice.SortSweepTargets(in.PerTarget)
	for _, r := range st.rootTemplates {
		in.RootTemplates = append(in.RootTemplates, notice.RootTemplate{Account: r.Account, Region: r.Region, Status: r.Status, Detail: r.Detail})
	}
	for _, f := range st.failedTargets {
		in.FailedTargets = append(in.FailedTargets, notice.SweepFailedTarget{Account: f.Account, Region: f.Region, Error: f.Error})
	}
	in.FailedTargetsOmitted = st.failedOmitted
	return in
}
