package spacegen

import (
	"fmt"
	"time"
)

// The CV's shape: how many entries of each type.
const (
	experiences = 4
	educations  = 2
	skills      = 8
	projects    = 4
)

// cv adds the profile, experience, education, skill and project entries and
// the assets they link, created one after the other (folio orders the CV by
// sys.createdAt).
func (s *Space) cv() {
	r := s.rng(streamCV)
	at := lastPublished.AddDate(-3, 0, 0)
	next := func() time.Time { at = at.Add(time.Duration(1+r.IntN(90)) * time.Minute); return at }
	entry := func(id, typ string, fields map[string]any) {
		created := next()
		s.Entries = append(s.Entries, marshal(map[string]any{
			"sys":    sys("Entry", id, typ, 1+r.IntN(6), created, created.Add(time.Duration(r.IntN(400))*24*time.Hour)),
			"fields": fields,
		}))
	}
	s.Assets = append(s.Assets, s.asset("portrait", "portrait", r, next()))
	entry("profile", TypeProfile, map[string]any{
		"name":     personName(r),
		"headline": sentenceCase(words(r, 8)),
		"location": sentenceCase(words(r, 2)),
		"email":    "someone@example.com",
		"summary":  paragraph(r, 3),
		"links": []any{
			map[string]any{"label": "Website", "url": "https://example.com"},
			map[string]any{"label": "Code", "url": "https://git.example.com/someone"},
		},
		"photo": link("Asset", "portrait"),
	})
	year := 2025
	for i := range experiences {
		start := year - 2 - r.IntN(3)
		f := map[string]any{
			"company":    sentenceCase(words(r, 2)),
			"role":       sentenceCase(words(r, 3)),
			"startDate":  fmt.Sprintf("%d-%02d-01", start, 1+r.IntN(12)),
			"location":   sentenceCase(words(r, 1)),
			"highlights": []any{sentence(r, 12, 24), sentence(r, 12, 24), sentence(r, 12, 24)},
		}
		if i > 0 {
			f["endDate"] = fmt.Sprintf("%d-%02d-28", year, 1+r.IntN(12))
		}
		entry(fmt.Sprintf("exp-%d", i+1), TypeExperience, f)
		year = start
	}
	for i := range educations {
		entry(fmt.Sprintf("edu-%d", i+1), TypeEducation, map[string]any{
			"institution": sentenceCase(words(r, 3)),
			"degree":      sentenceCase(words(r, 3)),
			"field":       sentenceCase(words(r, 2)),
			"startDate":   fmt.Sprintf("%d-09-01", year-4*(i+1)),
			"endDate":     fmt.Sprintf("%d-06-30", year-4*i-1),
		})
	}
	levels := []string{"expert", "advanced", "intermediate"}
	for i := range skills {
		entry(fmt.Sprintf("skill-%d", i+1), TypeSkill, map[string]any{
			"name":     sentenceCase(words(r, 1+r.IntN(2))),
			"level":    levels[r.IntN(len(levels))],
			"category": sentenceCase(words(r, 1)),
		})
	}
	for i := range projects {
		f := map[string]any{
			"name":    words(r, 1)[0],
			"summary": sentence(r, 15, 30),
			"url":     fmt.Sprintf("https://git.example.com/someone/project-%d", i+1),
			"tech":    []any{sentenceCase(words(r, 1)), sentenceCase(words(r, 1))},
		}
		if i%2 == 0 {
			img := fmt.Sprintf("project-image-%d", i+1)
			s.Assets = append(s.Assets, s.asset(img, "diagram", r, next()))
			f["image"] = link("Asset", img)
		}
		entry(fmt.Sprintf("project-%d", i+1), TypeProject, f)
	}
}
