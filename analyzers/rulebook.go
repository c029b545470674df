package analyzers

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
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

//go:generate go test -tags ktriage_nogen -run ^TestBuiltinGenerated$ . -args -update

// Rulebook is an ordered set of rules with unique ids.
type Rulebook struct {
	Rules []Rule
}

// Builtin returns the rulebook shipped inside ktriage. The embedded files
// are checked by tests, so an error here means a broken build.
//
// Parsing and checking the YAML costs ~12 ms of CPU, every run; so
// builtin_gen.go holds the rules as parsed and checked at build time, with
// the digest of the YAML they came from. They are used while the digest
// matches the embedded files; YAML edited since is parsed as it is (the
// tests then ask for `go generate ./analyzers`).
func Builtin() (*Rulebook, error) { return builtinFrom(builtinRules) }

func builtinFrom(fsys fs.FS) (*Rulebook, error) {
	if builtinGenSum != "" {
		if sum, err := rulesDigest(fsys, "rules"); err == nil && sum == builtinGenSum {
			return &Rulebook{Rules: builtinGen()}, nil
		}
	}
	return loadFS(fsys, "rules", "builtin:")
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

// ruleFiles lists the rule files below root, sorted.
func ruleFiles(fsys fs.FS, root string) ([]string, error) {
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
	sort.Strings(files)
	return files, err
}

// rulesDigest names the rule files below root and their contents.
func rulesDigest(fsys fs.FS, root string) (string, error) {
	files, err := ruleFiles(fsys, root)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, name := range files {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func loadFS(fsys fs.FS, root, label string) (*Rulebook, error) {
	files, err := ruleFiles(fsys, root)
	if err != nil {
		return nil, err
	}
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
