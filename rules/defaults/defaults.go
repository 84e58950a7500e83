// Package defaults holds the rules GreenGate filters with before any
// bundle has been downloaded, and when every bundle on disk has failed
// verification: there is always a valid engine, and it is a real one.
//
// The rules are files under data/, embedded at build time:
//
//   - categories.json: each category's id, names and descriptions in
//     English and Chinese, "bypass": true for categories that are
//     blocked in every profile, and "lists", the public lists it is made
//     of (data/lists/, with their sources and licences in its README);
//   - <id>.txt: hand-kept entries, in any format package lists reads
//     (one domain per line is simplest; "#" starts a comment): the
//     best-known sites, so their verdicts cite a short file, and what
//     the public lists lack (encrypted DNS resolvers by IP);
//   - allow/<id>.txt and allow/wellknown.txt: the sites the public
//     lists name by mistake, each with its reason; wellknown.txt frees
//     popular sites in every category that is not a bypass category;
//   - safesearch.json: search engine hosts and the host or query
//     parameter that forces their safe search.
//
// Names no list decides go to the host name classifier (package
// classify) in every profile that blocks adult content and has not
// turned it off; the exceptions above are never classified.
//
// To add an entry, add a line to the category's file and run `make
// test`: the tests check every file parses, measure the defaults on a
// labelled sample of adult and well-known hosts, and check that no
// exception frees a site two lists agree on.
package defaults

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/greengate/greengate/rules/classify"
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
	ID          string   `json:"id"`
	Name        text     `json:"name"`
	Description text     `json:"description"`
	Bypass      bool     `json:"bypass"`
	Lists       []string `json:"lists"` // shipped public lists, under data/
}

type engineJSON struct {
	Name           string   `json:"name"`
	Hosts          []string `json:"hosts"`
	Target         string   `json:"target"`
	ModerateTarget string   `json:"moderate_target"`
	Param          string   `json:"param"`
}

// addEmbedded adds one embedded list. Its source reads as the list's
// name without ".gz", so a verdict cites "defaults/lists/ut1/gambling/domains:12".
func addEmbedded(add func(string, string, io.Reader, lists.Options) (lists.Stats, error), category, name string) error {
	f, err := data.Open("data/" + name)
	if err != nil {
		return fmt.Errorf("embedded list for %s: %w", category, err)
	}
	defer f.Close()
	_, err = add(category, "defaults/"+strings.TrimSuffix(name, ".gz"), f, lists.Options{})
	return err
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
	}
	// Half a million entries: each category loads on a core of its own.
	err := ruleset.Each(len(cats), func(i int) error {
		c := cats[i]
		// The hand-kept best-known entries first, so a verdict on a
		// famous site names the short file, then the public lists.
		if err := addEmbedded(b.AddList, c.ID, c.ID+".txt"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		for _, name := range c.Lists {
			if err := addEmbedded(b.AddList, c.ID, name); err != nil {
				return err
			}
		}
		// Then the sites those lists name by mistake. Bypass categories
		// take no well-known exceptions: a famous VPN is still a VPN.
		exceptions := []string{"allow/" + c.ID + ".txt"}
		if !c.Bypass {
			exceptions = append(exceptions, "allow/wellknown.txt")
		}
		for _, name := range exceptions {
			if err := addEmbedded(b.AddExceptions, c.ID, name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
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

// IDs lists the ids of the built-in categories, in their order.
func IDs() ([]string, error) {
	var cats []categoryJSON
	if err := decode("categories.json", &cats); err != nil {
		return nil, err
	}
	ids := make([]string, len(cats))
	for i, c := range cats {
		ids[i] = c.ID
	}
	return ids, nil
}

// Profile is the profile used until a parent has chosen one: adult,
// gambling, malware and phishing blocked (bypass categories always are),
// safe search on, and YouTube's moderate restricted mode, which keeps
// school videos working. Dating, drugs and violence are there for a
// parent to add.
func Profile() policy.Profile {
	return policy.Profile{
		Name:       "default",
		Block:      []string{"adult", "gambling", "malware", "phishing"},
		SafeSearch: true,
		YouTube:    policy.YouTubeModerate,
	}
}

// Classifier is the built-in host name classifier (package classify):
// it blocks, as adult, names no list has whose words say what they are.
// Build it once and share it: it caches its verdicts.
func Classifier() (*classify.Classifier, error) { return classify.New() }

// Engine builds an engine on the defaults alone, with Profile and the
// classifier.
func Engine() (*policy.Engine, error) {
	return engine(true, func([]policy.Category) policy.Profile { return Profile() })
}

// EngineBlocking builds an engine on the defaults alone whose one profile
// blocks the named categories, or every category for "*": what `check`
// and the tests ask when they want the widest verdict.
func EngineBlocking(ids ...string) (*policy.Engine, error) {
	return engine(true, blocking(ids))
}

// ListsEngineBlocking is EngineBlocking without the classifier: what the
// lists alone decide.
func ListsEngineBlocking(ids ...string) (*policy.Engine, error) {
	return engine(false, blocking(ids))
}

func blocking(ids []string) func([]policy.Category) policy.Profile {
	return func(cats []policy.Category) policy.Profile {
		p := Profile()
		p.Block = ids
		if len(ids) == 1 && ids[0] == "*" {
			p.Block = nil
			for _, c := range cats {
				p.Block = append(p.Block, c.ID)
			}
		}
		return p
	}
}

func engine(classifier bool, profile func([]policy.Category) policy.Profile) (*policy.Engine, error) {
	var b ruleset.Builder
	if err := Load(&b); err != nil {
		return nil, err
	}
	cats, safe := b.Build()
	cfg := policy.Config{Categories: cats, SafeSearch: safe, Profiles: []policy.Profile{profile(cats)}}
	if classifier {
		c, err := Classifier()
		if err != nil {
			return nil, err
		}
		cfg.Classifier = c
	}
	return policy.New(cfg)
}
