package ecrrepo

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// describeImagesPages answers DescribeImages in ECR's JSON 1.1 shape:
// pages of 1,000 images pushed long ago, with the one image pushed in the
// window (at pushed) on page hit (from 1), of pages in all. DescribeImages
// is not in push order, so that page can be any. (moto would need 10,001
// images pushed for this; the fake speaks the same wire format.)
func describeImagesPages(t *testing.T, pages, hit int, pushed time.Time) *Client {
	old := float64(pushed.Add(-30 * 24 * time.Hour).Unix())
	srv, _ := fakeECR(t, 0, func(req map[string]any) any {
		page := 1
		if tok, ok := req["nextToken"].(string); ok {
			fmt.Sscanf(tok, "page-%d", &page)
		}
		var details []any
		for i := range 1000 {
			at := old
			if page == hit && i == 500 {
				at = float64(pushed.Unix())
			}
			details = append(details, map[string]any{"imageDigest": fmt.Sprintf("sha256:%064d", page*1000+i), "imageTags": []any{fmt.Sprintf("t%d-%d", page, i)}, "imagePushedAt": at})
		}
		out := map[string]any{"imageDetails": details}
		if page < pages {
			out["nextToken"] = fmt.Sprintf("page-%d", page+1)
		}
		return out
	})
	return client(srv)
}

// The listing reads at most 10 pages. An image found within them is listed;
// a repository with more pages than that returns what was found with
// ErrImagesNotAllRead, so the notice never reads as complete (before, an
// image on page 11 was simply missing, and an empty list said "no new image
// pushed").
func TestImagesPushedSinceReadsBoundedPagesAndSaysSo(t *testing.T) {
	since := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	pushed := since.Add(time.Minute)
	for _, tc := range []struct {
		name          string
		pages, hit    int
		wantImages    int
		wantErr       bool
		wantTruncated bool
	}{
		{"found on the last of 10 pages, all read", 10, 10, 1, false, false},
		{"found on page 3 of 12: listed, but not all read", 12, 3, 1, true, true},
		{"on page 11 of 11: not read, and said", 11, 11, 0, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			images, truncated, err := describeImagesPages(t, tc.pages, tc.hit, pushed).ImagesPushedSince(context.Background(), "team/app", "", since, 100)
			if len(images) != tc.wantImages || truncated != tc.wantTruncated || errors.Is(err, ErrImagesNotAllRead) != tc.wantErr {
				t.Fatalf("%d images, truncated %v, err %v; want %d, %v, not all read %v", len(images), truncated, err, tc.wantImages, tc.wantTruncated, tc.wantErr)
			}
			if tc.wantImages == 1 && !images[0].PushedAt.Equal(pushed) {
				t.Errorf("image %+v, want the one pushed at %s", images[0], pushed)
			}
		})
	}
}
