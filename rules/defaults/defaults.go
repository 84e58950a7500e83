// Package defaults holds the rules GreenGate filters with before any
// bundle has been downloaded, and when every bundle on disk has failed
// verification: there is always a valid engine.
//
// The rules are files under data/, embedded at build time:
//
//   - categories.json: each category's id, names and descriptions in
//     English and Chinese, and "bypass": true for categories that are
//     blocked in every profile;
//   - <id>.txt: the category's entries, in any format package lists reads
//     (one domain per line is simplest; "#" starts a comment);
//   - safesearch.json: search engine hosts and the host or query
//     parameter that forces their safe search.
//
// To add an entry, add a line to the category's file and run
// `make test`: the tests check every file parses without a rejected line.
// Keep the defaults to the best-known sites; full lists belong in bundles.
package defaults

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"

	"github.com/greengate/greengate/rules/lists"
	"github.com/greengate/greengate/rules/policy"
	"github.com/greengate/greengate/rules/ruleset"
)

//go:embed data
var data embed.FS

type text struct {
	EN string `json:"en"`
	ZH string `json:"zh"`
}

type categoryJSON struct {
	ID          string `json:"id"`
	Name        text   `json:"name"`
	Description text   `json:"description"`
	Bypass      bool   `json:"bypass"`
}

type engineJSON struct {
	Name           string   `json:"name"`
	Hosts          []string `json:"hosts"`
	Target         string   `json:"target"`
	ModerateTarget string   `json:"moderate_target"`
	Param          string   `json:"param"`
}

func decode(name string, v any) error {
	b, err := data.ReadFile("data/" + name)
	if err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("reading embedded %s: %w", name, err)
	}
	return nil
}

// Load adds the default categories, their entries and the safe-search map
// to b. Sources are named "defaults/<id>.txt", so a verdict says where its
// entry came from.
func Load(b *ruleset.Builder) error {
	var cats []categoryJSON
	if err := decode("categories.json", &cats); err != nil {
		return err
	}
	for _, c := range cats {
		b.Category(ruleset.Meta{
			ID:          c.ID,
			Name:        policy.Text{EN: c.Name.EN, ZH: c.Name.ZH},
			Description: policy.Text{EN: c.Description.EN, ZH: c.Description.ZH},
			Bypass:      c.Bypass,
		})
		name := c.ID + ".txt"
		f, err := data.Open("data/" + name)
		if err != nil {
			return fmt.Errorf("embedded list for %s: %w", c.ID, err)
		}
		_, err = b.AddList(c.ID, "defaults/"+name, f, lists.Options{})
		f.Close()
		if err != nil {
			return err
		}
	}
	var engines []engineJSON
	if err := decode("safesearch.json", &engines); err != nil {
		return err
	}
	for _, e := range engines {
		b.AddSafeSearch(policy.SearchEngine{Name: e.Name, Hosts: e.Hosts, Target: e.Target, ModerateTarget: e.ModerateTarget, Param: e.Param})
	}
	return nil
}

// Profile is the profile used until a parent has chosen one: adult and
// gambling blocked (bypass categories always are), safe search on, and
// YouTube's moderate restricted mode, which keeps school videos working.
func Profile() policy.Profile {
	return policy.Profile{
		Name:       "default",
		Block:      []string{"adult", "gambling"},
		SafeSearch: true,
		YouTube:    policy.YouTubeModerate,
	}
}

// Engine builds an engine on the defaults alone, with Profile.
func Engine() (*policy.Engine, error) {
	var b ruleset.Builder
	if err := Load(&b); err != nil {
		return nil, err
	}
	cats, safe := b.Build()
	return policy.New(policy.Config{Categories: cats, SafeSearch: safe, Profiles: []policy.Profile{Profile()}})
}
