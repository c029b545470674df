package analyzers

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed rules/*.yaml
var builtinRules embed.FS

// Rulebook is an ordered set of rules with unique ids.
type Rulebook struct {
	Rules []Rule
}

// Builtin returns the rulebook shipped inside ktriage. The embedded files
// are checked by tests, so an error here means a broken build.
func Builtin() (*Rulebook, error) {
	return loadFS(builtinRules, "rules", "builtin:")
}

// LoadDir reads every *.yaml and *.yml file of a team's rule folder.
func LoadDir(dir string) (*Rulebook, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("rules folder: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("rules folder %s: not a directory", dir)
	}
	return loadFS(os.DirFS(dir), ".", filepath.Clean(dir)+string(filepath.Separator))
}

func loadFS(fsys fs.FS, root, label string) (*Rulebook, error) {
	var files []string
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	rb := &Rulebook{}
	var problems []string
	for _, name := range files {
		f, err := fsys.Open(name)
		if err != nil {
			return nil, err
		}
		shown := label + strings.TrimPrefix(name, "./")
		if root != "." {
			shown = label + path.Clean(name)
		}
		rules, err := ParseRules(shown, f)
		f.Close()
		if err != nil {
			problems = append(problems, err.Error())
		}
		rb.Rules = append(rb.Rules, rules...)
	}
	problems = append(problems, rb.duplicates()...)
	if len(problems) > 0 {
		return rb, errors.New(strings.Join(problems, "\n"))
	}
	return rb, nil
}

func (rb *Rulebook) duplicates() []string {
	var p []string
	first := map[string]string{}
	for _, r := range rb.Rules {
		if where, dup := first[r.ID]; dup {
			p = append(p, fmt.Sprintf("%s: rule %q: id already used in %s", r.File, r.ID, where))
			continue
		}
		first[r.ID] = r.File
	}
	return p
}

// With returns a rulebook holding rb's rules and then extra's; a rule in
// extra with an id rb already has replaces it, so a team can correct a
// built-in rule in its own folder.
func (rb *Rulebook) With(extra *Rulebook) *Rulebook {
	out := &Rulebook{}
	override := map[string]Rule{}
	for _, r := range extra.Rules {
		override[r.ID] = r
	}
	for _, r := range rb.Rules {
		if o, ok := override[r.ID]; ok {
			out.Rules = append(out.Rules, o)
			delete(override, r.ID)
			continue
		}
		out.Rules = append(out.Rules, r)
	}
	for _, r := range extra.Rules {
		if _, pending := override[r.ID]; pending {
			out.Rules = append(out.Rules, r)
		}
	}
	return out
}

// Rule returns the rule with this id.
func (rb *Rulebook) Rule(id string) (*Rule, bool) {
	for i := range rb.Rules {
		if rb.Rules[i].ID == id {
			return &rb.Rules[i], true
		}
	}
	return nil, false
}
